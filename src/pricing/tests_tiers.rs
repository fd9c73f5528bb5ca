//! Conditional tiers: the table rules, and calls priced on both sides of each condition. Every
//! expected cost is worked by hand from the listed prices (per 1M tokens) in the comment above it.

use super::*;
use crate::record::{Origin, UsageClass as C};
use chrono::TimeZone;
use rust_decimal_macros::dec;
use std::path::Path;

fn book() -> PriceBook {
    PriceBook::bundled().expect("bundled tables parse")
}

fn t(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
}

fn call(hint: &str, raw: &str, when: DateTime<Utc>, usage: &[(C, i64)]) -> UsageRecord {
    let mut r = UsageRecord::call("c".into(), Origin { file: 0, line: 1 }, when);
    r.set_model(Some(hint), raw);
    r.usage = Usage::of(usage);
    r
}

fn priced(b: &PriceBook, r: &UsageRecord) -> Option<(Decimal, String)> {
    b.price_record(r).map(|c| (c.cost.amount, c.entry))
}

fn cost(b: &PriceBook, r: &UsageRecord) -> Option<Decimal> {
    b.price_record(r).map(|c| c.cost.amount)
}

// ---------------------------------------------------------------------------------------------
// Long context

#[test]
fn gemini_2_5_pro_both_sides_of_200k_with_cached_tokens_counted() {
    let b = book();
    let when = t(2025, 11, 20, 12, 0, 0);
    // 150,000 in + 10,000 out: 150,000 × 1.25 + 10,000 × 10 = 0.1875 + 0.1 = 0.2875.
    let r = call(
        "google",
        "gemini-2.5-pro",
        when,
        &[(C::Input, 150_000), (C::Output, 10_000)],
    );
    assert_eq!(cost(&b, &r), Some(dec!(0.2875)));
    // Exactly 200,000 is still "<= 200k": 200,000 × 1.25 = 0.25.
    let r = call("google", "gemini-2.5-pro", when, &[(C::Input, 200_000)]);
    assert_eq!(cost(&b, &r), Some(dec!(0.25)));
    // 190,000 uncached + 20,000 cached = 210,000 prompt tokens > 200K: the whole request at
    // $2.50 / $0.25 cached / $15: 190,000 × 2.5 + 20,000 × 0.25 + 10,000 × 15
    // = 0.475 + 0.005 + 0.15 = 0.63.
    let r = call(
        "google",
        "gemini-2.5-pro",
        when,
        &[
            (C::Input, 190_000),
            (C::InputCacheRead, 20_000),
            (C::Output, 10_000),
        ],
    );
    assert_eq!(cost(&b, &r), Some(dec!(0.63)));
    // Thinking tokens are output: 10,000 reasoning at $15 = 0.15 more → 0.78.
    let mut r2 = r.clone();
    r2.usage[C::OutputReasoning] = 10_000;
    assert_eq!(cost(&b, &r2), Some(dec!(0.78)));
}

#[test]
fn gemini_forum_worked_example() {
    // discuss.ai.google.dev/t/question-about-gemini-api-caching-pricing/107349 prices one
    // Gemini 2.5 Pro response with promptTokenCount 11,500, cachedContentTokenCount 10,000,
    // thoughtsTokenCount 10,000, candidatesTokenCount 1,000 as input (11,500 − 10,000) × $1.25,
    // cached 10,000 × $0.125 and output (10,000 + 1,000) × the output price. With the listed
    // $10 output (the post misquotes it as $2.50): 0.001875 + 0.00125 + 0.11 = 0.113125.
    let b = book();
    let r = call(
        "google",
        "gemini-2.5-pro",
        t(2026, 1, 10, 9, 0, 0),
        &[
            (C::Input, 1_500),
            (C::InputCacheRead, 10_000),
            (C::OutputReasoning, 10_000),
            (C::Output, 1_000),
        ],
    );
    assert_eq!(cost(&b, &r), Some(dec!(0.113125)));
    // Before 2025-10-31 the cached price is unconfirmed: unpriced, not a guess.
    let mut early = r.clone();
    early.start = t(2025, 8, 1, 9, 0, 0);
    early.end = early.start;
    assert_eq!(cost(&b, &early), None);
}

