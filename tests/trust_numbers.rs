//! Hostile and unlucky numbers: amounts and counts that cannot be carried, repeated and
//! conflicting rows, unknown currencies, broken rate files, bad thresholds. Each test is one class
//! of failure: it names what the user must see instead of a panic, a wrap or a silent guess.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The first row of the Dify messages fixture (JSONL), to vary one field at a time.
fn dify_row() -> Value {
    let text = std::fs::read_to_string(fixture("dify/messages.jsonl")).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Writes rows as JSONL into `dir/name`.
fn write_jsonl(dir: &Path, name: &str, rows: &[Value]) -> PathBuf {
    let p = dir.join(name);
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

/// `normalize` as JSONL records, with the stderr it printed.
fn normalize(files: &[&Path]) -> (Vec<Value>, String, i32) {
    let out = bin().arg("normalize").args(files).output().unwrap();
    let recs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        recs,
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn non_finite_or_negative_thresholds_are_usage_errors() {
    let f = fixture("dify/messages.jsonl");
    for flag in ["--max-variance", "--max-unexplained"] {
        for bad in ["NaN", "nan", "inf", "-inf", "-1", "1e400"] {
            bin()
                .arg("reconcile")
                .arg(&f)
                .arg(format!("{flag}={bad}"))
                .assert()
                .code(2)
                .stderr(predicate::str::contains(flag))
                .stderr(predicate::str::contains("finite"));
        }
    }
    bin()
        .arg("reconcile")
        .arg(&f)
        // Valid thresholds are accepted; one app alone compares nothing, which the gate allows
        // only when asked to.
        .args([
            "--max-variance",
            "5",
            "--max-unexplained",
            "0",
            "--allow-empty",
        ])
        .assert()
        .code(0);
}

#[test]
fn normalize_counts_every_rejected_row_not_only_the_listed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = dify_row();
    bad["message_tokens"] = json!("many");
    let rows: Vec<Value> = (0..1500)
        .map(|i| {
            let mut r = bad.clone();
            r["id"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
            r
        })
        .collect();
    let p = write_jsonl(dir.path(), "messages.jsonl", &rows);
    let (recs, err, code) = normalize(&[&p]);
    assert_eq!(code, 0, "{err}");
    assert!(recs.is_empty());
    assert_eq!(
        err.lines().filter(|l| l.starts_with("rejected ")).count(),
        20
    );
    assert!(err.contains("… 1480 more rejected rows"), "{err}");
}

#[test]
fn a_catastrophic_tokenizer_pattern_is_the_files_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("tokenize/tiny_bpe_plain.json")).unwrap();
    let mut t: Value = serde_json::from_str(&text).unwrap();
    t["pre_tokenizer"] = json!({
        "type": "Split",
        "pattern": {"Regex": "(a+)+$"},
        "behavior": "Isolated",
        "invert": false
    });
    let p = dir.path().join("tokenizer.json");
    std::fs::write(&p, t.to_string()).unwrap();
    let input = format!("{}b", "a".repeat(5000));
    let out = bin()
        .args(["count", "--tokenizer-file"])
        .arg(&p)
        .write_stdin(input)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&p.display().to_string()), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn a_corrupt_parquet_file_is_one_clean_error_without_a_panic_message() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read(fixture("aws/cur2_bedrock.parquet")).unwrap();
    // Flip bytes one at a time through the footer (the schema and page index the decoder
    // trusts) and a few data pages: every outcome is exit 0 with rows, or exit 2 naming the
    // file; no panic text ever.
    let p = dir.path().join("cur.parquet");
    let mut errors = 0;
    let footer = (src.len() - 400..src.len() - 8).step_by(23);
    for i in footer.chain((4..src.len() - 400).step_by(4001)) {
        let mut b = src.clone();
        b[i] ^= 0x5a;
        std::fs::write(&p, &b).unwrap();
        let out = bin().arg("normalize").arg(&p).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "byte {i}: {err}"
        );
        match out.status.code() {
            Some(0) => {}
            Some(2) => {
                errors += 1;
                assert!(err.contains(&p.display().to_string()), "byte {i}: {err}");
            }
            c => panic!("byte {i}: exit {c:?}: {err}"),
        }
    }
    assert!(errors > 0, "some mutants must be refused");
}

