//! LangSmith as the trace: a Dify chat app on gpt-4o-mini traced to LangSmith by Dify's
//! integration (a `/runs/query` page, and the same runs as JSONL), reconciled with the app's
//! `messages` table and the OpenAI bill of the same two UTC days. One answer's first attempt
//! timed out after the provider had read its prompt: LangSmith has it as an errored `llm` run
//! with usage, the bill has its tokens, Dify has nothing — the `retries` step.

mod common;
use common::*;

use serde_json::Value;

const KEY: &str = "key_Hd9sKq2LxW4mPz7R";

fn fixture(path: &str) -> String {
    format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The two gpt-4o-mini messages of the Bedrock/OpenAI app export (2000/500 on 2026-10-01,
/// 4000/1000 on 2026-10-02; $0.0006 and $0.0012 at Dify's $0.15 / $0.60 per 1M).
fn dify_messages(dir: &std::path::Path) -> String {
    let text =
        std::fs::read_to_string(fixture("bedrock_e2e/dify_messages_bedrock_openai.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines
        .filter(|l| {
            l.starts_with("c4e2b9a0-7d1f-4c3e-9a52-1b0e6f3d2a05")
                || l.starts_with("c4e2b9a0-7d1f-4c3e-9a52-1b0e6f3d2a07")
        })
        .collect();
    assert_eq!(rows.len(), 2);
    let path = dir.join("dify_messages.csv");
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path.display().to_string()
}

fn report(trace: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    reconcile_json(&[
        dify_messages(dir.path()),
        fixture(trace),
        fixture("langsmith/openai_usage_completions.json"),
        fixture("langsmith/openai_costs.json"),
        "--from".into(),
        "2026-10-01".into(),
        "--to".into(),
        "2026-10-03".into(),
        "--key".into(),
        KEY.into(),
    ])
}

#[test]
fn langsmith_runs_reconcile_with_the_app_and_the_bill() {
    for trace in [
        "langsmith/runs_query_page.json",
        "langsmith/runs_export.jsonl",
        "langsmith/runs_export.parquet",
    ] {
        let r = report(trace);
        assert_eq!(r["comparisons"].as_array().unwrap().len(), 3, "{trace}");

        // trace → bill: LangSmith's three llm runs are the bill exactly. Input 1000 (the failed
        // attempt) + 2000 + 4000 = 7000, output 500 + 1000 = 1500; the bill's day 1 is 3000 /
        // 500 ($0.00045 + $0.0003), day 2 4000 / 1000 ($0.0006 + $0.0006): $0.00195.
        let t = &comparison(&r, "langsmith", "openai")["totals"];
        assert_eq!(t["baseline"]["records"], 3, "{trace}");
        assert_eq!(t["baseline"]["tokens"]["input"], 7_000);
        assert_eq!(t["baseline"]["tokens"]["output"], 1_500);
        assert_eq!(dec(&t["baseline"]["cost"]), d("0.00195"));
        assert_eq!(t["reference"]["tokens"]["total"], 8_500);
        assert_eq!(dec(&t["reference"]["cost"]), d("0.00195"));
        for s in t["bridge"].as_array().unwrap() {
            assert_eq!(s["tokens"]["total"], 0, "{} {}", trace, s["cause"]);
            assert!(dec(&s["cost"]).is_zero(), "{} {}", trace, s["cause"]);
        }
        ties_out(t, "langsmith → openai");

        // app → trace: Dify's 2000/500 + 4000/1000 = 7500 tokens, $0.0018; the trace adds the
        // failed attempt, 1000 input at the table's $0.15 per 1M = $0.00015, as `retries`.
        let t = &comparison(&r, "dify", "langsmith")["totals"];
        assert_eq!(t["baseline"]["tokens"]["total"], 7_500);
        assert_eq!(dec(&t["baseline"]["cost"]), d("0.0018"));
        assert_eq!(t["reference"]["tokens"]["total"], 8_500);
        let retries = step(t, "retries");
        assert_eq!(retries["method"], "measured");
        assert_eq!(retries["records"], 1);
        assert_eq!(retries["tokens"]["input"], 1_000);
        assert_eq!(dec(&retries["cost"]), d("0.00015"));
        assert_eq!(step(t, "unexplained")["tokens"]["total"], 0);
        assert!(dec(&step(t, "unexplained")["cost"]).is_zero());
        ties_out(t, "dify → langsmith");

        // app → bill: the same retry, seen in the trace, explains the whole variance:
        // 0.00195 − 0.0018 = 0.00015.
        let t = &comparison(&r, "dify", "openai")["totals"];
        assert_eq!(dec(&t["reference"]["cost"]), d("0.00195"));
        assert_eq!(step(t, "retries")["tokens"]["input"], 1_000);
        assert_eq!(dec(&step(t, "retries")["cost"]), d("0.00015"));
        assert_eq!(step(t, "unexplained")["tokens"]["total"], 0);
        assert!(dec(&step(t, "unexplained")["cost"]).is_zero());
        ties_out(t, "dify → openai");

        // Every run is used: three llm runs, and the two message chain runs and the
        // suggested-question tool run as rows without usage.
        let s = r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "langsmith")
            .unwrap();
        assert_eq!(s["role"], "trace");
        assert_eq!(s["rows_read"], 6, "{trace}");
        assert_eq!(s["rows_used"], 6);
        assert_eq!(s["rows_rejected"], 0);
        assert_eq!(s["rows_without_usage"], 3);
    }
}

/// The bulk export as Parquet reconciles exactly as the same runs as JSONL: the same
/// comparisons, step by step, and the same row counts.
#[test]
fn the_parquet_export_reports_as_the_jsonl_export() {
    let jsonl = report("langsmith/runs_export.jsonl");
    let parquet = report("langsmith/runs_export.parquet");
    assert_eq!(parquet["comparisons"], jsonl["comparisons"]);
    let counts = |r: &Value| -> Vec<Value> {
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                serde_json::json!([
                    s["name"],
                    s["role"],
                    s["rows_read"],
                    s["rows_used"],
                    s["rows_rejected"],
                    s["rows_without_usage"]
                ])
            })
            .collect()
    };
    assert_eq!(counts(&parquet), counts(&jsonl));
}

/// A truncated bulk export file: exit 2, the file named.
#[test]
fn a_truncated_parquet_export_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture("langsmith/runs_export.parquet")).unwrap();
    let cut = dir.path().join("runs_cut.parquet");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let out = assert_cmd::Command::cargo_bin("llm-recon")
        .unwrap()
        .args([
            "reconcile",
            &dify_messages(dir.path()),
            cut.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs_cut.parquet"), "{err}");
    assert!(err.contains("not a readable Parquet file"), "{err}");
}

/// Langfuse and LangSmith files together: one trace per run, said plainly (exit 2).
#[test]
fn two_trace_stores_in_one_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("llm-recon")
        .unwrap()
        .args([
            "reconcile",
            &dify_messages(dir.path()),
            &fixture("langsmith/runs_query_page.json"),
            &fixture("langfuse/ui_export.csv"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // Each store is named with the files taken for it.
    assert!(
        err.contains("two trace stores (langfuse: ")
            && err.contains("ui_export.csv; langsmith: ")
            && err.contains("runs_query_page.json)"),
        "{err}"
    );
}
