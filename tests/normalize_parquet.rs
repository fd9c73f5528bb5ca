//! `normalize --format parquet` on the demo month: the file is queried with DuckDB (the engine a
//! data team would point at it) and its per-source sums must be the totals of `reconcile`'s JSON
//! report, exactly, in every token class, in requests and in money.
//!
//! DuckDB comes from the Python package: `LLM_RECON_PYTHON` names the interpreter that has it
//! (`.ci/run` installs it into a venv), else `python3`. Without it the DuckDB half is skipped with
//! the reason printed — except under CI, where it must be there.

mod common;

use assert_cmd::Command;
use common::{CLASSES, dec, tokens};
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn demo_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("csv" | "json")))
        .filter(|p| p.file_name().is_some_and(|n| n != "truth.json"))
        .collect();
    files.sort();
    files
}

fn normalize(files: &[PathBuf], format: &str, out: &Path) {
    let o = Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("normalize")
        .args(files)
        .args(["--format", format, "--output"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

const QUERY: &str = r#"
import duckdb, json, sys
cols = ["input", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h", "input_audio",
        "input_image", "output", "output_reasoning", "output_audio", "output_image"]
sums = ", ".join(f"sum(x_tokens_{c})" for c in cols)
rows = duckdb.sql(f"""
    select x_source, count(*), sum(x_requests), {sums}, sum(ConsumedQuantity),
           sum(x_source_cost), sum(BilledCost)
    from read_parquet('{sys.argv[1]}') group by x_source order by x_source
""").fetchall()
out = {}
for r in rows:
    out[r[0]] = {"records": r[1], "requests": int(r[2]),
                 "tokens": dict(zip(cols + ["total"], map(int, r[3:14]))),
                 "cost": str(r[14]), "billed": None if r[15] is None else str(r[15])}
print(json.dumps(out))
"#;

/// The DuckDB query's per-source sums, or why DuckDB is not available.
fn duckdb_sums(parquet: &Path) -> Result<Value, String> {
    let python = std::env::var("LLM_RECON_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import duckdb"])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !probe.status.success() {
        return Err(format!("{python} has no duckdb module"));
    }
    let o = std::process::Command::new(&python)
        .args(["-c", QUERY])
        .arg(parquet)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Ok(serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn duckdb_sums_of_the_normalized_parquet_are_the_reports_totals() {
    let dir = tempfile::tempdir().unwrap();
    let files = demo_files();
    let pq = dir.path().join("demo.parquet");
    normalize(&files, "parquet", &pq);

    // Every record is in the file: as many rows as JSONL lines, in row groups.
    let jsonl = dir.path().join("demo.jsonl");
    normalize(&files, "jsonl", &jsonl);
    let lines = std::fs::read_to_string(&jsonl).unwrap().lines().count();
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&pq).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows() as usize, lines);
    assert!(lines > 1_000, "the demo month has {lines} records");

    let sums = match duckdb_sums(&pq) {
        Ok(v) => v,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "skipped the DuckDB query: {why} (pip install duckdb, or set LLM_RECON_PYTHON)"
            );
            return;
        }
        Err(why) => panic!("CI must have DuckDB: {why}"),
    };
    let report = common::reconcile_json(&files);
    let sources = report["sources"].as_array().unwrap();
    assert_eq!(sums.as_object().unwrap().len(), sources.len());
    for s in sources {
        let name = s["name"].as_str().unwrap();
        let q = &sums[name];
        assert_eq!(q["requests"], s["requests"], "{name} requests");
        for class in CLASSES {
            assert_eq!(
                tokens(&q["tokens"], class),
                tokens(&s["tokens"], class),
                "{name} {class}"
            );
        }
        assert_eq!(
            Decimal::from_str(q["cost"].as_str().unwrap()).unwrap(),
            dec(&s["cost"]),
            "{name} cost"
        );
        // FOCUS's BilledCost is there for the bill's lines only, and is what the bill costs.
        if s["role"] == "bill" {
            assert_eq!(
                Decimal::from_str(q["billed"].as_str().unwrap()).unwrap(),
                dec(&s["cost"]),
                "{name} BilledCost"
            );
        } else {
            assert!(
                q["billed"].is_null(),
                "{name}: BilledCost on a {} row",
                s["role"]
            );
        }
    }
}

#[test]
fn normalize_never_writes_over_an_input() {
    let files = demo_files();
    let o = Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("normalize")
        .arg(&files[0])
        .args(["--format", "parquet", "--output"])
        .arg(&files[0])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refusing to write the output over an input"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
