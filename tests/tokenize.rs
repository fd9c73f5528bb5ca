//! Token counts against published vectors and the reference Rust implementation (tiktoken-rs).
//!
//! Expected ids come from: openai/tiktoken tests/test_encoding.py (tiktoken's own vectors),
//! openai/openai-cookbook examples/How_to_count_tokens_with_tiktoken.ipynb (published outputs),
//! meta-llama/llama3 llama/test_tokenizer.py; everything else is compared with tiktoken-rs
//! 0.12.1 `encode_ordinary` on the same text. None is taken from the code under test.

use llm_recon::tokenize::{BULK_AFTER_BYTES, Encoding, Engine, Tokenizer};

fn tk(e: Encoding) -> Tokenizer {
    Tokenizer::new(e)
}

/// Checks ids and count for one published vector, with both o200k/cl100k engines.
fn check(e: Encoding, text: &str, ids: &[u32]) {
    for engine in [Engine::Tiktoken, Engine::Bulk] {
        let t = tk(e).with_engine(engine);
        assert_eq!(t.encode(text), ids, "{e} {engine:?} {text:?}");
        assert_eq!(t.count(text), ids.len(), "{e} {engine:?} count {text:?}");
    }
}

#[test]
fn tiktoken_test_simple_and_basic_encode() {
    // test_simple / test_basic_encode
    check(Encoding::R50kBase, "hello world", &[31373, 995]);
    check(Encoding::P50kBase, "hello world", &[31373, 995]);
    check(Encoding::Cl100kBase, "hello world", &[15339, 1917]);
    check(Encoding::Cl100kBase, " \u{85}0", &[220, 126, 227, 15]);
    // test_encode_empty
    check(Encoding::R50kBase, "", &[]);
    // test_encode_surrogate_pairs
    check(Encoding::Cl100kBase, "👍", &[9468, 239, 235]);
}

#[test]
fn tiktoken_test_simple_repeated_gpt2() {
    let cases: [(&str, &[u32]); 17] = [
        ("0", &[15]),
        ("00", &[405]),
        ("000", &[830]),
        ("0000", &[2388]),
        ("00000", &[20483]),
        ("000000", &[10535]),
        ("0000000", &[24598]),
        ("00000000", &[8269]),
        ("000000000", &[10535, 830]),
        ("0000000000", &[8269, 405]),
        ("00000000000", &[8269, 830]),
        ("000000000000", &[8269, 2388]),
        ("0000000000000", &[8269, 20483]),
        ("00000000000000", &[8269, 10535]),
        ("000000000000000", &[8269, 24598]),
        ("0000000000000000", &[25645]),
        ("00000000000000000", &[8269, 10535, 830]),
    ];
    for (text, ids) in cases {
        check(Encoding::R50kBase, text, ids);
    }
}

#[test]
fn tiktoken_test_simple_regex_cl100k() {
    check(Encoding::Cl100kBase, "rer", &[38149]);
    check(Encoding::Cl100kBase, "'rer", &[2351, 81]);
    check(Encoding::Cl100kBase, "today\n ", &[31213, 198, 220]);
    check(Encoding::Cl100kBase, "today\n \n", &[31213, 27907]);
    check(Encoding::Cl100kBase, "today\n  \n", &[31213, 14211]);
}

#[test]
fn cookbook_compare_encodings() {
    use Encoding::*;
    // Section 3: encoding_for_model("gpt-4o-mini") -> o200k_base.
    check(
        O200kBase,
        "tiktoken is great!",
        &[83, 8251, 2488, 382, 2212, 0],
    );
    // Section 5, all four encodings.
    let anti = "antidisestablishmentarianism";
    check(R50kBase, anti, &[415, 29207, 44390, 3699, 1042]);
    check(P50kBase, anti, &[415, 29207, 44390, 3699, 1042]);
    check(Cl100kBase, anti, &[519, 85342, 34500, 479, 8997, 2191]);
    check(O200kBase, anti, &[493, 129901, 376, 160388, 21203, 2367]);
    check(R50kBase, "2 + 2 = 4", &[17, 1343, 362, 796, 604]);
    check(P50kBase, "2 + 2 = 4", &[17, 1343, 362, 796, 604]);
    check(Cl100kBase, "2 + 2 = 4", &[17, 489, 220, 17, 284, 220, 19]);
    check(O200kBase, "2 + 2 = 4", &[17, 659, 220, 17, 314, 220, 19]);
    let bday = "お誕生日おめでとう";
    let gpt2_bday = [
        2515, 232, 45739, 243, 37955, 33768, 98, 2515, 232, 1792, 223, 30640, 30201, 29557,
    ];
    check(R50kBase, bday, &gpt2_bday);
    check(P50kBase, bday, &gpt2_bday);
    check(
        Cl100kBase,
        bday,
        &[33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699],
    );
    check(
        O200kBase,
        bday,
        &[8930, 9697, 243, 128225, 8930, 17693, 4344, 48669],
    );
}

