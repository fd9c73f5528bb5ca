//! Recount of a matched app call's text, to explain its `tokenizer_drift`.
//!
//! The drift of a call is what the provider reported (the trace's counts) minus what the app
//! reported. With the call's text and the model's public tokenizer, the prompt is recounted
//! several ways, and the app's prompt count is compared with each:
//!
//! - the model's tokenizer with the provider's chat framing (what the provider bills);
//! - the same tokenizer on the message text alone (framing left out);
//! - Dify's GPT-2 estimate of the first prompt message only (its OpenAI-compatible plugin on a
//!   stream without usage);
//! - Dify's GPT-2 estimate of every message's text, summed;
//! - Dify's non-streaming OpenAI-compatible estimate (GPT-2 of the model name + 5 per character
//!   of the first message).
//!
//! The drift's tokens then split into "message framing" (framed − unframed recount), "the app
//! used another tokenizer/estimate" (unframed recount − app count, prompt and answer), and a
//! residual where the provider's own count differs from the recount.
//!
//! Call text (`CallText::input`) is the prompt as the source wrote it: Dify's saved form
//! `[{"role", "text", "files"}, …]`, an OpenAI messages array or `{"messages": […]}`, a JSON
//! string, or plain text (counted without framing). `output` is the answer text, or a JSON
//! object whose `text` or `content` is the answer.

use crate::record::{CallText, Usage, UsageRecord};
use crate::tokenize::chat::{Framing, count_chat};
use crate::tokenize::{Tokenizer, dify};
use serde_json::Value;

/// Which count the app's prompt count equals, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explanation {
    ProviderFramed,
    ProviderUnframed,
    DifyFirstMessage,
    DifyGpt2All,
    DifyNonStream,
    /// The prompt count agrees with the provider; only the answer's count drifts.
    OutputOnly,
    Unexplained,
}

impl Explanation {
    const ALL: [Explanation; 7] = [
        Explanation::DifyFirstMessage,
        Explanation::DifyGpt2All,
        Explanation::DifyNonStream,
        Explanation::ProviderUnframed,
        Explanation::ProviderFramed,
        Explanation::OutputOnly,
        Explanation::Unexplained,
    ];

    fn describe(self) -> &'static str {
        match self {
            Explanation::ProviderFramed => {
                "equal the model's tokenizer with framing (the provider's own count differs)"
            }
            Explanation::ProviderUnframed => {
                "equal the model's tokenizer on the message text without chat framing"
            }
            Explanation::DifyFirstMessage => {
                "equal Dify's first-message GPT-2 estimate (OpenAI-compatible stream without usage)"
            }
            Explanation::DifyGpt2All => "equal a GPT-2 count of all message text",
            Explanation::DifyNonStream => {
                "equal Dify's non-streaming estimate (GPT-2 of the model name + 5 per character)"
            }
            Explanation::OutputOnly => "differ in the answer's count only",
            Explanation::Unexplained => "unexplained estimate",
        }
    }
}

/// One drifting call, recounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRecount {
    pub explanation: Explanation,
    /// The framed recount equals the provider-reported prompt count.
    pub provider_agrees: bool,
    /// Framed − unframed recount (0 when no framing is known for the model).
    pub framing: i64,
    /// Unframed recount − app prompt count, plus answer recount − app answer count.
    pub estimate: i64,
}

