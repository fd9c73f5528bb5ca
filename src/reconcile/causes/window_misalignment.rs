//! `window_misalignment`: baseline calls inside the reference's buckets but outside the report
//! window (a daily UTC bill cannot be cut at Shanghai midnight), at the baseline's own cost.

use super::{Amount, Cause, Context, GroupView, Measured, Place, Plant, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::UsageRecord;

pub const NAME: &str = "window_misalignment";

pub struct WindowMisalignment;

static PLANT: Plant = Plant {
    amount: "app traffic rate in the bill's UTC days outside the report window (the hours before the first and after the last local midnight), relative to the rate inside (1 = the same); nothing to plant when --tz has UTC's midnights",
    kind: Amount::Ratio,
    default: [1.0, 1.0],
    only: None,
};

impl Cause for WindowMisalignment {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: the baseline's own calls at the edges (rows repeating usage there are no
    /// traffic at all).
    fn on_baseline(&self, rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        if !at.in_window && !at.repeats {
            t.add(rec, v);
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.money)
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        let setup = cx.setup;
        let note = match setup.grid {
            Some(g) => format!(
                "{} baseline records fall inside the reference's {} buckets but outside the report window (window in {}); valued at the baseline's own cost",
                crate::report::count(m.records as i64),
                crate::reconcile::window::width_name(g.width),
                setup.calendar.tz
            ),
            None => "both sides are cut at the same instants".to_string(),
        };
        ("measured", note)
    }

    fn remedy(&self, cx: &Context, m: &Measured) -> Option<String> {
        let g = cx.setup.grid?;
        (m.records > 0).then(|| {
            format!(
                "the reference's {} buckets begin at UTC midnight, the report's days in {}: compare over the reference's own days (--tz UTC) to see the same calls on both sides, or keep the report zone and read this step as the month's edges",
                crate::reconcile::window::width_name(g.width),
                cx.setup.calendar.tz
            )
        })
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
