//! Knowledge-base rerank lines on the bill that the app never records, end to end
//! (`fixtures/rerank/`): a Dify app's two qwen-plus calls (prices in RMB) and the Alibaba Model
//! Studio bill of the same Beijing day, whose app key also carries gte-rerank-v2 and
//! qwen3-rerank lines, and another key's gte-rerank-v2 line.
//!
//! By hand (CNY):
//! - app: 60 × 0.0008 + 10 × 0.002 = 0.068 and 40 × 0.0008 + 5 × 0.002 = 0.042, 0.11 in all.
//! - bill: qwen-plus 0.08 + 0.03 = 0.11; key 1001 gte-rerank-v2 0.2 (250 千Token × 0.0008)
//!   and qwen3-rerank 0.05 (100 千Token × 0.0005); key 1002 gte-rerank-v2 0.04 (50 × 0.0008);
//!   0.40 in all.
//! - rerank: 0.2 + 0.05 = 0.25 at the bill's money, 250,000 + 100,000 = 350,000 tokens; the
//!   qwen3-rerank line has no table price, so only the bill's money can value it.
//! - unattributed_traffic: 0.04. unexplained: 0.40 − 0.11 − 0.25 − 0.04 = 0; without the step
//!   the 0.25 (and the 350,000 tokens) stay unexplained.

mod common;
use common::*;

fn report() -> serde_json::Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rerank");
    let mut args: Vec<std::ffi::OsString> = vec![
        dir.join("dify_messages_tongyi.csv").into(),
        dir.join("bill-details-zh.csv").into(),
    ];
    for a in [
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-06",
        "--tz",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        "--key",
        "1001",
    ] {
        args.push(a.into());
    }
    reconcile_json(&args)
}

#[test]
fn rerank_lines_the_app_never_records_are_their_own_step_at_the_bills_money() {
    let r = report();
    let c = comparison(&r, "dify", "alibaba");
    let t = &c["totals"];
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.11"));
    assert_eq!(dec(&t["reference"]["cost"]), d("0.40"));
    let rerank = step(t, "rerank");
    assert_eq!(dec(&rerank["cost"]), d("0.25"));
    assert_eq!(tokens(&rerank["tokens"], "input"), 350_000);
    assert_eq!(rerank["records"], 2);
    assert_eq!(dec(&step(t, "unattributed_traffic")["cost"]), d("0.04"));
    // The 0.25 the step takes out is exactly what was left unexplained without it.
    assert_eq!(dec(&step(t, "unexplained")["cost"]), d("0"));
    assert_eq!(tokens(&step(t, "unexplained")["tokens"], "total"), 0);
    // Rerank is not embeddings: each step keeps its own lines.
    assert_eq!(dec(&step(t, "embeddings")["cost"]), d("0"));
    let note = rerank["note"].as_str().unwrap();
    assert!(
        note.contains("gte-rerank-v2: 1 line") && note.contains("qwen3-rerank: 1 line"),
        "{note}"
    );
    let remedy = rerank["remedy"].as_str().unwrap();
    assert!(
        remedy.starts_with("2 rerank lines on gte-rerank-v2, qwen3-rerank cost 0.25")
            && remedy.contains("knowledge base's rerank setting"),
        "{remedy}"
    );
    // The qwen-plus group agrees to the fen: the app's calls are all of the chat usage.
    for g in c["groups"].as_array().unwrap() {
        if g["key"]["model"] == "qwen-plus" {
            assert_eq!(dec(&step(g, "rerank")["cost"]), d("0"));
        }
    }
    ties_out(t, "dify → alibaba");
}
