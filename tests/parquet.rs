//! Parquet deliveries of the AWS CUR and FOCUS bills: the same rows as their CSV fixtures give the
//! same records; bad rows are rejected by row; unreadable files stop the run naming the file.

use assert_cmd::Command;
use llm_recon::record::{Money, Usage, UsageClass};
use llm_recon::source::{CollectSink, Format, read_all};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

fn read(path: &str) -> (Format, CollectSink) {
    read_all(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// CSV and Parquet give the same outcome for every row. The CSV's header is line 1, so data row
/// N is CSV line N + 1 (no field spans lines in these fixtures); the Parquet reasons start with
/// `row N: `. `same_ids` is false where the two deliveries name a column differently.
fn assert_same(csv: &CollectSink, pq: &CollectSink, same_ids: bool) {
    assert_eq!(csv.records.len(), pq.records.len());
    for (c, p) in csv.records.iter().zip(&pq.records) {
        let mut p = p.clone();
        p.origin.line += 1;
        if !same_ids {
            p.id = c.id.clone();
        }
        assert_eq!(c, &p);
    }
    let shifted: Vec<(u64, &str)> = pq.no_usage.iter().map(|(l, r)| (l + 1, *r)).collect();
    let want: Vec<(u64, &str)> = csv.no_usage.iter().map(|(l, r)| (*l, *r)).collect();
    assert_eq!(shifted, want);
    assert_eq!(csv.rejected.len(), pq.rejected.len());
    for ((cl, cr), (pl, pr)) in csv.rejected.iter().zip(&pq.rejected) {
        assert_eq!(pl + 1, *cl);
        assert_eq!(pr, &format!("row {pl}: {cr}"));
    }
}

#[test]
fn cur2_parquet_equals_its_csv() {
    let (cf, csv) = read("aws/cur2_bedrock.csv");
    let (pf, pq) = read("aws/cur2_bedrock.parquet");
    assert_eq!((cf, pf), (Format::AwsCur2Csv, Format::AwsCurParquet));
    assert_same(&csv, &pq, true);
    // The values that went through Parquet types, by hand: row 1 is 23 (a DOUBLE) at
    // `1K tokens` = 23,000 input tokens, $0.069 (a DOUBLE, read from its text 0.069, not
    // 0.0689999…), 2026-10-01T00:00Z = 1790812800 (a TIMESTAMP in milliseconds) to one hour
    // later.
    let r = &pq.records[0];
    assert_eq!(r.origin.line, 1);
    assert_eq!(r.usage, Usage::of(&[(UsageClass::Input, 23_000)]));
    assert_eq!(
        r.reported_cost,
        Some(Money::usd(Decimal::from_str("0.069").unwrap()))
    );
    assert_eq!(r.start.timestamp(), 1_790_812_800);
    assert_eq!(r.end.timestamp(), 1_790_812_800 + 3600);
    // The `tags` MAP column, read as its CSV JSON text, is in the id.
    assert!(r.id.contains("tags=user_team=search"), "{}", r.id);
    // Row 6's model is named only by the `product` MAP's product_name.
    assert_eq!(pq.records[5].model, "claude-3-5-sonnet");
    // The unknown usage type is row 11 (CSV line 12), named.
    assert_eq!(pq.rejected[0].0, 11);
    assert!(
        pq.rejected[0]
            .1
            .starts_with("row 11: unknown Bedrock usage type 'USE1-TitanEmbedV9-input-tokens'"),
        "{}",
        pq.rejected[0].1
    );
    // 11 rows in three row groups of 4, 4, 3: every row is accounted for once.
    assert_eq!(pq.records.len() + pq.no_usage.len() + pq.rejected.len(), 11);
}

#[test]
fn legacy_cur_parquet_equals_its_csv() {
    let (_, csv) = read("aws/cur_legacy_bedrock.csv");
    let (pf, pq) = read("aws/cur_legacy_bedrock.parquet");
    assert_eq!(pf, Format::AwsCurParquet);
    // Same records; only the tag column's name in the id differs
    // (`resourceTags/user:team` in CSV, `resource_tags_user_team` in Parquet).
    assert_same(&csv, &pq, false);
    assert!(
        pq.records[0].id.contains("resource_tags_user_team=search"),
        "{}",
        pq.records[0].id
    );
    // pricing_unit `1K tokens`: 2.5 blocks (a DOUBLE) = 2,500 tokens.
    assert_eq!(
        pq.records[3].usage,
        Usage::of(&[(UsageClass::Output, 2_500)])
    );
}

#[test]
fn focus_parquet_equals_its_csv() {
    let (cf, csv) = read("focus/focus_1_2_azure_openai.csv");
    let (pf, pq) = read("focus/focus_1_2_azure_openai.parquet");
    assert_eq!((cf, pf), (Format::FocusCsv, Format::FocusParquet));
    assert_same(&csv, &pq, true);
    // DECIMAL(38,10) costs are exact: 0.02 + 0.015 + 0.003125 + 0.03 = 0.068125 of usage, and
    // the credit of row 6, −5.00, a money line of its own.
    let total = |credit: bool| -> Decimal {
        pq.records
            .iter()
            .filter(|r| r.cost_only == credit)
            .map(|r| r.reported_cost.unwrap().amount)
            .sum()
    };
    assert_eq!(total(false), Decimal::from_str("0.068125").unwrap());
    assert_eq!(total(true), Decimal::from_str("-5").unwrap());
    // PricingQuantity 2.5 (DECIMAL) of `1000 Tokens` = 2,500 cached input tokens.
    assert_eq!(
        pq.records[2].usage,
        Usage::of(&[(UsageClass::InputCacheRead, 2_500)])
    );
    // The malformed period start is row 10.
    assert!(pq.rejected.iter().any(|(l, r)| *l == 10
        && r.starts_with("row 10: ChargePeriodStart")
        && r.contains("'10/02/2026'")));
}

#[test]
fn a_bad_row_is_rejected_with_its_row() {
    let (_, s) = read("aws/cur2_bad_rows.parquet");
    // Row 1: 4,000 input tokens, $0.012. Row 2: its DOUBLE cost is NaN.
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0].usage, Usage::of(&[(UsageClass::Input, 4_000)]));
    assert_eq!(
        s.rejected,
        vec![(
            2,
            "row 2: unblended cost: expected a decimal amount, got 'NaN'".to_string()
        )]
    );
}