/// Recounts a matched call whose counts differ from the provider's. `None` when the call has
/// no text, its model has no public tokenizer, or its prompt cannot be read as messages/text.
pub fn recount(app: &UsageRecord, provider: &Usage) -> Option<CallRecount> {
    let text = app.text.as_deref()?;
    let model = if app.model_raw.is_empty() {
        &app.model
    } else {
        &app.model_raw
    };
    let tokenizer = Tokenizer::for_model(model)
        .or_else(|_| Tokenizer::for_model(&app.model))
        .ok()?;
    let prompt = Prompt::parse(text)?;
    let app_in = app.usage.input_total();
    let app_out = app.usage.output_total();
    let provider_in = provider.input_total();

    let (framed, unframed, first, all, nonstream) = match &prompt {
        Prompt::Messages(msgs) => {
            let unframed: i64 = msgs
                .iter()
                .map(|m| {
                    let c = m.get("content").unwrap_or(&Value::Null);
                    tokenizer.count(&dify::content_text(c)) as i64
                })
                .sum();
            let framed = Framing::for_encoding(tokenizer.encoding(), Some(model))
                .ok()
                .and_then(|f| count_chat(&tokenizer, &f, msgs, &[]).ok())
                .map(|c| c.tokens as i64);
            let all: i64 = msgs
                .iter()
                .map(|m| {
                    let c = m.get("content").unwrap_or(&Value::Null);
                    dify::gpt2_estimate(&dify::content_text(c)) as i64
                })
                .sum();
            let first = dify::oai_compat_prompt_estimate(msgs).map(|n| n as i64);
            let nonstream = msgs.first().and_then(|m| {
                dify::oai_compat_nonstream_estimate(model, m.get("content")?).map(|n| n as i64)
            });
            (framed, unframed, first, Some(all), nonstream)
        }
        Prompt::Text(t) => {
            let n = tokenizer.count(t) as i64;
            let g = dify::gpt2_estimate(t) as i64;
            let ns = dify::oai_compat_nonstream_estimate(model, &Value::String(t.clone()))
                .map(|n| n as i64);
            (None, n, Some(g), Some(g), ns)
        }
    };
    let explanation = if app_in == provider_in {
        Explanation::OutputOnly
    } else if first == Some(app_in) {
        Explanation::DifyFirstMessage
    } else if all == Some(app_in) {
        Explanation::DifyGpt2All
    } else if nonstream == Some(app_in) {
        Explanation::DifyNonStream
    } else if unframed == app_in {
        Explanation::ProviderUnframed
    } else if framed == Some(app_in) {
        Explanation::ProviderFramed
    } else {
        Explanation::Unexplained
    };
    let answer = answer_text(&text.output);
    let out_part = match answer {
        Some(a) if app_out != provider.output_total() => tokenizer.count(&a) as i64 - app_out,
        _ => 0,
    };
    let in_part = if app_in != provider_in {
        unframed - app_in
    } else {
        0
    };
    let framing = match framed {
        Some(f) if app_in != provider_in => f - unframed,
        _ => 0,
    };
    Some(CallRecount {
        explanation,
        provider_agrees: framed.is_some_and(|f| f == provider_in),
        framing,
        estimate: in_part + out_part,
    })
}

enum Prompt {
    Messages(Vec<Value>),
    Text(String),
}

impl Prompt {
    fn parse(text: &CallText) -> Option<Prompt> {
        let raw = text.input.as_str();
        let first = raw.trim_start().as_bytes().first().copied();
        if raw.is_empty() {
            return None;
        }
        if !matches!(first, Some(b'[' | b'{' | b'"')) {
            return Some(Prompt::Text(raw.to_string()));
        }
        let v: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(_) => return Some(Prompt::Text(raw.to_string())),
        };
        let msgs = match v {
            Value::String(s) => return Some(Prompt::Text(s)),
            Value::Array(a) => a,
            Value::Object(mut o) => match o.remove("messages") {
                Some(Value::Array(a)) => a,
                _ => return None,
            },
            _ => return Some(Prompt::Text(raw.to_string())),
        };
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            let Value::Object(mut o) = m else {
                return None;
            };
            o.get("role")?.as_str()?;
            // Dify saves a message's text under `text`; OpenAI's key is `content`.
            if !o.contains_key("content")
                && let Some(t) = o.remove("text")
            {
                o.insert("content".into(), t);
            }
            o.remove("files");
            out.push(Value::Object(o));
        }
        Some(Prompt::Messages(out))
    }
}

/// The answer text: a string as is, or the `text`/`content` of a JSON object (Dify's node
/// `outputs`, an assistant message). `None` when there is no answer text.
fn answer_text(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    if raw.trim_start().starts_with('{')
        && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(raw)
    {
        return ["text", "content"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_string);
    }
    Some(raw.to_string())
}

