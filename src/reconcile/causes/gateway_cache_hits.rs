//! `gateway_cache_hits`: requests a gateway (LiteLLM) answered from its own response cache. No
//! provider was called, so no bill has their tokens, and the gateway charges nothing for them.
//!
//! - gateway → bill: the gateway baseline counts them; this step takes their tokens out
//!   (negative) at the gateway's money for them (LiteLLM: 0).
//! - app → gateway: both sides count their tokens, but the app values them at the price list while
//!   the gateway charges 0: this step takes the table cost out (money only).

use super::{Cause, Context, GroupView, Measured, Place, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Status, Usage, UsageRecord};

pub const NAME: &str = "gateway_cache_hits";

pub struct GatewayCacheHits;

impl Cause for GatewayCacheHits {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A gateway baseline's cache hits inside the window.
    fn on_baseline(&self, rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        if rec.link.status == Status::CacheHit && at.in_window && !at.repeats {
            t.add(rec, v);
        }
    }

    /// A gateway reference's cache hits (an app baseline never marks its own).
    fn on_reference(&self, rec: &UsageRecord, v: &Valuation, t: &mut Tally) {
        if rec.link.status == Status::CacheHit {
            t.add(rec, v);
        }
    }

    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        if g.cx.setup.baseline_is_app {
            // Every reference cache hit: the app's own are valued at the table by the app, and
            // other clients' at the table by `unattributed_traffic`; the gateway charged 0.
            let mut m = t.step(-t.computed);
            m.tokens = Usage::ZERO;
            m
        } else {
            let mut m = t.step(-t.money);
            m.tokens = -t.usage;
            m
        }
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        let n = crate::report::count(m.records as i64);
        (
            "measured",
            if m.records == 0 {
                "no request was answered from a gateway cache".to_string()
            } else if cx.setup.baseline_is_app {
                format!(
                    "{n} requests the gateway answered from its own cache: both sides count their tokens, the gateway charged nothing for them (their price-list cost is taken out)"
                )
            } else {
                format!(
                    "{n} requests the gateway answered from its own cache: no provider was called, so the reference has none of their tokens"
                )
            },
        )
    }
}
