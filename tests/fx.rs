//! Bills in another currency: converted at the dated rate of each line's day, or valued at the
//! user's book rate with the difference shown as the `fx` step.
//!
//! The Alibaba Model Studio bill fixture (Chinese headers, CNY, China-time days) against one Dify
//! qwen-max message priced in RMB. Rates are the ECB reference rates bundled in
//! pricing/fx/ecb-eurofxref.csv: 2026-10-05 USD 1.1204 / CNY 7.5118 per EUR, 2026-10-06 USD
//! 1.1269 / CNY 7.5554 per EUR.

mod common;
use common::*;

use assert_cmd::Command;
use rust_decimal::Decimal;
use serde_json::Value;

/// One Dify message: qwen-max, 800 + 200 tokens, 0.056 RMB, 2026-10-05 03:00 UTC.
fn dify_row(dir: &std::path::Path) -> std::path::PathBuf {
    let src = format!("{}/fixtures/dify/messages.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines
        .find(|l| l.starts_with("3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a04"))
        .unwrap()
        .replace("2026-10-01 11:30:45.06", "2026-10-05 03:00:00.00");
    let path = dir.join("dify_messages.csv");
    std::fs::write(&path, format!("{header}\n{row}\n")).unwrap();
    path
}

fn report(extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let dify = dify_row(dir.path());
    let bill = format!(
        "{}/fixtures/alibaba/bill-details-zh.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["reconcile", dify.to_str().unwrap(), &bill])
        .args([
            "--from",
            "2026-10-05",
            "--to",
            "2026-10-07",
            "--tz",
            "Asia/Shanghai",
            "--key",
            "1002",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The bill's model lines in CNY: day 2026-10-05 (China) 0.0964 + 0.0605 + 0.12 + 0.096 = 0.3729,
/// day 2026-10-06 0.0016 + 0.2 = 0.2016; the ECS and savings-plan lines are not model usage.
const DAY5: &str = "0.3729";
const DAY6: &str = "0.2016";

fn cny_usd(usd_per_eur: &str, cny_per_eur: &str) -> Decimal {
    d(usd_per_eur) / d(cny_per_eur)
}

#[test]
fn cny_bill_is_converted_at_the_rate_of_each_lines_day() {
    let r = report(&[]);
    let t = &r["comparisons"][0]["totals"];
    // Each line takes its day's rate (a China day's middle is 04:00 UTC the same date).
    let expected = d(DAY5) * cny_usd("1.1204", "7.5118") + d(DAY6) * cny_usd("1.1269", "7.5554");
    let found = dec(&t["reference"]["cost"]);
    assert!(
        (found - expected).abs() < d("0.000000001"),
        "{found} vs {expected}"
    );
    // 0.056 RMB at 2026-10-05's rate.
    let base = dec(&t["baseline"]["cost"]);
    assert!((base - d("0.056") * cny_usd("1.1204", "7.5118")).abs() < d("0.000000001"));
    // No book rate: conversion explains nothing.
    assert_eq!(dec(&step(t, "fx")["cost"]), Decimal::ZERO);
    assert_eq!(step(t, "fx")["records"], 0);
}

#[test]
fn a_book_rate_values_the_bill_and_the_fx_step_is_its_distance_from_the_dated_rates() {
    let r = report(&["--book-rate", "CNY=0.14"]);
    let t = &r["comparisons"][0]["totals"];
    // 0.5745 CNY × 0.14 = 0.08043 USD exactly.
    assert_eq!(dec(&t["reference"]["cost"]), d("0.08043"));
    // fx = Σ CNY × (0.14 − dated rate) ≈ 0.3729 × −0.0091521 + 0.2016 × −0.0091516 ≈ −0.0052577.
    let expected = d(DAY5) * (d("0.14") - cny_usd("1.1204", "7.5118"))
        + d(DAY6) * (d("0.14") - cny_usd("1.1269", "7.5554"));
    let fx = dec(&step(t, "fx")["cost"]);
    assert!(
        (fx - expected).abs() < d("0.000000001"),
        "{fx} vs {expected}"
    );
    assert_eq!(step(t, "fx")["records"], 6);
    // The app's RMB is not revalued at the book rate: it is no bill.
    let base = dec(&t["baseline"]["cost"]);
    assert!((base - d("0.056") * cny_usd("1.1204", "7.5118")).abs() < d("0.000000001"));
    // Ties out exactly in money.
    let mut money = dec(&t["baseline"]["cost"]);
    for s in t["bridge"].as_array().unwrap() {
        money += dec(&s["cost"]);
    }
    assert_eq!(money, dec(&t["reference"]["cost"]));
}

#[test]
fn a_report_in_cny_needs_no_conversion() {
    let r = report(&["--currency", "CNY"]);
    assert_eq!(r["currency"], "CNY");
    let t = &r["comparisons"][0]["totals"];
    assert_eq!(dec(&t["reference"]["cost"]), d("0.5745"));
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.056"));
}

#[test]
fn bad_currency_options_exit_2() {
    let bill = format!(
        "{}/fixtures/alibaba/bill-details-zh.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    for args in [
        ["--currency", "XYZ"],
        ["--book-rate", "CNY"],
        ["--book-rate", "CNY=-1"],
    ] {
        let out = Command::cargo_bin("llm-recon")
            .unwrap()
            .args(["reconcile", &bill])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]) && err.contains(args[1]), "{err}");
    }
}
