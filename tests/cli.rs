//! The command line as a user meets it: exit codes, error messages, formats.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn fixture(rel: &str) -> String {
    format!("{}/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn unrecognized_file_exits_2_naming_file_and_known_formats() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "foo,bar\n1,2").unwrap();
    let path = f.path().display().to_string();
    bin()
        .args(["reconcile", &path])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(path.as_str()))
        .stderr(predicate::str::contains("dify-messages-csv"))
        .stderr(predicate::str::contains("openai-usage-json"));
}

#[test]
fn missing_file_exits_2() {
    bin()
        .args(["reconcile", "/nonexistent/messages.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/messages.csv"));
}

#[test]
fn binary_file_exits_2() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&[0xff, 0xfe, 0x00, 0x9f, 0x92, 0x96, 0xff])
        .unwrap();
    bin()
        .args(["reconcile", &f.path().display().to_string()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("UTF-8"));
}

#[test]
fn usage_errors_exit_2() {
    let demo = fixture("demo/dify_messages.csv");
    bin()
        .args(["reconcile", &demo, "--from", "2026-10-01"])
        .assert()
        .code(2);
    bin()
        .args(["reconcile", &demo, "--tz", "Mars/Olympus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Mars/Olympus"));
    bin()
        .args(["reconcile", &demo, "--bucket", "2w"])
        .assert()
        .code(2);
    bin().args(["reconcile"]).assert().code(2);
    bin().args(["frobnicate"]).assert().code(2);
    bin()
        .args(["reconcile", &demo, "--input-format", "excel"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("known formats"));
}

#[test]
fn thresholds_decide_exit_code() {
    // The demo's variance is several percent, its unexplained part near zero.
    bin()
        .args(["demo", "--max-variance", "0.01"])
        .assert()
        .code(1);
    bin()
        .args(["demo", "--max-unexplained", "0.5"])
        .assert()
        .code(0);
    bin()
        .args(["demo", "--format", "json", "--max-variance", "0.01"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"pass\": false"));
}

#[test]
fn every_output_format_renders_and_output_file_is_written() {
    for (fmt, needle) in [
        ("table", "window_misalignment"),
        ("markdown", "| step | tokens |"),
        ("csv", "baseline,reference,level,window_start"),
        ("json", "\"schema\": \"llm-recon/report/v1\""),
    ] {
        bin()
            .args(["demo", "--format", fmt])
            .assert()
            .success()
            .stdout(predicate::str::contains(needle));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    bin()
        .args([
            "demo",
            "--format",
            "json",
            "--output",
            &out.display().to_string(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"comparisons\""));
}

#[test]
fn normalize_prints_one_record_per_call_with_origin() {
    let out = bin()
        .args([
            "normalize",
            &fixture("demo/openai_usage_embeddings_p2.json"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], "openai");
    assert_eq!(first["model"], "text-embedding-3-small");
    assert_eq!(first["operation"], "embedding");
    assert!(
        first["origin"]
            .as_str()
            .unwrap()
            .contains("openai_usage_embeddings_p2.json:")
    );
    let csv = bin()
        .args([
            "normalize",
            "--format",
            "csv",
            &fixture("demo/openai_usage_embeddings_p2.json"),
        ])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("source,origin,id,start,end,provider"));
    assert_eq!(csv.lines().count(), text.lines().count() + 1);
}

/// A bad row is rejected with `file:line` and a reason, counted, and the run goes on (exit 0).
#[test]
fn bad_rows_are_rejected_with_file_line_and_counted() {
    let files = [
        fixture("dify/messages.csv"),
        fixture("dify/node_executions.csv"),
        fixture("openai/usage_completions_1d.json"),
        fixture("openai/costs_1d.json"),
    ];
    let out = bin()
        .arg("reconcile")
        .args(&files)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected = r["rejected"].as_array().unwrap();
    // messages.csv line 7 writes the count as "1,024"; node_executions.csv line 11 has a
    // day-first date.
    assert!(rejected.iter().any(|x| {
        x["origin"]
            .as_str()
            .unwrap()
            .ends_with("dify/messages.csv:7")
            && x["reason"].as_str().unwrap().contains("message_tokens")
    }));
    assert!(rejected.iter().any(|x| {
        x["origin"]
            .as_str()
            .unwrap()
            .ends_with("dify/node_executions.csv:11")
            && x["reason"].as_str().unwrap().contains("created_at")
    }));
    let dify = &r["sources"][0];
    assert_eq!(dify["name"], "dify");
    assert_eq!(dify["rows_rejected"], 2);
    assert_eq!(
        dify["rows_read"].as_u64().unwrap(),
        dify["rows_used"].as_u64().unwrap() + dify["rows_rejected"].as_u64().unwrap()
    );
    // The table view lists them too.
    bin()
        .arg("reconcile")
        .args(&files)
        .assert()
        .success()
        .stdout(predicate::str::contains("Rejected rows: 2"))
        .stdout(predicate::str::contains("messages.csv:7"));
}

/// The spot check on the demo's October: per-call causes add up to the bridge's planted amounts
/// (truth.json, dify → langfuse): the ERROR attempts to `retries`, the estimated calls to
/// `tokenizer_drift`.
#[test]
fn spot_check_rows_add_up_to_the_planted_causes() {
    let d = |f: &str| fixture(&format!("demo/{f}"));
    let out = bin()
        .arg("reconcile")
        .args([
            d("dify_messages.csv"),
            d("dify_node_executions.csv"),
            d("langfuse_observations.csv"),
        ])
        .args([
            "--spot-check",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-01",
            "--tz",
            "Asia/Shanghai",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d("truth.json")).unwrap()).unwrap();
    let t = truth["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["baseline"] == "dify" && c["reference"] == "langfuse")
        .unwrap();
    let sum = |cause: &str| -> i64 {
        s["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["causes"].as_array().unwrap().iter().any(|c| c == cause))
            .map(|r| r["token_difference"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(
        sum("retries"),
        t["steps"]["retries"]["tokens"]["total"].as_i64().unwrap()
    );
    assert_eq!(
        sum("tokenizer_drift"),
        t["steps"]["tokenizer_drift"]["tokens"]["total"]
            .as_i64()
            .unwrap()
    );
    // Every matched call here is matched by id, with full confidence.
    assert!(
        s["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["matched_by"] != "time+model")
    );
    // One call drilled into: its row only.
    let id = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["causes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "tokenizer_drift")
        })
        .unwrap()["app"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = bin()
        .arg("reconcile")
        .args([
            d("dify_node_executions.csv"),
            d("langfuse_observations.csv"),
        ])
        .args(["--call", &id, "--format", "json"])
        .output()
        .unwrap();
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    assert_eq!(one["rows"][0]["app"]["id"], id.as_str());
}

/// Windows line ends do not shift `file:line`: the same bad row is reported on the same line.
#[test]
fn crlf_exports_report_the_same_lines() {
    let text = std::fs::read_to_string(fixture("dify/messages.csv")).unwrap();
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messages_crlf.csv");
    std::fs::write(&path, crlf).unwrap();
    bin()
        .args([
            "reconcile",
            &path.display().to_string(),
            &fixture("openai/costs_1d.json"),
        ])
        .args(["--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("messages_crlf.csv:7"));
}

#[test]
fn a_run_without_usage_shows_the_window_asked_for_or_none() {
    // A Langfuse UI export with its header only: no usage to span, no window asked.
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(f, "id,traceId,type,startTime,model,usageDetails").unwrap();
    let path = f.path().display().to_string();
    let out = bin()
        .args(["reconcile", &path, "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["window"]["start"].is_null(), "{}", v["window"]);
    assert!(v["window"]["end"].is_null(), "{}", v["window"]);
    bin()
        .args(["reconcile", &path])
        .assert()
        .success()
        .stdout(predicate::str::contains("window none"))
        .stdout(predicate::str::contains("1970").not());
    // Asked for: shown as asked (midnight in --tz, in UTC).
    let out = bin()
        .args([
            "reconcile",
            &path,
            "--format",
            "json",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-01",
            "--tz",
            "Asia/Shanghai",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["window"]["start"], "2026-09-30T16:00:00Z");
    assert_eq!(v["window"]["end"], "2026-10-31T16:00:00Z");
}
