//! `multimodal_tokens`: image and audio tokens the reference bills in their own classes
//! (`input_image`, `input_audio`, `output_image`, `output_audio`: a GCP bill's "Image Input" /
//! "Audio Input" SKUs, OpenAI usage pages' `input_image_tokens` / `input_audio_tokens`, a trace's
//! per-modality usage details) that the baseline does not record as such. Two ways, as
//! `reasoning_tokens`: the baseline leaves them out (valued at the media price), or it counts
//! them as text (Dify records the provider's whole prompt count as prompt tokens and prices it
//! at the one input price it knows), a move from `input`/`output` to the media class valued at
//! (media price − text price): $0 where the provider bills images as text (Gemini, GPT-4.1),
//! the audio premium where it does not (Gemini 2.5 Flash: $1.00 against $0.30 per 1M).
//!
//! Measured per group from what the reference bills beyond the baseline and the steps so far:
//! on each side the baseline's non-media count beyond the reference's is media it counted as
//! text (moved out of `input` / `output`), taken by the media classes in class order (image, then audio), the rest of
//! the media missing. On matched calls the trace shows the missing media per call
//! ([`unrecorded_media`]); `tokenizer_drift` leaves that part of a call's difference to this
//! step, so no token is counted twice.
//!
//! The step's kinds (for the remedy) are `model class` + [`MISSING`] or [`AS_TEXT`], each
//! counting tokens (not records) and their money, and the matched calls that show missing
//! media.

use super::{
    Amount, Cause, Context, GroupView, Matched, Measured, Plant, SpotPair, Tally,
    matched_calls_note, reasoning_tokens,
};
use crate::reconcile::bridge::Valuation;
use crate::record::{Usage, UsageClass, UsageRecord};
use crate::simulate::Provider;
use rust_decimal::Decimal;

pub const NAME: &str = "multimodal_tokens";

/// Kind suffixes: media the baseline does not record at all, and media it counts as text.
pub const MISSING: &str = " not recorded";
pub const AS_TEXT: &str = " counted as text";

/// Each side's text class and its media classes, in the order the text excess is given to them.
const SIDES: [(UsageClass, [UsageClass; 2]); 2] = [
    (
        UsageClass::Input,
        [UsageClass::InputImage, UsageClass::InputAudio],
    ),
    (
        UsageClass::Output,
        [UsageClass::OutputImage, UsageClass::OutputAudio],
    ),
];

pub struct MultimodalTokens;

static PLANT: Plant = Plant {
    amount: "share of answer calls that attach an image (765 tokens: 1024 x 1024 at high detail), which the usage pages count as input_image_tokens and Dify and Langfuse as text input (OpenAI only; gpt-4.1 bills images at the text price, so the step moves tokens at $0)",
    kind: Amount::Share,
    default: [0.0, 0.0],
    only: Some(Provider::Openai),
};

fn has_media(u: &Usage) -> bool {
    SIDES.iter().flat_map(|(_, m)| m).any(|&c| u[c] != 0)
}

/// Of one call, the (input, output) media tokens the provider's count (`evidence`) shows beyond
/// the baseline's own media counts that the baseline's totals leave out: at most the side's
/// whole difference (an app that counts them as text misses none), on the output side after the
/// thinking `reasoning_tokens` takes.
pub fn unrecorded_media(base: &Usage, evidence: &Usage) -> (i64, i64) {
    let beyond = |classes: &[UsageClass; 2]| -> i64 {
        classes
            .iter()
            .map(|&c| (evidence[c] - base[c]).max(0))
            .sum()
    };
    let d_in = evidence.input_total() - base.input_total();
    let d_out = evidence.output_total()
        - base.output_total()
        - reasoning_tokens::unrecorded_reasoning(base, evidence);
    (
        beyond(&SIDES[0].1).min(d_in).max(0),
        beyond(&SIDES[1].1).min(d_out).max(0),
    )
}

impl Cause for MultimodalTokens {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Reference records that bill image or audio tokens: the step's evidence.
    fn on_reference(&self, rec: &UsageRecord, _v: &Valuation, t: &mut Tally) {
        if has_media(&rec.usage) {
            t.records += 1;
            t.note_evidence(&rec.id);
        }
    }

