//! Helpers the integration tests share for reading JSON reports.
#![allow(dead_code)] // each test binary uses its own subset

use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// Every token class of the report's `tokens` objects, and their total.
pub const CLASSES: [&str; 11] = [
    "input",
    "input_cache_read",
    "input_cache_write_5m",
    "input_cache_write_1h",
    "input_audio",
    "input_image",
    "output",
    "output_reasoning",
    "output_audio",
    "output_image",
    "total",
];

/// A money string of the report.
pub fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().expect("money is a decimal string")).unwrap()
}

/// A decimal literal.
pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// One class of a `tokens` object (absent = 0).
pub fn tokens(v: &Value, class: &str) -> i64 {
    v.get(class).and_then(Value::as_i64).unwrap_or(0)
}

/// The comparison `baseline → reference` of a report.
pub fn comparison<'a>(report: &'a Value, baseline: &str, reference: &str) -> &'a Value {
    report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["baseline"] == baseline && c["reference"] == reference)
        .unwrap_or_else(|| panic!("no comparison {baseline} → {reference}"))
}

/// A bridge step of a comparison's totals or group, if present.
pub fn find_step<'a>(cmp: &'a Value, cause: &str) -> Option<&'a Value> {
    cmp["bridge"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cause"] == cause)
}

/// A bridge step that must be present.
pub fn step<'a>(cmp: &'a Value, cause: &str) -> &'a Value {
    find_step(cmp, cause).unwrap_or_else(|| panic!("no step {cause}"))
}

/// baseline + Σ steps = reference, per class and in money.
pub fn ties_out(cmp: &Value, what: &str) {
    for class in CLASSES {
        let mut acc = tokens(&cmp["baseline"]["tokens"], class);
        for s in cmp["bridge"].as_array().unwrap() {
            acc += tokens(&s["tokens"], class);
        }
        assert_eq!(
            acc,
            tokens(&cmp["reference"]["tokens"], class),
            "{what} {class}"
        );
    }
    let mut money = dec(&cmp["baseline"]["cost"]);
    for s in cmp["bridge"].as_array().unwrap() {
        money += dec(&s["cost"]);
    }
    assert_eq!(money, dec(&cmp["reference"]["cost"]), "{what} money");
}

/// `llm-recon reconcile ARGS --format json`, which must succeed; its report.
pub fn reconcile_json<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Value {
    let out = assert_cmd::Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("reconcile")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reconcile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}
