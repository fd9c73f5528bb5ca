use super::*;
use crate::catalog;
use crate::record::{Origin, UsageClass as C};
use chrono::TimeZone;
use rust_decimal_macros::dec;
use std::collections::HashSet;

fn book() -> PriceBook {
    PriceBook::bundled().expect("bundled tables parse")
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

/// A call record through the catalog, as an adapter would build it.
fn call(provider: Option<&str>, raw: &str, when: DateTime<Utc>, usage: &[(C, i64)]) -> UsageRecord {
    let mut r = UsageRecord::call("r1".into(), Origin { file: 0, line: 1 }, when);
    r.set_model(provider, raw);
    r.usage = Usage::of(usage);
    r
}

fn cost_of(b: &PriceBook, rec: &UsageRecord) -> Option<Decimal> {
    b.price_record(rec).map(|c| c.cost.amount)
}

#[test]
fn bundled_tables_parse_and_every_table_file_is_bundled() {
    let b = book();
    assert!(b.entries().len() >= 40, "{}", b.entries().len());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/pricing");
    let on_disk: HashSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    let bundled: HashSet<String> = BUNDLED
        .iter()
        .map(|(f, _)| f.trim_start_matches("pricing/").to_string())
        .collect();
    assert_eq!(on_disk, bundled);
    // The directory loads to the same entries as the compiled-in copy.
    assert_eq!(
        PriceBook::load_dir(Path::new(dir)).unwrap().entries().len(),
        b.entries().len()
    );
}

#[test]
fn no_name_is_priced_twice_from_the_same_instant() {
    let b = book();
    let mut seen = HashSet::new();
    for e in b.entries() {
        for n in &e.names {
            assert!(
                seen.insert((n.clone(), e.effective_from)),
                "{n} @{}",
                e.effective_from
            );
        }
    }
    let ids: HashSet<_> = b.entries().iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), b.entries().len(), "entry ids are unique");
}

#[test]
fn every_entry_has_input_and_output_sources_and_consistent_names() {
    for e in book().entries() {
        assert!(e.unit_price(C::Input).is_some(), "{}", e.id);
        let has_output = e.per_token[C::Output as usize].is_some();
        // Embedding and rerank models bill input only.
        assert_eq!(
            has_output,
            !(catalog::is_embedding_model(&e.model) || catalog::is_rerank_model(&e.model)),
            "{}",
            e.id
        );
        assert!(
            [
                "(read 2026-11-23)",
                "(read 2026-12-02)",
                "(read 2026-12-03)"
            ]
            .iter()
            .any(|d| e.source.contains(d)),
            "{}: {}",
            e.id,
            e.source
        );
        // Bedrock-hosted third-party models (Llama) have no vendor provider in the catalog.
        if e.provider != "bedrock" {
            assert_eq!(
                catalog::provider_of_model(&e.model),
                Some(e.provider.as_str()),
                "{}",
                e.id
            );
        }
        for n in &e.names {
            assert_eq!(n, &n.to_ascii_lowercase(), "{}", e.id);
        }
    }
}

#[test]
fn gpt_4o_mini_cost_by_hand() {
    // $0.15 in, $0.075 cached, $0.60 out per 1M:
    // 1,000,000 × 0.15/1M + 500,000 × 0.075/1M + 200,000 × 0.60/1M = 0.15 + 0.0375 + 0.12 = 0.3075
    let r = call(
        Some("openai"),
        "gpt-4o-mini-2024-07-18",
        at(2025, 3, 1),
        &[
            (C::Input, 1_000_000),
            (C::InputCacheRead, 500_000),
            (C::Output, 200_000),
        ],
    );
    let c = book().price_record(&r).unwrap();
    assert_eq!(c.cost, Money::usd(dec!(0.3075)));
    assert_eq!(c.entry, "openai/gpt-4o-mini@2024-07-18");
}

