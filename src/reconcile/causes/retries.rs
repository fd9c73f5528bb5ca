//! `retries`: failed attempts the provider billed that the app does not record (trace
//! generations with `level=ERROR` and usage); at table prices.

use super::{Amount, Cause, Context, GroupView, Measured, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Status, UsageRecord};

pub const NAME: &str = "retries";

pub struct Retries;

static PLANT: Plant = Plant {
    amount: "share of Answer calls whose first attempt timed out at the gateway after being billed",
    kind: Amount::Share,
    default: [0.04, 0.04],
    only: None,
};

impl Cause for Retries {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_unrecorded(&self, rec: &UsageRecord, v: &Valuation, t: &mut Tally) {
        if rec.link.status == Status::Error {
            t.add(rec, v);
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.computed)
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        cx.seen_in_trace(
            "the baseline records every attempt",
            "no trace among the inputs: failed attempts cannot be seen",
            format!(
                "{} failed attempts with usage in {} (level ERROR) that the app does not record; valued at table prices",
                crate::report::count(m.records as i64),
                cx.trace()
            ),
        )
    }

    /// A failed trace call alone that the provider billed (it has usage).
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (None, Some(t)) if t.link.status == Status::Error && !t.usage.is_zero() => Some(NAME),
            _ => None,
        }
    }

    fn remedy(&self, _cx: &Context, m: &Measured) -> Option<String> {
        (m.records > 0).then(|| {
            format!(
                "{} failed attempts were billed ({} tokens): check the provider timeouts and bound the retries of the app's model calls (Dify: the LLM node's retry settings)",
                crate::report::count(m.records as i64),
                crate::report::count(m.tokens.total())
            )
        })
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
