//! A Dify app on Tencent Hunyuan (`langgenius/hunyuan/hunyuan`, hunyuan-turbos-latest, prices in
//! RMB) reconciled against the Tencent Cloud bill details export of the same two Beijing days:
//! the bridge ties out, the other resource's traffic is the unattributed step, and the routing
//! sends the Hunyuan calls (and only those) to the Tencent bill.

mod common;
use common::*;

use serde_json::Value;

const APP: &str = "1312345601";
const OTHER: &str = "1312345602";

fn fixture(path: &str) -> String {
    format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn window() -> Vec<String> {
    [
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-07",
        "--tz",
        "Asia/Shanghai",
        "--currency",
        "CNY",
    ]
    .map(String::from)
    .to_vec()
}

fn report(bill: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        fixture("tencent_e2e/dify_messages_hunyuan.csv"),
        fixture(bill),
    ];
    args.extend(window());
    args.extend(extra.iter().map(|s| s.to_string()));
    reconcile_json(&args)
}

#[test]
fn dify_on_hunyuan_against_the_tencent_bill() {
    for bill in ["tencent/bill-details-zh.csv", "tencent/bill-details-en.csv"] {
        let r = report(bill, &["--key", APP]);
        let comparisons = r["comparisons"].as_array().unwrap();
        assert_eq!(comparisons.len(), 1, "{bill}");
        let c = comparison(&r, "dify", "tencent");
        let t = &c["totals"];

        // Dify: input 12000 + 8000 + 10000 + 30000 = 60000, output 3000 + 2000 + 1000 + 4000 =
        // 10000; at the plugin's 0.0008 / 0.002 RMB per 1K: 60 × 0.0008 + 10 × 0.002 = 0.048 +
        // 0.02 = 0.068 CNY.
        assert_eq!(t["baseline"]["records"], 4, "{bill}");
        assert_eq!(t["baseline"]["tokens"]["input"], 60_000);
        assert_eq!(t["baseline"]["tokens"]["output"], 10_000);
        assert_eq!(dec(&t["baseline"]["cost"]), d("0.068"));

        // The bill's Hunyuan lines: input 20 + 40 + 100 = 160 千tokens, output 5 + 5 + 10 = 20;
        // 0.016 + 0.01 + 0.032 + 0.01 + 0.08 + 0.02 = 0.168 CNY. The CVM line (0.64) and the
        // resource package (80) are not in it.
        assert_eq!(t["reference"]["tokens"]["input"], 160_000);
        assert_eq!(t["reference"]["tokens"]["output"], 20_000);
        assert_eq!(dec(&t["reference"]["cost"]), d("0.168"));
        assert_eq!(t["reference"]["unpriced_records"], 0);

        ties_out(t, "totals");
        // The other resource: 100000 + 10000 tokens, 0.08 + 0.02 = 0.1 = 0.168 − 0.068.
        let u = step(t, "unattributed_traffic");
        assert_eq!(u["method"], "measured");
        assert_eq!(u["tokens"]["total"], 110_000);
        assert_eq!(dec(&u["cost"]), d("0.1"));
        assert!(u["note"].as_str().unwrap().contains(OTHER), "{}", u["note"]);
        // Dify's prices are the table's (0.8 / 2 CNY per 1M), and the window is the bill's days.
        for cause in ["window_misalignment", "price_mismatch", "unexplained"] {
            let s = step(t, cause);
            assert_eq!(s["tokens"]["total"], 0, "{cause}");
            assert!(dec(&s["cost"]).is_zero(), "{cause}");
        }

        // Beijing days. Day 1 (2026-10-05, from 16:00Z the day before): the 02:00Z and 09:30Z
        // calls, 20000 + 5000 tokens, 0.016 + 0.01 = 0.026; the bill adds the other resource.
        // Day 2: the 18:00Z call of 2026-10-05 UTC (02:00 in Beijing on the 6th) and the 01:00Z
        // call, 40000 + 5000, 0.032 + 0.01 = 0.042, exactly the app's lines.
        let groups = c["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2);
        for (start, base, base_cost, reference, ref_cost) in [
            ("2026-10-04T16:00:00Z", 25_000, "0.026", 135_000, "0.126"),
            ("2026-10-05T16:00:00Z", 45_000, "0.042", 45_000, "0.042"),
        ] {
            let g = groups
                .iter()
                .find(|g| g["key"]["window_start"] == start)
                .unwrap_or_else(|| panic!("no group {start}"));
            assert_eq!(g["key"]["provider"], "tencent");
            assert_eq!(g["key"]["model"], "hunyuan-turbos");
            assert_eq!(g["baseline"]["tokens"]["total"], base, "{start}");
            assert_eq!(dec(&g["baseline"]["cost"]), d(base_cost), "{start}");
            assert_eq!(g["reference"]["tokens"]["total"], reference, "{start}");
            assert_eq!(dec(&g["reference"]["cost"]), d(ref_cost), "{start}");
            ties_out(g, start);
        }

        // Every row of both files is used; the bill's 8 rows include its two without usage.
        let source = |name: &str| {
            r["sources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == name)
                .unwrap()
                .clone()
        };
        let b = source("tencent");
        assert_eq!(b["format"], "tencent-bill-csv");
        assert_eq!(b["role"], "bill");
        assert_eq!(b["rows_read"], 8);
        assert_eq!(b["rows_used"], 8);
        assert_eq!(b["rows_without_usage"], 2);
        assert_eq!(source("dify")["rows_rejected"], 0);
    }
}

/// The same app also calling gpt-4o-mini through OpenAI, with only the Tencent bill: the
/// Hunyuan calls go to the Tencent bill and the OpenAI call is named under no bill.
#[test]
fn routing_sends_only_the_hunyuan_calls_to_the_tencent_bill() {
    let dir = tempfile::tempdir().unwrap();
    let hunyuan =
        std::fs::read_to_string(fixture("tencent_e2e/dify_messages_hunyuan.csv")).unwrap();
    let other =
        std::fs::read_to_string(fixture("bedrock_e2e/dify_messages_bedrock_openai.csv")).unwrap();
    // A gpt-4o-mini row (2000 + 500 tokens), moved into the window.
    let openai_row = other
        .lines()
        .find(|l| l.starts_with("c4e2b9a0-7d1f-4c3e-9a52-1b0e6f3d2a05"))
        .unwrap()
        .replace("2026-10-01 09:15:00", "2026-10-05 09:15:00")
        .replace("2026-10-01 09:15:01.5", "2026-10-05 09:15:01.5");
    let path = dir.path().join("dify_messages.csv");
    std::fs::write(&path, format!("{hunyuan}{openai_row}\n")).unwrap();

    let mut args = vec![
        path.display().to_string(),
        fixture("tencent/bill-details-zh.csv"),
        "--key".into(),
        APP.into(),
    ];
    args.extend(window());
    let r = reconcile_json(&args);
    let t = &comparison(&r, "dify", "tencent")["totals"];
    // Only the four Hunyuan calls: 70000 tokens, 0.068 CNY, as without the OpenAI row.
    assert_eq!(t["baseline"]["records"], 4);
    assert_eq!(t["baseline"]["tokens"]["total"], 70_000);
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.068"));
    assert_eq!(step(t, "unexplained")["tokens"]["total"], 0);
    ties_out(t, "totals");
    let unbilled = r["unbilled"].as_array().unwrap();
    assert_eq!(unbilled.len(), 1, "{unbilled:?}");
    assert_eq!(unbilled[0]["provider"], "openai");
    assert_eq!(unbilled[0]["calls"], 1);
    assert_eq!(unbilled[0]["tokens"]["total"], 2_500);
}