#[test]
fn gpt_4o_alias_follows_its_history() {
    let b = book();
    let usage = [(C::Input, 1_000_000), (C::Output, 1_000_000)];
    // 2024-09-15: alias still on 2024-05-13 at $5/$15 → 5 + 15 = 20.
    let before = call(Some("openai"), "gpt-4o", at(2024, 9, 15), &usage);
    assert_eq!(cost_of(&b, &before), Some(dec!(20)));
    // 2024-10-15: alias on 2024-08-06 at $2.50/$10 → 2.5 + 10 = 12.5.
    let after = call(Some("openai"), "gpt-4o", at(2024, 10, 15), &usage);
    assert_eq!(cost_of(&b, &after), Some(dec!(12.5)));
    assert_eq!(
        b.price_record(&after).unwrap().entry,
        "openai/gpt-4o@2024-10-02"
    );
    // The 2024-08-06 snapshot was $2.50/$10 from its release, before the alias moved.
    let snap = call(Some("openai"), "gpt-4o-2024-08-06", at(2024, 9, 15), &usage);
    assert_eq!(cost_of(&b, &snap), Some(dec!(12.5)));
}

#[test]
fn snapshot_name_beats_canonical_model() {
    let b = book();
    let usage = [(C::Input, 1_000_000), (C::Output, 1_000_000)];
    // gpt-4o-2024-05-13 keeps $5/$15 after the alias dropped to $2.50/$10: 5 + 15 = 20.
    let r = call(Some("openai"), "gpt-4o-2024-05-13", at(2025, 1, 10), &usage);
    assert_eq!(r.model, "gpt-4o");
    let c = b.price_record(&r).unwrap();
    assert_eq!(c.cost.amount, dec!(20));
    assert_eq!(c.entry, "openai/gpt-4o-2024-05-13@2024-05-13");
    // An unlisted snapshot falls back to the canonical model's alias entries: 2.5 + 10.
    let r = call(Some("openai"), "gpt-4o-2031-01-01", at(2025, 1, 10), &usage);
    assert_eq!(cost_of(&b, &r), Some(dec!(12.5)));
    // A vendor path prefix names the same snapshot.
    let e = b
        .lookup(
            "openai",
            "openai/gpt-4o-2024-05-13",
            "gpt-4o",
            at(2025, 1, 10),
        )
        .unwrap();
    assert_eq!(e.id, "openai/gpt-4o-2024-05-13@2024-05-13");
}

#[test]
fn before_the_first_entry_and_unknown_models_are_unpriced() {
    let b = book();
    let usage = [(C::Input, 1000), (C::Output, 1000)];
    // gpt-4o-mini's first entry is 2024-07-18.
    assert_eq!(
        b.price_record(&call(Some("openai"), "gpt-4o-mini", at(2024, 7, 1), &usage)),
        None
    );
    // A snapshot used before its entry is not priced as the alias either.
    assert!(
        b.lookup("openai", "gpt-4o-2024-08-06", "gpt-4o", at(2024, 8, 1))
            .is_none()
    );
    let unknown = call(None, "my-finetune", at(2025, 6, 1), &usage);
    assert_eq!(unknown.provider, "");
    assert_eq!(b.price_record(&unknown), None);
    // Zero usage of an unknown model is still unpriced, not 0.
    assert_eq!(
        b.price_record(&call(None, "my-finetune", at(2025, 6, 1), &[])),
        None
    );
}

#[test]
fn provider_filters_and_empty_provider_matches_by_name() {
    let b = book();
    assert!(
        b.lookup("anthropic", "gpt-4o", "gpt-4o", at(2025, 1, 1))
            .is_none()
    );
    assert_eq!(
        b.lookup("", "gpt-4o", "gpt-4o", at(2025, 1, 1))
            .unwrap()
            .provider,
        "openai"
    );
}

