//! `reasoning_tokens`: thinking tokens the reference bills in their own class (`output_reasoning`:
//! Gemini `thoughts_token_count`, a GCP bill's "Thinking Text Output" SKU, OpenAI
//! `completion_tokens_details.reasoning_tokens` in a trace) that the baseline does not record
//! as such. Two ways: the baseline leaves them out (Dify on Gemini records the visible
//! candidates only), valued at the reasoning price; or it folds them into its output count
//! (Dify on OpenAI o-series: `completion_tokens` includes them), a move from `output` to
//! `output_reasoning` valued at (reasoning price − output price), usually $0. The mirror case:
//! the baseline records thinking as such and the reference counts it as visible output (a
//! Langfuse trace of OpenAI o-series calls against the usage pages, whose `output_tokens`
//! include the reasoning tokens): moved back from `output_reasoning` to `output`, at most what
//! the reference counts beyond the baseline's visible output, at (output − reasoning price).
//!
//! Measured per group from what the reference bills beyond the baseline and the steps so far,
//! so it follows every step that changes output counts (`streaming_interruption`,
//! `tokenizer_drift`): the part the baseline (or an earlier step) counts as visible output is
//! what it counts beyond the reference's visible output. On matched calls the trace shows the
//! missing thinking per call ([`unrecorded_reasoning`]); `tokenizer_drift` leaves that part
//! of a call's output difference to this step, so no token is counted twice.
//!
//! The step's kinds (for the remedy) are `model` + [`MISSING`], [`FOLDED`] or
//! [`BILLED_AS_OUTPUT`], each counting
//! tokens (not records) and their money, and the matched calls that show missing thinking.

use super::{
    Amount, Cause, Context, GroupView, Matched, Measured, Plant, SpotPair, Tally,
    matched_calls_note,
};
use crate::reconcile::bridge::Valuation;
use crate::record::{Usage, UsageClass, UsageRecord};
use crate::simulate::Provider;
use rust_decimal::Decimal;

pub const NAME: &str = "reasoning_tokens";

/// Kind suffixes: thinking the baseline does not record at all, and thinking it counts as
/// visible output.
pub const MISSING: &str = " not recorded";
pub const FOLDED: &str = " counted as output";
/// Kind suffix of the mirror case: thinking the baseline records as such that the reference
/// counts as visible output (a trace that splits OpenAI's reasoning out, against usage pages
/// whose `output_tokens` include it).
pub const BILLED_AS_OUTPUT: &str = " billed as output";

static PLANT: Plant = Plant {
    amount: "share of answer calls (not stopped) that go to o4-mini, which thinks 1,536 tokens before the answer: OpenAI's completion_tokens include them, so Dify and the usage pages count them as output and Langfuse as output_reasoning (OpenAI only; o4-mini bills thinking at the output price, so the step moves tokens at $0 app -> trace and back trace -> bill)",
    kind: Amount::Share,
    default: [0.0, 0.0],
    only: Some(Provider::Openai),
};

pub struct ReasoningTokens;

/// Of one call, the thinking tokens the provider's count (`evidence`) shows beyond the
/// baseline's own reasoning count that the baseline's output total leaves out: at most the
/// whole output difference (an app that folds them into its output misses none).
pub fn unrecorded_reasoning(base: &Usage, evidence: &Usage) -> i64 {
    let beyond = evidence[UsageClass::OutputReasoning] - base[UsageClass::OutputReasoning];
    let d_out = evidence.output_total() - base.output_total();
    beyond.min(d_out).max(0)
}

