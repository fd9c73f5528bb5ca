//! The attribution-accuracy sweep at month scale: `cargo bench --bench sweep [-- CALLS]`.
//!
//! Simulates a month (default 30,000 Dify messages over 30 days in Asia/Shanghai) for each mix —
//! every cause together on an OpenAI and on an Anthropic bill, and nothing planted — reconciles
//! it as a user would (`llm-recon demo --dir`), and prints planted vs found per cause for the
//! app → bill comparison, with the largest miss over all three comparisons in % of the variance.

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
    let mixes: [(&str, Provider, &[&str]); 3] = [
        ("openai, every cause", Provider::Openai, &[]),
        ("anthropic, every cause", Provider::Anthropic, &[]),
        ("openai, nothing planted", Provider::Openai, &["none"]),
    ];
    println!(
        "| world | cause | planted tokens | found tokens | planted USD | found USD | max miss, % of variance |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (seed, (name, provider, causes)) in mixes.iter().enumerate() {
        let list: Vec<String> = causes.iter().map(|s| s.to_string()).collect();
        let cfg = Config {
            seed: 9000 + seed as u64,
            calls,
            days: 30,
            start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("a date"),
            tz: "Asia/Shanghai".parse().expect("a zone"),
            provider: *provider,
            amounts: simulate::parse_causes(&list, *provider).expect("causes"),
            one_node_export: false,
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let t0 = Instant::now();
        let summary = simulate::run(&cfg, dir.path()).expect("simulate");
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
        for cause in simulate::causes() {
            // The largest miss of this cause over the three comparisons, in % of the variance.
            let mut worst = 0f64;
            for t in comparisons {
                let c = report["comparisons"]
                    .as_array()
                    .and_then(|a| {
                        a.iter().find(|c| {
                            c["baseline"] == t["baseline"] && c["reference"] == t["reference"]
                        })
                    })
                    .expect("the comparison");
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
            let t = &comparisons[0];
            let c = report["comparisons"]
                .as_array()
                .and_then(|a| {
                    a.iter().find(|c| {
                        c["baseline"] == t["baseline"] && c["reference"] == t["reference"]
                    })
                })
                .expect("the comparison");
            let found = c["totals"]["bridge"]
                .as_array()
                .and_then(|b| b.iter().find(|s| s["cause"] == cause))
                .expect("the step");
            println!(
                "| {name} | `{cause}` | {} | {} | {:.4} | {:.4} | {worst:.4} |",
                t["steps"][cause]["tokens"]["total"],
                found["tokens"]["total"],
                dec(&t["steps"][cause]["cost"]),
                dec(&found["cost"]),
            );
        }
        eprintln!(
            "{name}: {} messages, {} billed requests; simulate {sim_s:.1} s, reconcile {rec_s:.2} s",
            summary.messages, summary.billed_requests
        );
    }
}