/// Recounts of one group's (or the totals') drifting calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecountAcc {
    pub calls: u64,
    pub by: [u64; Explanation::ALL.len()],
    pub provider_agrees: u64,
    pub framing: i64,
    pub estimate: i64,
}

impl RecountAcc {
    pub fn add(&mut self, r: &CallRecount) {
        self.calls += 1;
        if let Some(i) = Explanation::ALL.iter().position(|e| *e == r.explanation) {
            self.by[i] += 1;
        }
        self.provider_agrees += u64::from(r.provider_agrees);
        self.framing += r.framing;
        self.estimate += r.estimate;
    }

    /// Calls whose prompt count equals one of Dify's own estimates.
    pub fn dify_estimates(&self) -> u64 {
        Explanation::ALL
            .iter()
            .zip(self.by)
            .filter(|(e, _)| {
                matches!(
                    e,
                    Explanation::DifyFirstMessage
                        | Explanation::DifyGpt2All
                        | Explanation::DifyNonStream
                )
            })
            .map(|(_, n)| n)
            .sum()
    }

    pub fn merge(&mut self, o: &RecountAcc) {
        self.calls += o.calls;
        for (a, b) in self.by.iter_mut().zip(o.by) {
            *a += b;
        }
        self.provider_agrees += o.provider_agrees;
        self.framing += o.framing;
        self.estimate += o.estimate;
    }

