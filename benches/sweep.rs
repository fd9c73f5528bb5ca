//! The attribution-accuracy sweep at month scale: `cargo bench --bench sweep [-- CALLS]`.
//!
//! Simulates a month (default 30,000 Dify messages over 30 days in Asia/Shanghai) for each mix —
//! every cause together on an OpenAI and on an Anthropic bill, one app on both (the messages
//! split between them, both bills), and nothing planted — reconciles it as a user would
//! (`llm-recon demo --dir`), and prints planted vs found per cause for each app → bill
//! comparison, with the largest miss over all comparisons of the world in % of the variance.

use llm_recon::simulate::{self, Config, Provider};
use rust_decimal::Decimal;
use serde_json::Value;
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or_default()
}

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30_000);
    let both = &[Provider::Openai, Provider::Anthropic][..];
    let mixes: [(&str, &[Provider], &[&str]); 4] = [
        ("openai, every cause", &[Provider::Openai], &[]),
        ("anthropic, every cause", &[Provider::Anthropic], &[]),
        ("openai + anthropic, every cause", both, &[]),
        ("openai, nothing planted", &[Provider::Openai], &["none"]),
    ];
    println!(
        "| world | cause | planted tokens | found tokens | planted USD | found USD | max miss, % of variance |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (seed, (name, providers, causes)) in mixes.iter().enumerate() {
        let list: Vec<String> = causes.iter().map(|s| s.to_string()).collect();
        let base = Config {
            seed: 9000 + seed as u64,
            calls,
            days: 30,
            start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("a date"),
            tz: "Asia/Shanghai".parse().expect("a zone"),
            provider: providers[0],
            amounts: [0.0; simulate::STEPS],
            one_node_export: false,
        };
        let worlds = simulate::split_by_provider(&base, providers, &list).expect("causes");
        let dir = tempfile::tempdir().expect("a temp dir");
        let t0 = Instant::now();
        let summary = simulate::run_worlds(&worlds, dir.path()).expect("simulate");
        let sim_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_llm-recon"))
            .args(["demo", "--dir"])
            .arg(dir.path())
            .args(["--format", "json"])
            .output()
            .expect("llm-recon runs");
        let rec_s = t1.elapsed().as_secs_f64();
        let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("truth.json")).expect("truth.json"),
        )
        .expect("truth JSON");
        let comparisons = truth["comparisons"].as_array().expect("comparisons");
        let find = |t: &Value| {
            report["comparisons"]
                .as_array()
                .and_then(|a| {
                    a.iter().find(|c| {
                        c["baseline"] == t["baseline"] && c["reference"] == t["reference"]
                    })
                })
                .expect("the comparison")
        };
        for cause in simulate::causes() {
            // The largest miss of this cause over the world's comparisons, in % of the variance.
            let mut worst = 0f64;
            for t in comparisons {
                let c = find(t);
                let var = dec(&c["totals"]["variance"]["cost"]).abs();
                let found = c["totals"]["bridge"]
                    .as_array()
                    .and_then(|b| b.iter().find(|s| s["cause"] == cause))
                    .expect("the step");
                let miss = (dec(&found["cost"]) - dec(&t["steps"][cause]["cost"])).abs();
                if !var.is_zero() {
                    let pct = (miss / var * Decimal::ONE_HUNDRED)
                        .to_string()
                        .parse::<f64>()
                        .unwrap_or(f64::NAN);
                    worst = worst.max(pct);
                }
            }
            // Each app → bill comparison (one per provider of the world).
            for t in comparisons
                .iter()
                .filter(|t| t["baseline"] == "dify" && t["reference"] != "langfuse")
            {
                let found = find(t)["totals"]["bridge"]
                    .as_array()
                    .and_then(|b| b.iter().find(|s| s["cause"] == cause))
                    .expect("the step");
                println!(
                    "| {name}: dify → {} | `{cause}` | {} | {} | {:.4} | {:.4} | {worst:.4} |",
                    t["reference"].as_str().unwrap_or(""),
                    t["steps"][cause]["tokens"]["total"],
                    found["tokens"]["total"],
                    dec(&t["steps"][cause]["cost"]),
                    dec(&found["cost"]),
                );
            }
        }
        eprintln!(
            "{name}: {} messages, {} billed requests; simulate {sim_s:.1} s, reconcile {rec_s:.2} s",
            summary.messages, summary.billed_requests
        );
    }
}
