//! The bundled demo month: the bridge must recover every planted cause (fixtures/demo/truth.json,
//! computed by `llm-recon simulate` from the calls it planted and checked against the files it
//! wrote, independently of the reconcile code), leave unexplained only the truly unexplained
//! part, and tie out exactly.

mod common;
use common::*;

use assert_cmd::Command;
use rust_decimal::Decimal;
use serde_json::Value;

fn demo_report() -> Value {
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["demo", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("demo prints the JSON report")
}

fn truth() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn demo_bridge_recovers_every_planted_cause() {
    let report = demo_report();
    let truth = truth();
    for t in truth["comparisons"].as_array().unwrap() {
        let (b, r) = (
            t["baseline"].as_str().unwrap(),
            t["reference"].as_str().unwrap(),
        );
        let c = &comparison(&report, b, r)["totals"];
        let variance_cost = dec(&c["variance"]["cost"]).abs();
        let variance_tokens = c["variance"]["tokens"]["total"].as_i64().unwrap().abs();
        // Sides first: the generator's baseline and reference totals.
        for (side, key) in [
            ("baseline", "baseline_totals"),
            ("reference", "reference_totals"),
        ] {
            assert_eq!(
                c[side]["tokens"]["total"], t[key]["tokens"]["total"],
                "{b}→{r} {side} tokens"
            );
            assert_eq!(
                dec(&c[side]["cost"]),
                dec(&t[key]["cost"]),
                "{b}→{r} {side} cost"
            );
        }
        for (cause, planted) in t["steps"].as_object().unwrap() {
            let pc = dec(&planted["cost"]);
            // A step this report does not have yet must not have been planted.
            let Some(found) = find_step(c, cause) else {
                assert!(
                    pc.is_zero() && planted["tokens"]["total"].as_i64() == Some(0),
                    "{b}→{r} {cause} planted but not in the report"
                );
                continue;
            };
            let fc = dec(&found["cost"]);
            if cause == "unexplained" {
                // The truly unexplained part (bill-only app traffic), within 0.5% of the
                // variance, in money and in tokens.
                let bound = (variance_cost * Decimal::new(5, 3)).max(Decimal::new(1, 4));
                assert!(
                    (fc - pc).abs() <= bound,
                    "{b}→{r} unexplained {fc}, planted {pc}, bound {bound}"
                );
                let tok = found["tokens"]["total"].as_i64().unwrap();
                let planted_tok = planted["tokens"]["total"].as_i64().unwrap();
                assert!(
                    (tok - planted_tok).abs() as f64 <= (variance_tokens as f64 * 0.005).max(1.0),
                    "{b}→{r} unexplained tokens {tok}, planted {planted_tok}"
                );
                continue;
            }
            // Within 1% of the planted amount (or 1 token / $0.0001).
            let bound = (pc.abs() / Decimal::ONE_HUNDRED).max(Decimal::new(1, 4));
            assert!(
                (fc - pc).abs() <= bound,
                "{b}→{r} {cause}: found {fc}, planted {pc}"
            );
            for class in CLASSES {
                let (p, f) = (
                    tokens(&planted["tokens"], class),
                    tokens(&found["tokens"], class),
                );
                let bound = (p.abs() as f64 / 100.0).max(1.0);
                assert!(
                    ((f - p).abs() as f64) <= bound,
                    "{b}→{r} {cause} {class}: found {f}, planted {p}"
                );
            }
        }
    }
}

/// baseline + Σ steps = reference, exactly, per class and in money, for totals and every group;
/// and the groups sum to the totals.
#[test]
fn demo_bridge_ties_out_exactly() {
    let report = demo_report();
    for c in report["comparisons"].as_array().unwrap() {
        let mut sum_groups: Vec<(i64, Decimal)> = vec![(0, Decimal::ZERO); 2];
        ties_out(&c["totals"], "totals");
        for g in c["groups"].as_array().unwrap() {
            ties_out(g, &format!("group {}", g["key"]));
            sum_groups[0].0 += g["baseline"]["tokens"]["total"].as_i64().unwrap();
            sum_groups[0].1 += dec(&g["baseline"]["cost"]);
            sum_groups[1].0 += g["reference"]["tokens"]["total"].as_i64().unwrap();
            sum_groups[1].1 += dec(&g["reference"]["cost"]);
        }
        let t = &c["totals"];
        assert_eq!(
            sum_groups[0].0,
            t["baseline"]["tokens"]["total"].as_i64().unwrap()
        );
        assert_eq!(sum_groups[0].1, dec(&t["baseline"]["cost"]));
        assert_eq!(
            sum_groups[1].0,
            t["reference"]["tokens"]["total"].as_i64().unwrap()
        );
        assert_eq!(sum_groups[1].1, dec(&t["reference"]["cost"]));
    }
    // Rows in = rows used + rows rejected, per source.
    for s in report["sources"].as_array().unwrap() {
        assert_eq!(
            s["rows_read"].as_u64().unwrap(),
            s["rows_used"].as_u64().unwrap() + s["rows_rejected"].as_u64().unwrap(),
            "{}",
            s["name"]
        );
    }
    assert_eq!(report["schema"], "llm-recon/report/v1");
}

#[test]
fn demo_table_leads_with_the_bridge_and_fits_100_columns() {
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("demo")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first_table_row = text.lines().find(|l| l.contains("(baseline)")).unwrap();
    assert!(first_table_row.contains("dify"), "{first_table_row}");
    for cause in [
        "window_misalignment",
        "unattributed_traffic",
        "embeddings",
        "retries",
        "tokenizer_drift",
        "cache_hits",
        "price_mismatch",
        "unexplained",
    ] {
        assert!(text.contains(cause), "missing {cause}");
    }
    // The demo has no gateway, no knowledge-base rerank, plants no cache folding (an Anthropic
    // behaviour), no thinking or media tokens, its OpenAI bill has no credit lines and no FX: those
    // steps are named under the first table instead of taking a row. Its priority-served calls
    // (service_tier) take one.
    assert!(
        text.contains(
            "\nzero: rerank, gateway_cache_hits, reasoning_tokens, multimodal_tokens, cache_write_folding,\n  discounts_and_credits, fx\n"
        ),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("│ service_tier ")),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("│ fx ")), "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "line wider than 100 columns: {line}"
        );
    }
}