/// The mirror of thinking counted as output: of the `extra` thinking tokens the baseline (with
/// the steps so far) records beyond the reference, those the reference counts beyond the
/// baseline's visible output, moved back from `output_reasoning` to `output` at (output price −
/// reasoning price), usually $0. The rest is left to the steps after this one.
fn billed_as_output(g: &GroupView, t: &Tally, extra: i64) -> Measured {
    use UsageClass::{Output, OutputReasoning};
    let mut m = Measured::default();
    let moved = (g.reference.usage[Output] - g.so_far[Output]).clamp(0, extra);
    if moved == 0 {
        return m;
    }
    m.tokens[OutputReasoning] = -moved;
    m.tokens[Output] = moved;
    let reasoning = g.prices.and_then(|p| p.unit(OutputReasoning));
    let output = g.prices.and_then(|p| p.unit(Output));
    match output.zip(reasoning) {
        Some((o, r)) => {
            let money = Decimal::from(moved) * (o - r);
            m.cost += money;
            m.kinds.add(
                &format!("{}{BILLED_AS_OUTPUT}", g.model),
                moved as u64,
                money,
            );
        }
        None => m.unpriced = 1,
    }
    m.records = t.records;
    m.evidence = t.evidence.clone();
    m
}

impl Cause for ReasoningTokens {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Reference records that bill thinking tokens: the step's evidence.
    fn on_reference(&self, rec: &UsageRecord, _v: &Valuation, t: &mut Tally) {
        if rec.usage[UsageClass::OutputReasoning] != 0 {
            t.records += 1;
            t.note_evidence(&rec.id);
        }
    }

