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

fn files_under(rel: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![fixture(rel)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn several_aws_snapshots_of_one_billing_period_count_the_month_once() {
    // Two executions of one CUR 2.0 export, with and without their manifests among the inputs.
    let all = files_under("aws/snapshots/cur2-bedrock");
    let data: Vec<PathBuf> = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .cloned()
        .collect();
    assert_eq!((all.len(), data.len()), (5, 3));
    for files in [&all, &data] {
        let r = report(files, &[]);
        let aws = source(&r, "aws");
        // The latest snapshot only: 23,000 + 40,000 input, 14,266 + 10,000 output,
        // 0.069 + 0.21399 + 0.12 + 0.15 = 0.55299 (both would be 86,000 / 38,532 / 0.83598).
        assert_eq!(tokens(&aws["tokens"], "input"), 63_000);
        assert_eq!(tokens(&aws["tokens"], "output"), 24_266);
        assert_eq!(dec(&aws["cost"]), d("0.55299"));
        assert_eq!(aws["rows_rejected"], 0);
        assert_eq!(aws["files"].as_array().unwrap().len(), 2);
        let n = notes(&r);
        let old = "2b1c7e40-5a3d-3c9e-8f21-0a6d4e9b1c01/cur2-bedrock-00001.csv";
        assert!(
            n.iter().any(|x| x
                .starts_with("aws: 2 snapshots of billing period 2026-10 of cur2-bedrock")
                && x.contains(old)),
            "{n:?}"
        );
        assert!(
            n.iter()
                .any(|x| x.contains(old) && x.contains("not read: an earlier AWS snapshot")),
            "{n:?}"
        );
    }
    // Legacy CUR: two assembly folders, and the report's top-level manifest.
    let legacy = files_under("aws/snapshots/legacy");
    let r = report(&legacy, &[]);
    let aws = source(&r, "aws");
    // The latest assembly: 120,000 + 50,000 input, 8,000 output; 0.36 + 0.12 + 0.15 = 0.63.
    assert_eq!(tokens(&aws["tokens"], "input"), 170_000);
    assert_eq!(tokens(&aws["tokens"], "output"), 8_000);
    assert_eq!(dec(&aws["cost"]), d("0.63"));
    assert!(
        notes(&r)
            .iter()
            .any(|x| x.contains("bedrock-cur-Manifest.json: not read: AWS manifest")),
        "{:?}",
        notes(&r)
    );
}

#[test]
fn copies_of_a_cur_without_its_folders_are_told_apart_by_their_shared_lines() {
    // One delivery saved twice under other names, flat (no layout, no manifest): the two files
    // share every line id, which the parts of one delivery never do, so they are two snapshots
    // of one month and only one is read.
    let dir = tempfile::tempdir().unwrap();
    let later = files_under("aws/snapshots/legacy")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("3c02"))
        .unwrap();
    let a = dir.path().join("october.csv");
    let b = dir.path().join("october (1).csv");
    std::fs::copy(&later, &a).unwrap();
    std::fs::copy(&later, &b).unwrap();
    let r = report(&[a, b], &[]);
    let aws = source(&r, "aws");
    assert_eq!(tokens(&aws["tokens"], "input"), 170_000);
    assert_eq!(dec(&aws["cost"]), d("0.63"));
    assert!(
        notes(&r)
            .iter()
            .any(|x| x.starts_with("aws: 2 snapshots of billing period 2026-10")),
        "{:?}",
        notes(&r)
    );
}

/// The demo month's OpenAI usage pages (October 2026), the bill the statistics are compared with.
fn demo_bill() -> Vec<PathBuf> {
    vec![
        fixture("demo/openai_usage_completions_p1.json"),
        fixture("demo/openai_usage_completions_p2.json"),
    ]
}

const STATS_ARGS: [&str; 8] = [
    "--tz",
    "Asia/Shanghai",
    "--from",
    "2026-10-01",
    "--to",
    "2026-10-04",
    "--key",
    "key_w1RmDclcthL6Js6J",
];

#[test]
fn dify_console_statistics_alone_are_the_app_baseline_against_the_only_bill() {
    let mut files = vec![fixture("dify/console_token_costs.json")];
    files.extend(demo_bill());
    let r = report(&files, &STATS_ARGS);
    assert_eq!(source(&r, "dify")["rows_rejected"], 0);
    let base = &r["comparisons"][0]["totals"]["baseline"];
    // The fixture's three days: 1,161 + 24,500 + 380 tokens, 0.0030900 + 0.0612000 + 0.0010000.
    assert_eq!(base["records"], 3);
    assert_eq!(tokens(&base["tokens"], "other"), 26_041);
    assert_eq!(tokens(&base["tokens"], "total"), 26_041);
    assert_eq!(base["cost"], "0.06529");
    let n = notes(&r);
    assert!(
        n.iter()
            .any(|n| n.contains("compared with the openai bill, the only bill")),
        "{n:?}"
    );
    assert!(
        n.iter()
            .any(|n| n.starts_with("dify: 3 row(s): Dify console statistics: days are bucketed")),
        "{n:?}"
    );
}

#[test]
fn dify_console_statistics_beside_per_call_exports_are_left_out() {
    let calls = vec![
        fixture("demo/dify_messages.csv"),
        fixture("demo/dify_node_executions.csv"),
    ];
    let mut with_stats = calls.clone();
    with_stats.push(fixture("dify/console_token_costs.json"));
    let (mut a, mut b) = (calls, with_stats);
    a.extend(demo_bill());
    b.extend(demo_bill());
    let without = report(&a, &STATS_ARGS);
    let with = report(&b, &STATS_ARGS);
    // The statistics sum the same messages: the baseline is the per-call exports' alone.
    assert_eq!(
        with["comparisons"][0]["totals"]["baseline"],
        without["comparisons"][0]["totals"]["baseline"]
    );
    assert_eq!(
        source(&with, "dify")["rows"],
        source(&without, "dify")["rows"]
    );
    assert!(
        notes(&with).iter().any(|n| n.ends_with(
            "console_token_costs.json: not read: Dify's console statistics sum the messages its per-call exports among the inputs already count"
        )),
        "{:?}",
        notes(&with)
    );
}

#[test]
fn dify_console_statistics_with_several_bills_are_compared_with_none() {
    let mut files = vec![fixture("dify/console_token_costs.json")];
    files.extend(demo_bill());
    files.push(fixture("anthropic/usage_1d_pages.json"));
    let r = report(&files, &STATS_ARGS);
    for c in r["comparisons"].as_array().unwrap() {
        assert_eq!(c["totals"]["baseline"]["records"], 0, "{}", c["baseline"]);
    }
    assert!(
        notes(&r)
            .iter()
            .any(|n| n.contains("several bills: their days are compared with none")),
        "{:?}",
        notes(&r)
    );
}
