//! `count --tokenizer-file`: counting with a HuggingFace `tokenizer.json`.
//!
//! Fixtures: fixtures/tokenize/tiny_bpe_chatml.json and tiny_bpe_plain.json, minimal byte-level
//! BPE files written by fixtures/tokenize/make_tiny_bpe.py (256 byte symbols + 19 merges, NFC
//! normalizer, a post-processor that adds `<|endoftext|>`). Expected counts were obtained with
//! the reference implementation, Python `tokenizers` 0.23.3:
//! `t = Tokenizer.from_file(f); t.encode_special_tokens = True;
//! len(t.encode(text, add_special_tokens=False).ids)`, and the framed chat counts as
//! `len(t.encode(rendered_chatml, add_special_tokens=False).ids)` with special tokens enabled.
//! The hand derivations are in the comments.

use clap::Parser;
use llm_recon::tokenize::cli::{CountArgs, count_output, count_to_string};
use llm_recon::tokenize::file::FileTokenizer;

const CHATML: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/tokenize/tiny_bpe_chatml.json"
);
const PLAIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/tokenize/tiny_bpe_plain.json"
);

#[derive(Parser, Debug)]
struct Wrap {
    #[command(flatten)]
    args: CountArgs,
}

fn args(argv: &[&str]) -> CountArgs {
    Wrap::try_parse_from(std::iter::once("count").chain(argv.iter().copied()))
        .unwrap()
        .args
}

fn run(argv: &[&str], stdin: &str) -> Result<String, String> {
    count_to_string(&args(argv), &mut stdin.as_bytes())
}

#[test]
fn counts_match_the_reference_tokenizer() {
    let t = FileTokenizer::load(CHATML.as_ref()).unwrap();
    let cases: [(&str, usize); 11] = [
        // "hello" and "Ġworld" are single merged tokens.
        ("hello world", 2),
        // hello | Ġworld | Ċ | Ċ (the first "\n" is split off before "the") | t he | Ġ | café
        ("hello world\n\nthe café", 8),
        // NFC normalizer: "e" + U+0301 is "é", so this is the one token "café".
        ("cafe\u{301}", 1),
        // Special-token text is plain text: < | i m _ s t a r t | > (12 bytes) + "user" (1).
        ("<|im_start|>user", 13),
        ("<|endoftext|>", 13),
        ("", 0),
        // Ġ Ġ hello Ġ Ġ Ġworld Ġ Ġ: whitespace runs split before a word.
        ("  hello   world  ", 8),
        // No merges for CJK or emoji: one token per UTF-8 byte (3 + 3, 4).
        ("日本", 6),
        ("👍", 4),
        ("hello\nhello world the world", 6),
        // No merge starts with "T", "q", "b" or "f": 19 byte tokens less "he" (1 merge).
        ("The quick brown fox", 18),
    ];
    for (text, want) in cases {
        assert_eq!(t.count(text).unwrap(), want, "{text:?}");
        let out = run(&["--tokenizer-file", CHATML], text).unwrap();
        assert_eq!(out, format!("{want}\n"), "{text:?}");
    }
    // The post-processor would add <|endoftext|>: reported, not counted.
    assert_eq!(t.post_processor_tokens(), 1);
}

#[test]
fn json_names_the_tokenizer_file() {
    let out = run(&["--tokenizer-file", CHATML, "--json"], "hello world").unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tokens"], 2);
    assert_eq!(v["tokenizer"], CHATML);
    assert_eq!(v["tokenizer_file"], CHATML);
    assert_eq!(v["post_processor_tokens_not_counted"], 1);
    assert!(v["model"].is_null());
}

#[test]
fn chat_uses_chatml_when_the_file_has_its_markers() {
    // Reference: the rendered template
    // "<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n" is 18 tokens.
    // By hand: 1 + "user" "Ċ" "hello" "Ġworld" (4) + 1 + "Ċ" (1) = 7 for the turn, then
    // 1 + "assistant" (9 bytes, no merge) + "Ċ" = 11 for the reply priming: 18.
    let out = run(
        &["--tokenizer-file", CHATML, "--chat", "--json"],
        r#"[{"role": "user", "content": "hello world"}]"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tokens"], 18);
    assert_eq!(v["framing"], "chatml");
    assert_eq!(v["content_tokens"], 2);
    assert_eq!(v["framing_tokens"], 16);
    // Reference: "<|im_start|>system\nthe café<|im_end|>\n<|im_start|>user\nhello world
    // <|im_end|>\n<|im_start|>assistant\n" is 32 tokens (no default system message is added:
    // the model, and so its template's default, is unknown).
    let payload = r#"{"messages": [{"role": "system", "content": "the café"},
                                   {"role": "user", "content": "hello world"}]}"#;
    assert_eq!(
        run(&["--tokenizer-file", CHATML, "--chat"], payload).unwrap(),
        "32\n"
    );
}

#[test]
fn chat_without_a_known_template_counts_message_text_and_says_so() {
    let out = count_output(
        &args(&["--tokenizer-file", PLAIN, "--chat"]),
        &mut r#"[{"role": "system", "content": "the café"},
                 {"role": "user", "content": "hello world"}]"#
            .as_bytes(),
    )
    .unwrap();
    // "the café" = t he Ġ café (4), "hello world" = 2.
    assert_eq!(out.stdout, "6\n");
    let note = out.note.unwrap();
    assert!(note.contains("chat template is unknown"), "{note}");
    assert!(note.contains("content"), "{note}");
    let out = run(
        &["--tokenizer-file", PLAIN, "--chat", "--json"],
        r#"[{"role": "user", "content": "hello world"}]"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["framing"], "none");
    assert_eq!(v["framing_tokens"], 0);
    assert!(v["note"].as_str().unwrap().contains("unknown"));
    // Tool definitions cannot be counted without a template: refused, not guessed.
    let e = run(
        &["--tokenizer-file", PLAIN, "--chat"],
        r#"{"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]}"#,
    )
    .unwrap_err();
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn bad_tokenizer_files_are_clear_errors() {
    let e = run(&["--tokenizer-file", "/nonexistent/tokenizer.json"], "hi").unwrap_err();
    assert!(
        e.contains("/nonexistent/tokenizer.json") && e.contains("cannot read tokenizer file"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("empty.json", "{}"),
        (
            "config.json",
            r#"{"model_max_length": 512, "tokenizer_class": "GPT2Tokenizer"}"#,
        ),
        (
            "truncated.json",
            &std::fs::read_to_string(CHATML).unwrap()[..400],
        ),
        ("tiktoken.txt", "IQ== 0\nIg== 1\n"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let e = run(&["--tokenizer-file", p.to_str().unwrap()], "hi").unwrap_err();
        assert!(
            e.contains(name) && e.contains("not a HuggingFace tokenizer.json"),
            "{name}: {e}"
        );
    }
}

#[test]
fn tokenizer_file_excludes_model_and_encoding() {
    for other in [["--model", "gpt-4o"], ["--encoding", "o200k_base"]] {
        let argv = ["count", "--tokenizer-file", CHATML, other[0], other[1]];
        assert!(Wrap::try_parse_from(argv).is_err(), "{argv:?}");
    }
    assert!(Wrap::try_parse_from(["count", "--tokenizer-file", CHATML]).is_ok());
}
