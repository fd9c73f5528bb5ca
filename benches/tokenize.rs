//! Token-counting throughput of `llm-recon`'s o200k/cl100k counting (`Tokenizer::count`, the
//! `toktok-rs` 0.3.0 bulk engine) against the candidates it was chosen from: `tiktoken` 4.1.2
//! (the crate behind every other encoding and the first megabytes of a process),
//! `bpe-openai` 0.3.2, `tiktoken-rs` 0.12.1 (`encode_ordinary`, the reference) and, when
//! installed, Python `tiktoken` (`encode_ordinary`), on the same generated corpus of prose, code
//! and CJK text.
//!
//! Run: `cargo bench --bench tokenize` (corpus size: `LLM_RECON_BENCH_MB`, default 50).
//! Before timing, every implementation's count of every document is checked against
//! tiktoken-rs; any difference fails the run. Prints one Markdown table per encoding: MB/s and
//! tokens/s single-thread and on all cores (rayon for the Rust crates,
//! `encode_ordinary_batch(num_threads=N)` for Python), the ratio to tiktoken-rs, and start-up
//! (first vocabulary load, timed in this process).
use llm_recon::tokenize::{Encoding, Engine, Tokenizer};
use rayon::prelude::*;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// Deterministic generator (xorshift64*): the same corpus on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "their",
    "one",
    "all",
    "would",
    "will",
    "reconciliation",
    "invoice",
    "tokens",
    "billing",
    "provider",
    "workflow",
    "latency",
    "throughput",
    "streaming",
    "customer",
    "quarterly",
    "estimate",
    "variance",
    "September",
    "Kubernetes",
    "JSON",
    "API",
    "don't",
    "it's",
    "we'll",
    "they've",
    "2026",
    "42",
    "3.14",
    "$1,250.00",
    "e-mail",
    "state-of-the-art",
    "naïve",
    "café",
    "Zürich",
];
const CODE: &[&str] = &[
    "fn process(items: &[Item]) -> Result<Vec<Output>, Error> {\n",
    "    let total: u64 = items.iter().map(|i| i.tokens).sum();\n",
    "    if total > LIMIT { return Err(Error::TooLarge(total)); }\n",
    "def reconcile(app, bill, *, tolerance=0.01):\n",
    "    for key, rows in groupby(sorted(app), key=itemgetter(0)):\n",
    "        diff = sum(r.cost for r in rows) - bill.get(key, 0)\n",
    "SELECT model, SUM(prompt_tokens) AS p FROM usage WHERE day >= '2026-10-01' GROUP BY 1;\n",
    "const config = { retries: 3, timeoutMs: 30_000, models: ['gpt-4o', 'qwen-max'] };\n",
    "    }\n",
    "\n",
    "        # TODO: handle the streaming case where usage is missing\n",
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\"}]}\n",
];
const CJK: &[&str] = &[
    "我们",
    "今天",
    "系统",
    "模型",
    "用户",
    "账单",
    "数据",
    "分析",
    "问题",
    "结果",
    "时间",
    "成本",
    "的",
    "了",
    "在",
    "是",
    "和",
    "有",
    "这",
    "个",
    "中",
    "大",
    "不",
    "为",
    "，",
    "。",
    "、",
    "！",
    "東京",
    "会議",
    "資料",
    "請求書",
    "です",
    "ます",
    "する",
    "した",
    "ください",
    "トークン",
    "한국어",
    "데이터",
    "비용",
    "입니다",
    "。\n",
];

const SYLLABLES: &[&str] = &[
    "ka", "ro", "mi", "ten", "sul", "bar", "qui", "lo", "ve", "dra", "pon", "ex", "ist", "ment",
    "ion", "al", "er", "ing", "pre", "con", "tra", "ly", "ous", "ble", "ic", "um", "or", "an",
    "th", "st", "gr", "pl", "ch", "sh", "wo", "zy", "ph", "que",
];