#[test]
fn claude_opus_4_6_surcharge_until_2026_03_13() {
    let b = book();
    // 250,000 input (>200K) + 1,000 output. Until 2026-03-13 the whole request at $10 / $37.50:
    // 250,000 × 10 + 1,000 × 37.5 = 2.5 + 0.0375 = 2.5375.
    let usage = [(C::Input, 250_000), (C::Output, 1_000)];
    let before = call(
        "anthropic",
        "claude-opus-4-6",
        t(2026, 3, 1, 12, 0, 0),
        &usage,
    );
    let (c, entry) = priced(&b, &before).unwrap();
    assert_eq!(c, dec!(2.5375));
    assert_eq!(entry, "anthropic/claude-opus-4-6@2026-02-09");
    // From 2026-03-13 flat $5 / $25: 1.25 + 0.025 = 1.275.
    let after = call(
        "anthropic",
        "claude-opus-4-6",
        t(2026, 3, 13, 0, 0, 0),
        &usage,
    );
    let (c, entry) = priced(&b, &after).unwrap();
    assert_eq!(c, dec!(1.275));
    assert_eq!(entry, "anthropic/claude-opus-4-6@2026-03-13");
    // Cache writes count toward the threshold: 150,000 input + 60,000 5m writes = 210,000.
    // Long-context: 150,000 × 10 + 60,000 × 12.5 = 1.5 + 0.75 = 2.25.
    let w = call(
        "anthropic",
        "claude-opus-4-6",
        t(2026, 3, 1, 12, 0, 0),
        &[(C::Input, 150_000), (C::InputCacheWrite5m, 60_000)],
    );
    assert_eq!(cost(&b, &w), Some(dec!(2.25)));
}

#[test]
fn sonnet_4_above_200k_is_unpriced_not_underpriced() {
    let b = book();
    let small = call(
        "anthropic",
        "claude-sonnet-4-20250514",
        t(2025, 9, 1, 12, 0, 0),
        &[(C::Input, 100_000)],
    );
    // 100,000 × 3 = 0.3.
    assert_eq!(cost(&b, &small), Some(dec!(0.3)));
    let big = call(
        "anthropic",
        "claude-sonnet-4-20250514",
        t(2025, 9, 1, 12, 0, 0),
        &[(C::Input, 100_000), (C::InputCacheRead, 150_000)],
    );
    assert_eq!(cost(&b, &big), None);
}

#[test]
fn a_bill_bucket_is_never_long_context_tiered() {
    // A day of Gemini 2.5 Pro traffic summing to 5M input is many requests: default tier.
    // 5,000,000 × 1.25 = 6.25.
    let b = book();
    let mut r = UsageRecord::bucket(
        "b".into(),
        Origin { file: 0, line: 1 },
        t(2025, 12, 1, 0, 0, 0),
        t(2025, 12, 2, 0, 0, 0),
    );
    r.set_model(Some("google"), "gemini-2.5-pro");
    r.usage = Usage::of(&[(C::Input, 5_000_000)]);
    assert_eq!(cost(&b, &r), Some(dec!(6.25)));
}

// ---------------------------------------------------------------------------------------------
// Service tiers

