//! `price_mismatch`: Σ (table cost − recorded cost) over baseline calls: stale unit prices,
//! rounding.

use super::{Amount, Cause, Context, GroupView, Measured, Place, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Status, Usage, UsageRecord};
use rust_decimal::Decimal;

pub const NAME: &str = "price_mismatch";

pub struct PriceMismatch;

static PLANT: Plant = Plant {
    amount: "relative error of Dify's configured unit prices (table × (1 + AMOUNT), stored to 4 decimals)",
    kind: Amount::Relative,
    default: [0.5, 0.5],
    only: None,
};

impl Cause for PriceMismatch {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Every baseline call (in the window or at its edges) whose recorded cost differs from
    /// the table cost at its time.
    fn on_baseline(&self, rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        // A gateway's cache hit costs nothing by design: that is `gateway_cache_hits`' money,
        // not a stale price.
        if at.repeats || rec.link.status == Status::CacheHit {
            return;
        }
        if let (Some(r), Some(c)) = (v.reported, v.computed) {
            let gap = c - r;
            if !gap.is_zero() {
                t.add_delta(&rec.id, Usage::ZERO, Some(gap));
            }
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.money)
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        (
            "measured",
            format!(
                "{} baseline records whose recorded cost differs from the price table in force at the call's time",
                crate::report::count(m.records as i64)
            ),
        )
    }

    /// A matched app call whose recorded cost is off the table by more than Dify's rounding of
    /// each side to 7 decimals.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.trace, p.app_reported, p.app_computed) {
            (Some(_), Some(r), Some(c)) if (r - c).abs() > Decimal::new(1, 7) => Some(NAME),
            _ => None,
        }
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
