//! Thinking tokens the bill charges and the app does not record, end to end
//! (`fixtures/reasoning_tokens/`): a Dify app's two Gemini 2.5 Flash calls through the Vertex AI
//! plugin, recorded with the visible output only, and the GCP billing export of the hour, whose
//! "Thinking Text Output" SKU bills the thoughts.
//!
//! By hand (gemini-2.5-flash since 2025-10-31: $0.30 input, $2.50 output per 1M; thinking is
//! billed at the output price, the table lists no reasoning price of its own):
//! - app: 1,000 + 845 → 0.0003 + 0.0021125 = 0.0024125; 2,000 + 300 → 0.0006 + 0.00075 =
//!   0.00135; together $0.0037625 for 4,145 tokens.
//! - bill: input 3,000 → 0.0009; output 1,145 → 0.0028625; thinking 1,600 → 0.004; together
//!   $0.0077625 for 5,745 tokens.
//! - reasoning_tokens: 1,600 output_reasoning tokens, none counted as output by the app (its
//!   output 845 + 300 = 1,145 is the bill's visible output), 1,600 × 2.5e-6 = $0.004; nothing
//!   else: 0.0037625 + 0.004 = 0.0077625.

mod common;
use common::*;

#[test]
fn thinking_the_app_does_not_record_is_the_reasoning_step_at_the_output_price() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reasoning_tokens");
    let files = [
        dir.join("dify_messages.csv"),
        dir.join("billing_export.jsonl"),
    ];
    let args: Vec<std::ffi::OsString> = files.iter().map(|p| p.into()).collect();
    let r = reconcile_json(&args);
    let t = &comparison(&r, "dify", "gcp")["totals"];
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.0037625"));
    assert_eq!(tokens(&t["baseline"]["tokens"], "total"), 4145);
    assert_eq!(dec(&t["reference"]["cost"]), d("0.0077625"));
    let s = step(t, "reasoning_tokens");
    assert_eq!(tokens(&s["tokens"], "output_reasoning"), 1600);
    assert_eq!(tokens(&s["tokens"], "output"), 0);
    assert_eq!(dec(&s["cost"]), d("0.004"));
    // The one bill line that bills thinking.
    assert_eq!(s["records"], 1);
    let note = s["note"].as_str().unwrap();
    assert!(
        note.contains("1,600 the baseline does not record"),
        "{note}"
    );
    let remedy = s["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("gemini-2.5-flash 1,600 tokens, 0.004")
            && remedy.contains("thoughts_token_count"),
        "{remedy}"
    );
    assert_eq!(tokens(&step(t, "unexplained")["tokens"], "total"), 0);
    assert_eq!(dec(&step(t, "unexplained")["cost"]), d("0"));
    ties_out(t, "dify → gcp");
}