#[test]
fn openai_flex_and_priority() {
    let b = book();
    let usage = [
        (C::Input, 1_000_000),
        (C::InputCacheRead, 100_000),
        (C::Output, 200_000),
    ];
    let mut r = call(
        "openai",
        "gpt-5-2025-08-07",
        t(2025, 10, 1, 12, 0, 0),
        &usage,
    );
    // Standard $1.25 / $0.125 / $10: 1.25 + 0.0125 + 2 = 3.2625.
    assert_eq!(cost(&b, &r), Some(dec!(3.2625)));
    // Flex $0.625 / $0.0625 / $5: 0.625 + 0.00625 + 1 = 1.63125.
    r.service_tier = Some("flex".into());
    assert_eq!(cost(&b, &r), Some(dec!(1.63125)));
    // Priority $2.50 / $0.25 / $20: 2.5 + 0.025 + 4 = 6.525.
    r.service_tier = Some("priority".into());
    assert_eq!(cost(&b, &r), Some(dec!(6.525)));
    // Batch: half of standard, 3.2625 × 0.5 = 1.63125.
    r.service_tier = Some("batch".into());
    assert_eq!(cost(&b, &r), Some(dec!(1.63125)));
    // `default` / `auto` are the standard tier.
    r.service_tier = Some("default".into());
    assert_eq!(cost(&b, &r), Some(dec!(3.2625)));
    // gpt-5-nano has no priority tier: unpriced.
    let mut n = call("openai", "gpt-5-nano", t(2025, 10, 1, 12, 0, 0), &usage);
    n.service_tier = Some("priority".into());
    assert_eq!(cost(&b, &n), None);
    // o4-mini flex lists cached input at $0.138 (not half of $0.275):
    // 1,000,000 × 0.55 + 100,000 × 0.138 + 200,000 × 2.20 = 0.55 + 0.0138 + 0.44 = 1.0038.
    let mut o = call("openai", "o4-mini", t(2025, 10, 1, 12, 0, 0), &usage);
    o.service_tier = Some("flex".into());
    assert_eq!(cost(&b, &o), Some(dec!(1.0038)));
}

#[test]
fn gpt_5_4_service_tiers_above_and_below_272k() {
    let b = book();
    let when = t(2026, 4, 1, 12, 0, 0);
    let small = [(C::Input, 100_000), (C::Output, 10_000)];
    let big = [
        (C::Input, 250_000),
        (C::InputCacheRead, 50_000),
        (C::Output, 10_000),
    ];
    let price = |usage: &[(C, i64)], tier: Option<&str>| {
        let mut r = call("openai", "gpt-5.4", when, usage);
        r.service_tier = tier.map(str::to_string);
        cost(&b, &r)
    };
    // Standard below: 100,000 × 2.5 + 10,000 × 15 = 0.25 + 0.15 = 0.4.
    assert_eq!(price(&small, None), Some(dec!(0.4)));
    // Standard above (300,000 input incl. cached): 250,000 × 5 + 50,000 × 0.5 + 10,000 × 22.5
    // = 1.25 + 0.025 + 0.225 = 1.5.
    assert_eq!(price(&big, None), Some(dec!(1.5)));
    // Flex above: 250,000 × 2.5 + 50,000 × 0.25 + 10,000 × 11.25 = 0.625 + 0.0125 + 0.1125 = 0.75.
    assert_eq!(price(&big, Some("flex")), Some(dec!(0.75)));
    // Batch below: 100,000 × 1.25 + 10,000 × 7.5 = 0.125 + 0.075 = 0.2.
    assert_eq!(price(&small, Some("batch")), Some(dec!(0.2)));
    // Priority below: 100,000 × 5 + 10,000 × 30 = 0.5 + 0.3 = 0.8; above: not listed, unpriced.
    assert_eq!(price(&small, Some("priority")), Some(dec!(0.8)));
    assert_eq!(price(&big, Some("priority")), None);
}

// ---------------------------------------------------------------------------------------------
// Off-peak window