/// A word: 92% from the common list, 8% made of 1-4 syllables (a long tail of rare words, as
/// real text has, so no implementation wins only by caching a small vocabulary).
fn word(rng: &mut Rng, s: &mut String) {
    if rng.next() % 100 >= 8 {
        s.push_str(rng.pick(WORDS));
    } else {
        for _ in 0..1 + rng.next() % 4 {
            s.push_str(rng.pick(SYLLABLES));
        }
    }
}

/// A CJK piece: 97% from common words and characters, 3% any of the first 8,000 unified
/// ideographs (rare characters split into byte tokens and are the slow case for every
/// implementation; at 10% the CJK share runs at about the same speed in both Rust crates).
fn cjk(rng: &mut Rng, s: &mut String) {
    if rng.next() % 100 < 97 {
        s.push_str(rng.pick(CJK));
    } else if let Some(c) = char::from_u32(0x4E00 + (rng.next() % 8000) as u32) {
        s.push(c);
    }
}

/// One document of about `len` bytes, of the given kind.
fn document(rng: &mut Rng, kind: u64, len: usize) -> String {
    let mut s = String::with_capacity(len + 64);
    while s.len() < len {
        match kind {
            0 => {
                // prose: sentences of 8-20 words
                let n = 8 + rng.next() % 13;
                for i in 0..n {
                    if i > 0 {
                        s.push(' ');
                    }
                    word(rng, &mut s);
                }
                s.push_str(if rng.next().is_multiple_of(5) {
                    ".\n\n"
                } else {
                    ". "
                });
            }
            1 => {
                s.push_str(rng.pick(CODE));
                // an identifier line with rare names
                s.push_str("    let ");
                word(rng, &mut s);
                s.push('_');
                word(rng, &mut s);
                s.push_str(&format!(" = {};\n", rng.next() % 100_000));
            }
            _ => {
                let n = 10 + rng.next() % 30;
                for _ in 0..n {
                    cjk(rng, &mut s);
                }
                s.push('。');
            }
        }
    }
    s
}

/// Documents of ~4 KB: 50% prose, 30% code, 20% CJK, until `bytes` are reached.
fn corpus(bytes: usize) -> Vec<(u64, String)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut docs = Vec::new();
    let mut total = 0;
    while total < bytes {
        let r = rng.next() % 10;
        let kind = if r < 5 {
            0
        } else if r < 8 {
            1
        } else {
            2
        };
        let len = 1024 + (rng.next() % 6144) as usize;
        let d = document(&mut rng, kind, len);
        total += d.len();
        docs.push((kind, d));
    }
    docs
}

struct Row {
    name: String,
    threads: String,
    secs: f64,
    tokens: usize,
}

fn time<F: FnOnce() -> usize>(f: F) -> (Duration, usize) {
    let t = Instant::now();
    let n = f();
    (t.elapsed(), n)
}