#[test]
fn batch_discount_and_other_tiers() {
    let b = book();
    // gpt-4o-mini batch: (1M × 0.15/1M + 1M × 0.60/1M) × 0.5 = 0.75 × 0.5 = 0.375.
    let mut r = call(
        Some("openai"),
        "gpt-4o-mini",
        at(2025, 3, 1),
        &[(C::Input, 1_000_000), (C::Output, 1_000_000)],
    );
    r.service_tier = Some("batch".into());
    assert_eq!(cost_of(&b, &r), Some(dec!(0.375)));
    r.service_tier = Some("Default".into());
    assert_eq!(cost_of(&b, &r), Some(dec!(0.75)));
    // Flex has no price in the tables: unpriced rather than guessed.
    r.service_tier = Some("flex".into());
    assert_eq!(cost_of(&b, &r), None);
    // No batch_discount listed (Qwen): a batch record is unpriced.
    let mut q = call(
        Some("tongyi"),
        "qwen-plus",
        at(2025, 3, 1),
        &[(C::Input, 1000)],
    );
    q.service_tier = Some("batch".into());
    assert_eq!(cost_of(&b, &q), None);
}

#[test]
fn claude_cache_writes_and_reads() {
    let b = book();
    // Sonnet 4.5 per 1M: input 3, 5m write 3.75, 1h write 6, read 0.30, output 15. Below the
    // 200K long-context threshold (10,000 + 20,000 + 5,000 + 100,000 = 135,000 input):
    // 10,000 × 3e-6 = 0.03; 20,000 × 3.75e-6 = 0.075; 5,000 × 6e-6 = 0.03;
    // 100,000 × 0.3e-6 = 0.03; 2,000 × 15e-6 = 0.03 → 0.195.
    let small = call(
        Some("anthropic"),
        "claude-sonnet-4-5-20250929",
        at(2025, 10, 10),
        &[
            (C::Input, 10_000),
            (C::InputCacheWrite5m, 20_000),
            (C::InputCacheWrite1h, 5_000),
            (C::InputCacheRead, 100_000),
            (C::Output, 2_000),
        ],
    );
    assert_eq!(cost_of(&b, &small), Some(dec!(0.195)));
    // Ten times that is 1,350,000 input, above 200K: the whole request at the 1M-context rates
    // (input 6, 5m write 7.50, 1h write 12, read 0.60, output 22.50 per 1M):
    // 100,000 × 6e-6 = 0.6; 200,000 × 7.5e-6 = 1.5; 50,000 × 12e-6 = 0.6;
    // 1,000,000 × 0.6e-6 = 0.6; 20,000 × 22.5e-6 = 0.45 → 3.75.
    let r = call(
        Some("anthropic"),
        "claude-sonnet-4-5-20250929",
        at(2025, 10, 10),
        &[
            (C::Input, 100_000),
            (C::InputCacheWrite5m, 200_000),
            (C::InputCacheWrite1h, 50_000),
            (C::InputCacheRead, 1_000_000),
            (C::Output, 20_000),
        ],
    );
    assert_eq!(cost_of(&b, &r), Some(dec!(3.75)));
    let e = b
        .lookup(
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-5",
            at(2025, 10, 10),
        )
        .unwrap();
    // Multipliers as published: 5m = 1.25× input, 1h = 2×, read = 0.1×.
    let input = e.unit_price(C::Input).unwrap();
    assert_eq!(e.unit_price(C::InputCacheWrite5m), Some(input * dec!(1.25)));
    assert_eq!(e.unit_price(C::InputCacheWrite1h), Some(input * dec!(2)));
    assert_eq!(e.unit_price(C::InputCacheRead), Some(input * dec!(0.1)));
    // Opus step: 1M input on Opus 4.1 costs $15, on Opus 4.5 $5.
    let o41 = call(
        Some("anthropic"),
        "claude-opus-4-1-20250805",
        at(2025, 12, 1),
        &[(C::Input, 1_000_000)],
    );
    let o45 = call(
        Some("anthropic"),
        "claude-opus-4-5-20251101",
        at(2025, 12, 1),
        &[(C::Input, 1_000_000)],
    );
    assert_eq!(
        (cost_of(&b, &o41), cost_of(&b, &o45)),
        (Some(dec!(15)), Some(dec!(5)))
    );
}