#[test]
fn deepseek_night_discount_by_the_minute() {
    let b = book();
    // 800,000 cache miss + 200,000 cache hit + 100,000 output.
    let usage = [
        (C::Input, 800_000),
        (C::InputCacheRead, 200_000),
        (C::Output, 100_000),
    ];
    // deepseek-reasoner standard $0.55 / $0.14 / $2.19: 0.44 + 0.028 + 0.219 = 0.687.
    // Off-peak $0.135 / $0.035 / $0.55: 0.108 + 0.007 + 0.055 = 0.17.
    let at = |h, mi, s| {
        call(
            "deepseek",
            "deepseek-reasoner",
            t(2025, 3, 10, h, mi, s),
            &usage,
        )
    };
    assert_eq!(cost(&b, &at(12, 0, 0)), Some(dec!(0.687)));
    assert_eq!(cost(&b, &at(16, 29, 59)), Some(dec!(0.687)));
    assert_eq!(cost(&b, &at(16, 30, 0)), Some(dec!(0.17)));
    assert_eq!(cost(&b, &at(23, 59, 59)), Some(dec!(0.17)));
    assert_eq!(cost(&b, &at(0, 29, 59)), Some(dec!(0.17)));
    assert_eq!(cost(&b, &at(0, 30, 0)), Some(dec!(0.687)));
    // deepseek-chat off-peak is the same $0.135 / $0.035 / $0.55 (50% of $0.27 / $0.07 / $1.10).
    let chat = call(
        "deepseek",
        "deepseek-chat",
        t(2025, 3, 10, 20, 0, 0),
        &usage,
    );
    assert_eq!(cost(&b, &chat), Some(dec!(0.17)));
    // The night before the discount began (2025-02-25 20:00 UTC): standard.
    let before = call(
        "deepseek",
        "deepseek-reasoner",
        t(2025, 2, 25, 20, 0, 0),
        &usage,
    );
    assert_eq!(cost(&b, &before), Some(dec!(0.687)));
    // After the 2025-09-05 16:00 UTC price list (no discount): $0.56 / $0.07 / $1.68 at night:
    // 0.448 + 0.014 + 0.168 = 0.63.
    let after = call(
        "deepseek",
        "deepseek-reasoner",
        t(2025, 9, 10, 20, 0, 0),
        &usage,
    );
    assert_eq!(cost(&b, &after), Some(dec!(0.63)));
}

#[test]
fn deepseek_buckets_get_the_night_price_only_inside_the_window() {
    let b = book();
    let bucket = |s: DateTime<Utc>, e: DateTime<Utc>| {
        let mut r = UsageRecord::bucket("b".into(), Origin { file: 0, line: 1 }, s, e);
        r.set_model(Some("deepseek"), "deepseek-chat");
        r.usage = Usage::of(&[(C::Input, 1_000_000)]);
        r
    };
    // An hour inside the window, 17:00-18:00: off-peak $0.135.
    assert_eq!(
        cost(
            &b,
            &bucket(t(2025, 3, 10, 17, 0, 0), t(2025, 3, 10, 18, 0, 0))
        ),
        Some(dec!(0.135))
    );
    // The whole window 16:30-00:30 is still one occurrence.
    assert_eq!(
        cost(
            &b,
            &bucket(t(2025, 3, 10, 16, 30, 0), t(2025, 3, 11, 0, 30, 0))
        ),
        Some(dec!(0.135))
    );
    // 00:00-01:00 crosses 00:30 and a daily bucket spans both: standard $0.27.
    assert_eq!(
        cost(
            &b,
            &bucket(t(2025, 3, 11, 0, 0, 0), t(2025, 3, 11, 1, 0, 0))
        ),
        Some(dec!(0.27))
    );
    assert_eq!(
        cost(
            &b,
            &bucket(t(2025, 3, 10, 0, 0, 0), t(2025, 3, 11, 0, 0, 0))
        ),
        Some(dec!(0.27))
    );
}

// ---------------------------------------------------------------------------------------------
// A month that straddles price changes