#[test]
fn simulate_refuses_worlds_beyond_memory_up_front() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--calls", "18446744073709551615"],
        vec!["--calls", "1000000000000"],
        vec!["--calls", "2000000"],
        vec!["--calls", "100", "--cause", "unattributed_traffic=1e9"],
        vec!["--calls", "100", "--cause", "embeddings=1e9"],
        vec!["--calls", "100", "--cause", "window_misalignment=1e9"],
    ] {
        let out = bin()
            .args(["simulate", "--seed", "1", "--days", "1"])
            .args(&args)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--calls") && err.contains("at most"), "{err}");
        // Refused before anything is written.
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}

/// `reconcile --format json` of `files`.
fn reconcile_json(files: &[&Path], extra: &[&str]) -> (Value, String, i32) {
    let out = bin()
        .arg("reconcile")
        .args(files)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (report, err, code)
}

fn source<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

#[test]
fn amounts_and_counts_beyond_what_sums_carry_are_rejected_rows() {
    let dir = tempfile::tempdir().unwrap();
    let bill = fixture("openai/usage_completions_1d.json");
    let base = dify_row();
    // Each case: (field, value) on two rows, and the reason's words. Two rows of 5e28 overflow a
    // Decimal sum; Decimal::MAX overflows any percent of it; i64::MAX tokens wrap an i64 sum.
    let cases: [(&str, Value, &str); 4] = [
        (
            "total_price",
            json!("50000000000000000000000000000"),
            "cost",
        ),
        (
            "total_price",
            json!("79228162514264337593543950335"),
            "cost",
        ),
        ("message_unit_price", json!("1e25"), "unit price"),
        ("message_tokens", json!(i64::MAX), "tokens"),
    ];
    for (field, value, words) in cases {
        let mut big = base.clone();
        big[field] = value.clone();
        let rows: Vec<Value> = (0..2)
            .map(|i| {
                let mut r = big.clone();
                r["id"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
                r
            })
            .chain(std::iter::once(base.clone()))
            .collect();
        let p = write_jsonl(dir.path(), "messages.jsonl", &rows);
        let (report, err, code) = reconcile_json(&[&p, &bill], &[]);
        assert!(
            code == 0 || code == 1,
            "{field}={value}: exit {code}: {err}"
        );
        let dify = source(&report, "dify");
        assert_eq!(dify["rows_read"], 3, "{field}");
        assert_eq!(dify["rows_rejected"], 2, "{field}={value}");
        assert_eq!(dify["rows_used"], 1, "{field}");
        // The one good row is what the source adds up to.
        assert_eq!(dify["tokens"]["total"], 2500, "{field}");
        let rejected = report["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 2);
        for r in rejected {
            let reason = r["reason"].as_str().unwrap();
            assert!(
                reason.contains(words) && reason.contains("beyond"),
                "{reason}"
            );
            assert!(
                r["origin"].as_str().unwrap().ends_with(":1")
                    || r["origin"].as_str().unwrap().ends_with(":2")
            );
        }
    }
}

#[test]
fn price_tables_refuse_prices_and_multipliers_no_cost_can_carry() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |model: &str, price: &str, tier: &str| {
        format!(
            "[[entry]]\nprovider = \"openai\"\nmodel = \"{model}\"\nnames = [\"{model}\"]\n\
             effective_from = \"2026-01-01\"\nunit = \"1M\"\ncurrency = \"USD\"\n\
             source = \"https://example.invalid/pricing\"\n[entry.prices]\ninput = \"{price}\"\n\
             output = \"2\"\n{tier}"
        )
    };
    let max = "79228162514264337593543950335";
    std::fs::write(
        dir.path().join("big.toml"),
        entry("m-price", max, "")
            + &entry(
                "m-tier",
                "1",
                &format!("[[entry.tiers]]\nname = \"priority\"\nservice_tier = \"priority\"\nmultiplier = \"{max}\"\n"),
            ),
    )
    .unwrap();
    let out = bin()
        .args(["pricing", "check"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("beyond what a cost can carry"), "{text}");
    assert!(text.contains("multiplier"), "{text}");
    // `price` with those tables refuses them too, and a count no sum can carry is a usage error.
    for usage in ["input=1000", &format!("input={}", i64::MAX)] {
        let out = bin()
            .args([
                "price",
                "-m",
                "m-price",
                "--at",
                "2026-02-01",
                "--usage",
                usage,
                "--pricing",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{err}"
        );
    }
    let out = bin()
        .args(["price", "-m", "gpt-4o", "--at", "2025-01-01", "--usage"])
        .arg(format!("input={},output={}", i64::MAX, i64::MAX))
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("at most"), "{err}");
}

#[test]
fn a_partial_and_a_final_bill_page_resolve_the_same_whatever_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("openai/usage_completions_1d.json")).unwrap();
    let final_page: Value = serde_json::from_str(&text).unwrap();
    // The same bucket downloaded earlier in the day: fewer tokens on the first line.
    let mut partial = final_page.clone();
    partial["data"][0]["results"][0]["input_tokens"] = json!(60000);
    partial["data"][0]["results"][0]["num_model_requests"] = json!(150);
    let (f, p) = (
        dir.path().join("final.json"),
        dir.path().join("partial.json"),
    );
    std::fs::write(&f, final_page.to_string()).unwrap();
    std::fs::write(&p, partial.to_string()).unwrap();
    let (alone, _, _) = reconcile_json(&[&f], &[]);
    let (a, err, code) = reconcile_json(&[&p, &f], &[]);
    assert_eq!(code, 0, "{err}");
    let (b, _, _) = reconcile_json(&[&f, &p], &[]);
    let want = &source(&alone, "openai")["tokens"];
    for report in [&a, &b] {
        let s = source(report, "openai");
        assert_eq!(
            &s["tokens"], want,
            "the final page's numbers, in either order"
        );
        assert_eq!(s["rows_conflicting"], 1);
        // Every other line of the page is the same in both files: a duplicate.
        assert!(s["rows_duplicate"].as_u64().unwrap() >= 2, "{s}");
        let conflicts = report["conflicts"].as_array().unwrap();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert!(
            conflicts[0]["kept"]
                .as_str()
                .unwrap()
                .contains("final.json")
        );
        assert!(
            conflicts[0]["superseded"]
                .as_str()
                .unwrap()
                .contains("partial.json")
        );
        let notes = report["notes"].to_string();
        assert!(
            notes.contains("conflicts") && notes.contains("whatever the order"),
            "{notes}"
        );
    }
}