#[test]
fn llama3_reference_tokenizer_vectors() {
    // meta-llama/llama3 llama/test_tokenizer.py (ids without the BOS/EOS specials).
    check(
        Encoding::Llama3,
        "This is a test sentence.",
        &[2028, 374, 264, 1296, 11914, 13],
    );
    check(
        Encoding::Llama3,
        "This is a response.",
        &[2028, 374, 264, 2077, 13],
    );
    check(Encoding::Llama3, "user", &[882]);
    check(Encoding::Llama3, "system", &[9125]);
    check(Encoding::Llama3, "assistant", &[78191]);
    check(Encoding::Llama3, "\n\n", &[271]);
}

/// Varied text: English, contractions, numbers, CJK, emoji (ZWJ, flags, skin tones), code,
/// whitespace runs, special-token-looking text, scripts with combining marks.
fn corpus() -> Vec<String> {
    let mut v: Vec<String> = [
        "The quick brown fox jumps over the lazy dog.",
        "I'm sure you'll find they've said it's THEIR'S, not ours'.",
        "Numbers: 1234567890 3.14159 -42 1e-9 0x1F 2026-11-23T08:00:00Z $1,234.56",
        "请考试我的软件！12345",
        "简体中文的文本，包括标点符号。还有一些English混合。",
        "日本語のテキスト：東京都は晴れです。カタカナとひらがな。",
        "안녕하세요 세계! 한국어 텍스트입니다.",
        "繁體中文：臺灣、香港、澳門。",
        "👍",
        "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👩🏽‍💻 coder",
        "🇯🇵🇺🇸🇨🇳 flags and 👋🏽👋🏿 skin tones",
        "emoji run 😀😃😄😁😆😅😂🤣🥲☺️😊",
        "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n    println!(\"{x:?}\");\n}\n",
        "def f(a, b=2):\n\tif a:\n\t\treturn a ** b  # power\n\treturn None\n",
        "SELECT id, SUM(tokens) FROM usage WHERE model = 'gpt-4o' GROUP BY 1;",
        "{\"role\": \"user\", \"content\": \"hi\", \"n\": [1, 2, 3], \"ok\": true}",
        "<html><body><div class=\"a\">x &amp; y</div></body></html>",
        "<|endoftext|>",
        "hello <|endoftext|> world <|fim_prefix|> <|fim_middle|> <|fim_suffix|>",
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n<|eot_id|>",
        "[INST] hi [/INST] <s> </s> <unk> <think>x</think>",
        "<|start|>assistant<|channel|>final<|message|>hi<|end|>",
        "Привет, мир! Как дела?",
        "مرحبا بالعالم",
        "नमस्ते दुनिया",
        "Ça va? naïve café, Müller, smørrebrød, Łódź",
        "e\u{0301} combining, zero\u{200b}width, nbsp\u{a0}here, \u{fffd} replacement",
        "∑∫√∞ ≠ ≤ ≥ → ← ⇒ ∀x∃y",
        "https://example.com/path?q=a+b&x=1#frag user@example.com",
        "line1\r\nline2\r\n\r\nline4\n\n\n\nend",
        "\t\t\t\t\t\ttabs",
        "trailing spaces    ",
        "    leading spaces",
        "a  b   c    d     e      f",
        "!!!???...,,,;;;:::---___===+++***",
        "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
        "ALLCAPS lowercase CamelCase snake_case kebab-case",
        "1,000,000 and 1.000.000 and 100000000000000000000",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Long runs: whitespace and repetition are where BPE implementations diverge.
    v.push(" ".repeat(300));
    v.push("\n".repeat(120));
    v.push(format!("x{}y", " ".repeat(64)));
    v.push("    ".repeat(40) + "indented");
    v.push("ab".repeat(2_000));
    v.push("0".repeat(1_000));
    v.push("中".repeat(500));
    v.push("👍".repeat(200));
    v.push("The quick brown fox. ".repeat(200));
    v
}

fn reference(e: Encoding) -> &'static tiktoken_rs::CoreBPE {
    match e {
        Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        Encoding::O200kHarmony => tiktoken_rs::o200k_harmony_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        Encoding::P50kBase => tiktoken_rs::p50k_base_singleton(),
        Encoding::R50kBase => tiktoken_rs::r50k_base_singleton(),
        other => panic!("no tiktoken-rs reference for {other}"),
    }
}

