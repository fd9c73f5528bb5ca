//! Mutation fuzzing of every input family: CSV sources, JSON/JSONL sources, Parquet bills,
//! price tables, rate files and tokenizer files. Each case takes a fixture of the family (the
//! seed corpus is `fixtures/`, `pricing/` and `pricing/fx/`), applies one to three mutations —
//! a byte flipped, the file cut short, a line repeated or removed, a number swapped for a huge,
//! negative, fractional or non-finite one, a line or field spliced in from another fixture of
//! the family — and runs the library entry point the command would run on it.
//!
//! Every outcome must be one of:
//! - a result: every source accounts for its rows (`rows_read = rows_used + rows_rejected`,
//!   `rows_used` including `rows_without_usage`, duplicates and conflicts; the rejected rows
//!   listed are at most the rows counted as rejected), and the report renders in every format;
//! - an error (exit 2) whose message names the mutated file.
//!
//! Never a panic, and never a hang: each case runs on its own thread with a deadline.
//!
//! `proptest` drives the cases (and shrinks a failure to the smallest mutation list that still
//! fails). By default each family runs a fixed number of cases from a fixed seed, so CI runs the
//! same cases every time and stays within about a minute; `LLM_RECON_FUZZ_CASES=N` runs N cases
//! per family from a fresh random seed (proptest prints the failing case), e.g.
//! `LLM_RECON_FUZZ_CASES=5000 cargo nextest run --locked --test fuzz --release`.

use llm_recon::pricing::PriceBook;
use llm_recon::pricing::fx::FxTable;
use llm_recon::reconcile::{self, Options};
use llm_recon::report::{self, OutputFormat, model::Report};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Cases per family in CI (a fixed seed); `LLM_RECON_FUZZ_CASES` overrides.
const CI_CASES: u32 = 96;

/// A case that has not answered by then is a hang (debug build, shared machine: generous).
const DEADLINE: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Seeds and mutations

/// One seed file of a family, with the files it is read together with (the other fixtures of
/// its folder: an app export with its bill, so the bridge runs on the mutant too).
#[derive(Clone, Debug)]
struct Seed {
    path: PathBuf,
    bytes: Vec<u8>,
    partners: Vec<PathBuf>,
}

/// Values a number is swapped for: beyond what sums carry, negative, fractional, non-finite,
/// or not a number at all.
const ODD_NUMBERS: &[&str] = &[
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "99999999999999999999999999999999999",
    "9223372036854775807",
    "18446744073709551616",
    "1000000000000000",
    "5e28",
    "1e400",
    "1e-30",
    "-1",
    "-0.5",
    "0.5",
    "4000.5",
    "0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "",
    "0x10",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// One byte set to a value (structural characters are likelier).
    Flip { at: Index, byte: u8 },
    /// The file cut at a point.
    Truncate { at: Index },
    /// A line written twice.
    DuplicateLine { line: Index },
    /// A line left out.
    RemoveLine { line: Index },
    /// A run of digits replaced by an odd number.
    Number { which: Index, to: &'static str },
    /// A line of another seed of the family inserted before a line.
    SpliceLine {
        donor: Index,
        line: Index,
        at: Index,
    },
    /// A field (text between separators) replaced by a field of another seed.
    SpliceField {
        donor: Index,
        field: Index,
        at: Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        Just(b'"'),
        Just(b','),
        Just(b'\n'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b'-'),
        Just(b'9'),
        Just(0u8),
        Just(0xFFu8),
        any::<u8>(),
    ];
    prop_oneof![
        1 => (any::<Index>(), byte).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        1 => any::<Index>().prop_map(|line| Mutation::DuplicateLine { line }),
        1 => any::<Index>().prop_map(|line| Mutation::RemoveLine { line }),
        // Numbers are where money and counts go wrong: tried three times as often.
        3 => (any::<Index>(), proptest::sample::select(ODD_NUMBERS))
            .prop_map(|(which, to)| Mutation::Number { which, to }),
        1 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(donor, line, at)| Mutation::SpliceLine { donor, line, at }),
        1 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(donor, field, at)| Mutation::SpliceField { donor, field, at }),
    ]
}

