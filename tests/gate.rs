//! The CI gate: a threshold never passes on nothing, every exit 1 says why on stderr, and
//! attribution flags that match no bill are refused.

use assert_cmd::Command;
use serde_json::Value;

const APP: &str = "arn:aws:sts::123456789012:assumed-role/dify-helpdesk/worker";

fn fixture(name: &str) -> String {
    format!("{}/fixtures/bedrock_e2e/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("reconcile")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_threshold_with_nothing_compared_fails_unless_allowed() {
    let bill = fixture("cur2_bedrock_bill.csv");
    let (code, _, err) = run(&[&bill, "--max-variance", "5"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing compared"), "{err}");
    let (code, _, err) = run(&[&bill, "--max-variance", "5", "--allow-empty"]);
    assert_eq!(code, 0, "{err}");
    // Without a threshold there is no gate.
    assert_eq!(run(&[&bill]).0, 0);
}

#[test]
fn a_threshold_with_no_usage_in_the_window_fails() {
    let (app, bill) = (
        fixture("dify_messages_bedrock.csv"),
        fixture("cur2_bedrock_bill.csv"),
    );
    let args = [
        app.as_str(),
        &bill,
        "--key",
        APP,
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-02",
        "--max-unexplained",
        "1",
    ];
    let (code, _, err) = run(&args);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no usage in the window"), "{err}");
}

#[test]
fn every_exit_1_names_the_failed_checks_on_stderr_and_in_the_json_verdict() {
    let (app, bill) = (
        fixture("dify_messages_bedrock.csv"),
        fixture("cur2_bedrock_bill.csv"),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.csv");
    // The variance is alice's $0.096 of the bill's $0.15: 64 % (tests/bedrock_e2e.rs).
    let (code, stdout, err) = run(&[
        &app,
        &bill,
        "--key",
        APP,
        "--max-variance",
        "5%",
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(stdout.is_empty());
    assert!(
        err.contains("dify → aws: variance 64.000% exceeds --max-variance 5%"),
        "{err}"
    );
    let (code, stdout, _) = run(&[
        &app,
        &bill,
        "--key",
        APP,
        "--max-variance",
        "5",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let f = &v["verdict"]["failures"][0];
    assert_eq!(f["check"], "max_variance");
    assert_eq!(f["comparison"], "dify → aws");
    assert_eq!(f["figure"], 64.0);
    assert_eq!(f["limit"], 5.0);
    // 5% and 5 are the same threshold; a threshold above the figure passes.
    assert_eq!(
        run(&[&app, &bill, "--key", APP, "--max-variance", "65%"]).0,
        0
    );
}

#[test]
fn bad_thresholds_keys_and_spot_check_thresholds_are_usage_errors() {
    let (app, bill) = (
        fixture("dify_messages_bedrock.csv"),
        fixture("cur2_bedrock_bill.csv"),
    );
    let (code, _, err) = run(&[&app, &bill, "--key", "key_typo", "--key", APP]);
    assert_eq!(code, 2);
    assert!(err.contains("--key key_typo: on no bill"), "{err}");
    let (code, _, err) = run(&[&app, &bill, "--project", "000000000000"]);
    assert_eq!(code, 2);
    assert!(err.contains("--project 000000000000"), "{err}");
    let (code, _, err) = run(&[&app, &bill, "--spot-check", "--max-variance", "5"]);
    assert_eq!(code, 2);
    assert!(err.contains("--spot-check"), "{err}");
    for bad in ["nan", "inf", "-1", "five"] {
        assert_eq!(run(&[&app, &bill, "--max-variance", bad]).0, 2, "{bad}");
    }
}
