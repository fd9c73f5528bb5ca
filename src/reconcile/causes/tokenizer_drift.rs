//! `tokenizer_drift`: per matched call, provider-reported counts − app counts, as input and
//! output, at the table's input/output prices; drifting calls whose text the app kept are
//! recounted, and the note says which count the app's equals.

use super::{
    Amount, Cause, Context, GroupView, MatchKind, Matched, Measured, Plant, SpotPair, Tally,
    unpriced_note,
};
use crate::reconcile::recount::CallRecount;
use crate::simulate::Provider;

pub const NAME: &str = "tokenizer_drift";

pub struct TokenizerDrift;

static PLANT: Plant = Plant {
    amount: "share of classifier calls that went through an OpenAI-compatible stream without usage, so Dify estimated them (OpenAI only)",
    kind: Amount::Share,
    default: [0.10, 0.0],
    only: Some(Provider::Openai),
};

impl Cause for TokenizerDrift {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Every difference no other cause explains; of a folded call, the output difference
    /// (folding explains only the prompt count). Thinking tokens the app's output count
    /// leaves out are `reasoning_tokens`', image and audio tokens `multimodal_tokens`'.
    fn on_matched(&self, m: &Matched, t: &mut Tally) {
        let d_out = m.d_out - m.reasoning - m.media.1;
        let (d_in, d_out) = match m.kind {
            MatchKind::Drift => (m.d_in - m.media.0, d_out),
            MatchKind::CacheFolded if d_out != 0 => (0, d_out),
            _ => return,
        };
        if d_in == 0 && d_out == 0 {
            return;
        }
        let (u, money) = m.delta(d_in, d_out);
        t.add_delta(&m.base.id, u, money);
    }

    fn on_recount(&self, r: &CallRecount, t: &mut Tally) {
        t.recount.add(r);
    }

    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        t.step(t.money)
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        cx.matched(
            "no trace among the inputs to match calls against",
            format!(
                "{} matched calls (message id = trace id, node execution id = generation id) whose app counts differ from the provider-reported counts{}{}",
                crate::report::count(m.records as i64),
                unpriced_note(m.unpriced),
                m.recount.describe(m.records, m.tokens.total())
            ),
        )
    }

    /// A drifting pair; an app call with no tokens at all is its own label.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.kind, p.app) {
            (Some(MatchKind::Drift), Some(a)) if a.usage.is_zero() => {
                Some("app_recorded_no_tokens")
            }
            (Some(MatchKind::Drift), _) => Some(NAME),
            _ => None,
        }
    }

    /// Calls Dify estimated with GPT-2 instead of taking the provider's count.
    fn remedy(&self, _cx: &Context, m: &Measured) -> Option<String> {
        let n = m.recount.dify_estimates();
        (n > 0).then(|| {
            format!(
                "{} calls were counted with Dify's GPT-2 estimate, not the provider's count (an OpenAI-compatible provider that streams without usage): turn on stream usage (stream_options.include_usage) for the model in the provider's settings, or use the model's own provider plugin",
                crate::report::count(n as i64)
            )
        })
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