    /// The note's recount part, e.g. "recount of 157 calls: 150 equal Dify's first-message
    /// GPT-2 estimate (…), 7 unexplained estimate; recount agrees with the provider on 157;
    /// of the drift, 1,200 tokens are tokenizer/estimate and 300 message framing".
    /// `drift_records` and `drift_tokens` are the step's own; calls not recounted and tokens
    /// the recount does not account for are named.
    pub fn describe(&self, drift_records: u64, drift_tokens: i64) -> String {
        if self.calls == 0 {
            return if drift_records > 0 {
                "; not recounted: no call text or no public tokenizer for the model".to_string()
            } else {
                String::new()
            };
        }
        let count = |n: i64| crate::report::count(n);
        let parts: Vec<String> = Explanation::ALL
            .iter()
            .zip(self.by)
            .filter(|(_, n)| *n > 0)
            .map(|(e, n)| format!("{} {}", count(n as i64), e.describe()))
            .collect();
        let mut s = format!(
            "; recount of {} calls: {}; recount agrees with the provider on {}; tokens: {} tokenizer/estimate, {} message framing",
            count(self.calls as i64),
            parts.join(", "),
            count(self.provider_agrees as i64),
            count(self.estimate),
            count(self.framing)
        );
        let rest = drift_tokens - self.estimate - self.framing;
        if rest != 0 {
            s.push_str(&format!(
                ", {} not accounted for by the recount (answers without text, or provider counts that differ from the recount)",
                count(rest)
            ));
        }
        if drift_records > self.calls {
            s.push_str(&format!(
                "; {} calls not recounted (no text or no public tokenizer)",
                count((drift_records - self.calls) as i64)
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Origin, UsageClass};
    use chrono::TimeZone;

    fn call(model: &str, prompt: &str, answer: &str, app: (i64, i64)) -> UsageRecord {
        let at = chrono::Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap();
        let mut r = UsageRecord::call("n1".into(), Origin { file: 0, line: 1 }, at);
        r.set_model(Some("openai"), model);
        r.usage = Usage::of(&[(UsageClass::Input, app.0), (UsageClass::Output, app.1)]);
        r.text = Some(Box::new(CallText {
            input: prompt.into(),
            output: answer.into(),
        }));
        r
    }

    fn provider(input: i64, output: i64) -> Usage {
        Usage::of(&[(UsageClass::Input, input), (UsageClass::Output, output)])
    }

    /// Dify's saved form: system "hello world" + user "hello world".
    const HELLO2: &str = r#"[{"role": "system", "text": "hello world", "files": []}, {"role": "user", "text": "hello world", "files": []}]"#;

    #[test]
    fn first_message_estimate_and_framing_split() {
        // o200k: "hello world" = 2 tokens, "system"/"user" 1 each. Framed (cookbook rule):
        // (3 + 1 + 2) × 2 messages + 3 reply priming = 15; text alone 4; Dify's first-message
        // estimate = GPT-2("hello world") = 2 (tiktoken vector). App says 2, provider 15:
        // framing 15 − 4 = 11, estimate 4 − 2 = 2; 11 + 2 = the drift of 13.
        let r = call("gpt-4o-mini", HELLO2, "hello world", (2, 2));
        let rc = recount(&r, &provider(15, 2)).unwrap();
        assert_eq!(rc.explanation, Explanation::DifyFirstMessage);
        assert!(rc.provider_agrees);
        assert_eq!((rc.framing, rc.estimate), (11, 2));
    }

    #[test]
    fn app_counted_text_without_framing() {
        // "お誕生日おめでとう": o200k 8 tokens, GPT-2 14 (cookbook's encoding comparison), so
        // only the unframed o200k count explains an app count of 8; framed = 3 + 1 + 8 + 3 = 15.
        let p = r#"[{"role": "user", "content": "お誕生日おめでとう"}]"#;
        let r = call("gpt-4o-mini", p, "", (8, 0));
        let rc = recount(&r, &provider(15, 0)).unwrap();
        assert_eq!(rc.explanation, Explanation::ProviderUnframed);
        assert_eq!((rc.framing, rc.estimate), (7, 0));
        // The provider reports 16: the recount (15) disagrees with it.
        let rc = recount(&r, &provider(16, 0)).unwrap();
        assert!(!rc.provider_agrees);
    }

    #[test]
    fn nonstream_estimate_unexplained_and_output_only() {
        // Non-streaming estimate of "hello" for gpt-4o: GPT-2("gpt-4o") = 5, + 5 × 5 chars = 30.
        let p = r#"[{"role": "user", "text": "hello", "files": []}]"#;
        let r = call("gpt-4o", p, "", (30, 0));
        let rc = recount(&r, &provider(9, 0)).unwrap();
        assert_eq!(rc.explanation, Explanation::DifyNonStream);
        // No candidate gives 999.
        let r = call("gpt-4o-mini", HELLO2, "", (999, 0));
        let rc = recount(&r, &provider(15, 0)).unwrap();
        assert_eq!(rc.explanation, Explanation::Unexplained);
        assert_eq!((rc.framing, rc.estimate), (11, 4 - 999));
        // Prompt agrees, answer "hello world" is 2 o200k tokens but the app says 1: estimate 1.
        let r = call("gpt-4o-mini", HELLO2, r#"{"text": "hello world"}"#, (15, 1));
        let rc = recount(&r, &provider(15, 2)).unwrap();
        assert_eq!(rc.explanation, Explanation::OutputOnly);
        assert_eq!((rc.framing, rc.estimate), (0, 1));
    }

    #[test]
    fn plain_text_prompts_and_calls_that_cannot_be_recounted() {
        // Plain text: no framing known; GPT-2 and o200k both give 2 for "hello world".
        let r = call("gpt-4o-mini", "hello world", "", (2, 0));
        let rc = recount(&r, &provider(9, 0)).unwrap();
        assert_eq!(rc.explanation, Explanation::DifyFirstMessage);
        assert_eq!((rc.framing, rc.estimate), (0, 0));
        assert!(!rc.provider_agrees);
        // Claude has no public tokenizer; a call without text; a prompt that is not messages.
        let r = call("claude-sonnet-4-5", HELLO2, "", (2, 0));
        assert_eq!(recount(&r, &provider(15, 0)), None);
        let mut r = call("gpt-4o-mini", HELLO2, "", (2, 0));
        r.text = None;
        assert_eq!(recount(&r, &provider(15, 0)), None);
        let r = call("gpt-4o-mini", r#"[{"text": "no role"}]"#, "", (2, 0));
        assert_eq!(recount(&r, &provider(15, 0)), None);
    }

    /// fixtures/recount: four Dify LLM node executions and their Langfuse generations. Each
    /// prompt is system "hello world" + a user text; the provider's counts are the framed o200k
    /// counts (15, 17 for "hello world hello world" = 4 tokens: 3+1+2 + 3+1+4 + 3). The app
    /// says 2, 2 (first-message GPT-2 estimate), 500 (nothing explains it) and 15 (no drift).
    #[test]
    fn drift_step_note_explains_the_app_counts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recount");
        let files: Vec<std::path::PathBuf> =
            ["dify_node_executions.csv", "langfuse_observations.csv"]
                .iter()
                .map(|f| dir.join(f))
                .collect();
        let prices = crate::pricing::PriceBook::bundled().unwrap();
        let report = super::super::run(&files, &super::super::Options::default(), &prices).unwrap();
        let c = &report.comparisons[0];
        let step = c
            .totals
            .bridge
            .iter()
            .find(|s| s.cause == "tokenizer_drift")
            .unwrap();
        // (15 − 2) + (17 − 2) + (15 − 500) = −457 input tokens; at $0.15/M: −$0.00006855.
        assert_eq!(step.tokens[UsageClass::Input], -457);
        assert_eq!(step.tokens[UsageClass::Output], 0);
        assert_eq!(step.cost, rust_decimal_macros::dec!(-0.00006855));
        assert_eq!(step.method, "measured");
        // Framing 11 per call = 33; estimate (4 − 2) + (6 − 2) + (4 − 500) = −490;
        // −490 + 33 = −457: the split ties out, so no residual is named.
        assert!(
            step.note.ends_with(
                "; recount of 3 calls: 2 equal Dify's first-message GPT-2 estimate (OpenAI-compatible stream without usage), 1 unexplained estimate; recount agrees with the provider on 3; tokens: -490 tokenizer/estimate, 33 message framing"
            ),
            "{}",
            step.note
        );
    }

    /// The demo month: its 157 drift calls carry their real prompts, and the recount must name
    /// Dify's first-message estimate for every one of them and agree with the provider.
    #[test]
    fn demo_drift_is_explained_by_the_first_message_estimate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap())
                .unwrap();
        let n = truth["counts"]["drift_classifier_calls"].as_i64().unwrap();
        let drift = &truth["comparisons"][0]["steps"]["tokenizer_drift"]["tokens"];
        assert_eq!(truth["comparisons"][0]["reference"], "openai");
        let files: Vec<std::path::PathBuf> = [
            "dify_messages.csv",
            "dify_node_executions.csv",
            "langfuse_observations.csv",
            "openai_usage_completions_p1.json",
            "openai_usage_completions_p2.json",
        ]
        .iter()
        .map(|f| dir.join(f))
        .collect();
        let opts = super::super::Options {
            from: Some("2026-10-01".into()),
            to: Some("2026-11-01".into()),
            tz: chrono_tz::Asia::Shanghai,
            ..super::super::Options::default()
        };
        let prices = crate::pricing::PriceBook::bundled().unwrap();
        let report = super::super::run(&files, &opts, &prices).unwrap();
        let c = report
            .comparisons
            .iter()
            .find(|c| c.baseline == "dify" && c.reference == "openai")
            .unwrap();
        let step = c
            .totals
            .bridge
            .iter()
            .find(|s| s.cause == "tokenizer_drift")
            .unwrap();
        assert_eq!(
            step.tokens[UsageClass::Input],
            drift["input"].as_i64().unwrap()
        );
        let count = |x: i64| crate::report::count(x);
        let expected = format!(
            "recount of {} calls: {} equal Dify's first-message GPT-2 estimate (OpenAI-compatible stream without usage); recount agrees with the provider on {}",
            count(n),
            count(n),
            count(n)
        );
        assert!(step.note.contains(&expected), "{}", step.note);
        // The prompt side is split exactly (framed recount = the provider's count); what is
        // left is the answers' drift, whose text the classifier rows do not keep.
        let rest = format!(
            ", {} not accounted for by the recount (answers without text, or provider counts that differ from the recount)",
            count(drift["output"].as_i64().unwrap())
        );
        assert!(step.note.ends_with(&rest), "{}", step.note);
    }
}
