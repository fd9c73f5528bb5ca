//! Calls billed at other service tiers than the app priced, end to end
//! (`fixtures/service_tier/`): a Dify app's three o3 calls, priced by Dify at the standard price,
//! and the OpenAI usage page of the day grouped by service tier (default, flex, priority), with
//! another key's flex call.
//!
//! By hand (o3 since 2025-06-10: standard $2 / $8, flex $1 / $4, priority $3.50 / $14 per 1M):
//! - app: 0.036 + 0.072 + 0.018 = $0.126 for 42,000 tokens.
//! - bill, the app's key: 0.036 (default) + 0.036 (flex: 0.020 + 0.016) + 0.0315 (priority:
//!   0.0175 + 0.014) = $0.1035; the other key's flex call: 0.003 + 0.002 = $0.005.
//! - service_tier: (0.036 − 0.072) + (0.0315 − 0.018) = −0.0225, no tokens.

mod common;
use common::*;

fn report() -> serde_json::Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/service_tier");
    let files = [
        dir.join("dify_messages.csv"),
        dir.join("openai_usage_completions.json"),
    ];
    let mut args: Vec<std::ffi::OsString> = files.iter().map(|p| p.into()).collect();
    args.extend(["--key".into(), "key_Tz8wQ3eR6tYu1IoP".into()]);
    reconcile_json(&args)
}

#[test]
fn calls_at_other_tiers_are_the_tier_price_difference_and_nothing_stays_unexplained() {
    let r = report();
    let t = &comparison(&r, "dify", "openai")["totals"];
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.126"));
    assert_eq!(dec(&t["reference"]["cost"]), d("0.1085"));
    let tier = step(t, "service_tier");
    assert_eq!(dec(&tier["cost"]), d("-0.0225"));
    assert_eq!(tokens(&tier["tokens"], "total"), 0);
    assert_eq!(tier["records"], 2);
    // The other key's flex call is another key's traffic, at the bill's money.
    assert_eq!(dec(&step(t, "unattributed_traffic")["cost"]), d("0.005"));
    assert_eq!(dec(&step(t, "unexplained")["cost"]), d("0"));
    assert_eq!(dec(&step(t, "price_mismatch")["cost"]), d("0"));
    let note = tier["note"].as_str().unwrap();
    assert!(
        note.contains("flex 1 -0.036") && note.contains("priority 1 +0.0135"),
        "{note}"
    );
    let remedy = tier["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("record each call's service_tier"),
        "{remedy}"
    );
    ties_out(&comparison(&r, "dify", "openai")["totals"], "dify → openai");
}
