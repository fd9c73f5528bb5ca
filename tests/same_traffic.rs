//! The same traffic billed two ways normalizes to the same canonical records: gpt-4o through
//! the OpenAI Usage API and through an Azure OpenAI deployment (EA cost export). (Claude through
//! the Anthropic Admin API and through Bedrock: `source::aws` tests and tests/bedrock_e2e.rs.)

use llm_recon::record::{Usage, UsageClass};
use llm_recon::source::read_all;
use std::path::Path;

#[test]
fn gpt_4o_via_openai_and_via_azure_are_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    // OpenAI: one daily bucket, 2026-10-01 UTC (1790812800 .. 1790899200), gpt-4o's 2024-05-13
    // snapshot, 4000 input (none cached) and 1000 output tokens.
    let openai = dir.path().join("usage_completions.json");
    std::fs::write(
        &openai,
        r#"{"object": "page", "data": [{"object": "bucket", "start_time": 1790812800,
  "end_time": 1790899200, "results": [{"object": "organization.usage.completions.result",
  "input_tokens": 4000, "output_tokens": 1000, "input_cached_tokens": 0, "input_audio_tokens": 0,
  "output_audio_tokens": 0, "num_model_requests": 12, "project_id": null, "user_id": null,
  "api_key_id": null, "model": "gpt-4o-2024-05-13", "batch": false}]}],
  "has_more": false, "next_page": null}"#,
    )
    .unwrap();
    // Azure: the EA export's first two rows, the same day on deployment gpt 4o 0513: 4 × 1K input
    // and 1 × 1K output tokens.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/azure/ea_actual_cost.csv");
    let text = std::fs::read_to_string(fixture).unwrap();
    let azure = dir.path().join("ea.csv");
    std::fs::write(
        &azure,
        text.lines().take(3).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();

    let (_, o) = read_all(&openai).unwrap();
    let (_, a) = read_all(&azure).unwrap();
    assert!(o.rejected.is_empty() && a.rejected.is_empty());
    let sum =
        |recs: &[llm_recon::record::UsageRecord]| recs.iter().fold(Usage::ZERO, |u, r| u + r.usage);
    let expected = Usage::of(&[(UsageClass::Input, 4_000), (UsageClass::Output, 1_000)]);
    assert_eq!(sum(&o.records), expected);
    assert_eq!(sum(&a.records), expected);
    for r in o.records.iter().chain(&a.records) {
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("openai", "gpt-4o")
        );
        assert_eq!(
            (r.start.timestamp(), r.end.timestamp()),
            (1_790_812_800, 1_790_899_200)
        );
    }
}