#[test]
fn openai_encodings_match_tiktoken_rs_token_for_token() {
    let corpus = corpus();
    assert!(corpus.len() >= 45);
    let mut cases = 0;
    for engine in [Engine::Tiktoken, Engine::Bulk] {
        for e in [
            Encoding::O200kBase,
            Encoding::O200kHarmony,
            Encoding::Cl100kBase,
            Encoding::P50kBase,
            Encoding::R50kBase,
        ] {
            let ours = tk(e).with_engine(engine);
            let theirs = reference(e);
            for text in &corpus {
                let want = theirs.encode_ordinary(text);
                assert_eq!(ours.encode(text), want, "{e} {engine:?} ids {text:?}");
                assert_eq!(
                    ours.count(text),
                    want.len(),
                    "{e} {engine:?} count {text:?}"
                );
                cases += 1;
            }
        }
    }
    assert!(cases >= 490, "{cases}");

    // tiktoken test_catastrophically_repetitive: 10,000 repeats, with a leading space and a
    // trailing newline (kept in this test so the reference vocabularies load once).
    for c in ["^", "0", "a", "'s", " ", "\n"] {
        let big = c.repeat(10_000);
        for v in [big.clone(), format!(" {big}"), format!(" {big}\n")] {
            for e in [Encoding::Cl100kBase, Encoding::O200kBase] {
                let want = reference(e).encode_ordinary(&v).len();
                for engine in [Engine::Tiktoken, Engine::Bulk] {
                    let got = tk(e).with_engine(engine).count(&v);
                    assert_eq!(got, want, "{e} {engine:?} {c:?}");
                }
            }
        }
    }
}

#[test]
fn special_token_text_is_counted_as_plain_text() {
    // As billed: "<|endoftext|>" in user text is ordinary text, never the special id.
    let specials = [
        (Encoding::R50kBase, 50256u32),
        (Encoding::Cl100kBase, 100257),
        (Encoding::O200kBase, 199999),
    ];
    for (e, eot) in specials {
        let ids = tk(e).encode("a <|endoftext|> b");
        assert!(!ids.contains(&eot), "{e}: {ids:?}");
        // "a", " <", "|", ... : the marker splits into several ordinary tokens.
        assert!(ids.len() > 4, "{e}: {ids:?}");
    }
    // Family vocabularies: their chat markers in user text are plain text too (ids of the
    // specials per each vocabulary's published added-token table).
    let family = [
        (Encoding::Qwen2, "<|im_start|>user", 151644u32),
        (Encoding::Llama3, "<|begin_of_text|>x", 128000),
        (Encoding::Llama3, "<|eot_id|>", 128009),
        (Encoding::DeepseekV3, "<｜begin▁of▁sentence｜>", 0),
        (Encoding::MistralV3, "[INST] hi", 3),
    ];
    for (e, text, special) in family {
        let ids = tk(e).encode(text);
        assert!(!ids.contains(&special), "{e} {text:?}: {ids:?}");
        assert!(ids.len() > 1, "{e} {text:?}");
    }
}

#[test]
fn every_encoding_round_trips_tiktoken_values() {
    // tiktoken test_basic_roundtrip values, for every bundled vocabulary.
    let values = [
        "hello",
        "hello ",
        "hello  ",
        " hello",
        " hello ",
        " hello  ",
        "hello world",
        "请考试我的软件！12345",
    ];
    for e in Encoding::ALL {
        let t = tk(e);
        for v in values {
            let ids = t.encode(v);
            assert_eq!(t.decode(&ids), v.as_bytes(), "{e} {v:?}");
            assert_eq!(t.count(v), ids.len(), "{e} {v:?}");
        }
    }
}

#[test]
fn bulk_engine_defers_to_tiktoken_on_code_points_the_reference_leaves_unassigned() {
    // U+088F, U+0C5C, U+1ACF, U+A7CE and U+10940 are unassigned in Unicode 16.0 (the tables of
    // the `regex` crate behind tiktoken-rs and Python tiktoken 0.14.0) and letters or marks in
    // 17.0 (toktok-rs 0.3.0's tables). Python tiktoken 0.14.0 gives o200k "a\u{88f}b" as
    // [64, 156, 95, 237, 65]: "a", the three UTF-8 bytes, "b" (not one letter run).
    for c in ['\u{88f}', '\u{c5c}', '\u{1acf}', '\u{a7ce}', '\u{10940}'] {
        let text = format!("a{c}b {c}'s 1{c}2");
        for e in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let want = reference(e).encode_ordinary(&text);
            let t = tk(e).with_engine(Engine::Bulk);
            assert_eq!(t.encode(&text), want, "{e} {c:?}");
            assert_eq!(t.count(&text), want.len(), "{e} {c:?}");
        }
    }
    let t = tk(Encoding::O200kBase).with_engine(Engine::Bulk);
    assert_eq!(t.encode("a\u{88f}b"), [64, 156, 95, 237, 65]);
}

#[test]
fn auto_engine_switches_after_the_threshold_and_stays_exact() {
    // Enough text to cross BULK_AFTER_BYTES in this process; every count on the way (first
    // engine, then the bulk engine) must equal the reference.
    let text = "The quick brown fox, 日本語 and 123456 tokens.\n".repeat(4096);
    let want = reference(Encoding::Cl100kBase).encode_ordinary(&text).len();
    let t = tk(Encoding::Cl100kBase);
    let rounds = BULK_AFTER_BYTES / text.len() + 2;
    for i in 0..rounds {
        assert_eq!(t.count(&text), want, "round {i}");
    }
}