    /// Matched calls whose trace shows media the app's count leaves out (`requests` counts
    /// them), for the note.
    fn on_matched(&self, m: &Matched, t: &mut Tally) {
        if m.media != (0, 0) {
            t.requests += 1;
        }
    }

    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        let mut m = Measured::default();
        for (text, media) in SIDES {
            // The baseline's non-media count on this side beyond the reference's: media it
            // counted as text. Whole sides, not the text class alone, so that cached input the
            // baseline counts as plain input (moved by `cache_hits`, a later step) is not taken
            // for media.
            let non_media = |u: &Usage| -> i64 {
                UsageClass::ALL
                    .iter()
                    .filter(|&&c| c.is_input() == text.is_input() && !media.contains(&c))
                    .map(|&c| u[c])
                    .sum()
            };
            let mut text_excess = (non_media(&g.so_far) - non_media(&g.reference.usage)).max(0);
            let text_price = g.prices.and_then(|p| p.unit(text));
            for class in media {
                let beyond = g.reference.usage[class] - g.so_far[class];
                if beyond <= 0 {
                    continue;
                }
                let as_text = text_excess.min(beyond);
                text_excess -= as_text;
                let missing = beyond - as_text;
                m.tokens[class] += beyond;
                m.tokens[text] -= as_text;
                let media_price = g.prices.and_then(|p| p.unit(class));
                let mut value = |n: i64, price: Option<Decimal>, suffix: &str| {
                    if n == 0 {
                        return;
                    }
                    match price {
                        Some(p) => {
                            let money = Decimal::from(n) * p;
                            m.cost += money;
                            m.kinds.add(
                                &format!("{} {}{suffix}", g.model, class.name()),
                                n as u64,
                                money,
                            );
                        }
                        None => m.unpriced += 1,
                    }
                };
                value(missing, media_price, MISSING);
                value(
                    as_text,
                    media_price.zip(text_price).map(|(p, q)| p - q),
                    AS_TEXT,
                );
            }
        }
        if m.tokens.is_zero() {
            return m;
        }
        m.records = t.records;
        m.evidence = t.evidence.clone();
        if t.requests > 0 {
            m.kinds.add(super::MATCHED_CALLS, t.requests, Decimal::ZERO);
        }
        m
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        let media: i64 = SIDES
            .iter()
            .flat_map(|(_, c)| c)
            .map(|&c| m.tokens[c])
            .sum();
        if media == 0 {
            return (
                "measured",
                "the reference bills no image or audio tokens beyond what the baseline records as such"
                    .to_string(),
            );
        }
        let as_text = -(m.tokens[UsageClass::Input] + m.tokens[UsageClass::Output]);
        let by_class = SIDES
            .iter()
            .flat_map(|(_, c)| c)
            .filter(|&&c| m.tokens[c] != 0)
            .map(|&c| format!("{} {}", crate::report::count(m.tokens[c]), c.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let matched = matched_calls_note(cx, m, "media");
        (
            "measured",
            format!(
                "{} image and audio tokens ({by_class}) on {} reference records billed in their own classes: {} the baseline does not record, {} it counts as text{matched}{}",
                crate::report::count(media),
                crate::report::count(m.records as i64),
                crate::report::count(media - as_text),
                crate::report::count(as_text),
                if m.unpriced > 0 {
                    "; some media prices unknown, their money stays unexplained"
                } else {
                    ""
                }
            ),
        )
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }

    /// The trace shows image or audio tokens the app's count of the same call leaves out.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (Some(a), Some(t)) if unrecorded_media(&a.usage, &t.usage) != (0, 0) => Some(NAME),
            _ => None,
        }
    }

    /// Media the app does not record is spend it cannot see; media it counts as text at a
    /// price of its own is a price to set. Media counted as text at the same price (images on
    /// most chat models) is only how the systems count.
    fn remedy(&self, cx: &Context, m: &Measured) -> Option<String> {
        let kinds = m.kinds.largest();
        let pick = |suffix: &str, priced_apart: bool| -> String {
            kinds
                .iter()
                .filter_map(|(k, n, money)| k.strip_suffix(suffix).map(|what| (what, *n, *money)))
                .filter(|(_, _, money)| !priced_apart || !money.is_zero())
                .map(|(what, n, money)| {
                    format!(
                        "{what} {} tokens, {}",
                        crate::report::count(n as i64),
                        money.round_dp(6).normalize()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let missing = pick(MISSING, false);
        let as_text = pick(AS_TEXT, true);
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "{} bills image and audio tokens {} does not record ({missing}): record the provider's per-modality counts (OpenAI prompt_tokens_details.audio_tokens and completion_tokens_details.audio_tokens, Gemini usage_metadata.prompt_tokens_details by modality) beside the text counts",
                cx.setup.reference, cx.setup.baseline,
            ));
        }
        if !as_text.is_empty() {
            parts.push(format!(
                "{} counts image and audio tokens as text at the text price while the provider prices them apart ({as_text}): price the model's media tokens in the app, or take these calls' spend from the bill",
                cx.setup.baseline,
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrecorded_media_is_what_the_totals_leave_out() {
        use UsageClass::{Input, InputAudio, InputImage, Output, OutputAudio, OutputReasoning};
        let trace = Usage::of(&[
            (Input, 300),
            (InputImage, 258),
            (InputAudio, 3_168),
            (Output, 400),
            (OutputAudio, 900),
        ]);
        // Dify on Gemini: the whole prompt count as text, the output audio as text too.
        let as_text = Usage::of(&[(Input, 3_726), (Output, 1_300)]);
        assert_eq!(unrecorded_media(&as_text, &trace), (0, 0));
        // An app that counted the text only.
        let text_only = Usage::of(&[(Input, 300), (Output, 400)]);
        assert_eq!(unrecorded_media(&text_only, &trace), (3_426, 900));
        // Text estimated 20 high as well: of 3,426 media tokens 3,406 are missing.
        let high = Usage::of(&[(Input, 320), (Output, 400)]);
        assert_eq!(unrecorded_media(&high, &trace), (3_406, 900));
        // Thinking the app leaves out is reasoning's, not media's.
        let thinking = Usage::of(&[(Input, 10), (Output, 40), (OutputReasoning, 500)]);
        let app = Usage::of(&[(Input, 10), (Output, 40)]);
        assert_eq!(unrecorded_media(&app, &thinking), (0, 0));
        // A baseline that records the media itself.
        assert_eq!(unrecorded_media(&trace, &trace), (0, 0));
    }

    /// The spot check labels a pair whose trace shows media the app leaves out, not one whose
    /// app counts it as text, nor a pair of plain text drift (that is `tokenizer_drift`'s).
    #[test]
    fn the_spot_check_labels_media_the_app_leaves_out() {
        use crate::record::Origin;
        use UsageClass::{Input, InputAudio};
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let rec = |u: Usage| {
            let mut r = UsageRecord::call("m".into(), Origin { file: 0, line: 1 }, at);
            r.usage = u;
            r
        };
        let trace = rec(Usage::of(&[(Input, 32), (InputAudio, 3_168)]));
        let label = |app: &UsageRecord| {
            let pair = SpotPair {
                app: Some(app),
                app_reported: None,
                app_computed: None,
                trace: Some(&trace),
                kind: Some(super::super::classify_match(app, &trace.usage)),
            };
            (MultimodalTokens.spot_label(&pair), pair.kind)
        };
        let left_out = rec(Usage::of(&[(Input, 32)]));
        assert_eq!(
            label(&left_out),
            (Some(NAME), Some(super::super::MatchKind::MediaUnrecorded))
        );
        let as_text = rec(Usage::of(&[(Input, 3_200)]));
        assert_eq!(label(&as_text).0, None);
        let drift = rec(Usage::of(&[(Input, 3_250)]));
        assert_eq!(label(&drift), (None, Some(super::super::MatchKind::Drift)));
    }
}