#[test]
fn september_2025_deepseek_chat_priced_with_each_entry_in_force() {
    // One call a day at 12:00 UTC, each 1,000,000 input + 1,000,000 output:
    // 1-5 Sep (the 5th at 12:00 is before the 16:00 change): $0.27 + $1.10 = 1.37 each → 6.85;
    // 6-28 Sep: $0.56 + $1.68 = 2.24 each, 23 days → 51.52;
    // 29-30 Sep (V3.2 cut): $0.28 + $0.42 = 0.70 each → 1.40. Month: 59.77.
    let b = book();
    let mut total = Decimal::ZERO;
    let mut entries = std::collections::BTreeSet::new();
    for d in 1..=30 {
        let r = call(
            "deepseek",
            "deepseek-chat",
            t(2025, 9, d, 12, 0, 0),
            &[(C::Input, 1_000_000), (C::Output, 1_000_000)],
        );
        let (c, e) = priced(&b, &r).unwrap();
        total += c;
        entries.insert(e);
    }
    assert_eq!(total, dec!(59.77));
    assert_eq!(
        entries.into_iter().collect::<Vec<_>>(),
        [
            "deepseek/deepseek-chat@2025-02-26",
            "deepseek/deepseek-chat@2025-09-05",
            "deepseek/deepseek-chat@2025-09-29"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The names bill adapters produce reach the entries, and the bills' own costs tie out

fn fixture_records(dir: &str, file: &str) -> Vec<UsageRecord> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
        .join(file);
    crate::source::read_all(&p)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .1
        .records
}

fn ties_out(records: &[UsageRecord]) -> usize {
    let b = book();
    let mut n = 0;
    for r in records.iter().filter(|r| !r.cost_only) {
        let c = b
            .price_record(r)
            .unwrap_or_else(|| panic!("{} ({}) unpriced", r.id, r.model_raw));
        let reported = r.reported_cost.unwrap();
        assert_eq!(c.cost.currency, reported.currency, "{}", r.id);
        assert_eq!(c.cost.amount, reported.amount, "{} via {}", r.id, c.entry);
        n += 1;
    }
    n
}

#[test]
fn azure_meters_price_as_the_snapshots_they_bill() {
    // gpt 4o 0513 4K in at $5 = 0.02 and 1K out at $15 = 0.015; gpt 4o 1120 2.5K cached at
    // $1.25 = 0.003125; gpt-4o-0806 batch 10K in at $1.25 = 0.0125; 5 mini pp 3,200 in at the
    // priority $0.45 = 0.00144 — each equal to the export's CostInBillingCurrency.
    assert_eq!(ties_out(&fixture_records("azure", "ea_actual_cost.csv")), 5);
}

#[test]
fn vertex_skus_price_as_the_gemini_models() {
    // Gemini 2.5 Flash: 1.2M in × 0.30 = 0.36; 80,000 out × 2.50 = 0.2; 150,000 thinking × 2.50
    // = 0.375; 400,000 cached × 0.03 = 0.012.
    assert_eq!(ties_out(&fixture_records("gcp", "billing_export.jsonl")), 4);
}

#[test]
fn bedrock_usage_types_price_as_anthropic_and_bedrock_entries() {
    // Claude Sonnet 4.6 23,000 in × 3 = 0.069, 14,266 out × 15 = 0.21399, 40,000 cache read ×
    // 0.30 = 0.012, 8,000 cache write × 3.75 = 0.03; Haiku 4.5 batch 1,000 out × 5 × 0.5 =
    // 0.0025; Claude 3.5 Sonnet 5,000 in × 3 = 0.015; Llama 3.1 70B 12,000 in × 0.72 = 0.00864.
    assert_eq!(ties_out(&fixture_records("aws", "cur2_bedrock.csv")), 7);
}

// ---------------------------------------------------------------------------------------------
// Table rules (`pricing check` reports each as an error naming the entry)

const HEAD: &str = r#"[[entry]]
provider = "openai"
model = "gpt-x"
names = ["gpt-x"]
effective_from = "2026-01-01"
unit = "1M"
currency = "USD"
source = "test"
"#;

fn parse_err(rest: &str) -> String {
    match PriceBook::from_toml_str("t.toml", &format!("{HEAD}{rest}")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error for:\n{rest}"),
    }
}

#[test]
fn bad_tiers_are_rejected_with_the_reason() {
    let prices = "[entry.prices]\ninput = \"1\"\noutput = \"2\"\n";
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"x\"\nprices = {{ input = \"2\", output = \"4\" }}\n"
    ));
    assert!(e.contains("a tier needs a condition"), "{e}");
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"x\"\nwhen = \"night\"\nunpriced = true\n"
    ));
    assert!(e.contains("unknown field `when`"), "{e}");
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"x\"\nservice_tier = \"scale\"\nunpriced = true\n"
    ));
    assert!(e.contains("unknown condition value 'scale'"), "{e}");
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"a\"\nwindow_utc = \"16:30-00:30\"\nmultiplier = \"0.5\"\n[[entry.tiers]]\nname = \"b\"\nwindow_utc = \"00:00-01:00\"\nmultiplier = \"0.25\"\n"
    ));
    assert!(
        e.contains("windows 16:30-00:30 UTC and 00:00-01:00 UTC overlap"),
        "{e}"
    );
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"lc\"\ninput_above = 1000\nprices = {{ input = \"2\" }}\n"
    ));
    assert!(e.contains("does not price 'output'"), "{e}");
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"lc\"\ninput_above = 1000\nunpriced = true\n[[entry.tiers]]\nname = \"f\"\nservice_tier = \"flex\"\nmultiplier = \"0.5\"\n"
    ));
    assert!(e.contains("neither is more specific"), "{e}");
    let e = parse_err(
        "[entry.prices]\n[[entry.tiers]]\nname = \"f\"\nservice_tier = \"flex\"\nmultiplier = \"0.5\"\n",
    );
    assert!(e.contains("tiers without a default"), "{e}");
    let e = parse_err(&format!(
        "batch_discount = \"0.5\"\n{prices}[[entry.tiers]]\nname = \"b\"\nservice_tier = \"batch\"\nmultiplier = \"0.5\"\n"
    ));
    assert!(e.contains("batch_discount both price batch"), "{e}");
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"f\"\nservice_tier = \"flex\"\nmultiplier = \"0.5\"\nunpriced = true\n"
    ));
    assert!(
        e.contains("exactly one of prices, multiplier or unpriced"),
        "{e}"
    );
    let e = parse_err(&format!(
        "{prices}[[entry.tiers]]\nname = \"n\"\nwindow_utc = \"25:00-01:00\"\nunpriced = true\n"
    ));
    assert!(e.contains("window_utc: expected \"HH:MM-HH:MM\""), "{e}");
}