#[test]
fn the_same_dify_id_three_times_in_one_file_counts_once_and_a_changed_copy_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let bill = fixture("openai/usage_completions_1d.json");
    let window = ["--from", "2026-10-01", "--to", "2026-11-01"];
    let row = dify_row();
    // 2,000 + 500 tokens, three times.
    let p = write_jsonl(
        dir.path(),
        "m.jsonl",
        &[row.clone(), row.clone(), row.clone()],
    );
    let (report, err, code) = reconcile_json(&[&p, &bill], &window);
    assert!(code <= 1, "{err}");
    let dify = source(&report, "dify");
    assert_eq!(dify["rows_duplicate"], 2);
    let cmp = common::comparison(&report, "dify", "openai");
    let dc = common::step(&cmp["totals"], "double_counting");
    assert_eq!(
        dc["tokens"]["total"], -5000,
        "two of the three copies taken out"
    );
    common::ties_out(&cmp["totals"], "dify → openai");

    // Same id, other tokens: a conflict; the copy with more tokens is kept in either order.
    let mut more = row.clone();
    more["message_tokens"] = json!(3000);
    for (name, rows) in [
        ("a.jsonl", [row.clone(), more.clone()]),
        ("b.jsonl", [more.clone(), row.clone()]),
    ] {
        let p = write_jsonl(dir.path(), name, &rows);
        let (report, err, code) = reconcile_json(&[&p, &bill], &window);
        assert!(code <= 1, "{err}");
        assert_eq!(source(&report, "dify")["rows_conflicting"], 1);
        let conflicts = report["conflicts"].as_array().unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0]["id"], row["id"]);
        let kept_line = if name == "a.jsonl" { ":2" } else { ":1" };
        assert!(conflicts[0]["kept"].as_str().unwrap().ends_with(kept_line));
        let cmp = common::comparison(&report, "dify", "openai");
        // baseline (both copies) + double_counting (the superseded 2,500) = the kept 3,500.
        let base = cmp["totals"]["baseline"]["tokens"]["total"]
            .as_i64()
            .unwrap();
        let dc = common::step(&cmp["totals"], "double_counting")["tokens"]["total"]
            .as_i64()
            .unwrap();
        assert_eq!((base, base + dc), (6000, 3500), "{name}");
        common::ties_out(&cmp["totals"], name);
    }
}

