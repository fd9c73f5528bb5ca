//! The attribution-accuracy sweep: simulated worlds with known planted causes (each cause
//! alone, none, every cause together; OpenAI and Anthropic bills, and one app on both with both
//! bills; 32 seeds), reconciled by the
//! report as a user would run it (`demo --dir`, the world's own settings). Every cause the report
//! finds must be within 1 % of the variance (or 1 token / $0.0001, whichever is larger) of what
//! was planted, in each comparison, in total tokens, per token class and in money — and
//! `unexplained` within the same bound of the truly unexplained part.
//!
//! The month-scale version of the sweep is `cargo bench --bench sweep` (table in the README).

mod common;
use common::*;

use assert_cmd::Command;
use llm_recon::simulate::{self, Config, Provider};
use rust_decimal::Decimal;
use serde_json::Value;

/// Simulates one world and checks the report against its truth; returns how many
/// (comparison, cause) pairs were checked with a non-zero planted amount.
fn check_world(seed: u64, provider: Provider, causes: &[&str]) -> usize {
    check_worlds(seed, &[provider], causes)
}

/// The same for an app on several providers (one world per provider, one export set, a bill
/// each): every bill comparison against its own truth, `dify → langfuse` against all of it.
fn check_worlds(seed: u64, providers: &[Provider], causes: &[&str]) -> usize {
    let list: Vec<String> = causes.iter().map(|s| s.to_string()).collect();
    let base = Config {
        seed,
        calls: 80 * providers.len(),
        days: 3,
        start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        tz: "Asia/Shanghai".parse().unwrap(),
        provider: providers[0],
        amounts: [0.0; simulate::STEPS],
        one_node_export: false,
    };
    let worlds = simulate::split_by_provider(&base, providers, &list).unwrap();
    let dir = tempfile::tempdir().unwrap();
    simulate::run_worlds(&worlds, dir.path()).unwrap_or_else(|e| panic!("simulate: {e}"));
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["demo", "--dir", dir.path().to_str().unwrap()])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "seed {seed} {causes:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let what = format!("seed {seed} {providers:?} {causes:?}");
    for s in report["sources"].as_array().unwrap() {
        assert_eq!(s["rows_rejected"], 0, "{what}: {}", s["name"]);
    }
    let mut planted_checked = 0;
    // One comparison per bill and app → trace, no more and no fewer than the truth's.
    assert_eq!(
        report["comparisons"].as_array().unwrap().len(),
        2 * providers.len() + 1,
        "{what}"
    );
    for t in truth["comparisons"].as_array().unwrap() {
        let (b, r) = (
            t["baseline"].as_str().unwrap(),
            t["reference"].as_str().unwrap(),
        );
        let c = &report["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["baseline"] == b && c["reference"] == r)
            .unwrap_or_else(|| panic!("{what}: no comparison {b} → {r}"))["totals"];
        let var_tokens = c["variance"]["tokens"]["total"].as_i64().unwrap().abs();
        let var_cost = dec(&c["variance"]["cost"]).abs();
        let tok_bound = (var_tokens as f64 / 100.0).max(1.0);
        let cost_bound = (var_cost / Decimal::ONE_HUNDRED).max(Decimal::new(1, 4));
        for cause in simulate::causes() {
            let planted = &t["steps"][cause];
            let found = c["bridge"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["cause"] == cause)
                .unwrap_or_else(|| panic!("{what}: {b} → {r} has no step {cause}"));
            let (pt, ft) = (
                planted["tokens"]["total"].as_i64().unwrap(),
                found["tokens"]["total"].as_i64().unwrap(),
            );
            let (pc, fc) = (dec(&planted["cost"]), dec(&found["cost"]));
            assert!(
                (ft - pt).abs() as f64 <= tok_bound,
                "{what}: {b} → {r} {cause} tokens found {ft}, planted {pt} (bound {tok_bound})"
            );
            assert!(
                (fc - pc).abs() <= cost_bound,
                "{what}: {b} → {r} {cause} cost found {fc}, planted {pc} (bound {cost_bound})"
            );
            for class in CLASSES {
                let (p, f) = (
                    tokens(&planted["tokens"], class),
                    tokens(&found["tokens"], class),
                );
                assert!(
                    (f - p).abs() as f64 <= tok_bound,
                    "{what}: {b} → {r} {cause} {class}: found {f}, planted {p}"
                );
            }
            // A move between classes (media counted as text, thinking counted as output)
            // plants no total and no money.
            if pt != 0
                || !pc.is_zero()
                || CLASSES
                    .iter()
                    .any(|class| tokens(&planted["tokens"], class) != 0)
            {
                planted_checked += 1;
            }
        }
    }
    planted_checked
}

