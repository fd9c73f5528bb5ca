//! `gateway_cache_hits`: requests a gateway (LiteLLM) answered from its own response cache. No
//! provider was called, so no bill has their tokens; a gateway baseline counts them, this step
//! takes them out (negative) at the gateway's own money for them (LiteLLM: 0).

use super::{Cause, Context, GroupView, Measured, Place, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Status, UsageRecord};

pub const NAME: &str = "gateway_cache_hits";

pub struct GatewayCacheHits;

impl Cause for GatewayCacheHits {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: baseline calls marked as answered from the gateway's cache, inside the window.
    fn on_baseline(&self, rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        if rec.link.status == Status::CacheHit && at.in_window && !at.repeats {
            t.add(rec, v);
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        let mut m = t.step(-t.money);
        m.tokens = -t.usage;
        m
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        (
            "measured",
            if m.records == 0 {
                "no baseline request was answered from a gateway cache".to_string()
            } else {
                format!(
                    "{} requests the gateway answered from its own cache: no provider was called, so the reference has none of their tokens",
                    crate::report::count(m.records as i64)
                )
            },
        )
    }
}