/// Python tiktoken on the same documents (one JSON array on stdin), if installed.
fn python_rows(docs: &[String], enc: &str, threads: usize) -> Vec<Row> {
    // Python tiktoken downloads its vocabularies at first use; offline, it is given the
    // bundled ranks instead, written as .tiktoken files and accepted only if they hash to
    // OpenAI's published sha256 (so the vocabularies are provably identical).
    let dir = std::env::temp_dir().join("llm-recon-bench-vocab");
    if let Err(e) = write_tiktoken_file(&dir, enc) {
        eprintln!("cannot write vocabulary for python: {e}");
        return Vec::new();
    }
    let script = r#"
import hashlib, json, os, sys, time
import tiktoken, tiktoken.load as tl
vocab_dir = sys.argv[3]
def local(blobpath, expected_hash=None):
    data = open(os.path.join(vocab_dir, blobpath.rsplit("/", 1)[-1]), "rb").read()
    if expected_hash and hashlib.sha256(data).hexdigest() != expected_hash:
        raise ValueError("vocabulary hash mismatch")
    return data
tl.read_file_cached = local
t0 = time.perf_counter(); enc = tiktoken.get_encoding(sys.argv[1]); enc.encode_ordinary("warm up")
startup = time.perf_counter() - t0
docs = json.load(sys.stdin)
t0 = time.perf_counter(); n1 = sum(len(enc.encode_ordinary(d)) for d in docs); s1 = time.perf_counter() - t0
t0 = time.perf_counter(); nN = sum(len(x) for x in enc.encode_ordinary_batch(docs, num_threads=int(sys.argv[2]))); sN = time.perf_counter() - t0
print(json.dumps({"startup": startup, "s1": s1, "n1": n1, "sN": sN, "nN": nN, "version": tiktoken.__version__}))
"#;
    let child = Command::new("python3")
        .args([
            "-c",
            script,
            enc,
            &threads.to_string(),
            &dir.to_string_lossy(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn();
    let Ok(mut child) = child else {
        return Vec::new();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let json = serde_json::to_string(docs).unwrap_or_default();
        let _ = stdin.write_all(json.as_bytes());
    }
    let Ok(out) = child.wait_with_output() else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        eprintln!("python tiktoken not available: skipped (pip install tiktoken to include it)");
        return Vec::new();
    };
    let version = v["version"].as_str().unwrap_or("?");
    eprintln!(
        "python tiktoken {version} {enc} start-up: {:.0} ms",
        v["startup"].as_f64().unwrap_or(0.0) * 1000.0
    );
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
    vec![
        Row {
            name: format!("Python tiktoken {version}"),
            threads: "1".into(),
            secs: f("s1"),
            tokens: n("n1"),
        },
        Row {
            name: format!("Python tiktoken {version}"),
            threads: threads.to_string(),
            secs: f("sN"),
            tokens: n("nN"),
        },
    ]
}

/// Writes `<encoding>.tiktoken` (base64 token, space, rank per line) from the bundled ranks.
fn write_tiktoken_file(dir: &std::path::Path, enc: &str) -> std::io::Result<()> {
    let bpe = tiktoken::get_encoding(enc)
        .ok_or_else(|| std::io::Error::other(format!("no encoding {enc}")))?;
    std::fs::create_dir_all(dir)?;
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{enc}.tiktoken")))?);
    for id in 0..bpe.vocab_size() as u32 {
        writeln!(out, "{} {id}", base64(&bpe.decode(&[id])))?;
    }
    out.flush()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// One Rust implementation under test: a name and a per-document count.
struct Candidate<'a> {
    name: &'static str,
    count: Box<dyn Fn(&str) -> usize + Sync + 'a>,
}

fn main() {
    let mb: usize = std::env::var("LLM_RECON_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let tagged = corpus(mb * 1_000_000);
    let docs: Vec<String> = tagged.iter().map(|(_, d)| d.clone()).collect();
    let bytes: usize = docs.iter().map(String::len).sum();
    let threads = rayon::current_num_threads();
    println!(
        "corpus: {:.1} MB in {} documents (50% prose, 30% code, 20% CJK), {} cores\n",
        bytes as f64 / 1e6,
        docs.len(),
        threads
    );

    for (enc, reference, bpe_openai) in [
        (
            Encoding::O200kBase,
            tiktoken_rs::o200k_base_singleton as fn() -> &'static tiktoken_rs::CoreBPE,
            bpe_openai::o200k_base as fn() -> &'static bpe_openai::Tokenizer,
        ),
        (
            Encoding::Cl100kBase,
            tiktoken_rs::cl100k_base_singleton,
            bpe_openai::cl100k_base,
        ),
    ] {
        // Start-up: the first count in a fresh process (Engine::Auto counts with tiktoken until
        // BULK_AFTER_BYTES), the bulk engine's load, and each candidate's first load.
        let (start_ours, _) = time(|| Tokenizer::new(enc).count("warm up"));
        let (start_bulk, _) = time(|| {
            Tokenizer::new(enc)
                .with_engine(Engine::Bulk)
                .count("warm up")
        });
        let (start_ref, _) = time(|| reference().encode_ordinary("warm up").len());
        let (start_bpe, _) = time(|| bpe_openai().count("warm up"));
        let ours = Tokenizer::new(enc).with_engine(Engine::Bulk);
        let first = Tokenizer::new(enc).with_engine(Engine::Tiktoken);
        let theirs = reference();
        let bpe = bpe_openai();
        let candidates = [
            Candidate {
                name: "llm-recon `count` (toktok-rs 0.3.0)",
                count: Box::new(|d| ours.count(d)),
            },
            Candidate {
                name: "tiktoken 4.1.2 `count`",
                count: Box::new(|d| first.count(d)),
            },
            Candidate {
                name: "bpe-openai 0.3.2 `count`",
                count: Box::new(|d| bpe.count(d)),
            },
            Candidate {
                name: "tiktoken-rs 0.12.1 `encode_ordinary`",
                count: Box::new(|d| theirs.encode_ordinary(d).len()),
            },
        ];

        // Exactness first: every document, every implementation, against tiktoken-rs.
        let want: Vec<usize> = docs
            .par_iter()
            .map(|d| theirs.encode_ordinary(d).len())
            .collect();
        let mut disagree = false;
        for c in &candidates {
            let bad = docs
                .par_iter()
                .zip(&want)
                .filter(|(d, w)| (c.count)(d) != **w)
                .count();
            if bad > 0 {
                eprintln!(
                    "{enc}: {} differs from tiktoken-rs on {bad} documents",
                    c.name
                );
                disagree = true;
            }
        }

        let mut rows = Vec::new();
        for c in &candidates {
            let (d, n) = time(|| docs.iter().map(|d| (c.count)(d)).sum());
            rows.push(Row {
                name: c.name.into(),
                threads: "1".into(),
                secs: d.as_secs_f64(),
                tokens: n,
            });
            let (d, n) = time(|| docs.par_iter().map(|d| (c.count)(d)).sum());
            rows.push(Row {
                name: c.name.into(),
                threads: threads.to_string(),
                secs: d.as_secs_f64(),
                tokens: n,
            });
        }
        rows.extend(python_rows(&docs, enc.name(), threads));

        let tokens: usize = want.iter().sum();
        let same = !disagree && rows.iter().all(|r| r.tokens == tokens);
        println!(
            "### {enc}: {tokens} tokens ({})\n",
            if same {
                "every implementation agrees with tiktoken-rs on every document"
            } else {
                "IMPLEMENTATIONS DISAGREE"
            },
        );
        println!(
            "start-up: first count {:.0} ms (tiktoken 4.1.2), bulk engine load {:.0} ms \
             (toktok-rs), tiktoken-rs {:.0} ms, bpe-openai {:.0} ms\n",
            start_ours.as_secs_f64() * 1000.0,
            start_bulk.as_secs_f64() * 1000.0,
            start_ref.as_secs_f64() * 1000.0,
            start_bpe.as_secs_f64() * 1000.0
        );
        println!("| implementation | threads | MB/s | Mtokens/s | vs tiktoken-rs |");
        println!("|---|---:|---:|---:|---:|");
        for r in &rows {
            let base = rows
                .iter()
                .find(|b| b.name.starts_with("tiktoken-rs") && b.threads == r.threads)
                .map_or(f64::NAN, |b| b.secs);
            println!(
                "| {} | {} | {:.1} | {:.2} | {:.1}x |",
                r.name,
                r.threads,
                bytes as f64 / 1e6 / r.secs,
                r.tokens as f64 / 1e6 / r.secs,
                base / r.secs
            );
        }
        // Where the difference comes from: single-thread, per kind of text.
        println!();
        for (kind, label) in [(0, "prose"), (1, "code"), (2, "CJK")] {
            let part: Vec<&str> = tagged
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, d)| d.as_str())
                .collect();
            let mb = part.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6;
            let speeds: Vec<String> = candidates
                .iter()
                .map(|c| {
                    let (d, _) = time(|| part.iter().map(|d| (c.count)(d)).sum());
                    format!("{:.0}", mb / d.as_secs_f64())
                })
                .collect();
            println!("{label} MB/s (same order): {}", speeds.join(" / "));
        }
        println!();
        if !same {
            for r in &rows {
                eprintln!("{} ({} threads): {} tokens", r.name, r.threads, r.tokens);
            }
            std::process::exit(1);
        }
    }
}