/// Each OpenAI-world cause alone plants (and the report finds) that cause; `none` plants
/// nothing and the report finds nothing.
#[test]
fn sweep_openai_each_cause_alone_and_none() {
    let cases: [&[&str]; 16] = [
        &["none"],
        &["window_misalignment=1"],
        &["unattributed_traffic=1.5"],
        &["embeddings=0.12"],
        &["auxiliary_calls=0.3"],
        &["retries=0.1"],
        &["double_counting=0.2"],
        &["streaming_interruption=0.05"],
        &["tokenizer_drift=0.2"],
        &["cache_hits=0.6"],
        &["price_mismatch=0.5"],
        &["unexplained=0.1"],
        &["service_tier=0.3"],
        &["multimodal_tokens=0.3"],
        &["reasoning_tokens=0.3"],
        // Thinking beside the window's edges (the trace's calls there), priority-served
        // o4-mini calls and cached prompts.
        &[
            "reasoning_tokens=0.3",
            "window_misalignment=1",
            "service_tier=0.3",
            "cache_hits=0.6",
        ],
    ];
    for (i, causes) in cases.iter().enumerate() {
        let n = check_world(100 + i as u64, Provider::Openai, causes);
        if causes[0] == "none" {
            assert_eq!(n, 0, "none planted something");
        } else {
            assert!(n > 0, "{causes:?} planted nothing");
        }
    }
}

/// Every cause at once (the default mix), on several seeds and both providers.
#[test]
fn sweep_every_cause_together() {
    for seed in [200, 201, 202, 203] {
        assert!(check_world(seed, Provider::Openai, &[]) > 10);
    }
    for seed in [300, 301] {
        assert!(check_world(seed, Provider::Anthropic, &[]) > 10);
    }
}

/// The Anthropic world: cache folding, cache hits and the app-side causes.
#[test]
fn sweep_anthropic_causes() {
    let cases: [&[&str]; 6] = [
        &["none"],
        &["cache_write_folding=0.3"],
        &["cache_hits=0.6"],
        &["retries=0.1"],
        &["streaming_interruption=0.05"],
        &["double_counting=0.2", "auxiliary_calls=0.3"],
    ];
    for (i, causes) in cases.iter().enumerate() {
        let n = check_world(400 + i as u64, Provider::Anthropic, causes);
        if causes[0] == "none" {
            assert_eq!(n, 0, "none planted something");
        } else {
            assert!(n > 0, "{causes:?} planted nothing");
        }
    }
}

/// One app on OpenAI and Anthropic, both bills: each bill's comparisons find what was planted
/// in that provider's world (and only there), on the default mix and on single causes.
#[test]
fn sweep_one_app_on_two_providers() {
    let both = [Provider::Openai, Provider::Anthropic];
    assert!(check_worlds(500, &both, &[]) > 20);
    assert!(check_worlds(501, &[Provider::Anthropic, Provider::Openai], &[]) > 20);
    // OpenAI-only causes and an Anthropic-only one: planted in their own world only.
    assert!(
        check_worlds(
            502,
            &both,
            &[
                "embeddings=0.12",
                "service_tier=0.3",
                "multimodal_tokens=0.3",
                "reasoning_tokens=0.3",
                "cache_write_folding=0.3"
            ]
        ) > 0
    );
    assert_eq!(
        check_worlds(503, &both, &["none"]),
        0,
        "none planted something"
    );
}
