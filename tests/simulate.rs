//! `llm-recon simulate`: every file it writes is read by the adapters without a rejected row,
//! truth.json ties out, the output is a pure function of the arguments, and each `--cause`
//! plants exactly its own step.

use assert_cmd::Command;
use llm_recon::pricing::PriceBook;
use llm_recon::record::Currency;
use llm_recon::simulate::{self, Config, Provider};
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn config(seed: u64, provider: Provider, causes: &[&str]) -> Config {
    let list: Vec<String> = causes.iter().map(|s| s.to_string()).collect();
    Config {
        seed,
        calls: 150,
        days: 3,
        start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        tz: "Asia/Shanghai".parse().unwrap(),
        provider,
        amounts: simulate::parse_causes(&list, provider).unwrap(),
        one_node_export: false,
    }
}

fn run(cfg: &Config) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    simulate::run(cfg, dir.path()).unwrap_or_else(|e| panic!("simulate: {e}"));
    let truth =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    (dir, truth)
}

fn data_files(dir: &Path, truth: &Value) -> Vec<PathBuf> {
    truth["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| dir.join(f.as_str().unwrap()))
        .collect()
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

const CLASSES: [&str; 8] = [
    "input",
    "input_cache_read",
    "input_cache_write_5m",
    "input_cache_write_1h",
    "input_image",
    "output",
    "output_reasoning",
    "total",
];

/// baseline + Σ steps == reference, per class and in money, for a group or the totals.
fn ties_out(baseline: &Value, steps: &Value, reference: &Value, what: &str) {
    for class in CLASSES {
        let mut acc = baseline["tokens"][class].as_i64().unwrap();
        for s in steps.as_object().unwrap().values() {
            acc += s["tokens"][class].as_i64().unwrap();
        }
        assert_eq!(
            acc,
            reference["tokens"][class].as_i64().unwrap(),
            "{what} {class}"
        );
    }
    let mut money = dec(&baseline["cost"]);
    for s in steps.as_object().unwrap().values() {
        money += dec(&s["cost"]);
    }
    assert_eq!(money, dec(&reference["cost"]), "{what} money");
}

#[test]
fn every_file_is_read_without_a_rejected_row() {
    for provider in [Provider::Openai, Provider::Anthropic] {
        let (dir, truth) = run(&config(7, provider, &[]));
        let files = data_files(dir.path(), &truth);
        let prices = PriceBook::bundled().unwrap();
        let mut records = 0usize;
        let rejected =
            llm_recon::reconcile::normalize(&files, None, &prices, Currency::USD, &mut |_, _| {
                records += 1
            })
            .unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(
            rejected.total,
            0,
            "{provider:?}: {:?}",
            &rejected.listed[..1]
        );
        // Every Dify LLM row with usage and every Langfuse generation is a record at least.
        let counts = &truth["counts"];
        let floor = counts["dify_llm_rows_with_usage"].as_u64().unwrap()
            + counts["langfuse_generations"].as_u64().unwrap();
        assert!(records as u64 >= floor, "{provider:?}: {records} < {floor}");
    }
}

#[test]
fn truth_ties_out_per_group_and_groups_sum_to_totals() {
    for provider in [Provider::Openai, Provider::Anthropic] {
        let (_dir, truth) = run(&config(11, provider, &[]));
        for c in truth["comparisons"].as_array().unwrap() {
            let name = format!("{}→{}", c["baseline"], c["reference"]);
            ties_out(
                &c["baseline_totals"],
                &c["steps"],
                &c["reference_totals"],
                &name,
            );
            let groups = c["groups"].as_array().unwrap();
            assert!(groups.len() > 3, "{name}: groups");
            let mut base = Decimal::ZERO;
            let mut reference = 0i64;
            for g in groups {
                ties_out(&g["baseline"], &g["steps"], &g["reference"], &name);
                base += dec(&g["baseline"]["cost"]);
                reference += g["reference"]["tokens"]["total"].as_i64().unwrap();
            }
            assert_eq!(base, dec(&c["baseline_totals"]["cost"]), "{name}");
            assert_eq!(
                reference,
                c["reference_totals"]["tokens"]["total"].as_i64().unwrap(),
                "{name}"
            );
            // Every step the report knows appears, in bridge order.
            let keys: Vec<&String> = c["steps"].as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), simulate::causes().len(), "{name}");
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = config(3, Provider::Openai, &[]);
    let (a, ta) = run(&cfg);
    let (b, _) = run(&cfg);
    let (c, _) = run(&config(4, Provider::Openai, &[]));
    let mut names: Vec<String> = ta["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    names.extend(["truth.json".to_string(), "demo.args".to_string()]);
    let mut differ = 0;
    for n in &names {
        let x = std::fs::read(a.path().join(n)).unwrap();
        assert_eq!(x, std::fs::read(b.path().join(n)).unwrap(), "{n}");
        if std::fs::read(c.path().join(n)).ok().as_ref() != Some(&x) {
            differ += 1;
        }
    }
    assert_eq!(differ, names.len(), "another seed changes every file");
}

/// Non-zero steps of a comparison (tokens or money).
fn planted(truth: &Value, baseline: &str, reference: &str) -> Vec<String> {
    let c = truth["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["baseline"] == baseline && c["reference"] == reference)
        .unwrap();
    c["steps"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| {
            !dec(&s["cost"]).is_zero()
                || s["tokens"]["total"].as_i64() != Some(0)
                || s["tokens"]["input"].as_i64() != Some(0)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn each_cause_alone_plants_only_itself() {
    let (_d, none) = run(&config(5, Provider::Openai, &["none"]));
    for (b, r) in [
        ("dify", "openai"),
        ("langfuse", "openai"),
        ("dify", "langfuse"),
    ] {
        assert!(
            planted(&none, b, r).is_empty(),
            "none: {b}→{r} {:?}",
            planted(&none, b, r)
        );
    }
    let cases: [(&str, Provider, &[&str]); 14] = [
        ("window_misalignment=1", Provider::Openai, &[]),
        ("unattributed_traffic=0.5", Provider::Openai, &[]),
        ("embeddings=0.1", Provider::Openai, &[]),
        ("auxiliary_calls=0.3", Provider::Openai, &[]),
        ("retries=0.1", Provider::Openai, &[]),
        ("double_counting=0.2", Provider::Openai, &[]),
        ("streaming_interruption=0.1", Provider::Openai, &[]),
        ("tokenizer_drift=0.2", Provider::Openai, &[]),
        ("cache_hits=0.5", Provider::Openai, &[]),
        ("price_mismatch=0.5", Provider::Openai, &[]),
        ("unexplained=0.05", Provider::Openai, &[]),
        ("service_tier=0.3", Provider::Openai, &[]),
        // Dify's Anthropic plugin folds every cache token: the two cache steps come together.
        (
            "cache_write_folding=0.5",
            Provider::Anthropic,
            &["cache_hits"],
        ),
        (
            "cache_hits=0.5",
            Provider::Anthropic,
            &["cache_write_folding"],
        ),
    ];
    for (cause, provider, with) in cases {
        let (_d, t) = run(&config(5, provider, &[cause]));
        let name = cause.split('=').next().unwrap();
        let bill = provider.name();
        let mut want = vec![name.to_string()];
        want.extend(with.iter().map(|s| s.to_string()));
        want.sort();
        let mut got = planted(&t, "dify", bill);
        got.sort();
        assert_eq!(got, want, "{cause} ({bill}): dify→{bill}");
    }
}

/// Where the report already measures a step, it finds exactly the planted amount: the trace →
/// bill comparison (window, other keys, embeddings, bill-only traffic) of the default mix.
#[test]
fn the_report_finds_the_trace_to_bill_steps_exactly() {
    let (dir, truth) = run(&config(9, Provider::Openai, &[]));
    let report = reconcile_with_demo_args(dir.path());
    let cmp = |v: &Value| {
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["baseline"] == "langfuse" && c["reference"] == "openai")
            .cloned()
            .unwrap()
    };
    let (rc, tc) = (cmp(&report), cmp(&truth));
    let totals = &rc["totals"];
    assert_eq!(
        dec(&totals["baseline"]["cost"]),
        dec(&tc["baseline_totals"]["cost"])
    );
    assert_eq!(
        dec(&totals["reference"]["cost"]),
        dec(&tc["reference_totals"]["cost"])
    );
    for s in totals["bridge"].as_array().unwrap() {
        let cause = s["cause"].as_str().unwrap();
        let want = &tc["steps"][cause];
        assert_eq!(dec(&s["cost"]), dec(&want["cost"]), "{cause}");
        assert_eq!(s["tokens"]["total"], want["tokens"]["total"], "{cause}");
    }
    assert!(!dec(&tc["steps"]["unexplained"]["cost"]).is_zero());
}

/// `reasoning_tokens=0.3` alone (seed 12, 150 messages, 3 days): 38 answers go to o4-mini and
/// think 1,536 tokens each, 38 × 1,536 = 58,368 (counted by hand in the files: the Langfuse
/// generations' `output_reasoning`; Dify's o4-mini `completion_tokens` 77,972 = the trace's
/// visible 19,604 + 58,368 = the usage pages' o4-mini `output_tokens`, billed on the output
/// line at $4.40 per 1M: 0.3430768). The report finds exactly that: app → trace moves 58,368
/// from output to output_reasoning, trace → bill moves them back, app → bill has none, all at
/// $0 (o4-mini bills thinking at the output price), and nothing is left unexplained.
#[test]
fn the_report_finds_the_planted_reasoning_tokens() {
    let (dir, truth) = run(&config(12, Provider::Openai, &["reasoning_tokens=0.3"]));
    let report = reconcile_with_demo_args(dir.path());
    // The report leaves zero classes out.
    let n = |v: &Value, class: &str| v["tokens"][class].as_i64().unwrap_or(0);
    let cmp = |v: &Value, b: &str, r: &str| {
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["baseline"] == b && c["reference"] == r)
            .cloned()
            .unwrap()
    };
    for (b, r, moved) in [
        ("dify", "langfuse", 58_368),
        ("langfuse", "openai", -58_368),
        ("dify", "openai", 0),
    ] {
        let (rc, tc) = (cmp(&report, b, r), cmp(&truth, b, r));
        let step = |cause: &str| {
            rc["totals"]["bridge"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["cause"] == cause)
                .cloned()
                .unwrap()
        };
        let (found, want) = (step("reasoning_tokens"), &tc["steps"]["reasoning_tokens"]);
        for class in CLASSES {
            assert_eq!(n(&found, class), n(want, class), "{b}→{r} {class}");
        }
        assert_eq!(dec(&found["cost"]), dec(&want["cost"]), "{b}→{r}");
        assert_eq!(n(&found, "output_reasoning"), moved, "{b}→{r}");
        assert_eq!(n(&found, "output"), -moved, "{b}→{r}");
        assert!(dec(&found["cost"]).is_zero(), "{b}→{r}");
        let unexplained = step("unexplained");
        for class in CLASSES {
            assert_eq!(n(&unexplained, class), 0, "{b}→{r} unexplained {class}");
        }
        assert!(dec(&unexplained["cost"]).is_zero(), "{b}→{r} unexplained");
    }
}

/// `reconcile` with the world's own `demo.args` (as a user would type them), JSON report.
fn reconcile_with_demo_args(dir: &Path) -> Value {
    let args = std::fs::read_to_string(dir.join("demo.args")).unwrap();
    let argv: Vec<String> = args
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .map(|t| {
            if t.starts_with('-') || !t.contains('.') {
                t.to_string()
            } else {
                dir.join(t).display().to_string()
            }
        })
        .collect();
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("reconcile")
        .args(&argv)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One app on OpenAI and Anthropic (`--provider openai,anthropic`): one Dify export whose LLM
/// rows name both plugins, one Langfuse export, both bills. `reconcile` gives each bill's
/// comparisons the truth of that bill — baseline, reference and every step, per class, to the
/// token and the exact decimal — so neither comparison sees the other provider's calls.
#[test]
fn two_providers_each_bill_reconciles_to_its_own_truth() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["simulate", "--seed", "31", "--calls", "241", "--days", "3"])
        .args(["--tz", "Asia/Shanghai", "--provider", "openai,anthropic"])
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    // 241 calls split evenly, the first provider taking the odd one: 121 + 120.
    let worlds = truth["generator"]["worlds"].as_array().unwrap();
    let split: Vec<(&str, i64)> = worlds
        .iter()
        .map(|w| {
            (
                w["provider"].as_str().unwrap(),
                w["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(split, [("openai", 121), ("anthropic", 120)]);
    // The Dify rows carry the real plugin ids, both in the one export.
    let nodes = std::fs::read_to_string(dir.path().join("dify_node_executions.csv")).unwrap();
    for plugin in ["langgenius/openai/openai", "langgenius/anthropic/anthropic"] {
        assert!(nodes.contains(plugin), "no node row names {plugin}");
    }
    let report = reconcile_with_demo_args(dir.path());
    assert_eq!(report["unbilled"].as_array().unwrap().len(), 0);
    let find = |v: &Value, b: &str, r: &str| {
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["baseline"] == b && c["reference"] == r)
            .cloned()
            .unwrap_or_else(|| panic!("no comparison {b} → {r}"))
    };
    for bill in ["openai", "anthropic"] {
        let other = if bill == "openai" {
            "anthropic"
        } else {
            "openai"
        };
        for baseline in ["dify", "langfuse"] {
            let (rc, tc) = (find(&report, baseline, bill), find(&truth, baseline, bill));
            let what = format!("{baseline} → {bill}");
            let t = &rc["totals"];
            for (side, want) in [
                ("baseline", &tc["baseline_totals"]),
                ("reference", &tc["reference_totals"]),
            ] {
                assert_eq!(dec(&t[side]["cost"]), dec(&want["cost"]), "{what} {side}");
                for class in CLASSES {
                    assert_eq!(
                        t[side]["tokens"][class].as_i64().unwrap_or(0),
                        want["tokens"][class].as_i64().unwrap(),
                        "{what} {side} {class}"
                    );
                }
            }
            let mut planted = 0;
            for cause in simulate::causes() {
                let want = &tc["steps"][cause];
                let s = t["bridge"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["cause"] == cause)
                    .unwrap();
                assert_eq!(dec(&s["cost"]), dec(&want["cost"]), "{what} {cause}");
                for class in CLASSES {
                    assert_eq!(
                        s["tokens"][class].as_i64().unwrap_or(0),
                        want["tokens"][class].as_i64().unwrap(),
                        "{what} {cause} {class}"
                    );
                }
                planted += usize::from(!dec(&want["cost"]).is_zero());
            }
            assert!(
                planted >= 3,
                "{what}: the default mix plants several causes"
            );
            // No group of this bill's comparisons is another provider's model.
            for g in rc["groups"].as_array().unwrap() {
                assert_ne!(g["key"]["provider"], other, "{what}: {}", g["key"]);
            }
        }
    }
}

#[test]
fn command_line_writes_the_world_and_refuses_bad_causes() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("llm-recon")
        .unwrap()
        .args([
            "simulate",
            "--seed",
            "1",
            "--calls",
            "20",
            "--days",
            "1",
            "--cause",
            "retries=0.5",
        ])
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success();
    assert!(dir.path().join("truth.json").exists());
    assert!(dir.path().join("demo.args").exists());
    // Two providers: a cause of either is accepted; a provider named twice or unknown is not.
    Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["simulate", "--seed", "1", "--calls", "20", "--days", "1"])
        .args([
            "--provider",
            "openai,anthropic",
            "--cause",
            "cache_write_folding=0.1",
        ])
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success();
    for providers in ["openai,openai", "openai,azure"] {
        Command::cargo_bin("llm-recon")
            .unwrap()
            .args(["simulate", "--seed", "1", "--calls", "20", "--days", "1"])
            .args(["--provider", providers])
            .arg("--out")
            .arg(dir.path())
            .assert()
            .code(2);
    }
    for bad in [
        "retries=1.5",
        "fx=1",
        "nonsense=1",
        "cache_write_folding=0.1",
    ] {
        Command::cargo_bin("llm-recon")
            .unwrap()
            .args([
                "simulate", "--seed", "1", "--calls", "20", "--days", "1", "--cause", bad,
            ])
            .arg("--out")
            .arg(dir.path())
            .assert()
            .code(2);
    }
    let help = Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["simulate", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    for (name, _) in simulate::cause_help() {
        assert!(text.contains(name), "--help names {name}");
    }
}