/// Each step says what to do from its own evidence, with the counts the simulator planted
/// (`truth.json` `counts`) and the prices it configured: the price tables' gpt-4.1 $2.00/$8.00
/// and gpt-4.1-mini $0.40/$1.60 per 1M (OpenAI, 2025-04-14) × (1 + 0.5), the demo's
/// `price_mismatch` error. Steps with nothing to do say nothing, and groups carry no remedy.
#[test]
fn demo_steps_say_what_to_do() {
    let report = demo_report();
    let counts = &truth()["counts"];
    let cmp = comparison(&report, "dify", "openai");
    let remedy = |cause: &str| {
        step(&cmp["totals"], cause)["remedy"]
            .as_str()
            .unwrap_or_else(|| panic!("{cause} has no remedy"))
            .to_string()
    };
    let price = remedy("price_mismatch");
    assert!(
        price.contains(
            "gpt-4.1 is configured at $3.00/$12.00 per 1M; the price list has $2.00/$8.00 per 1M since 2025-04-14"
        ),
        "{price}"
    );
    assert!(
        price.contains(
            "gpt-4.1-mini is configured at $0.60/$2.40 per 1M; the price list has $0.40/$1.60 per 1M since 2025-04-14"
        ),
        "{price}"
    );
    assert!(price.ends_with("update the model's prices in the app's model settings"));
    let n = |k: &str| counts[k].as_i64().unwrap();
    assert!(remedy("tokenizer_drift").starts_with(&format!(
        "{} calls were counted with Dify's GPT-2 estimate",
        n("drift_classifier_calls")
    )),);
    assert!(remedy("retries").starts_with(&format!(
        "{} failed attempts were billed",
        n("retried_answers")
    )));
    assert!(remedy("auxiliary_calls").contains(&format!("were {} calls", n("auxiliary_calls"))));
    assert!(remedy("window_misalignment").contains("--tz UTC"));
    // The demo states the app's key (--key): nothing to do about the other team's traffic.
    for cause in [
        "unattributed_traffic",
        "embeddings",
        "double_counting",
        "streaming_interruption",
        "cache_hits",
        "unexplained",
    ] {
        assert!(
            step(&cmp["totals"], cause).get("remedy").is_none(),
            "{cause} says what to do"
        );
    }
    for g in cmp["groups"].as_array().unwrap() {
        for s in g["bridge"].as_array().unwrap() {
            assert!(s.get("remedy").is_none(), "a group's step carries a remedy");
        }
    }
}
