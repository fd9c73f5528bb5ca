//! A Dify app configured at the list prices still records costs that differ from the table:
//! Dify stores each call's `total_price` rounded to 7 decimals. The step shows that money, says
//! the prices are the list's, and asks for no update.
//!
//! The call: gpt-4o-mini at $0.15/$0.60 per 1M, 745 input and 316 output tokens:
//! 745 × 0.00000015 + 316 × 0.0000006 = 0.00011175 + 0.0001896 = 0.00030135, stored by Dify as
//! 0.0003014 → price_mismatch = 0.00030135 − 0.0003014 = −0.00000005.

mod common;
use common::*;

#[test]
fn costs_rounded_at_the_list_prices_are_no_price_to_update() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/service_tier");
    let messages = std::fs::read_to_string(fixtures.join("dify_messages.csv")).unwrap();
    let mut lines = messages.lines();
    let header = lines.next().unwrap();
    // The fixture's first o3 call, made a gpt-4o-mini call at the list prices, as Dify stores it.
    let row = lines
        .next()
        .unwrap()
        .replacen(",o3,", ",gpt-4o-mini,", 1)
        .replacen(",10000,2.0000,0.0000010,", ",745,0.1500,0.0000010,", 1)
        .replacen(",2000,8.0000,0.0000010,", ",316,0.6000,0.0000010,", 1)
        .replacen(",0.0360000,USD,", ",0.0003014,USD,", 1);
    assert!(
        row.contains(",745,0.1500,") && row.contains(",0.0003014,USD,"),
        "{row}"
    );
    let csv = dir.path().join("dify_messages.csv");
    std::fs::write(&csv, format!("{header}\r\n{row}\r\n")).unwrap();
    let bill = fixtures.join("openai_usage_completions.json");
    let r = reconcile_json(&[
        csv.as_os_str(),
        bill.as_os_str(),
        "--key".as_ref(),
        "key_Tz8wQ3eR6tYu1IoP".as_ref(),
    ]);
    let s = step(
        &comparison(&r, "dify", "openai")["totals"],
        "price_mismatch",
    );
    assert_eq!(dec(&s["cost"]), d("-0.00000005"));
    assert_eq!(s["records"], 1);
    assert!(s.get("remedy").is_none(), "{s}");
}
