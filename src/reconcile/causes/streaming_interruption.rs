//! `streaming_interruption`: matched calls the user stopped mid-stream: the app kept its own
//! re-estimate (Dify: 0 tokens), the provider billed what it had read and generated; provider −
//! app as input and output, at table prices.

use super::{
    Amount, Cause, Context, GroupView, MatchKind, Matched, Measured, Plant, SpotPair, Tally,
    unpriced_note,
};

pub const NAME: &str = "streaming_interruption";

pub struct StreamingInterruption;

static PLANT: Plant = Plant {
    amount: "share of Answer calls the user stopped mid-stream",
    kind: Amount::Share,
    default: [0.02, 0.02],
    only: None,
};

impl Cause for StreamingInterruption {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_matched(&self, m: &Matched, t: &mut Tally) {
        if m.kind == MatchKind::Interrupted {
            let (u, money) = m.delta(m.d_in, m.d_out);
            t.add_delta(&m.base.id, u, money);
        }
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.money)
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        cx.matched(
            "no trace among the inputs to match stopped calls against",
            format!(
                "{} calls the user stopped mid-stream: the app recorded its own re-estimate (Dify: 0 tokens), the provider billed what it had read and generated{}",
                crate::report::count(m.records as i64),
                unpriced_note(m.unpriced)
            ),
        )
    }

    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        (p.kind == Some(MatchKind::Interrupted)).then_some(NAME)
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
