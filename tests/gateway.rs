//! A LiteLLM gateway between a Dify app and the OpenAI bill, end to end
//! (`fixtures/litellm/e2e/`): the app's two requests went through the gateway, the second was
//! answered from the gateway's cache, and another client sent one request of its own through
//! the same provider key.
//!
//! Prices: gpt-4o-mini at $0.15 / $0.60 per million input / output tokens (the table's and the
//! app's). By hand:
//! - app (Dify): 1,000 + 200 and 500 + 40 tokens = 1,740; 0.00027 + 0.000099 = $0.000369.
//! - gateway (LiteLLM): the app's request 1,200 tokens at 0.00027, its cache hit 540 tokens at 0,
//!   the other client's 3,000 + 600 = 3,600 tokens at 0.00081: 5,340 tokens, $0.00108.
//! - bill (OpenAI): the two requests the gateway forwarded, 4,000 + 800 = 4,800 tokens; the table
//!   cost 4,000 × 0.15e-6 + 800 × 0.6e-6 = $0.00108.

mod common;
use common::*;

fn report() -> serde_json::Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/litellm/e2e");
    reconcile_json(&[
        dir.join("dify_messages.csv"),
        dir.join("spend_logs.csv"),
        dir.join("openai_usage_completions.json"),
    ])
}

#[test]
fn gateway_to_bill_takes_out_the_gateways_cache_hits() {
    let r = report();
    let cmp = comparison(&r, "litellm", "openai");
    let t = &cmp["totals"];
    assert_eq!(tokens(&t["baseline"]["tokens"], "total"), 5_340);
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.00108"));
    assert_eq!(tokens(&t["reference"]["tokens"], "total"), 4_800);
    let hits = step(t, "gateway_cache_hits");
    // The cached request: 500 input + 40 output, charged 0 by the gateway.
    assert_eq!(tokens(&hits["tokens"], "input"), -500);
    assert_eq!(tokens(&hits["tokens"], "output"), -40);
    assert_eq!(dec(&hits["cost"]), d("0"));
    assert_eq!(hits["evidence"][0], "chatcmpl-CgT0a2");
    // Its zero cost is not a stale price.
    assert_eq!(dec(&step(t, "price_mismatch")["cost"]), d("0"));
    let u = step(t, "unexplained");
    assert_eq!(tokens(&u["tokens"], "total"), 0);
    assert_eq!(dec(&u["cost"]), d("0"));
    ties_out(t, "litellm → openai");
}

#[test]
fn app_to_gateway_names_the_other_client_and_the_uncharged_cache_hit() {
    let r = report();
    let cmp = comparison(&r, "dify", "litellm");
    let t = &cmp["totals"];
    assert_eq!(tokens(&t["baseline"]["tokens"], "total"), 1_740);
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.000369"));
    // The other client's request: its key is not the app's.
    let other = step(t, "unattributed_traffic");
    assert_eq!(tokens(&other["tokens"], "total"), 3_600);
    assert_eq!(dec(&other["cost"]), d("0.00081"));
    assert_eq!(
        cmp["attribution"]["unattributed_api_keys"][0],
        "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce"
    );
    // Both count the cached request's tokens; the app priced it (0.000099), the gateway did not.
    let hits = step(t, "gateway_cache_hits");
    assert_eq!(tokens(&hits["tokens"], "total"), 0);
    assert_eq!(dec(&hits["cost"]), d("-0.000099"));
    let u = step(t, "unexplained");
    assert_eq!(tokens(&u["tokens"], "total"), 0);
    assert_eq!(dec(&u["cost"]), d("0"));
    ties_out(t, "dify → litellm");
}

#[test]
fn the_gateway_is_its_own_role_and_the_app_still_meets_the_bill() {
    let r = report();
    let roles: Vec<(&str, &str)> = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["role"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&("litellm", "gateway")), "{roles:?}");
    // app → bill is unchanged by the gateway: what lies between them is read in the two
    // comparisons above (+3,600 other client − 540 cache hit = +3,060 here, unexplained).
    let t = &comparison(&r, "dify", "openai")["totals"];
    assert_eq!(tokens(&step(t, "unexplained")["tokens"], "total"), 3_060);
    ties_out(t, "dify → openai");
}
