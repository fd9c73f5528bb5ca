//! `--previous`: the change of each figure and step against an earlier JSON report.

mod common;
use common::*;

use assert_cmd::Command;
use serde_json::Value;

fn demo(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("demo")
        .args(args)
        .output()
        .unwrap()
}

fn change<'a>(c: &'a Value, list: &str, name: &str, unit: &str) -> &'a Value {
    c[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name && x["unit"] == unit)
        .unwrap_or_else(|| panic!("no {name} {unit} in {list}"))
}

#[test]
fn changes_against_an_earlier_report() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("september.json");
    let out = demo(&["--format", "json"]);
    let mut r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Last month, as edited: the app's figure was 25 USD, fx did not exist yet, a step that no
    // longer exists held 1.5, and there was no app → trace comparison.
    let c0 = &mut r["comparisons"][0];
    assert_eq!(c0["baseline"], "dify");
    assert_eq!(c0["reference"], "openai");
    c0["totals"]["baseline"]["cost"] = "25".into();
    let bridge = c0["totals"]["bridge"].as_array_mut().unwrap();
    bridge.retain(|s| s["cause"] != "fx");
    bridge.push(serde_json::json!({"cause": "legacy_cause", "cost": "1.5", "tokens": {"input": 0, "output": 0, "total": 10}}));
    r["comparisons"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["reference"] != "langfuse");
    std::fs::write(&earlier, serde_json::to_string(&r).unwrap()).unwrap();

    let out = demo(&["--format", "json", "--previous", earlier.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &now["previous"];
    assert!(p["file"].as_str().unwrap().ends_with("september.json"));
    let comps = p["comparisons"].as_array().unwrap();
    let by = |name: &str| comps.iter().find(|c| c["comparison"] == name).unwrap();
    let app_bill = by("dify → openai");
    assert_eq!(app_bill["status"], "both");
    // 30.5591316 − 25 = +5.5591316, which is 22.2365264% of 25 (shown to 4 places).
    let b = change(app_bill, "figures", "baseline", "cost");
    assert_eq!(dec(&b["previous"]), d("25"));
    assert_eq!(dec(&b["current"]), d("30.5591316"));
    assert_eq!(dec(&b["change"]), d("5.5591316"));
    assert_eq!(b["change_pct"].as_f64(), Some(22.2365));
    // The bill did not change.
    let reference = change(app_bill, "figures", "reference", "cost");
    assert_eq!(dec(&reference["change"]), d("0"));
    assert_eq!(reference["change_pct"].as_f64(), Some(0.0));
    let fx = change(app_bill, "steps", "fx", "cost");
    assert_eq!(fx["status"], "new");
    assert!(fx["previous"].is_null() && fx["change"].is_null());
    let gone = change(app_bill, "steps", "legacy_cause", "cost");
    assert_eq!(gone["status"], "gone");
    assert_eq!(dec(&gone["previous"]), d("1.5"));
    assert_eq!(
        change(app_bill, "steps", "legacy_cause", "tokens")["previous"],
        "10"
    );
    // Every other step is the same report's: no change.
    let same = change(app_bill, "steps", "price_mismatch", "cost");
    assert_eq!(dec(&same["change"]), d("0"));
    assert_eq!(by("dify → langfuse")["status"], "new");

    // The table and the Markdown show them.
    for format in ["table", "markdown"] {
        let out = demo(&["--format", format, "--previous", earlier.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Month over month"), "{format}");
        assert!(
            text.contains("+5.5") && text.contains("+22.24%"),
            "{format}\n{text}"
        );
        assert!(
            text.contains("legacy_cause") && text.contains("gone"),
            "{format}"
        );
    }
    let page = dir.path().join("report.html");
    let out = demo(&[
        "-o",
        page.to_str().unwrap(),
        "--previous",
        earlier.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    let start = html
        .find("<section class=\"previous\">")
        .expect("a month-over-month section");
    let section = &html[start..start + html[start..].find("</section>").unwrap()];
    assert!(
        section.contains("+22.24%") && section.contains("legacy_cause"),
        "{section}"
    );
}

#[test]
fn a_file_that_is_not_a_v1_report_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "spot.json",
            r#"{"schema": "llm-recon/spot-check/v1", "calls": []}"#,
        ),
        ("notes.json", "this is not JSON"),
        (
            "v1.json",
            r#"{"schema": "llm-recon/report/v1", "comparisons": [{"baseline": "dify"}]}"#,
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = demo(&["--previous", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("--previous {}", p.display())),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
