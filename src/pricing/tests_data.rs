//! Checks of the bundled price data (`pricing/*.toml`): structure, published ratios, and costs
//! worked out by hand from the providers' published per-token prices.

use super::*;
use crate::catalog;
use crate::record::{Origin, UsageClass as C};
use chrono::TimeZone;
use rust_decimal_macros::dec;
use std::collections::HashMap;

fn book() -> PriceBook {
    PriceBook::bundled().expect("bundled tables load")
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn instant(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
}

/// Cost of a call as an adapter would record it (raw name through the catalog).
fn cost(
    b: &PriceBook,
    hint: &str,
    raw: &str,
    when: DateTime<Utc>,
    usage: &[(C, i64)],
) -> Option<Money> {
    let mut r = UsageRecord::call("t".into(), Origin { file: 0, line: 1 }, when);
    r.set_model(Some(hint), raw);
    r.usage = Usage::of(usage);
    b.price_record(&r).map(|c| c.cost)
}

fn usd(
    b: &PriceBook,
    hint: &str,
    raw: &str,
    when: DateTime<Utc>,
    usage: &[(C, i64)],
) -> Option<Decimal> {
    cost(b, hint, raw, when, usage).map(|m| {
        assert_eq!(m.currency, Currency::USD, "{raw}");
        m.amount
    })
}

const ONE_M_IN_OUT: [(C, i64); 2] = [(C::Input, 1_000_000), (C::Output, 1_000_000)];

#[test]
fn every_bundled_table_loads_and_has_entries() {
    let b = book();
    let mut per_file: HashMap<&str, usize> = HashMap::new();
    for e in b.entries() {
        *per_file.entry(e.file.as_str()).or_default() += 1;
    }
    for (file, _) in BUNDLED {
        assert!(
            per_file.get(file).copied().unwrap_or(0) >= 5,
            "{file}: {per_file:?}"
        );
    }
}

#[test]
fn no_name_is_listed_twice_from_the_same_instant() {
    let b = book();
    let mut seen: HashMap<(String, DateTime<Utc>), String> = HashMap::new();
    for e in b.entries() {
        for n in &e.names {
            if let Some(first) = seen.insert((n.clone(), e.effective_from), e.id.clone()) {
                panic!(
                    "{n} from {} is listed by {first} and {}",
                    e.effective_from, e.id
                );
            }
        }
    }
}

#[test]
fn every_entry_prices_input_and_output_except_embeddings() {
    for e in book().entries() {
        assert!(
            e.listed_price(C::Input).is_some(),
            "{}: no input price",
            e.id
        );
        // Rerank models bill input only, like embedding models.
        let embedding = catalog::is_embedding_model(&e.model) || catalog::is_rerank_model(&e.model);
        assert_eq!(
            e.listed_price(C::Output).is_some(),
            !embedding,
            "{}: output price present = {}, embedding = {embedding}",
            e.id,
            e.listed_price(C::Output).is_some()
        );
    }
}

#[test]
fn currencies_sources_and_batch_multipliers_follow_the_tables() {
    for e in book().entries() {
        let want = if e.file.ends_with("alibaba.toml") || e.file.ends_with("tencent.toml") {
            Currency::CNY
        } else {
            Currency::USD
        };
        assert_eq!(e.currency, want, "{}", e.id);
        assert!(e.source.starts_with("https://"), "{}: {}", e.id, e.source);
        assert!(
            // Each table was read on the day it was written (Tencent's on 2026-12-02); the
            // Alibaba rerank price was added on 2026-12-03.
            e.source.ends_with("(read 2026-11-23)")
                || (e.file.ends_with("tencent.toml") && e.source.ends_with("(read 2026-12-02)"))
                || (catalog::is_rerank_model(&e.model) && e.source.ends_with("(read 2026-12-03)")),
            "{}: {}",
            e.id,
            e.source
        );
        // Every provider here halves the price in batch mode.
        if let Some(m) = e.batch_discount {
            assert_eq!(m, dec!(0.5), "{}", e.id);
        }
    }
}

#[test]
fn anthropic_cache_prices_keep_the_published_multipliers() {
    // Anthropic: 5-minute write 1.25× input, 1-hour write 2× input, cache hit 0.1× input.
    let mut checked = 0;
    for e in book()
        .entries()
        .iter()
        .filter(|e| e.provider == "anthropic")
    {
        // Claude 3 Haiku is the published exception: $0.30 / $0.50 / $0.03 on a $0.25 input
        // (not the exact 0.3125 / 0.50 / 0.025).
        if e.model == "claude-3-haiku" {
            let cache = [
                C::InputCacheWrite5m,
                C::InputCacheWrite1h,
                C::InputCacheRead,
            ]
            .map(|c| e.listed_price(c));
            let published = [dec!(0.0000003), dec!(0.0000005), dec!(0.00000003)].map(Some);
            assert_eq!(cache, published);
            continue;
        }
        let Some(w5) = e.listed_price(C::InputCacheWrite5m) else {
            continue;
        };
        let input = e.listed_price(C::Input).unwrap();
        assert_eq!(w5, input * dec!(1.25), "{}", e.id);
        assert_eq!(
            e.listed_price(C::InputCacheWrite1h),
            Some(input * dec!(2)),
            "{}",
            e.id
        );
        assert_eq!(
            e.listed_price(C::InputCacheRead),
            Some(input * dec!(0.1)),
            "{}",
            e.id
        );
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
}

#[test]
fn demo_models_keep_their_prices() {
    let b = book();
    // gpt-4o from 2024-10-02: $2.50 in, $1.25 cached, $10 out per 1M.
    let e = b
        .lookup("openai", "gpt-4o", "gpt-4o", day(2026, 10, 15))
        .unwrap();
    assert_eq!(e.id, "openai/gpt-4o@2024-10-02");
    assert_eq!(e.listed_price(C::Input), Some(dec!(0.0000025)));
    assert_eq!(e.listed_price(C::InputCacheRead), Some(dec!(0.00000125)));
    assert_eq!(e.listed_price(C::Output), Some(dec!(0.00001)));
    // gpt-4o-mini: $0.15 / $0.075 / $0.60.
    let e = b
        .lookup("openai", "gpt-4o-mini", "gpt-4o-mini", day(2026, 10, 15))
        .unwrap();
    assert_eq!(e.listed_price(C::Input), Some(dec!(0.00000015)));
    assert_eq!(e.listed_price(C::InputCacheRead), Some(dec!(0.000000075)));
    assert_eq!(e.listed_price(C::Output), Some(dec!(0.0000006)));
    // text-embedding-3-small: $0.02 per 1M, input only.
    let r = usd(
        &b,
        "openai",
        "text-embedding-3-small",
        day(2026, 10, 15),
        &[(C::Input, 1_000_000)],
    );
    assert_eq!(r, Some(dec!(0.02)));
}

#[test]
fn claude_sonnet_4_5_every_input_class_by_hand() {
    // 1M tokens per class is 3M input, above the 200K threshold, so the whole request is at the
    // 1M-context rates (per 1M: input 6, 5m write 7.50, read 0.60, output 22.50):
    // 6 + 7.5 + 0.6 + 22.5 = 36.6.
    let usage = [
        (C::Input, 1_000_000),
        (C::InputCacheWrite5m, 1_000_000),
        (C::InputCacheRead, 1_000_000),
        (C::Output, 1_000_000),
    ];
    let b = book();
    let c = usd(
        &b,
        "anthropic",
        "claude-sonnet-4-5-20250929",
        day(2025, 11, 1),
        &usage,
    );
    assert_eq!(c, Some(dec!(36.6)));
    // A 1/100 of it (30,000 input) stays below: 0.03 + 0.0375 + 0.003 + 0.15 = 0.2205.
    let small = usage.map(|(c, n)| (c, n / 100));
    assert_eq!(
        usd(
            &b,
            "anthropic",
            "claude-sonnet-4-5",
            day(2025, 11, 1),
            &small
        ),
        Some(dec!(0.2205))
    );
    // Adding 1M one-hour writes at $12 (long context): 36.6 + 12 = 48.6; batch halves it (batch
    // stacks with the long-context rates): 24.3.
    let mut r = UsageRecord::call("t".into(), Origin { file: 0, line: 1 }, day(2025, 11, 1));
    r.set_model(Some("anthropic"), "claude-sonnet-4-5");
    r.usage = Usage::of(&[
        (C::Input, 1_000_000),
        (C::InputCacheWrite5m, 1_000_000),
        (C::InputCacheWrite1h, 1_000_000),
        (C::InputCacheRead, 1_000_000),
        (C::Output, 1_000_000),
    ]);
    assert_eq!(b.price_record(&r).unwrap().cost.amount, dec!(48.6));
    r.service_tier = Some("batch".into());
    assert_eq!(b.price_record(&r).unwrap().cost.amount, dec!(24.3));
}

#[test]
fn claude_opus_price_step_and_snapshot_names() {
    let b = book();
    let all = [
        (C::Input, 1_000_000),
        (C::InputCacheWrite5m, 1_000_000),
        (C::InputCacheWrite1h, 1_000_000),
        (C::InputCacheRead, 1_000_000),
        (C::Output, 1_000_000),
    ];
    // Opus 4: 15 + 18.75 + 30 + 1.50 + 75 = 140.25.
    let o4 = usd(
        &b,
        "anthropic",
        "claude-opus-4-20250514",
        day(2025, 6, 1),
        &all,
    );
    assert_eq!(o4, Some(dec!(140.25)));
    // Opus 4.5: 5 + 6.25 + 10 + 0.50 + 25 = 46.75.
    let o45 = usd(
        &b,
        "anthropic",
        "claude-opus-4-5-20251101",
        day(2025, 12, 1),
        &all,
    );
    assert_eq!(o45, Some(dec!(46.75)));
    // Claude 3 Haiku: 0.25 + 0.30 + 0.50 + 0.03 + 1.25 = 2.33.
    let h3 = usd(
        &b,
        "anthropic",
        "claude-3-haiku-20240307",
        day(2025, 1, 1),
        &all,
    );
    assert_eq!(h3, Some(dec!(2.33)));
}

#[test]
fn claude_3_5_sonnet_snapshots_resolve_by_name() {
    let b = book();
    // Both dated snapshots are listed under the Claude 3.5 Sonnet entry: $3/$15 → 3 + 15 = 18.
    for raw in ["claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20240620"] {
        let e = b
            .lookup(
                "anthropic",
                raw,
                &catalog::canonical_model(raw),
                day(2024, 12, 1),
            )
            .unwrap();
        assert!(
            e.names.iter().any(|n| n == raw),
            "{raw} resolved via {}",
            e.id
        );
        assert_eq!(e.id, "anthropic/claude-3-5-sonnet@2024-06-20");
        assert_eq!(
            usd(&b, "anthropic", raw, day(2024, 12, 1), &ONE_M_IN_OUT),
            Some(dec!(18))
        );
    }
    // The canonical name strips the -YYYYMMDD suffix, and a Bedrock id lands on the same entry.
    assert_eq!(
        catalog::canonical_model("claude-3-5-sonnet-20241022"),
        "claude-3-5-sonnet"
    );
    let bedrock = "us.anthropic.claude-3-5-sonnet-20241022-v2:0";
    assert_eq!(
        usd(&b, "anthropic", bedrock, day(2024, 12, 1), &ONE_M_IN_OUT),
        Some(dec!(18))
    );
}

#[test]
fn claude_sonnet_5_introductory_then_standard_price() {
    let b = book();
    // Until 2026-08-31: $2/$10 → 12; from 2026-09-01: $3/$15 → 18.
    let intro = usd(
        &b,
        "anthropic",
        "claude-sonnet-5",
        day(2026, 8, 31),
        &ONE_M_IN_OUT,
    );
    let std = usd(
        &b,
        "anthropic",
        "claude-sonnet-5",
        day(2026, 9, 1),
        &ONE_M_IN_OUT,
    );
    assert_eq!((intro, std), (Some(dec!(12)), Some(dec!(18))));
}

#[test]
fn o3_before_and_after_its_price_cut() {
    let b = book();
    // Launch price $10/$40: 10 + 40 = 50, up to the last second of 2025-06-09.
    let launch = usd(
        &b,
        "openai",
        "o3-2025-04-16",
        instant(2025, 6, 9, 23, 59, 59),
        &ONE_M_IN_OUT,
    );
    assert_eq!(launch, Some(dec!(50)));
    // From 2025-06-10 00:00 UTC: $2/$8 → 10; 1M cached at $0.50 adds 0.5 → 10.5.
    let cut = usd(
        &b,
        "openai",
        "o3",
        instant(2025, 6, 10, 0, 0, 0),
        &ONE_M_IN_OUT,
    );
    assert_eq!(cut, Some(dec!(10)));
    let with_cache = [
        (C::Input, 1_000_000),
        (C::InputCacheRead, 1_000_000),
        (C::Output, 1_000_000),
    ];
    assert_eq!(
        usd(&b, "openai", "o3", day(2025, 7, 1), &with_cache),
        Some(dec!(10.5))
    );
    // Reasoning tokens are output: 1M reasoning at $8 = 8.
    let reasoning = [(C::OutputReasoning, 1_000_000)];
    assert_eq!(
        usd(&b, "openai", "o3", day(2025, 7, 1), &reasoning),
        Some(dec!(8))
    );
}

#[test]
fn openai_reference_prices_by_hand() {
    let b = book();
    let when = day(2025, 3, 1);
    // gpt-3.5-turbo-0125 $0.50/$1.50 → 2; gpt-3.5-turbo-1106 $1/$2 → 3.
    assert_eq!(
        usd(&b, "openai", "gpt-3.5-turbo-0125", when, &ONE_M_IN_OUT),
        Some(dec!(2))
    );
    assert_eq!(
        usd(&b, "openai", "gpt-3.5-turbo-1106", when, &ONE_M_IN_OUT),
        Some(dec!(3))
    );
    // gpt-4 $30/$60: 1,000 × 30e-6 + 1,000 × 60e-6 = 0.03 + 0.06 = 0.09.
    let small = [(C::Input, 1_000), (C::Output, 1_000)];
    assert_eq!(
        usd(&b, "openai", "gpt-4-0613", when, &small),
        Some(dec!(0.09))
    );
    // gpt-4-32k $60/$120 → 0.06 + 0.12 = 0.18.
    assert_eq!(
        usd(&b, "openai", "gpt-4-32k", when, &small),
        Some(dec!(0.18))
    );
    // GPT-4 Turbo previews $10/$30 → 40.
    for raw in [
        "gpt-4-1106-preview",
        "gpt-4-0125-preview",
        "gpt-4-turbo-2024-04-09",
    ] {
        assert_eq!(
            usd(&b, "openai", raw, when, &ONE_M_IN_OUT),
            Some(dec!(40)),
            "{raw}"
        );
    }
    // o1 $15 in, $7.50 cached, $60 out: 15 + 7.5 + 60 = 82.5; batch halves it to 41.25.
    let o1 = [
        (C::Input, 1_000_000),
        (C::InputCacheRead, 1_000_000),
        (C::Output, 1_000_000),
    ];
    assert_eq!(
        usd(&b, "openai", "o1-2024-12-17", when, &o1),
        Some(dec!(82.5))
    );
    let mut r = UsageRecord::call("t".into(), Origin { file: 0, line: 1 }, when);
    r.set_model(Some("openai"), "o1");
    r.usage = Usage::of(&o1);
    r.service_tier = Some("batch".into());
    assert_eq!(b.price_record(&r).unwrap().cost.amount, dec!(41.25));
    // gpt-4.1 family $2/$8, $0.40/$1.60, $0.10/$0.40 → 10, 2, 0.5.
    let w = day(2025, 6, 1);
    assert_eq!(
        usd(&b, "openai", "gpt-4.1", w, &ONE_M_IN_OUT),
        Some(dec!(10))
    );
    assert_eq!(
        usd(&b, "openai", "gpt-4.1-mini", w, &ONE_M_IN_OUT),
        Some(dec!(2))
    );
    assert_eq!(
        usd(&b, "openai", "gpt-4.1-nano-2025-04-14", w, &ONE_M_IN_OUT),
        Some(dec!(0.5))
    );
    // o3-mini and o4-mini $1.10/$4.40 → 5.5.
    assert_eq!(
        usd(&b, "openai", "o3-mini", w, &ONE_M_IN_OUT),
        Some(dec!(5.5))
    );
    assert_eq!(
        usd(&b, "openai", "o4-mini-2025-04-16", w, &ONE_M_IN_OUT),
        Some(dec!(5.5))
    );
    // gpt-5 $1.25/$10 → 11.25; mini $0.25/$2 → 2.25; nano $0.05/$0.40 → 0.45.
    let g5 = day(2025, 9, 1);
    assert_eq!(
        usd(&b, "openai", "gpt-5-2025-08-07", g5, &ONE_M_IN_OUT),
        Some(dec!(11.25))
    );
    assert_eq!(
        usd(&b, "openai", "gpt-5-mini", g5, &ONE_M_IN_OUT),
        Some(dec!(2.25))
    );
    assert_eq!(
        usd(&b, "openai", "gpt-5-nano", g5, &ONE_M_IN_OUT),
        Some(dec!(0.45))
    );
    // chatgpt-4o-latest $5/$15 → 20.
    assert_eq!(
        usd(&b, "openai", "chatgpt-4o-latest", g5, &ONE_M_IN_OUT),
        Some(dec!(20))
    );
}

#[test]
fn o1_mini_is_priced_only_from_its_confirmed_price() {
    let b = book();
    // Launch price unconfirmed: unpriced before 2025-01-31.
    assert_eq!(
        usd(&b, "openai", "o1-mini", day(2024, 10, 1), &ONE_M_IN_OUT),
        None
    );
    // $1.10/$4.40 → 5.5.
    assert_eq!(
        usd(
            &b,
            "openai",
            "o1-mini-2024-09-12",
            day(2025, 2, 1),
            &ONE_M_IN_OUT
        ),
        Some(dec!(5.5))
    );
}

#[test]
fn unknown_cached_price_stays_unpriced_for_pro_models() {
    let b = book();
    // o1-pro lists no cached-input price: a call with cached tokens is unpriced, not priced at input.
    let cached = [(C::Input, 10), (C::InputCacheRead, 10), (C::Output, 10)];
    assert_eq!(usd(&b, "openai", "o1-pro", day(2025, 7, 1), &cached), None);
    // Without cached tokens: 1M × $150 + 1M × $600 = 750.
    assert_eq!(
        usd(&b, "openai", "o1-pro", day(2025, 7, 1), &ONE_M_IN_OUT),
        Some(dec!(750))
    );
}

#[test]
fn deepseek_cache_hit_example() {
    let b = book();
    // V3.2 price (from 2025-09-29): hit $0.028, miss $0.28, output $0.42 per 1M.
    // 200,000 × 0.028e-6 = 0.0056; 800,000 × 0.28e-6 = 0.224; 100,000 × 0.42e-6 = 0.042 → 0.2716.
    let usage = [
        (C::Input, 800_000),
        (C::InputCacheRead, 200_000),
        (C::Output, 100_000),
    ];
    assert_eq!(
        usd(&b, "deepseek", "deepseek-chat", day(2025, 10, 15), &usage),
        Some(dec!(0.2716))
    );
    // Same call under V3 (2025-03-01): 200,000 × 0.07e-6 + 800,000 × 0.27e-6 + 100,000 × 1.10e-6
    // = 0.014 + 0.216 + 0.11 = 0.34.
    assert_eq!(
        usd(&b, "deepseek", "deepseek-chat", day(2025, 3, 1), &usage),
        Some(dec!(0.34))
    );
    // The off-peak discount period is flagged on the entries that cover it.
    let e = b
        .lookup(
            "deepseek",
            "deepseek-chat",
            "deepseek-chat",
            day(2025, 4, 1),
        )
        .unwrap();
    assert!(
        e.note.as_deref().unwrap_or("").contains("night discount"),
        "{}",
        e.id
    );
}

#[test]
fn qwen_prices_in_cny_per_1k() {
    let b = book();
    let usage = [(C::Input, 100_000), (C::Output, 20_000)];
    // qwen-turbo ¥0.0003/¥0.0006 per 1K: 100 × 0.0003 + 20 × 0.0006 = 0.03 + 0.012 = 0.042.
    let c = cost(&b, "tongyi", "qwen-turbo", day(2025, 5, 1), &usage).unwrap();
    assert_eq!(c, Money::new(dec!(0.042), Currency::CNY));
    // qwen-long ¥0.0005/¥0.002: 100 × 0.0005 + 20 × 0.002 = 0.05 + 0.04 = 0.09.
    let c = cost(&b, "dashscope", "qwen-long", day(2025, 5, 1), &usage).unwrap();
    assert_eq!(c, Money::new(dec!(0.09), Currency::CNY));
    // qwen-max-2024-09-19 ¥0.02/¥0.06: 100 × 0.02 + 20 × 0.06 = 2 + 1.2 = 3.2.
    let c = cost(&b, "tongyi", "qwen-max-2024-09-19", day(2025, 5, 1), &usage).unwrap();
    assert_eq!(c, Money::new(dec!(3.2), Currency::CNY));
    // The qwen-max alias: unpriced while its cut date is unknown, then ¥0.0024/¥0.0096:
    // 100 × 0.0024 + 20 × 0.0096 = 0.24 + 0.192 = 0.432.
    assert_eq!(
        cost(&b, "tongyi", "qwen-max", day(2025, 5, 1), &usage),
        None
    );
    let c = cost(&b, "tongyi", "qwen-max-latest", day(2026, 6, 1), &usage).unwrap();
    assert_eq!(c, Money::new(dec!(0.432), Currency::CNY));
}

#[test]
fn gte_rerank_v2_prices_input_tokens_only() {
    let b = book();
    // gte-rerank-v2 ¥0.0008 per 1K input tokens: 250,000 tokens = 250 × 0.0008 = 0.2.
    let c = cost(
        &b,
        "alibaba",
        "gte-rerank-v2",
        day(2026, 10, 5),
        &[(C::Input, 250_000)],
    )
    .unwrap();
    assert_eq!(c, Money::new(dec!(0.2), Currency::CNY));
    // Before the first page that shows the price: unpriced, never 0.
    assert_eq!(
        cost(
            &b,
            "alibaba",
            "gte-rerank-v2",
            day(2025, 1, 1),
            &[(C::Input, 1000)]
        ),
        None
    );
}
