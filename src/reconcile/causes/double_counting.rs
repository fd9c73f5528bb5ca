//! `double_counting`: app rows that repeat usage its other rows count — iteration/loop
//! container rows (Dify stores their children's sum) and rows exported twice. The baseline is
//! what the app's rows add up to, so it includes them; this step takes them out (negative).

use super::{Amount, Cause, Context, GroupView, Measured, Place, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::UsageRecord;

pub const NAME: &str = "double_counting";

pub struct DoubleCounting;

static PLANT: Plant = Plant {
    amount: "share of runs with an iteration container; the node export is also split into two files that overlap by max(1, round(AMOUNT × days)) UTC days",
    kind: Amount::Share,
    default: [0.15, 0.15],
    only: None,
};

impl Cause for DoubleCounting {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: repeating rows inside the window (outside it they are no traffic at all).
    fn on_baseline(&self, rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        if at.repeats && at.in_window {
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
            format!(
                "{} baseline rows repeat usage its other rows already count (iteration/loop container rows carry their children's sum; rows exported twice); the baseline includes them as its rows add up, this step takes them out",
                crate::report::count(m.records as i64)
            ),
        )
    }

    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        p.app.filter(|a| a.link.repeats.is_some()).map(|_| NAME)
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
