//! `auxiliary_calls`: the app's housekeeping calls its own tables never record — Dify's
//! conversation naming and suggested questions — seen in the trace; at table prices.

use super::{Amount, Cause, Context, GroupView, Measured, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Status, UsageRecord};

pub const NAME: &str = "auxiliary_calls";

pub struct AuxiliaryCalls;

static PLANT: Plant = Plant {
    amount: "share of answered messages followed by a conversation-naming (first message) or suggested-questions call",
    kind: Amount::Share,
    default: [0.3, 0.3],
    only: None,
};

/// A trace generation (or trace) named `generate_conversation_name` / `suggested_question`
/// that did not fail (a failed one is a retry).
fn is_housekeeping(r: &UsageRecord) -> bool {
    r.link.auxiliary && r.link.status != Status::Error
}

impl Cause for AuxiliaryCalls {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_unrecorded(&self, rec: &UsageRecord, v: &Valuation, t: &mut Tally) {
        if is_housekeeping(rec) {
            t.add(rec, v);
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.computed)
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        cx.seen_in_trace(
            "the baseline records the app's housekeeping calls",
            "no trace among the inputs: conversation naming and suggested questions cannot be seen",
            format!(
                "{} conversation-naming / suggested-question calls in {} that the app's tables never record; valued at table prices",
                crate::report::count(m.records as i64),
                cx.trace()
            ),
        )
    }

    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (None, Some(t)) if is_housekeeping(t) => Some(NAME),
            _ => None,
        }
    }

    fn remedy(&self, _cx: &Context, m: &Measured) -> Option<String> {
        (m.records > 0).then(|| {
            format!(
                "conversation naming and suggested questions were {} calls ({} tokens): suggested questions can be switched off in the app's features, conversation naming with auto_generate_name false on the service API",
                crate::report::count(m.records as i64),
                crate::report::count(m.tokens.total())
            )
        })
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
