//! `cache_hits`: cached tokens the reference bills in cache classes that the baseline counts as
//! plain input; moves tokens from `input` to the cache class (total unchanged) and values the
//! discount at (class price − input price).

use super::{Amount, Cause, Context, GroupView, Measured, Place, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Usage, UsageClass, UsageRecord};
use rust_decimal::Decimal;

pub const NAME: &str = "cache_hits";

pub struct CacheHits;

static PLANT: Plant = Plant {
    amount: "share of Answer calls that read from the prompt cache",
    kind: Amount::Share,
    default: [0.6, 0.6],
    only: None,
};

fn has_cache(u: &Usage) -> bool {
    UsageClass::CACHE.iter().any(|&c| u[c] != 0)
}

impl Cause for CacheHits {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The baseline's own cache classes (its tally's usage): a baseline that shows them does
    /// not fold them into input.
    fn on_baseline(&self, rec: &UsageRecord, _v: &Valuation, at: Place, t: &mut Tally) {
        if !at.repeats {
            for c in UsageClass::CACHE {
                t.usage[c] += rec.usage[c];
            }
        }
    }

    /// Reference records that bill cache classes: the step's evidence.
    fn on_reference(&self, rec: &UsageRecord, _v: &Valuation, t: &mut Tally) {
        if has_cache(&rec.usage) {
            t.records += 1;
            t.note_evidence(&rec.id);
        }
    }

    /// What the reference bills in cache classes beyond what the baseline and the steps so far
    /// account for, moved out of plain input. Only for a baseline that shows no cache classes
    /// of its own in this group (an app folds them into input).
    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        let mut m = Measured::default();
        if UsageClass::CACHE.iter().map(|&c| t.usage[c]).sum::<i64>() == 0 {
            let input = g.prices.map(|p| p.unit(UsageClass::Input));
            for c in UsageClass::CACHE {
                let d = g.reference.usage[c] - g.so_far[c];
                if d == 0 {
                    continue;
                }
                m.tokens[c] += d;
                m.tokens[UsageClass::Input] -= d;
                let delta = g
                    .prices
                    .zip(input)
                    .and_then(|(p, i)| p.unit(c).zip(i).map(|(p, i)| p - i));
                match delta {
                    Some(delta) => m.cost += Decimal::from(d) * delta,
                    None => m.unpriced = 1,
                }
            }
        }
        if !m.tokens.is_zero() {
            m.records = t.records;
            m.evidence = t.evidence.clone();
        }
        m
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        (
            "measured",
            format!(
                "{} cached input tokens on {} reference records billed in cache classes that the baseline counts as plain input{}",
                crate::report::count(UsageClass::CACHE.iter().map(|&k| m.tokens[k]).sum::<i64>()),
                crate::report::count(m.records as i64),
                if m.unpriced == 0 {
                    ""
                } else {
                    "; some cache prices unknown, their money stays unexplained"
                }
            ),
        )
    }

    /// The trace bills cache classes the app's count of the same call does not show.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (Some(a), Some(t)) if has_cache(&t.usage) && !has_cache(&a.usage) => Some(NAME),
            _ => None,
        }
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
