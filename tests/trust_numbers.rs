//! Hostile and unlucky numbers: amounts and counts that cannot be carried, repeated and
//! conflicting rows, unknown currencies, broken rate files, bad thresholds. Each test is one class
//! of failure: it names what the user must see instead of a panic, a wrap or a silent guess.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The first row of the Dify messages fixture (JSONL), to vary one field at a time.
fn dify_row() -> Value {
    let text = std::fs::read_to_string(fixture("dify/messages.jsonl")).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Writes rows as JSONL into `dir/name`.
fn write_jsonl(dir: &Path, name: &str, rows: &[Value]) -> PathBuf {
    let p = dir.join(name);
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

/// `normalize` as JSONL records, with the stderr it printed.
fn normalize(files: &[&Path]) -> (Vec<Value>, String, i32) {
    let out = bin().arg("normalize").args(files).output().unwrap();
    let recs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        recs,
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn non_finite_or_negative_thresholds_are_usage_errors() {
    let f = fixture("dify/messages.jsonl");
    for flag in ["--max-variance", "--max-unexplained"] {
        for bad in ["NaN", "nan", "inf", "-inf", "-1", "1e400"] {
            bin()
                .arg("reconcile")
                .arg(&f)
                .arg(format!("{flag}={bad}"))
                .assert()
                .code(2)
                .stderr(predicate::str::contains(flag))
                .stderr(predicate::str::contains("finite"));
        }
    }
    bin()
        .arg("reconcile")
        .arg(&f)
        .args(["--max-variance", "5", "--max-unexplained", "0"])
        .assert()
        .code(0);
}

#[test]
fn normalize_counts_every_rejected_row_not_only_the_listed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = dify_row();
    bad["message_tokens"] = json!("many");
    let rows: Vec<Value> = (0..1500)
        .map(|i| {
            let mut r = bad.clone();
            r["id"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
            r
        })
        .collect();
    let p = write_jsonl(dir.path(), "messages.jsonl", &rows);
    let (recs, err, code) = normalize(&[&p]);
    assert_eq!(code, 0, "{err}");
    assert!(recs.is_empty());
    assert_eq!(
        err.lines().filter(|l| l.starts_with("rejected ")).count(),
        20
    );
    assert!(err.contains("… 1480 more rejected rows"), "{err}");
}