    /// Matched calls whose trace shows thinking the app's count leaves out (`requests` counts
    /// them, `usage` their thinking tokens), for the note.
    fn on_matched(&self, m: &Matched, t: &mut Tally) {
        if m.reasoning > 0 {
            t.requests += 1;
            t.usage[UsageClass::OutputReasoning] += m.reasoning;
        }
    }

    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        use UsageClass::{Output, OutputReasoning};
        let mut m = Measured::default();
        let beyond = g.reference.usage[OutputReasoning] - g.so_far[OutputReasoning];
        if beyond < 0 {
            return billed_as_output(g, t, -beyond);
        }
        if beyond == 0 {
            return m;
        }
        // What the baseline counts beyond the reference's visible output is thinking it
        // counted as output; the rest it never recorded.
        let as_output = (g.so_far[Output] - g.reference.usage[Output]).clamp(0, beyond);
        let missing = beyond - as_output;
        m.tokens[OutputReasoning] = beyond;
        m.tokens[Output] = -as_output;
        let reasoning = g.prices.and_then(|p| p.unit(OutputReasoning));
        let output = g.prices.and_then(|p| p.unit(Output));
        if missing > 0 {
            match reasoning {
                Some(r) => {
                    let money = Decimal::from(missing) * r;
                    m.cost += money;
                    m.kinds
                        .add(&format!("{}{MISSING}", g.model), missing as u64, money);
                }
                None => m.unpriced = 1,
            }
        }
        if as_output > 0 {
            match reasoning.zip(output) {
                Some((r, o)) => {
                    let money = Decimal::from(as_output) * (r - o);
                    m.cost += money;
                    m.kinds
                        .add(&format!("{}{FOLDED}", g.model), as_output as u64, money);
                }
                None => m.unpriced = 1,
            }
        }
        m.records = t.records;
        m.evidence = t.evidence.clone();
        if t.requests > 0 {
            m.kinds.add(super::MATCHED_CALLS, t.requests, Decimal::ZERO);
        }
        m
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        let reasoning = m.tokens[UsageClass::OutputReasoning];
        if reasoning < 0 {
            return (
                "measured",
                format!(
                    "{} thinking tokens the baseline records as output_reasoning that the reference counts as visible output (OpenAI's usage pages include reasoning in output_tokens){}",
                    crate::report::count(-reasoning),
                    if m.unpriced > 0 {
                        "; some reasoning prices unknown, their money stays unexplained"
                    } else {
                        ""
                    }
                ),
            );
        }
        if reasoning == 0 {
            return (
                "measured",
                "the reference bills no thinking tokens beyond what the baseline records as such"
                    .to_string(),
            );
        }
        let as_output = -m.tokens[UsageClass::Output];
        let matched = matched_calls_note(cx, m, "thinking");
        (
            "measured",
            format!(
                "{} thinking tokens on {} reference records billed as output_reasoning: {} the baseline does not record, {} it counts as visible output{matched}{}",
                crate::report::count(reasoning),
                crate::report::count(m.records as i64),
                crate::report::count(reasoning - as_output),
                crate::report::count(as_output),
                if m.unpriced > 0 {
                    "; some reasoning prices unknown, their money stays unexplained"
                } else {
                    ""
                }
            ),
        )
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }

    /// The trace shows thinking tokens the app's count of the same call leaves out.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (Some(a), Some(t)) if unrecorded_reasoning(&a.usage, &t.usage) > 0 => Some(NAME),
            _ => None,
        }
    }

    /// Thinking the app does not record is spend it cannot see; thinking it counts as output
    /// at a price of its own is a price to set. Thinking counted as output at the same price
    /// is only how the systems count.
    fn remedy(&self, cx: &Context, m: &Measured) -> Option<String> {
        let kinds = m.kinds.largest();
        let missing: Vec<_> = kinds
            .iter()
            .filter_map(|(k, n, money)| k.strip_suffix(MISSING).map(|model| (model, *n, *money)))
            .collect();
        let folded: Vec<_> = kinds
            .iter()
            .filter_map(|(k, n, money)| k.strip_suffix(FOLDED).map(|model| (model, *n, *money)))
            .filter(|(_, _, money)| !money.is_zero())
            .collect();
        let billed: Vec<_> = kinds
            .iter()
            .filter_map(|(k, n, money)| {
                k.strip_suffix(BILLED_AS_OUTPUT)
                    .map(|model| (model, *n, *money))
            })
            .filter(|(_, _, money)| !money.is_zero())
            .collect();
        let list = |v: &[(&str, u64, Decimal)]| {
            v.iter()
                .map(|(model, n, money)| {
                    format!(
                        "{model} {} tokens, {}",
                        crate::report::count(*n as i64),
                        money.round_dp(6).normalize()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "{} bills thinking tokens {} does not record ({}): the app records the visible output only (Dify on Gemini: the candidates count) — record the provider's thinking count (Gemini usage_metadata.thoughts_token_count, OpenAI completion_tokens_details.reasoning_tokens) beside the output, or cap thinking (Gemini thinking_budget, OpenAI reasoning_effort)",
                cx.setup.reference,
                cx.setup.baseline,
                list(&missing),
            ));
        }
        if !folded.is_empty() {
            parts.push(format!(
                "{} counts thinking tokens as visible output at the output price while they are priced apart ({}): price the model's reasoning tokens in the app",
                cx.setup.baseline,
                list(&folded),
            ));
        }
        if !billed.is_empty() {
            parts.push(format!(
                "{} bills thinking tokens as output while {} prices them apart ({}): price the model's reasoning tokens as its output",
                cx.setup.reference,
                cx.setup.baseline,
                list(&billed),
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrecorded_reasoning_is_the_thinking_the_output_total_leaves_out() {
        use UsageClass::{Input, Output, OutputReasoning};
        let trace = Usage::of(&[(Input, 5), (Output, 845), (OutputReasoning, 1173)]);
        // Dify on Gemini: the candidates only.
        let app = Usage::of(&[(Input, 5), (Output, 845)]);
        assert_eq!(unrecorded_reasoning(&app, &trace), 1173);
        // Dify on o-series: output 845 + 1173 = 2018 folded, nothing missing.
        let folded = Usage::of(&[(Input, 5), (Output, 2018)]);
        assert_eq!(unrecorded_reasoning(&folded, &trace), 0);
        // Visible output estimated 45 low as well: the difference is 1218, thinking 1173 of it.
        let low = Usage::of(&[(Input, 5), (Output, 800)]);
        assert_eq!(unrecorded_reasoning(&low, &trace), 1173);
        // Output 100 above the visible: of 1173 thinking tokens 1073 are missing.
        let high = Usage::of(&[(Input, 5), (Output, 945)]);
        assert_eq!(unrecorded_reasoning(&high, &trace), 1073);
        // A baseline that records the thinking itself.
        assert_eq!(unrecorded_reasoning(&trace, &trace), 0);
    }
}