/// Byte ranges of the lines of `b` (each with its `\n`).
fn lines(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

/// Byte ranges of the fields of `b`: text between `,` `:` `\t` `\n` `;`.
fn fields(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(c, b',' | b':' | b'\t' | b'\n' | b';') {
            if i > start {
                out.push((start, i));
            }
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

/// Byte ranges of the numbers of `b`: digit runs, with a fraction.
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

fn pick<T: Copy>(v: &[T], i: &Index) -> Option<T> {
    (!v.is_empty()).then(|| v[i.index(v.len())])
}

fn apply(seed: &[u8], muts: &[Mutation], corpus: &[Seed]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in muts {
        match m {
            Mutation::Flip { at, byte } => {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    b[i] = *byte;
                }
            }
            Mutation::Truncate { at } => {
                let i = at.index(b.len() + 1);
                b.truncate(i);
            }
            Mutation::DuplicateLine { line } => {
                if let Some((s, e)) = pick(&lines(&b), line) {
                    let copy = b[s..e].to_vec();
                    b.splice(s..s, copy);
                }
            }
            Mutation::RemoveLine { line } => {
                if let Some((s, e)) = pick(&lines(&b), line) {
                    b.drain(s..e);
                }
            }
            Mutation::Number { which, to } => {
                if let Some((s, e)) = pick(&numbers(&b), which) {
                    b.splice(s..e, to.bytes());
                }
            }
            Mutation::SpliceLine { donor, line, at } => {
                let d = &corpus[donor.index(corpus.len())].bytes;
                if let Some((s, e)) = pick(&lines(d), line) {
                    let at = pick(&lines(&b), at).map_or(b.len(), |(s, _)| s);
                    b.splice(at..at, d[s..e].iter().copied());
                }
            }
            Mutation::SpliceField { donor, field, at } => {
                let d = &corpus[donor.index(corpus.len())].bytes;
                if let (Some((ds, de)), Some((s, e))) =
                    (pick(&fields(d), field), pick(&fields(&b), at))
                {
                    b.splice(s..e, d[ds..de].iter().copied());
                }
            }
        }
    }
    b
}

/// Fixture files under `dir` whose name ends in one of `exts`, under `max` bytes.
fn files_under(dir: &Path, exts: &[&str], max: u64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if exts
                .iter()
                .any(|x| p.extension().and_then(|e| e.to_str()) == Some(x))
                && std::fs::metadata(&p).is_ok_and(|m| m.len() < max)
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Input fixtures (the exports `reconcile` reads) of the given extensions; the demo month, the
/// price-import sources and the tokenizer files are other families or too large.
fn source_seeds(exts: &[&str]) -> Vec<Seed> {
    let skip = |p: &Path| {
        ["demo", "pricing", "tokenize"]
            .iter()
            .any(|d| p.starts_with(root().join("fixtures").join(d)))
    };
    let inputs: Vec<PathBuf> = files_under(
        &root().join("fixtures"),
        &["csv", "json", "jsonl", "parquet"],
        40_000,
    )
    .into_iter()
    .filter(|p| !skip(p))
    .collect();
    inputs
        .iter()
        .filter(|p| {
            exts.iter()
                .any(|x| p.extension().and_then(|e| e.to_str()) == Some(x))
        })
        .map(|p| Seed {
            path: p.clone(),
            bytes: std::fs::read(p).unwrap(),
            partners: inputs
                .iter()
                .filter(|q| *q != p && q.parent() == p.parent())
                .cloned()
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The runner

fn cases() -> (u32, bool) {
    match std::env::var("LLM_RECON_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => (n, true),
        None => (CI_CASES, false),
    }
}

/// Runs `f` on its own thread: its answer, or why there is none (a panic, or no answer before
/// the deadline).
fn with_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        )),
        Err(_) => Err(format!("no answer within {} s: a hang", DEADLINE.as_secs())),
    }
}

/// What one case checks: the mutant's bytes, where to write them, its seed; `Err` is a broken
/// promise.
type Check = fn(&Path, &Seed) -> Result<Outcome, String>;

/// How a case ended, when it kept the promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Read: every row accounted for.
    Accounted,
    /// Refused with an error naming the file.
    Refused,
}

/// Runs the family's cases; a broken promise fails the test with the smallest failing case.
fn fuzz(family: &str, seeds: Vec<Seed>, file_name: fn(&Seed) -> String, check: Check) {
    assert!(!seeds.is_empty(), "{family}: no seeds");
    let (n, random) = cases();
    let config = Config {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = if random {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    };
    let corpus = Arc::new(seeds);
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..=3));
    let tally = Arc::new(std::sync::Mutex::new([0u32; 2]));
    let result = runner.run(&strategy, |(seed, muts)| {
        let tally = Arc::clone(&tally);
        let corpus = Arc::clone(&corpus);
        let verdict = with_deadline(move || {
            let seed = &corpus[seed.index(corpus.len())];
            let bytes = apply(&seed.bytes, &muts, &corpus);
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let path = dir.path().join(file_name(seed));
            std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
            check(&path, seed).map_err(|e| format!("mutant of {}: {e}", seed.path.display()))
        });
        let outcome = verdict.and_then(|r| r).map_err(TestCaseError::fail)?;
        if let Ok(mut t) = tally.lock() {
            t[outcome as usize] += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{family}: {e}");
    }
    let t = *tally.lock().unwrap();
    eprintln!(
        "{family}: {n} cases: {} read and accounted, {} refused naming the file",
        t[0], t[1]
    );
}

/// The mutant keeps its seed's name (some formats are told by it), in its own folder.
fn same_name(seed: &Seed) -> String {
    seed.path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn bundled_prices() -> &'static PriceBook {
    static BOOK: OnceLock<PriceBook> = OnceLock::new();
    BOOK.get_or_init(|| PriceBook::bundled().unwrap())
}

fn bundled_fx() -> Arc<FxTable> {
    static FX: OnceLock<Arc<FxTable>> = OnceLock::new();
    Arc::clone(FX.get_or_init(|| Arc::new(FxTable::bundled().unwrap())))
}

/// An error must name the file it is about.
fn names(message: &str, file: &Path) -> Result<Outcome, String> {
    let name = file.file_name().unwrap().to_string_lossy();
    if message.contains(name.as_ref()) {
        Ok(Outcome::Refused)
    } else {
        Err(format!("the error does not name {name}: {message}"))
    }
}

/// Every source accounts for its rows, and the report renders in every format.
fn accounted(report: &Report) -> Result<Outcome, String> {
    let mut rejected = 0;
    for s in &report.sources {
        if s.rows_read != s.rows_used + s.rows_rejected {
            return Err(format!(
                "{}: rows_read {} != rows_used {} + rows_rejected {}",
                s.name, s.rows_read, s.rows_used, s.rows_rejected
            ));
        }
        if s.rows_without_usage > s.rows_used {
            return Err(format!(
                "{}: rows_without_usage {} > rows_used {}",
                s.name, s.rows_without_usage, s.rows_used
            ));
        }
        rejected += s.rows_rejected;
    }
    if report.rejected.len() as u64 > rejected {
        return Err(format!(
            "{} rejected rows listed, {rejected} counted",
            report.rejected.len()
        ));
    }
    for f in [
        OutputFormat::Json,
        OutputFormat::Table,
        OutputFormat::Markdown,
        OutputFormat::Csv,
    ] {
        // The text formats never read the records (only the workbook's Records sheet does).
        let mut no_records = |_: &mut dyn FnMut(&llm_recon::normalized::Row<'_>)| Ok(());
        let text = report::render(report, f, &mut no_records)?;
        if text.is_empty() {
            return Err(format!("{f:?} rendered nothing"));
        }
    }
    Ok(Outcome::Accounted)
}

/// `reconcile` of the files, the mutant first: accounted, or an error naming the mutant.
fn reconcile_check(
    mutant: &Path,
    others: &[PathBuf],
    opts: &Options,
    prices: &PriceBook,
) -> Result<Outcome, String> {
    let mut files = vec![mutant.to_path_buf()];
    files.extend(others.iter().cloned());
    match reconcile::run(&files, opts, prices) {
        Ok(report) => accounted(&report),
        Err(e) => names(&e.to_string(), mutant),
    }
}

fn options() -> Options {
    Options {
        fx: bundled_fx(),
        ..Options::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The families

/// An export alone, then with the other fixtures of its folder.
fn source_check(mutant: &Path, seed: &Seed) -> Result<Outcome, String> {
    let opts = options();
    reconcile_check(mutant, &[], &opts, bundled_prices())?;
    reconcile_check(mutant, &seed.partners, &opts, bundled_prices())
}

#[test]
fn fuzz_csv_sources() {
    fuzz(
        "csv sources",
        source_seeds(&["csv"]),
        same_name,
        source_check,
    );
}

#[test]
fn fuzz_json_sources() {
    fuzz(
        "json sources",
        source_seeds(&["json", "jsonl"]),
        same_name,
        source_check,
    );
}

#[test]
fn fuzz_parquet_bills() {
    fuzz(
        "parquet",
        source_seeds(&["parquet"]),
        same_name,
        source_check,
    );
}

/// Bills of several providers and an app, priced by whatever table a case makes.
fn priced_inputs() -> Vec<PathBuf> {
    [
        "openai/usage_completions_1d.json",
        "anthropic/usage_1d_pages.json",
        "anthropic/dify_messages_claude.csv",
        "deepseek/amount-2026-10.csv",
        "alibaba/bill-details-en.csv",
        "aws/cur2_bedrock.csv",
        "gcp/billing_export.csv",
        "dify/messages.csv",
    ]
    .iter()
    .map(|f| root().join("fixtures").join(f))
    .collect()
}

/// `pricing check DIR`, then the table loaded as `--pricing DIR` into a run that prices with
/// it. A table that `pricing check` passes must load.
fn pricing_check(mutant: &Path, _seed: &Seed) -> Result<Outcome, String> {
    let dir = mutant.parent().unwrap();
    let problems = match llm_recon::pricing::cli::check(Some(dir)) {
        Ok((text, n)) => {
            for line in text.lines().filter(|l| l.starts_with("error: ")) {
                names(line, mutant)?;
            }
            n
        }
        Err(e) => return names(&e, mutant),
    };
    match PriceBook::load_dir(dir) {
        Err(e) if problems == 0 => Err(format!(
            "pricing check found no problem, loading failed: {e}"
        )),
        Err(e) => names(&e.to_string(), mutant),
        Ok(user) => {
            let mut book = bundled_prices().clone();
            book.merge(user);
            let inputs = priced_inputs();
            reconcile::run(&inputs, &options(), &book)
                .map_err(|e| format!("the unmutated inputs failed: {e}"))
                .and_then(|r| accounted(&r))
        }
    }
}

#[test]
fn fuzz_price_tables() {
    let seeds = files_under(&root().join("pricing"), &["toml"], 1_000_000)
        .into_iter()
        .map(|p| Seed {
            bytes: std::fs::read(&p).unwrap(),
            path: p,
            partners: Vec::new(),
        })
        .collect();
    fuzz("price tables", seeds, same_name, pricing_check);
}

/// A rate file given as `--fx-rates`, then a run with money in CNY and RMB prices.
fn fx_check(mutant: &Path, _seed: &Seed) -> Result<Outcome, String> {
    let mut fx = (*bundled_fx()).clone();
    if let Err(e) = fx.load_file(mutant) {
        return names(&e.to_string(), mutant);
    }
    let opts = Options {
        fx: Arc::new(fx),
        ..Options::default()
    };
    let inputs: Vec<PathBuf> = ["alibaba/bill-details-zh.csv", "dify/messages.csv"]
        .iter()
        .map(|f| root().join("fixtures").join(f))
        .collect();
    reconcile::run(&inputs, &opts, bundled_prices())
        .map_err(|e| format!("the unmutated inputs failed: {e}"))
        .and_then(|r| accounted(&r))
}

/// The bundled rate file's header and its last 40 days; and the same with three currencies.
fn fx_seeds() -> Vec<Seed> {
    let path = root().join("pricing/fx/ecb-eurofxref.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let all: Vec<&str> = text.lines().collect();
    let head = all.iter().take_while(|l| !l.starts_with("20")).count();
    let mut recent: Vec<&str> = all[..head].to_vec();
    recent.extend(&all[all.len() - 40..]);
    let recent = recent.join("\n") + "\n";
    // Columns date, USD, JPY, CNY only (a user's own file quotes what it needs).
    let cols = all[head - 1].split(',').collect::<Vec<_>>();
    let keep: Vec<usize> = ["date", "USD", "JPY", "CNY"]
        .iter()
        .filter_map(|c| cols.iter().position(|x| x == c))
        .collect();
    let few: String = recent
        .lines()
        .map(|l| {
            if l.starts_with('#') {
                l.to_string()
            } else {
                let f: Vec<&str> = l.split(',').collect();
                keep.iter()
                    .map(|&i| f.get(i).copied().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    [recent, few]
        .into_iter()
        .map(|t| Seed {
            path: path.clone(),
            bytes: t.into_bytes(),
            partners: Vec::new(),
        })
        .collect()
}

#[test]
fn fuzz_fx_files() {
    fuzz("fx files", fx_seeds(), |_| "rates.csv".into(), fx_check);
}

/// `count --tokenizer-file` on a few texts (plain, with specials, CJK, a long run).
fn tokenizer_check(mutant: &Path, _seed: &Seed) -> Result<Outcome, String> {
    use llm_recon::tokenize::file::FileTokenizer;
    let t = match FileTokenizer::load(mutant) {
        Ok(t) => t,
        Err(e) => return names(&e, mutant),
    };
    let long = "a".repeat(2_000);
    for text in [
        "hello world",
        "<|im_start|>user\nhi<|im_end|>",
        "数据 对账 🙂",
        "",
        long.as_str(),
    ] {
        if let Err(e) = t.count(text) {
            names(&e, mutant)?;
        }
    }
    let _ = t.framing();
    let _ = t.post_processor_tokens();
    Ok(Outcome::Accounted)
}

#[test]
fn fuzz_tokenizer_files() {
    let seeds = files_under(&root().join("fixtures/tokenize"), &["json"], 1_000_000)
        .into_iter()
        .map(|p| Seed {
            bytes: std::fs::read(&p).unwrap(),
            path: p,
            partners: Vec::new(),
        })
        .collect();
    fuzz("tokenizer files", seeds, same_name, tokenizer_check);
}
