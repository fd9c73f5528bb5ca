//! A Dify app calling Claude, reconciled against the Anthropic Admin API bill (usage report +
//! cost report) with the app's API key named: the bridge ties out exactly and the other key's
//! traffic is the unattributed step.

mod common;
use common::*;

use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

const APP_KEY: &str = "apikey_01Hq7TbV3mXw9LcR2sKdNf5Y";
const OTHER_KEY: &str = "apikey_01Zp4WnJ8eQy6RtB1vCxMg3H";

fn fixture(name: &str) -> String {
    format!("{}/fixtures/anthropic/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn report(extra: &[&str]) -> Value {
    let mut args = vec![
        fixture("dify_messages_claude.csv"),
        fixture("usage_1d_pages.json"),
        fixture("cost_1d.json"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    reconcile_json(&args)
}

#[test]
fn dify_against_the_anthropic_bill_with_the_app_key() {
    let r = report(&["--key", APP_KEY]);
    let comparisons = r["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 1);
    let c = &comparisons[0];
    assert_eq!(c["baseline"], "dify");
    assert_eq!(c["reference"], "anthropic");
    let t = &c["totals"];

    // Dify: 5 uncached Claude Sonnet 4.5 calls, input 1200+2000+800+1500+3500 = 9000, output
    // 300+500+200+400+600 = 2000; at $3/$15 per 1M: 0.027 + 0.030 = $0.057.
    assert_eq!(t["baseline"]["tokens"]["input"], 9_000);
    assert_eq!(t["baseline"]["tokens"]["output"], 2_000);
    assert_eq!(
        dec(&t["baseline"]["cost"]),
        Decimal::from_str("0.057").unwrap()
    );

    // The bill: usage tokens 45000 input + 20000 read + 3000 5m write + 5000 1h write + 11500
    // output = 84500; money from the cost report only, 27.225 cents = $0.27225.
    assert_eq!(t["reference"]["tokens"]["total"], 84_500);
    assert_eq!(t["reference"]["tokens"]["input_cache_write_1h"], 5_000);
    assert_eq!(
        dec(&t["reference"]["cost"]),
        Decimal::from_str("0.27225").unwrap()
    );
    assert_eq!(t["reference"]["unpriced_records"], 0);

    ties_out(t, "totals");
    for g in c["groups"].as_array().unwrap() {
        ties_out(g, &format!("group {}", g["key"]));
    }

    // The app key's usage equals Dify's, so the whole variance is the other key's traffic:
    // 84500 - 11000 = 73500 tokens. Its cost lines carry no key, so the step is valued at list
    // prices: sonnet day 1 (10000×3 + 2000×3.75 + 1000×6 + 8000×0.3 + 3000×15)/1e6 = 0.0909,
    // sonnet day 2 (6000×3 + 4000×6 + 12000×0.3 + 2500×15)/1e6 = 0.0831, haiku day 2
    // (20000×1 + 1000×1.25 + 4000×5)/1e6 = 0.04125; sum 0.21525 = 0.27225 - 0.057.
    let u = step(t, "unattributed_traffic");
    assert_eq!(u["tokens"]["total"], 73_500);
    assert_eq!(u["tokens"]["input_cache_read"], 20_000);
    assert_eq!(u["records"], 3);
    assert_eq!(dec(&u["cost"]), Decimal::from_str("0.21525").unwrap());
    assert!(
        u["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.as_str().unwrap().contains(OTHER_KEY)),
        "{}",
        u["evidence"]
    );
    assert!(u["note"].as_str().unwrap().contains(OTHER_KEY));
    let unexplained = step(t, "unexplained");
    assert_eq!(unexplained["tokens"]["total"], 0);
    assert!(dec(&unexplained["cost"]).is_zero());

    let a = &c["attribution"];
    assert_eq!(a["method"], "explicit");
    assert_eq!(a["api_keys"], serde_json::json!([APP_KEY]));
    assert_eq!(a["unattributed_api_keys"], serde_json::json!([OTHER_KEY]));

    // Every row of every file is used, none rejected.
    for s in r["sources"].as_array().unwrap() {
        assert_eq!(s["rows_rejected"], 0, "{}", s["name"]);
        assert_eq!(s["rows_read"], s["rows_used"], "{}", s["name"]);
    }
    let bill = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "anthropic")
        .unwrap();
    // 5 usage results + 16 cost results.
    assert_eq!(bill["rows_read"], 21);
    assert_eq!(bill["role"], "bill");
}

#[test]
fn the_bill_read_twice_counts_once() {
    // The same pages given twice (a download repeated): ids dedupe, totals unchanged.
    let once = report(&["--key", APP_KEY]);
    let twice = report(&[
        &fixture("usage_1d_pages.json"),
        &fixture("cost_1d.json"),
        "--key",
        APP_KEY,
    ]);
    let tot = |r: &Value| r["comparisons"][0]["totals"]["reference"].clone();
    assert_eq!(tot(&once), tot(&twice));
}

#[test]
fn without_key_the_closest_key_is_estimated_and_workspaces_work_as_projects() {
    // Without --key: key A's 11000 tokens are closest to Dify's 11000, so it is taken, and the
    // step is marked estimated.
    let r = report(&[]);
    let c = &r["comparisons"][0];
    assert_eq!(c["attribution"]["method"], "estimated");
    assert_eq!(c["attribution"]["api_keys"], serde_json::json!([APP_KEY]));
    let u = step(&c["totals"], "unattributed_traffic");
    assert_eq!(u["method"], "estimated");
    assert_eq!(u["tokens"]["total"], 73_500);
    ties_out(&c["totals"], "totals (estimated)");

    // --project with the app's workspace: workspace 2 is the unattributed one. Its cost lines
    // sum to (3 + 0.75 + 0.6 + 0.24 + 4.5) + (1.8 + 2.4 + 0.36 + 3.75 + 2 + 0.125 + 2) = 21.525
    // cents, the same $0.21525 as its usage at list prices.
    let r = report(&["--project", "wrkspc_01Gd5KmP2xRt8VbN7cQwLz4J"]);
    let c = &r["comparisons"][0];
    assert_eq!(
        c["attribution"]["unattributed_projects"],
        serde_json::json!(["wrkspc_01Lx9NqS3bTf6WcM4dRyHk2P"])
    );
    let u = step(&c["totals"], "unattributed_traffic");
    assert_eq!(u["tokens"]["total"], 73_500);
    assert_eq!(dec(&u["cost"]), Decimal::from_str("0.21525").unwrap());
    ties_out(&c["totals"], "totals (project)");
}

#[test]
fn overlapping_dify_exports_are_the_double_counting_step() {
    // The same Dify export given twice (two exports of overlapping ranges): the app's rows now
    // add up to twice the 11000 tokens / $0.057, and double_counting takes the second copy out
    // again, so every other step and the reference are unchanged.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("dify_messages_part2.csv");
    std::fs::copy(fixture("dify_messages_claude.csv"), &copy).unwrap();
    let once = report(&["--key", APP_KEY]);
    let twice = report(&[copy.to_str().unwrap(), "--key", APP_KEY]);
    let (a, b) = (
        &once["comparisons"][0]["totals"],
        &twice["comparisons"][0]["totals"],
    );
    assert_eq!(b["baseline"]["tokens"]["total"], 22_000);
    assert_eq!(
        dec(&b["baseline"]["cost"]),
        Decimal::from_str("0.114").unwrap()
    );
    let d = step(b, "double_counting");
    assert_eq!(d["tokens"]["total"], -11_000);
    assert_eq!(d["tokens"]["output"], -2_000);
    assert_eq!(dec(&d["cost"]), Decimal::from_str("-0.057").unwrap());
    assert_eq!(d["records"], 5);
    assert_eq!(a["reference"], b["reference"]);
    for cause in [
        "unattributed_traffic",
        "cache_hits",
        "price_mismatch",
        "unexplained",
    ] {
        assert_eq!(step(a, cause), step(b, cause), "{cause}");
    }
    ties_out(b, "totals");
    // Every row is read and used: 5 + 5 Dify rows.
    let dify = twice["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "dify")
        .unwrap();
    assert_eq!(dify["rows_read"], 10);
    assert_eq!(dify["rows_used"], 10);
}