/// The trace is read once with its ids logged; an id that comes twice sends it through a second
/// read with the kept copies known. What was fed from the first read must not stay behind.
#[test]
fn a_trace_id_twice_in_one_file_counts_once_and_a_changed_copy_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let bill = fixture("openai/usage_completions_1d.json");
    let window = ["--from", "2026-10-01", "--to", "2026-11-01"];
    let text = std::fs::read_to_string(fixture("langfuse/blob_observations.jsonl")).unwrap();
    // obs-bj-001: gpt-4.1 on 2026-10-07, 5,000 input (4,000 of them cached) + 200 output.
    let row: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(row["id"], "obs-bj-001");
    let trace_tokens = |report: &Value| {
        common::comparison(report, "langfuse", "openai")["totals"]["baseline"]["tokens"]["total"]
            .as_i64()
            .unwrap()
    };
    let p = write_jsonl(dir.path(), "twice.jsonl", &[row.clone(), row.clone()]);
    let (report, err, code) = reconcile_json(&[&p, &bill], &window);
    assert!(code <= 1, "{err}");
    assert_eq!(source(&report, "langfuse")["rows_duplicate"], 1);
    assert_eq!(trace_tokens(&report), 5200, "the copy is not counted");

    // Other output tokens: a conflict; the copy with more tokens is kept in either order.
    let mut more = row.clone();
    more["usage_details"]["output"] = json!("300");
    more["usage_details"]["total"] = json!("5300");
    for (name, rows, kept_line) in [
        ("a.jsonl", [row.clone(), more.clone()], ":2"),
        ("b.jsonl", [more.clone(), row.clone()], ":1"),
    ] {
        let p = write_jsonl(dir.path(), name, &rows);
        let (report, err, code) = reconcile_json(&[&p, &bill], &window);
        assert!(code <= 1, "{err}");
        assert_eq!(source(&report, "langfuse")["rows_conflicting"], 1, "{name}");
        let conflicts = report["conflicts"].as_array().unwrap();
        assert_eq!(conflicts.len(), 1, "{name}: {conflicts:?}");
        assert!(
            conflicts[0]["kept"].as_str().unwrap().ends_with(kept_line),
            "{name}: {conflicts:?}"
        );
        assert_eq!(trace_tokens(&report), 5300, "{name}: the kept copy alone");
        common::ties_out(
            &common::comparison(&report, "langfuse", "openai")["totals"],
            name,
        );
    }
}

#[test]
fn cur_line_items_with_different_line_item_ids_stay_two_charges() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("aws/cur2_bedrock.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let first = lines.next().unwrap();
    let (id, rest) = first.split_once(',').unwrap();
    let twin = format!("{id}-2,{rest}");
    let p = dir.path().join("cur.csv");
    std::fs::write(&p, format!("{header}\n{first}\n{twin}\n{first}\n")).unwrap();
    let (recs, err, code) = normalize(&[&p]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        recs.len(),
        2,
        "two line items; the repeated first line is one: {recs:?}"
    );
    assert_ne!(recs[0]["id"], recs[1]["id"]);
}

