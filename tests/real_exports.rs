//! Real exports as their systems deliver them, read end to end through `reconcile`: what the
//! report says about their quirks (a Dify total that is not its parts, snapshots of one AWS
//! billing period, Dify's console statistics, …).

mod common;
use common::*;

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// `reconcile … --format json` on `files` with `args`; the run must succeed.
fn report(files: &[PathBuf], args: &[&str]) -> Value {
    let out = bin()
        .arg("reconcile")
        .args(files)
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn source<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

fn notes(r: &Value) -> Vec<&str> {
    r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn a_dify_total_that_is_not_its_parts_is_counted_by_its_parts_and_flagged() {
    let r = report(&[fixture("dify/api_log_total_mismatch.jsonl")], &[]);
    let dify = source(&r, "dify");
    assert_eq!(dify["rows_rejected"], 0);
    // The parts: (412 + 1,200 + 100) input, (57 + 300 + 20) output; the stated totals
    // (412 + 1,300 + 120 = 1,832) are not what is counted.
    assert_eq!(tokens(&dify["tokens"], "input"), 1712);
    assert_eq!(tokens(&dify["tokens"], "output"), 377);
    assert_eq!(tokens(&dify["tokens"], "total"), 2089);
    let flagged: Vec<&Value> = dify["row_notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["reason"]
                .as_str()
                .unwrap()
                .contains("total_tokens differs")
        })
        .collect();
    assert_eq!(flagged.len(), 1, "{}", dify["row_notes"]);
    assert_eq!(flagged[0]["rows"], 2);
    assert_eq!(
        flagged[0]["example"],
        "d1f7e0a2-5b3c-4e8d-9a10-00000000bb01"
    );
    assert!(
        notes(&r).iter().any(|n| n.starts_with("dify: 2 row(s): ")
            && n.contains("total_tokens differs")
            && n.ends_with("(e.g. d1f7e0a2-5b3c-4e8d-9a10-00000000bb01)")),
        "{:?}",
        notes(&r)
    );
}