#[test]
fn qwen_is_priced_in_cny_per_1k() {
    let b = book();
    // qwen-plus ¥0.0008 / ¥0.002 per 1K: 10,000 × 0.0008/1000 + 3,000 × 0.002/1000 = 0.008 + 0.006.
    let r = call(
        Some("tongyi"),
        "qwen-plus",
        at(2025, 3, 1),
        &[(C::Input, 10_000), (C::Output, 3_000)],
    );
    let c = b.price_record(&r).unwrap();
    assert_eq!(c.cost, Money::new(dec!(0.014), Currency::CNY));
    // Thinking-mode output is priced differently and marked unpriced: no silent fallback.
    let t = call(
        Some("tongyi"),
        "qwen-plus",
        at(2025, 6, 1),
        &[(C::Input, 10), (C::OutputReasoning, 10)],
    );
    assert_eq!(b.price_record(&t), None);
}

#[test]
fn deepseek_history_with_cache_hits() {
    let b = book();
    let usage = [
        (C::Input, 1_000_000),
        (C::InputCacheRead, 1_000_000),
        (C::Output, 1_000_000),
    ];
    let price = |when| cost_of(&b, &call(Some("deepseek"), "deepseek-chat", when, &usage));
    // Before full pricing began (2025-02-08 16:00 UTC): no entry.
    assert_eq!(price(at(2025, 2, 1)), None);
    // 0.27 miss + 0.07 hit + 1.10 out = 1.44, up to 16:00 UTC on 2025-09-05.
    assert_eq!(price(at(2025, 3, 1)), Some(dec!(1.44)));
    assert_eq!(
        price(Utc.with_ymd_and_hms(2025, 9, 5, 15, 59, 59).unwrap()),
        Some(dec!(1.44))
    );
    // 0.56 + 0.07 + 1.68 = 2.31 from then.
    assert_eq!(
        price(Utc.with_ymd_and_hms(2025, 9, 5, 16, 0, 0).unwrap()),
        Some(dec!(2.31))
    );
    // V3.2 cut: 0.28 + 0.028 + 0.42 = 0.728.
    assert_eq!(price(at(2025, 10, 1)), Some(dec!(0.728)));
    // Reasoner: reasoning tokens are billed as output: 1M × 0.55 + 1M × 2.19 = 2.74.
    let r = call(
        Some("deepseek"),
        "deepseek-reasoner",
        at(2025, 3, 1),
        &[(C::Input, 1_000_000), (C::OutputReasoning, 1_000_000)],
    );
    assert_eq!(cost_of(&b, &r), Some(dec!(2.74)));
    let e = b
        .lookup("deepseek", "deepseek-chat", "deepseek-chat", at(2025, 9, 6))
        .unwrap();
    assert_eq!(e.id, "deepseek/deepseek-chat@2025-09-05");
}

#[test]
fn o3_price_cut_and_unconfirmed_cache_price() {
    let b = book();
    let usage = [(C::Input, 1_000_000), (C::Output, 1_000_000)];
    // Launch: 10 + 40 = 50; from 2025-06-10: 2 + 8 = 10.
    assert_eq!(
        cost_of(
            &b,
            &call(Some("openai"), "o3-2025-04-16", at(2025, 5, 1), &usage)
        ),
        Some(dec!(50))
    );
    assert_eq!(
        cost_of(&b, &call(Some("openai"), "o3", at(2025, 7, 1), &usage)),
        Some(dec!(10))
    );
    let cached = [(C::Input, 10), (C::InputCacheRead, 10)];
    assert_eq!(
        cost_of(&b, &call(Some("openai"), "o3", at(2025, 5, 1), &cached)),
        None
    );
    // After the cut the cached price is listed: 10 × 2e-6 + 10 × 0.5e-6 = 0.000025.
    assert_eq!(
        cost_of(&b, &call(Some("openai"), "o3", at(2025, 7, 1), &cached)),
        Some(dec!(0.000025))
    );
}