#[test]
fn truncated_and_corrupt_files_are_input_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture("aws/cur2_bedrock.parquet")).unwrap();
    // Cut in half: no footer.
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let e = read_all(&cut).unwrap_err();
    assert_eq!(e.file, cut.display().to_string());
    assert!(e.message.contains("not a readable Parquet file"), "{e}");
    // The magic and nothing else.
    let magic = dir.path().join("magic.parquet");
    std::fs::write(&magic, b"PAR1").unwrap();
    let e = read_all(&magic).unwrap_err();
    assert!(e.message.contains("not a readable Parquet file"), "{e}");
    // The footer intact (its length is the 4 bytes before the closing magic) but the pages
    // before it overwritten: reading stops at row 1 with an error, no panic.
    let footer = u32::from_le_bytes(whole[whole.len() - 8..whole.len() - 4].try_into().unwrap());
    let pages_end = whole.len() - 8 - footer as usize;
    let mut broken = whole.clone();
    for b in &mut broken[4..pages_end] {
        *b = 0xA5;
    }
    let bad = dir.path().join("broken.parquet");
    std::fs::write(&bad, &broken).unwrap();
    let e = read_all(&bad).unwrap_err();
    assert_eq!(e.file, bad.display().to_string());
    assert!(e.message.contains("cannot read Parquet row 1"), "{e}");

    // On the command line: exit 2 and the file named.
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["normalize", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut.parquet"), "{stderr}");
    assert!(stderr.contains("Parquet"), "{stderr}");
}

#[test]
fn normalize_reads_parquet_bills() {
    for (path, records) in [
        // Seven usage lines and a Credit line.
        ("aws/cur2_bedrock.parquet", 8),
        // Four usage lines and a credit.
        ("focus/focus_1_2_azure_openai.parquet", 5),
    ] {
        let out = Command::cargo_bin("llm-recon")
            .unwrap()
            .args(["normalize", fixture(path).to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), records, "{path}");
        // Origins are file:row.
        let first: serde_json::Value =
            serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        assert!(
            first["origin"].as_str().unwrap().ends_with(".parquet:1"),
            "{}",
            first["origin"]
        );
    }
    // Forcing the format works too.
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .args([
            "normalize",
            "--input-format",
            "aws-cur-parquet",
            fixture("aws/cur2_bedrock.parquet").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
}