#[test]
fn money_in_an_unknown_currency_is_unpriced_and_said_not_valued_in_usd() {
    let dir = tempfile::tempdir().unwrap();
    let bill = fixture("openai/usage_completions_1d.json");
    let window = ["--from", "2026-10-01", "--to", "2026-11-01"];
    let mut row = dify_row();
    row["currency"] = json!("XXX");
    let p = write_jsonl(dir.path(), "m.jsonl", &[row]);
    let (report, err, code) = reconcile_json(&[&p, &bill], &window);
    assert!(code <= 1, "{err}");
    let dify = source(&report, "dify");
    assert_eq!(dify["unpriced_records"], 1, "{dify}");
    assert_eq!(dify["cost"], "0", "not the table's USD price: {dify}");
    assert!(
        report["notes"].to_string().contains("no exchange rate"),
        "{}",
        report["notes"]
    );

    // A price table in a currency no rate quotes fails the check.
    let tables = tempfile::tempdir().unwrap();
    std::fs::write(
        tables.path().join("xxx.toml"),
        "[[entry]]\nprovider = \"openai\"\nmodel = \"m-xxx\"\nnames = [\"m-xxx\"]\n\
         effective_from = \"2026-01-01\"\nunit = \"1M\"\ncurrency = \"XXX\"\n\
         source = \"https://example.invalid/pricing\"\n[entry.prices]\ninput = \"1\"\noutput = \"2\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["pricing", "check"])
        .arg(tables.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("currency XXX"), "{text}");
}

#[test]
fn rate_files_whose_cross_rates_underflow_or_overflow_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let alibaba = fixture("alibaba/bill-details-zh.csv");
    for (name, rate) in [
        ("tiny.csv", "0.0000000000000000000000000001"),
        ("huge.csv", "10000000000000000000000000000"),
        ("neg.csv", "-7"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("# base: USD\ndate,CNY\n2026-10-01,{rate}\n")).unwrap();
        let out = bin()
            .arg("reconcile")
            .arg(&alibaba)
            .arg("--fx-rates")
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(err.contains("CNY"), "{err}");
    }
    for bad in ["CNY=1e-30", "CNY=0.0000000000000000001", "CNY=100000000000"] {
        bin()
            .arg("reconcile")
            .arg(&alibaba)
            .arg(format!("--book-rate={bad}"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--book-rate"));
    }
}

#[test]
fn a_fractional_count_of_single_tokens_is_rejected_in_every_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("focus/focus_1_2_azure_openai.csv")).unwrap();
    let (_, base) =
        llm_recon::source::read_all(&fixture("focus/focus_1_2_azure_openai.csv")).unwrap();
    assert!(text.contains(",4000,Tokens,"));
    let p = dir.path().join("focus.csv");
    std::fs::write(&p, text.replacen(",4000,Tokens,", ",4000.5,Tokens,", 1)).unwrap();
    let (_, s) = llm_recon::source::read_all(&p).unwrap();
    assert_eq!(
        s.rejected.len(),
        base.rejected.len() + 1,
        "{:?}",
        s.rejected
    );
    assert!(
        s.rejected
            .iter()
            .any(|(_, r)| r.contains("4000.5") && r.contains("whole")),
        "{:?}",
        s.rejected
    );
    assert_eq!(s.records.len(), base.records.len() - 1);
}

#[test]
fn a_deepseek_time_without_an_offset_is_read_as_utc_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("deepseek/amount-2026-10.csv")).unwrap();
    let p = dir.path().join("amount-2026-10.csv");
    std::fs::write(&p, text.replace("T00:00:00+08:00", "T00:00:00")).unwrap();
    let (report, err, code) = reconcile_json(&[&p], &[]);
    assert_eq!(code, 0, "{err}");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("read as UTC") && notes.contains("DeepSeek"),
        "{notes}"
    );
    // With offsets, nothing to say.
    let (report, _, _) = reconcile_json(&[&fixture("deepseek/amount-2026-10.csv")], &[]);
    assert!(!report["notes"].to_string().contains("read as UTC"));
}