#[test]
fn fallbacks_and_missing_classes() {
    let b = book();
    // gpt-4 lists no cache price: cached tokens cost full input, 1,000 × 30e-6 = 0.03.
    let e = b
        .lookup("openai", "gpt-4-0613", "gpt-4", at(2024, 6, 1))
        .unwrap();
    assert_eq!(
        e.cost(&Usage::of(&[(C::InputCacheRead, 1000)]), None),
        Some(dec!(0.03))
    );
    // Reasoning falls back to output: 1,000 × 60e-6 = 0.06.
    assert_eq!(
        e.cost(&Usage::of(&[(C::OutputReasoning, 1000)]), None),
        Some(dec!(0.06))
    );
    // Image input is billed as prompt input: 1,000 × 30e-6 = 0.03.
    assert_eq!(
        e.cost(&Usage::of(&[(C::InputImage, 1000)]), None),
        Some(dec!(0.03))
    );
    // Audio has no fallback: unpriced.
    assert_eq!(
        e.cost(&Usage::of(&[(C::Input, 1), (C::InputAudio, 1)]), None),
        None
    );
    // An embedding has no output price.
    let emb = b
        .lookup(
            "openai",
            "text-embedding-3-small",
            "text-embedding-3-small",
            at(2025, 1, 1),
        )
        .unwrap();
    assert_eq!(
        emb.cost(&Usage::of(&[(C::Input, 1_000_000)]), None),
        Some(dec!(0.02))
    );
    assert_eq!(emb.unit_price(C::Output), None);
}

#[test]
fn cost_only_lines_are_not_priced() {
    let mut r = call(Some("openai"), "gpt-4o-mini", at(2025, 3, 1), &[]);
    r.cost_only = true;
    assert_eq!(book().price_record(&r), None);
}

const GOOD: &str = r#"
[[entry]]
provider = "openai"
model = "m1"
names = ["M1", "m1-2026-01-01"]
effective_from = "2026-01-01T06:00:00Z"
unit = "1K"
currency = "usd"
source = "test (read 2026-11-23)"
[entry.prices]
input = "0.002"
output = "0.008"
"#;

#[test]
fn table_values_are_normalized() {
    let b = PriceBook::from_toml_str("t.toml", GOOD).unwrap();
    let e = &b.entries()[0];
    assert_eq!(e.id, "openai/m1@2026-01-01");
    assert_eq!(e.names, vec!["m1".to_string(), "m1-2026-01-01".to_string()]);
    assert_eq!(e.currency, Currency::USD);
    // $0.002 per 1K = 0.000002 per token.
    assert_eq!(e.unit_price(C::Input), Some(dec!(0.000002)));
    // In force from 06:00 UTC, not from midnight.
    assert!(
        b.lookup(
            "openai",
            "m1",
            "m1",
            Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap()
        )
        .is_none()
    );
    assert!(
        b.lookup(
            "openai",
            "m1",
            "m1",
            Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap()
        )
        .is_some()
    );
}

#[test]
fn malformed_tables_name_file_and_entry() {
    let bad_price = GOOD.replace("\"0.008\"", "\"eight\"");
    let e = PriceBook::from_toml_str("bad.toml", &bad_price)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("bad.toml: entry #1 (openai/m1@2026-01-01T06:00:00Z)"),
        "{e}"
    );
    assert!(e.contains("prices.output") && e.contains("'eight'"), "{e}");

    let float = GOOD.replace("\"0.008\"", "0.008");
    let e = PriceBook::from_toml_str("f.toml", &float)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("f.toml: entry #1") && e.contains("in quotes"),
        "{e}"
    );

    let second = format!(
        "{GOOD}{}",
        GOOD.replace("m1", "m2").replace("currency = \"usd\"\n", "")
    );
    let e = PriceBook::from_toml_str("two.toml", &second)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("two.toml: entry #2 (openai/m2@"), "{e}");
    assert!(e.contains("currency"), "{e}");

    let class = GOOD.replace("input = ", "input_cached = ");
    let e = PriceBook::from_toml_str("c.toml", &class)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("c.toml: entry #1") && e.contains("unknown usage class 'input_cached'"),
        "{e}"
    );

    let unit = GOOD.replace("\"1K\"", "\"per-million\"");
    let e = PriceBook::from_toml_str("u.toml", &unit)
        .unwrap_err()
        .to_string();
    assert!(e.contains("u.toml: entry #1") && e.contains("unit"), "{e}");

    let e = PriceBook::from_toml_str("s.toml", "[[entry]\nprovider = ")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("s.toml: "), "{e}");

    let dup = format!("{GOOD}{GOOD}");
    let e = PriceBook::from_toml_str("d.toml", &dup)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("d.toml: entry #2 (openai/m1@2026-01-01): prices '"),
        "{e}"
    );
    assert!(
        e.contains("same instant as d.toml: entry #1 (openai/m1@2026-01-01)"),
        "{e}"
    );
}

