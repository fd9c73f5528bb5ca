//! `cache_write_folding`: matched calls whose app prompt count is the provider's input +
//! ⌊cache write × 1.25⌋ (× 2 for a 1-hour write) + ⌊cache read × 0.1⌋ — Dify's Anthropic plugin
//! folds cache counts into `prompt_tokens` with billing weights; provider input total − app
//! prompt count, in `input`, at the table input price (the money then nets against
//! `cache_hits`).

use super::{
    Amount, Cause, Context, GroupView, MatchKind, Matched, Measured, Plant, SpotPair, Tally,
    unpriced_note,
};
use crate::record::{Usage, UsageClass};
use crate::simulate::Provider;

pub const NAME: &str = "cache_write_folding";

pub struct CacheWriteFolding;

static PLANT: Plant = Plant {
    amount: "share of Answer calls that write the prompt cache (5m, a quarter 1h); Dify's Anthropic plugin folds cache writes and reads into prompt_tokens (Anthropic only)",
    kind: Amount::Share,
    default: [0.0, 0.3],
    only: Some(Provider::Anthropic),
};

/// The prompt count Dify's Anthropic plugin records for provider-reported counts.
pub fn folded_prompt_tokens(u: &Usage) -> i64 {
    u[UsageClass::Input]
        + u[UsageClass::InputCacheWrite5m] * 5 / 4
        + u[UsageClass::InputCacheWrite1h] * 2
        + u[UsageClass::InputCacheRead] / 10
        + u[UsageClass::InputAudio]
        + u[UsageClass::InputImage]
}

impl Cause for CacheWriteFolding {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The prompt-count difference of a folded call (its output difference is drift's).
    fn on_matched(&self, m: &Matched, t: &mut Tally) {
        if m.kind == MatchKind::CacheFolded {
            let (u, money) = m.delta(m.d_in, 0);
            t.add_delta(&m.base.id, u, money);
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.money)
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        cx.matched(
            "no trace among the inputs to match calls against",
            format!(
                "{} matched calls whose app prompt count is the provider's input + ⌊cache write × 1.25 (× 2 for 1h)⌋ + ⌊cache read × 0.1⌋ (Dify's Anthropic plugin): the token difference at the input price{}",
                crate::report::count(m.records as i64),
                unpriced_note(m.unpriced)
            ),
        )
    }

    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        (p.kind == Some(MatchKind::CacheFolded)).then_some(NAME)
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
