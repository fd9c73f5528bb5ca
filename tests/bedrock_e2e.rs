//! A Dify app calling Claude 3.7 Sonnet through Amazon Bedrock, reconciled against the AWS
//! CUR 2.0 bill of the same two days (as CSV and as Parquet) with the app's IAM principal named:
//! the bridge ties out exactly and another principal's traffic is the unattributed step.

mod common;
use common::*;

use serde_json::Value;

const APP: &str = "arn:aws:sts::123456789012:assumed-role/dify-helpdesk/worker";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";

fn fixture(name: &str) -> String {
    format!("{}/fixtures/bedrock_e2e/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn report(bill: &str, extra: &[&str]) -> Value {
    let mut args = vec![fixture("dify_messages_bedrock.csv"), fixture(bill)];
    args.extend(extra.iter().map(|s| s.to_string()));
    reconcile_json(&args)
}

#[test]
fn dify_against_the_bedrock_bill_with_the_app_principal() {
    let r = report("cur2_bedrock_bill.csv", &["--key", APP]);
    let comparisons = r["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 1);
    let c = &comparisons[0];
    assert_eq!(
        (c["baseline"].as_str(), c["reference"].as_str()),
        (Some("dify"), Some("aws"))
    );
    let t = &c["totals"];

    // Dify: 4 calls, input 1500+2500+1000+3000 = 8000, output 400+600+250+750 = 2000; Dify's
    // Bedrock YAML prices per 1K (0.003 / 0.015 × unit 0.001): 8000 × 0.000003 + 2000 ×
    // 0.000015 = 0.024 + 0.030 = $0.054.
    assert_eq!(t["baseline"]["tokens"]["input"], 8_000);
    assert_eq!(t["baseline"]["tokens"]["output"], 2_000);
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.054"));

    // The bill's Bedrock usage lines (amounts in `1K tokens`, e.g. 4 = 4000): input
    // 4000+10000+4000+5000 = 23000, output
    // 1000+2000+1000+1000 = 5000, cache reads 20000; total 48000. Money 0.012 + 0.015 + 0.03 +
    // 0.03 + 0.006 + 0.012 + 0.015 + 0.015 + 0.015 = $0.15; the Tax line ($0.05) and the EC2
    // line ($0.2496) are not in it.
    assert_eq!(t["reference"]["tokens"]["input"], 23_000);
    assert_eq!(t["reference"]["tokens"]["output"], 5_000);
    assert_eq!(t["reference"]["tokens"]["input_cache_read"], 20_000);
    assert_eq!(t["reference"]["tokens"]["total"], 48_000);
    assert_eq!(dec(&t["reference"]["cost"]), d("0.15"));
    assert_eq!(t["reference"]["unpriced_records"], 0);

    ties_out(t, "totals");
    let groups = c["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for g in groups {
        ties_out(g, &format!("group {}", g["key"]));
        // Dify's `langgenius/bedrock/bedrock` + `anthropic.claude-3-7-sonnet-20250219-v1:0` and
        // the bill's `USE1-Claude3.7Sonnet-*` land in one group.
        assert_eq!(g["key"]["provider"], "anthropic");
        assert_eq!(g["key"]["model"], "claude-3-7-sonnet");
    }

    // The app principal's lines equal Dify's calls day by day (day 1: 4000 = 1500 + 2500 input,
    // 1000 = 400 + 600 output), so the whole variance is alice's traffic: 10000 + 2000 + 20000
    // + 5000 + 1000 = 38000 tokens, $0.03 + 0.03 + 0.006 + 0.015 + 0.015 = $0.096 =
    // 0.15 - 0.054.
    let u = step(t, "unattributed_traffic");
    assert_eq!(u["method"], "measured");
    assert_eq!(u["tokens"]["total"], 38_000);
    assert_eq!(u["tokens"]["input_cache_read"], 20_000);
    assert_eq!(u["records"], 5);
    assert_eq!(dec(&u["cost"]), d("0.096"));
    assert!(
        u["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.as_str().unwrap().contains(ALICE)),
        "{}",
        u["evidence"]
    );
    assert!(u["note"].as_str().unwrap().contains(ALICE));
    for cause in [
        "window_misalignment",
        "cache_hits",
        "price_mismatch",
        "unexplained",
    ] {
        let s = step(t, cause);
        assert_eq!(s["tokens"]["total"], 0, "{cause}");
        assert!(dec(&s["cost"]).is_zero(), "{cause}");
    }

    // Per day. Day 1: Dify 1500+400+2500+600 = 5000 tokens, $0.027; bill 4000+1000+10000+2000
    // +20000 = 37000, $0.012+0.015+0.03+0.03+0.006 = $0.093; alice 32000, $0.066. Day 2: Dify
    // 1000+250+3000+750 = 5000, $0.027; bill 4000+1000+5000+1000 = 11000, $0.057; alice 6000,
    // $0.03.
    let day = |start: &str| {
        groups
            .iter()
            .find(|g| g["key"]["window_start"] == start)
            .unwrap_or_else(|| panic!("no group {start}"))
    };
    for (start, base, base_cost, reference, ref_cost, alice, alice_cost) in [
        (
            "2026-10-01T00:00:00Z",
            5_000,
            "0.027",
            37_000,
            "0.093",
            32_000,
            "0.066",
        ),
        (
            "2026-10-02T00:00:00Z",
            5_000,
            "0.027",
            11_000,
            "0.057",
            6_000,
            "0.03",
        ),
    ] {
        let g = day(start);
        assert_eq!(g["baseline"]["tokens"]["total"], base, "{start}");
        assert_eq!(dec(&g["baseline"]["cost"]), d(base_cost), "{start}");
        assert_eq!(g["reference"]["tokens"]["total"], reference, "{start}");
        assert_eq!(dec(&g["reference"]["cost"]), d(ref_cost), "{start}");
        let u = step(g, "unattributed_traffic");
        assert_eq!(u["tokens"]["total"], alice, "{start}");
        assert_eq!(dec(&u["cost"]), d(alice_cost), "{start}");
    }

    let a = &c["attribution"];
    assert_eq!(a["method"], "explicit");
    assert_eq!(a["api_keys"], serde_json::json!([APP]));
    assert_eq!(a["unattributed_api_keys"], serde_json::json!([ALICE]));

    // Every row of both files is used (the bill's Tax and EC2 lines as rows without usage).
    for s in r["sources"].as_array().unwrap() {
        assert_eq!(s["rows_rejected"], 0, "{}", s["name"]);
        assert_eq!(s["rows_read"], s["rows_used"], "{}", s["name"]);
    }
    let bill = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "aws")
        .unwrap();
    assert_eq!(bill["rows_read"], 11);
    assert_eq!(bill["role"], "bill");
    assert_eq!(bill["format"], "aws-cur2-csv");
}

#[test]
fn the_parquet_bill_reconciles_the_same() {
    let csv = report("cur2_bedrock_bill.csv", &["--key", APP]);
    let pq = report("cur2_bedrock_bill.parquet", &["--key", APP]);
    let bill = |r: &Value| {
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "aws")
            .unwrap()
            .clone()
    };
    assert_eq!(bill(&pq)["format"], "aws-cur-parquet");
    assert_eq!(bill(&pq)["rows_read"], 11);
    assert_eq!(bill(&pq)["rows_used"], 11);
    // Same totals, groups, steps and attribution.
    assert_eq!(csv["comparisons"], pq["comparisons"]);
}

#[test]
fn without_key_the_closest_principal_is_estimated() {
    // The app principal's 10000 tokens equal Dify's 10000; alice has 38000.
    let r = report("cur2_bedrock_bill.parquet", &[]);
    let c = &r["comparisons"][0];
    assert_eq!(c["attribution"]["method"], "estimated");
    assert_eq!(c["attribution"]["api_keys"], serde_json::json!([APP]));
    let u = step(&c["totals"], "unattributed_traffic");
    assert_eq!(u["method"], "estimated");
    assert_eq!(u["tokens"]["total"], 38_000);
    assert_eq!(dec(&u["cost"]), d("0.096"));
    ties_out(&c["totals"], "totals (estimated)");
}

/// One Dify export of an app that calls Claude through Bedrock, gpt-4o-mini through OpenAI and
/// Claude 3.5 Haiku through Anthropic directly, with the AWS bill and the OpenAI pages (no
/// Anthropic bill): each bill is compared with the calls it served, and the Anthropic call is
/// named under no bill.
#[test]
fn each_bill_sees_only_the_calls_it_served() {
    let r = reconcile_json(&[
        fixture("dify_messages_bedrock_openai.csv"),
        fixture("cur2_bedrock_bill.csv"),
        fixture("openai_usage_completions.json"),
        fixture("openai_costs.json"),
        "--key".into(),
        APP.into(),
        "--key".into(),
        "key_Hd9sKq2LxW4mPz7R".into(),
    ]);
    let comparison = |reference: &str| {
        r["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["baseline"] == "dify" && c["reference"] == reference)
            .unwrap_or_else(|| panic!("no dify → {reference}"))
            .clone()
    };

    // dify → aws: exactly the four Bedrock calls of the single-provider test (8000 / 2000
    // tokens, $0.054), so the same bridge: alice's 38000 tokens / $0.096, nothing unexplained.
    let aws = comparison("aws");
    let t = &aws["totals"];
    assert_eq!(t["baseline"]["records"], 4);
    assert_eq!(t["baseline"]["tokens"]["input"], 8_000);
    assert_eq!(t["baseline"]["tokens"]["output"], 2_000);
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.054"));
    assert_eq!(step(t, "unattributed_traffic")["tokens"]["total"], 38_000);
    assert_eq!(dec(&step(t, "unattributed_traffic")["cost"]), d("0.096"));
    let u = step(t, "unexplained");
    assert_eq!(u["tokens"]["total"], 0);
    assert!(dec(&u["cost"]).is_zero());
    ties_out(t, "aws totals");

    // dify → openai: the two gpt-4o-mini calls, 2000 + 4000 input and 500 + 1000 output; Dify's
    // prices (0.15 / 0.60 per 1M) make 0.0003 + 0.0003 + 0.0006 + 0.0006 = $0.0018, as the
    // cost page bills. Every step is zero.
    let openai = comparison("openai");
    let t = &openai["totals"];
    assert_eq!(t["baseline"]["records"], 2);
    assert_eq!(t["baseline"]["tokens"]["input"], 6_000);
    assert_eq!(t["baseline"]["tokens"]["output"], 1_500);
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.0018"));
    assert_eq!(t["reference"]["tokens"]["total"], 7_500);
    assert_eq!(dec(&t["reference"]["cost"]), d("0.0018"));
    for s in t["bridge"].as_array().unwrap() {
        assert_eq!(s["tokens"]["total"], 0, "{}", s["cause"]);
        assert!(dec(&s["cost"]).is_zero(), "{}", s["cause"]);
    }
    ties_out(t, "openai totals");

    // The Claude 3.5 Haiku call through Anthropic's own API: 1000 + 200 tokens, Dify's $0.0016
    // (1000 × 0.8 + 200 × 4 per 1M); no Anthropic bill among the inputs.
    let unbilled = r["unbilled"].as_array().unwrap();
    assert_eq!(unbilled.len(), 1, "{unbilled:?}");
    assert_eq!(unbilled[0]["source"], "dify");
    assert_eq!(unbilled[0]["provider"], "anthropic");
    assert_eq!(unbilled[0]["calls"], 1);
    assert_eq!(unbilled[0]["tokens"]["total"], 1_200);
    assert_eq!(dec(&unbilled[0]["cost"]), d("0.0016"));
    let notes: Vec<&str> = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.contains(
            &"dify: no bill for anthropic: 1 call, 1,200 tokens, $0.0016; not compared with any bill"
        ),
        "{notes:?}"
    );
}