#[test]
fn a_huge_key_id_and_many_keys_are_clipped_and_bounded_in_every_note() {
    // The app's bill page (one key, two days) with other keys added to each bucket: one whose
    // id is 1 MB, and 30 short ones. Each of the 48 hourly groups has an unattributed_traffic
    // note naming the other keys.
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(fixture("bedrock_e2e/openai_usage_completions.json")).unwrap();
    let mut page: Value = serde_json::from_str(&text).unwrap();
    let huge = format!("key_{}", "x".repeat(1_000_000));
    for bucket in page["data"].as_array_mut().unwrap() {
        let results = bucket["results"].as_array_mut().unwrap();
        let mut other = results[0].clone();
        other["api_key_id"] = json!(huge);
        results.push(other.clone());
        for k in 0..30 {
            other["api_key_id"] = json!(format!("key_other{k:02}"));
            results.push(other.clone());
        }
    }
    let usage = dir.path().join("usage_completions.json");
    // The envelope's "object" first, as the API writes it (the sniffer reads the file's head).
    let text = format!(
        "{{\"object\": \"page\", \"data\": {}, \"has_more\": false, \"next_page\": null}}",
        page["data"]
    );
    std::fs::write(&usage, text).unwrap();
    let app = fixture("bedrock_e2e/dify_messages_bedrock_openai.csv");
    let (report, err, code) = reconcile_json(
        &[&app, &usage],
        &["--bucket", "1h", "--key", "key_Hd9sKq2LxW4mPz7R"],
    );
    assert_eq!(code, 0, "{err}");
    let size = report.to_string().len();
    // Copied whole, the key alone was 1 MB in every note and evidence list (40 MB in all).
    assert!(size < 100_000, "report is {size} bytes");
    let c = &report["comparisons"][0];
    // 31 other keys, sorted: key_other00..29 then key_xxx…; the note lists 10 and says the rest.
    assert_eq!(
        c["attribution"]["unattributed_api_keys"]
            .as_array()
            .unwrap()
            .len(),
        31
    );
    let clipped = c["attribution"]["unattributed_api_keys"][30]
        .as_str()
        .unwrap();
    assert_eq!(
        clipped.chars().count(),
        1025,
        "an id keeps 1024 characters (copyable into --key) and the ellipsis"
    );
    assert!(clipped.starts_with("key_xxx") && clipped.ends_with('…'));
    let step = c["totals"]["bridge"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cause"] == "unattributed_traffic")
        .unwrap();
    let note = step["note"].as_str().unwrap();
    assert!(
        note.contains("key key_other09") && !note.contains("key_other10"),
        "{note}"
    );
    assert!(note.contains("and 21 more"), "{note}");
    let groups = c["groups"].as_array().unwrap();
    assert!(groups.len() > 1);
    // Notes clip values at 200 characters; ids and keys at 1024.
    assert!(note.chars().count() < 1_000, "{note}");
    for e in report.to_string().split('"') {
        assert!(
            e.chars().count() <= 1100,
            "a string of {} characters",
            e.len()
        );
    }
}

#[test]
fn an_openai_cost_csv_time_without_an_offset_is_read_as_utc_and_the_report_says_so() {
    // The dashboard cost export with its unix-seconds columns empty and the ISO start written
    // without an offset. Of its 5 lines, 3 carry an amount (records, each noted), one `n/a`
    // (rejected) and one none (a line without cost): 3 rows noted.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("openai/cost_export.csv")).unwrap();
    let naive = text.replace(
        "1791158400,1791244800,2026-10-05T00:00:00+00:00,",
        ",,2026-10-05T00:00:00,",
    );
    assert_ne!(naive, text);
    let p = dir.path().join("cost_export.csv");
    std::fs::write(&p, naive).unwrap();
    let (report, err, code) = reconcile_json(&[&p], &[]);
    assert_eq!(code, 0, "{err}");
    let s = source(&report, "openai");
    let notes = s["row_notes"].to_string();
    assert!(notes.contains("read as UTC"), "{notes}");
    // Read as UTC: the window is the UTC day 2026-10-05.
    assert_eq!(report["window"]["start"], "2026-10-05T00:00:00Z");
    let counted: u64 = s["row_notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n.to_string().contains("read as UTC"))
        .map(|n| n["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3, "{notes}");
    // With offsets (and unix seconds), nothing to say.
    let (report, _, _) = reconcile_json(&[&fixture("openai/cost_export.csv")], &[]);
    assert!(!report["notes"].to_string().contains("read as UTC"));
}
