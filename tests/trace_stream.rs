//! The trace streams into the comparisons instead of being held: a call of it that names no
//! provider waits until the trace's other calls have shown the one bill they use, and is
//! compared with that bill like the others.

mod common;

use common::{comparison, reconcile_json};

const BILL: &str = "fixtures/demo/openai_usage_completions_p1.json";
const TRACE: &str = "fixtures/demo/langfuse_observations.csv";

/// The demo trace with one OpenAI generation's model renamed to one the catalog does not know
/// (a fine-tune behind a custom name): nothing on the row names its provider any more.
fn trace_with_one_nameless_call(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(TRACE).unwrap();
    let mut renamed = false;
    let lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| {
            if !renamed
                && line.contains(",GENERATION,")
                && line.contains("2026-10-0")
                && line.contains(",gpt-4.1-mini-2025-04-14,")
            {
                renamed = true;
                line.replacen(",gpt-4.1-mini-2025-04-14,", ",house-model-7,", 1)
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(
        renamed,
        "the demo trace has an October gpt-4.1-mini generation"
    );
    let path = dir.join("langfuse_observations.csv");
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

#[test]
fn a_trace_call_naming_no_provider_is_compared_with_the_only_bill_the_trace_uses() {
    let dir = tempfile::tempdir().unwrap();
    let trace = trace_with_one_nameless_call(dir.path());
    let before = reconcile_json(&[TRACE, BILL]);
    let after = reconcile_json(&[trace.to_str().unwrap(), BILL]);
    let records = |r: &serde_json::Value| {
        comparison(r, "langfuse", "openai")["totals"]["baseline"]["records"]
            .as_u64()
            .unwrap()
    };
    // Still one of the bill's calls: had it been dropped or left unbilled, one fewer.
    assert_eq!(records(&after), records(&before));
    assert!(
        after["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("langfuse: 1 calls that name no provider are routed to the only bill")),
        "{}",
        after["notes"]
    );
}
