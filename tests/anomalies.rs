//! Anomalies: a hand-made month of a Dify chat app where one day's tokens per call triple;
//! exactly that day is flagged, and `--max-anomalies` gates on it.

use assert_cmd::Command;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

const HEADER: &str = "id,app_id,model_provider,model_id,override_model_configs,conversation_id,inputs,query,message,message_tokens,message_unit_price,message_price_unit,answer,answer_tokens,answer_unit_price,answer_price_unit,parent_message_id,provider_response_latency,total_price,currency,from_source,from_end_user_id,from_account_id,created_at,updated_at,agent_based,workflow_run_id,status,error,message_metadata,invoke_from,app_mode";

/// One `messages` row of a chat app on gpt-4o at Dify's configured 2.50 / 10.00 USD per 1M.
fn row(n: usize, day: u32, prompt: u64, completion: u64) -> String {
    let price = |t: u64, per_m: &str| {
        Decimal::from(t) * Decimal::from_str(per_m).unwrap() / Decimal::from(1_000_000)
    };
    let total = price(prompt, "2.5") + price(completion, "10");
    let hour = 8 + n % 8;
    format!(
        "00000000-0000-4000-8000-{n:012},8e2d4c1a-5b6f-4e3a-9c7d-1a2b3c4d5e01,langgenius/openai/openai,gpt-4o-2024-08-06,,c0c0c0c0-aaaa-4bbb-8ccc-{n:012},{{}},q,[],{prompt},2.5000,0.0000010,a,{completion},10.0000,0.0000010,,1.0,{total},USD,api,e0e0e0e0-1111-4222-8333-444455556601,,2026-10-{day:02} {hour:02}:00:00.000000,2026-10-{day:02} {hour:02}:00:01.000000,f,,normal,,{{}},service-api,chat"
    )
}

/// 14 days of 8 calls; prompts 1,000, 1,010 or 1,020 tokens by day, answers 250 — and on
/// 2026-10-10 every call three times as large (a debug prompt left on).
fn month() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = format!("{HEADER}\n");
    let mut n = 0;
    for day in 1..=14u32 {
        for _ in 0..8 {
            let (p, c) = (1000 + 10 * (day as u64 % 3), 250);
            let (p, c) = if day == 10 { (3 * p, 3 * c) } else { (p, c) };
            csv.push_str(&row(n, day, p, c));
            csv.push('\n');
            n += 1;
        }
    }
    let path = dir.path().join("dify_messages.csv");
    std::fs::write(&path, csv).unwrap();
    (dir, path)
}

fn reconcile(file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("reconcile")
        .arg(file)
        .args([
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-15",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn exactly_the_tripled_day_is_flagged() {
    let (_d, file) = month();
    let out = reconcile(&file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let flagged = r["anomalies"]["flagged"].as_array().unwrap();
    let days: std::collections::BTreeSet<&str> =
        flagged.iter().map(|a| a["day"].as_str().unwrap()).collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2026-10-10"],
        "{flagged:#?}"
    );
    let tokens = flagged
        .iter()
        .find(|a| a["metric"] == "tokens_per_call")
        .unwrap();
    // 2026-10-10: 10 % 3 = 1 → prompts 1,010, tripled 3,030, answers 750: 3,780 per call.
    // The 7 days before (10-03 … 10-09, day % 3 = 0 1 2 0 1 2 0) have 1,250 1,260 1,270 1,250
    // 1,260 1,270 1,250 per call: median 1,260.
    assert_eq!(tokens["value"], "3780");
    assert_eq!(tokens["baseline_median"], "1260");
    assert_eq!(tokens["calls"], 8);
    // (3,780 − 1,260) / 1,260 = +200%.
    assert_eq!(tokens["change_pct"].as_f64(), Some(200.0));
    assert!(!r["anomalies"]["rule"].as_str().unwrap().is_empty());
}

#[test]
fn max_anomalies_fails_the_run_and_lists_them() {
    let (_d, file) = month();
    // Two anomalies (tokens and cost per call of 2026-10-10): more than 1 fails.
    let out = reconcile(&file, &["--max-anomalies", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("llm-recon: check failed: anomaly").count(),
        2,
        "{err}"
    );
    assert!(err.contains("2026-10-10"), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"]["failures"][0]["check"], "max_anomalies");
    assert_eq!(r["verdict"]["max_anomalies"], 1);
    // Two is within --max-anomalies 2.
    let out = reconcile(&file, &["--max-anomalies", "2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
