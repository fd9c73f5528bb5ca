//! Image and audio tokens the bill charges apart and the app counts as text, end to end
//! (`fixtures/multimodal_tokens/`): a Dify app's two Gemini 2.5 Flash calls through the Vertex
//! AI plugin, a receipt photo and a voice note, each recorded with Gemini's whole prompt count
//! as prompt tokens, and the GCP billing export of the hour, whose Image Input and Audio Input
//! SKUs bill the media.
//!
//! By hand (gemini-2.5-flash since 2025-10-31: $0.30 input, images at the input price, $1.00
//! audio input, $2.50 output per 1M):
//! - app: 1,200 + 400 → 0.00036 + 0.001 = 0.00136; 3,200 + 250 → 0.00096 + 0.000625 =
//!   0.001585; together $0.002945 for 5,050 tokens.
//! - bill: text input 974 → 0.0002922; image 258 → 0.0000774; audio 3,168 → 0.003168; output
//!   650 → 0.001625; together $0.0051626 for 5,050 tokens.
//! - multimodal_tokens: the app's 4,400 prompt tokens are 3,426 above the bill's 974 text
//!   tokens, so the 258 image and 3,168 audio tokens were counted as text: 258 × $0 +
//!   3,168 × $0.70 / 1M = $0.0022176; nothing else: 0.002945 + 0.0022176 = 0.0051626.

mod common;
use common::*;

#[test]
fn media_the_app_counts_as_text_is_the_multimodal_step_at_the_audio_premium() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/multimodal_tokens");
    let files = [
        dir.join("dify_messages.csv"),
        dir.join("billing_export.jsonl"),
    ];
    let args: Vec<std::ffi::OsString> = files.iter().map(|p| p.into()).collect();
    let r = reconcile_json(&args);
    let t = &comparison(&r, "dify", "gcp")["totals"];
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.002945"));
    assert_eq!(tokens(&t["baseline"]["tokens"], "total"), 5050);
    assert_eq!(dec(&t["reference"]["cost"]), d("0.0051626"));
    assert_eq!(tokens(&t["reference"]["tokens"], "total"), 5050);
    let s = step(t, "multimodal_tokens");
    assert_eq!(tokens(&s["tokens"], "input"), -3426);
    assert_eq!(tokens(&s["tokens"], "input_image"), 258);
    assert_eq!(tokens(&s["tokens"], "input_audio"), 3168);
    assert_eq!(tokens(&s["tokens"], "total"), 0);
    assert_eq!(dec(&s["cost"]), d("0.0022176"));
    // The two bill lines that bill media.
    assert_eq!(s["records"], 2);
    let note = s["note"].as_str().unwrap();
    assert!(
        note.contains("3,426 image and audio tokens (258 input_image, 3,168 input_audio)")
            && note.contains("0 the baseline does not record, 3,426 it counts as text"),
        "{note}"
    );
    // The audio premium is a price to set (its money to six places); images at the text price
    // are not.
    let remedy = s["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("(gemini-2.5-flash input_audio 3,168 tokens, 0.002218)")
            && !remedy.contains("input_image"),
        "{remedy}"
    );
    // No other step takes the media: the text the app counted is the bill's once moved.
    for other in ["tokenizer_drift", "reasoning_tokens", "price_mismatch"] {
        assert_eq!(dec(&step(t, other)["cost"]), d("0"), "{other}");
    }
    assert_eq!(tokens(&step(t, "unexplained")["tokens"], "total"), 0);
    assert_eq!(dec(&step(t, "unexplained")["cost"]), d("0"));
    ties_out(t, "dify → gcp");
}