#[test]
fn user_tables_override_on_merge_and_load_from_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    // A user's negotiated gpt-4o-mini price from the same date as the bundled one.
    let user = r#"
[[entry]]
provider = "openai"
model = "gpt-4o-mini"
names = ["gpt-4o-mini"]
effective_from = "2024-07-18"
unit = "1M"
currency = "USD"
source = "contract"
[entry.prices]
input = "0.10"
output = "0.40"
"#;
    std::fs::write(dir.path().join("ours.toml"), user).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a table").unwrap();
    let mut b = book();
    let n = b.entries().len();
    b.merge(PriceBook::load_dir(dir.path()).unwrap());
    assert_eq!(b.entries().len(), n + 1);
    // 1M × 0.10/1M + 1M × 0.40/1M = 0.50 (bundled would give 0.75).
    let r = call(
        Some("openai"),
        "gpt-4o-mini",
        at(2025, 3, 1),
        &[(C::Input, 1_000_000), (C::Output, 1_000_000)],
    );
    assert_eq!(cost_of(&b, &r), Some(dec!(0.50)));
    // The snapshot name is not in the user's entry: still the bundled price.
    let r = call(
        Some("openai"),
        "gpt-4o-mini-2024-07-18",
        at(2025, 3, 1),
        &[(C::Input, 1_000_000), (C::Output, 1_000_000)],
    );
    assert_eq!(cost_of(&b, &r), Some(dec!(0.75)));

    let missing = PriceBook::load_dir(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nope") && missing.contains("cannot read"),
        "{missing}"
    );
}

#[test]
fn input_may_be_omitted_only_for_a_single_media_class() {
    let image = GOOD.replace(
        "input = \"0.002\"\noutput = \"0.008\"",
        "output_image = \"0.04\"",
    );
    let b = PriceBook::from_toml_str("img.toml", &image).unwrap();
    let e = &b.entries()[0];
    // 0.04 per 1K tokens = 0.00004 per token; 1,000 image tokens = 0.04.
    assert_eq!(
        e.cost(&Usage::of(&[(C::OutputImage, 1000)]), None),
        Some(dec!(0.04))
    );
    // No input price and no fallback: text input is unpriced, not 0.
    assert_eq!(e.cost(&Usage::of(&[(C::Input, 1)]), None), None);

    for prices in [
        "output = \"0.008\"",
        "output_image = \"0.04\"\noutput_audio = \"0.1\"",
    ] {
        let t = GOOD.replace("input = \"0.002\"\noutput = \"0.008\"", prices);
        let e = PriceBook::from_toml_str("x.toml", &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected an 'input' price"), "{e}");
    }
}

/// An entry with very many names (repeats among them) loads in one pass: repeats are dropped,
/// the first spelling kept, every name priced. A list scan per name made 200,000 names take
/// 44 s in `pricing check`.
#[test]
fn an_entry_with_many_names_loads_linearly() {
    // 30,000 distinct names, each written twice (the second time upper-case).
    let n = 30_000;
    let names: Vec<String> = (0..n)
        .flat_map(|i| [format!("\"m{i}\""), format!("\"M{i}\"")])
        .collect();
    let text = GOOD.replace(
        "names = [\"M1\", \"m1-2026-01-01\"]",
        &format!("names = [{}]", names.join(", ")),
    );
    assert_ne!(text, GOOD, "the names line of GOOD changed");
    let b = PriceBook::from_toml_str("many.toml", &text).unwrap();
    let e = &b.entries()[0];
    assert_eq!(e.names.len(), n);
    assert_eq!(e.names[0], "m0");
    assert_eq!(e.names[n - 1], format!("m{}", n - 1));
    let when = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
    assert!(b.lookup("openai", "m29999", "m29999", when).is_some());
}