#[test]
fn thresholds_nest_and_a_combined_tier_settles_an_overlap() {
    // Input-length steps: the highest threshold passed wins. Per 1M: default 1/2, >1,000 2/4,
    // >10,000 3/6. A flex tier (×0.5) and a flex tier above 1,000 together are unambiguous.
    let text = format!(
        "{HEAD}[entry.prices]\ninput = \"1\"\noutput = \"2\"\n\
         [[entry.tiers]]\nname = \"mid\"\ninput_above = 1000\nprices = {{ input = \"2\", output = \"4\" }}\n\
         [[entry.tiers]]\nname = \"long\"\ninput_above = 10000\nprices = {{ input = \"3\", output = \"6\" }}\n\
         [[entry.tiers]]\nname = \"flex\"\nservice_tier = \"flex\"\nmultiplier = \"0.5\"\n\
         [[entry.tiers]]\nname = \"flex_long\"\nservice_tier = \"flex\"\ninput_above = 1000\nunpriced = true\n"
    );
    let b = PriceBook::from_toml_str("t.toml", &text).unwrap();
    let e = &b.entries()[0];
    let q = |n: i64, tier: Option<&str>| {
        e.quote(
            &Usage::of(&[(C::Input, n), (C::Output, 1_000)]),
            &Conditions::call(t(2026, 2, 1, 0, 0, 0), tier),
            &[],
        )
        .map(|q| (q.cost, q.tier.map(|t| t.name.clone())))
    };
    // 1,000 in: default, 1,000 × 1e-6 + 1,000 × 2e-6 = 0.003.
    assert_eq!(q(1_000, None), Ok((dec!(0.003), None)));
    // 5,000 in: mid, 5,000 × 2e-6 + 1,000 × 4e-6 = 0.014.
    assert_eq!(q(5_000, None), Ok((dec!(0.014), Some("mid".into()))));
    // 20,000 in: long, 20,000 × 3e-6 + 1,000 × 6e-6 = 0.066.
    assert_eq!(q(20_000, None), Ok((dec!(0.066), Some("long".into()))));
    // Flex at 500 in: (500 × 1e-6 + 1,000 × 2e-6) × 0.5 = 0.00125.
    assert_eq!(
        q(500, Some("flex")),
        Ok((dec!(0.00125), Some("flex".into())))
    );
    // Flex above 1,000 and above 10,000: the combined tier, unpriced.
    assert!(q(5_000, Some("flex")).is_err());
    assert!(q(20_000, Some("flex")).is_err());
}
