//! DeepSeek platform usage export, the bill view.
//!
//! The platform's usage page exports a ZIP holding two CSV files (fact sheet
//! `billing-formats.md`, section DeepSeek; the whole section is marked unconfirmed there):
//! - `amount-*.csv`: `user_id,start_time_iso,end_time_iso,model,api_key_name,api_key,type,price,
//!   amount`, one row per window, model, key and `type` (`input_cache_hit_tokens`,
//!   `input_cache_miss_tokens`, `output_tokens`, `request_count`). One bucket record per row.
//! - `cost-*.csv`: `user_id,start_time_iso,end_time_iso,model,wallet_type,cost,currency`. One
//!   money-only record per row.
//!
//! Older exports name the day instead of the window: `user_id,utc_date,…` in both files, the
//! date written `YYYY-MM-DD` or `YYYYMMDD`; such a row is the UTC day `[utc_date, +1 day)`.
//! (Both layouts, per-token `price` values such as `0.000003`, an empty `price` on
//! `request_count` rows and compact dates are what independent public readers of real exports
//! parse; DeepSeek documents neither layout.)
//!
//! The ZIP itself is not read: its CSV files are given after unzipping. Both files start with a
//! UTF-8 BOM, end lines with CRLF and are not sorted; none of that matters to a row-by-row read.
//! `price` is not used: it is per token in the row's currency, but the cost file carries the
//! money DeepSeek charged, which is what a bill reconciles to.
//!
//! Scope mapping: `api_key` (as the export masks it; `api_key_name` when it is empty) is the
//! record's API key, `user_id` its user. Record ids name the window and every dimension, so the
//! same export read twice yields the same ids.

use super::util;
use super::{Format, Head, InputError, InputFile, RecordSink};
use crate::record::{Currency, Money, Operation, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use std::io::BufRead;

const AMOUNT_COLUMNS: [&str; 9] = [
    "user_id",
    "start_time_iso",
    "end_time_iso",
    "model",
    "api_key_name",
    "api_key",
    "type",
    "price",
    "amount",
];
const COST_COLUMNS: [&str; 7] = [
    "user_id",
    "start_time_iso",
    "end_time_iso",
    "model",
    "wallet_type",
    "cost",
    "currency",
];

// ---------------------------------------------------------------------------------------------
// Sniffing

/// Both files name `start_time_iso` (as does OpenAI's cost CSV); `api_key_name` with `type` and
/// `amount`, or `wallet_type` with `cost`, are DeepSeek's alone.
pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return None;
    }
    let cols = head.csv_columns();
    let has = |name: &str| cols.iter().any(|c| c == name);
    // The window's columns, or the older layout's single day.
    let windowed = has("start_time_iso") || (has("utc_date") && has("user_id"));
    if !windowed {
        return None;
    }
    if has("api_key_name") && has("type") && has("amount") {
        Some(Format::DeepseekAmountCsv)
    } else if has("wallet_type") && has("cost") {
        Some(Format::DeepseekCostCsv)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let (columns, what): (&[&str], &str) = match format {
        Format::DeepseekAmountCsv => (&AMOUNT_COLUMNS, "the DeepSeek usage export amount-*.csv"),
        Format::DeepseekCostCsv => (&COST_COLUMNS, "the DeepSeek usage export cost-*.csv"),
        other => {
            return Err(InputError::new(
                file,
                None,
                format!("{other} is not a DeepSeek format"),
            ));
        }
    };
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    // The older layout's one `utc_date` column stands where the window's two columns are.
    let dated = find("start_time_iso").is_none() && find("utc_date").is_some();
    let mut cols = Vec::with_capacity(columns.len());
    for name in columns {
        let name = match *name {
            "start_time_iso" | "end_time_iso" if dated => "utc_date",
            other => other,
        };
        match find(name) {
            Some(i) => cols.push(i),
            None => {
                return Err(InputError::new(
                    file,
                    Some(1),
                    format!("missing column '{name}'; expected {what}"),
                ));
            }
        }
    }
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        let field: Vec<Option<&str>> = cols
            .iter()
            .map(|&i| rec.get(i).and_then(util::opt_str))
            .collect();
        let row = match format {
            Format::DeepseekAmountCsv => amount_row(file, &field, dated, line),
            _ => cost_row(file, &field, dated, line),
        };
        match row {
            Ok(r) => {
                // DeepSeek does not document the zone of its export's times; the readers seen
                // write offsets. A time without one is read as UTC, and the report says so.
                if !dated && field[1].is_some_and(|t| !util::names_offset(t)) {
                    sink.note(line, NAIVE_TIME_NOTE);
                }
                sink.record(r)
            }
            Err(reason) => sink.reject(line, reason),
        }
    })
}

/// What the report says of a window written without an offset.
pub const NAIVE_TIME_NOTE: &str = "start_time_iso has no UTC offset: read as UTC (DeepSeek does not document the zone of its export's times)";

/// `[start_time_iso, end_time_iso)` in UTC. The export writes ISO 8601 times; one without an
/// offset is taken as UTC. In the older layout (`dated`), the UTC day of `utc_date`.
fn window(field: &[Option<&str>], dated: bool) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    if dated {
        let raw = field[1].unwrap_or("");
        let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .or_else(|_| chrono::NaiveDate::parse_from_str(raw, "%Y%m%d"))
            .map_err(|_| {
                format!("utc_date: expected a date like 2026-10-01 or 20261001, got '{raw}'")
            })?;
        let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
        return Ok((start, start + chrono::Duration::days(1)));
    }
    let time = |i: usize, name: &str| -> Result<DateTime<Utc>, String> {
        const LIKE: &str = "expected an ISO 8601 time like 2026-10-01T00:00:00+08:00";
        let raw = field[i].ok_or_else(|| format!("{name}: {LIKE}, got nothing"))?;
        util::parse_utc(raw).ok_or_else(|| format!("{name}: {LIKE}, got '{raw}'"))
    };
    let start = time(1, "start_time_iso")?;
    let end = time(2, "end_time_iso")?;
    if end <= start {
        return Err(format!(
            "end_time_iso {end} is not after start_time_iso {start}; expected [start, end)"
        ));
    }
    Ok((start, end))
}

fn operation(model: &str) -> Operation {
    if crate::catalog::is_embedding_model(model) {
        Operation::Embedding
    } else {
        Operation::Chat
    }
}

fn amount_row(
    file: &InputFile,
    field: &[Option<&str>],
    dated: bool,
    line: u64,
) -> Result<UsageRecord, String> {
    let (start, end) = window(field, dated)?;
    let kind = field[6].unwrap_or("");
    // `input_cache_miss_tokens` is the uncached input: hits and misses are disjoint parts of the
    // prompt, as in the API's `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`.
    let class = match kind {
        "input_cache_hit_tokens" => Some(UsageClass::InputCacheRead),
        "input_cache_miss_tokens" => Some(UsageClass::Input),
        "output_tokens" => Some(UsageClass::Output),
        "request_count" => None,
        other => {
            return Err(format!(
                "type: unknown usage type '{other}'; expected input_cache_hit_tokens, input_cache_miss_tokens, output_tokens or request_count"
            ));
        }
    };
    let raw = field[8].unwrap_or("");
    let n = util::parse_count(raw).ok_or_else(|| {
        format!("amount: expected a non-negative whole count of {kind}, got '{raw}'")
    })?;
    let model = field[3].unwrap_or("");
    let user = field[0];
    let key_name = field[4];
    let key = field[5];
    let id = format!(
        "deepseek:amount:{}-{}:user_id={}:model={model}:api_key_name={}:api_key={}:type={kind}",
        start.timestamp(),
        end.timestamp(),
        user.unwrap_or(""),
        key_name.unwrap_or(""),
        key.unwrap_or("")
    );
    let mut rec = UsageRecord::bucket(id, file.origin(line), start, end);
    rec.set_model(Some("deepseek"), model);
    rec.operation = operation(model);
    rec.scope.api_key = key.or(key_name).map(str::to_string);
    rec.scope.user = user.map(str::to_string);
    match class {
        Some(c) => rec.usage[c] = n,
        None => rec.requests = n as u64,
    }
    Ok(rec)
}

fn cost_row(
    file: &InputFile,
    field: &[Option<&str>],
    dated: bool,
    line: u64,
) -> Result<UsageRecord, String> {
    let (start, end) = window(field, dated)?;
    let raw = field[5].unwrap_or("");
    let amount = util::parse_decimal(raw)
        .ok_or_else(|| format!("cost: expected a decimal amount like 1.76, got '{raw}'"))?;
    let cur = field[6].unwrap_or("");
    let currency = Currency::parse(cur).ok_or_else(|| {
        format!("currency: expected a currency code like CNY or USD, got '{cur}'")
    })?;
    let model = field[3].unwrap_or("");
    let user = field[0];
    let wallet = field[4].unwrap_or("");
    let id = format!(
        "deepseek:cost:{}-{}:user_id={}:model={model}:wallet_type={wallet}:currency={currency}",
        start.timestamp(),
        end.timestamp(),
        user.unwrap_or("")
    );
    let mut rec = UsageRecord::bucket(id, file.origin(line), start, end);
    rec.set_model(Some("deepseek"), model);
    rec.operation = operation(model);
    rec.scope.user = user.map(str::to_string);
    rec.cost_only = true;
    rec.reported_cost = Some(Money::new(amount, currency));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Usage;
    use crate::source::testutil::{read_as, temp};
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    const KA: &str = "sk-7f3a****************************c2e1";
    const KB: &str = "sk-19bd****************************5a07";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/deepseek")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("deepseek/{name}"))
    }

    #[test]
    fn amount_rows_map_types_to_classes() {
        let (format, s) = read_fixture("amount-2026-10.csv");
        assert_eq!(format, Format::DeepseekAmountCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 9);
        // Row 1 (line 2, day 2 although it comes first): 120000 output tokens of key A.
        let r = &s.records[0];
        assert_eq!(r.origin.line, 2);
        assert_eq!(r.usage, Usage::of(&[(Output, 120_000)]));
        assert_eq!(r.model, "deepseek-chat");
        assert_eq!(r.provider, "deepseek");
        assert_eq!(r.scope.api_key.as_deref(), Some(KA));
        assert!(!r.cost_only && r.reported_cost.is_none());
        // 2026-10-02T00:00:00+08:00 = 2026-10-01T16:00:00Z; 2026-10-01T00:00:00Z is
        // 1_790_812_800, + 16 h (57_600 s) = 1_790_870_400.
        assert_eq!(r.start.timestamp(), 1_790_870_400);
        assert_eq!(r.end.timestamp(), 1_790_870_400 + 86_400);
        // Cache hits are cache reads, misses uncached input.
        assert_eq!(s.records[3].usage, Usage::of(&[(InputCacheRead, 300_000)]));
        assert_eq!(s.records[1].usage, Usage::of(&[(Input, 500_000)]));
        // request_count rows carry requests, no tokens.
        assert_eq!(s.records[4].requests, 180);
        assert!(s.records[4].usage.is_zero());
        assert_eq!(s.records[2].model, "deepseek-reasoner");
        assert_eq!(s.records[2].scope.api_key.as_deref(), Some(KB));
        // Totals: input 500000 + 400000 + 100000 = 1_000_000; cache reads 300000;
        // output 120000 + 60000 + 80000 = 260000; requests 180 + 250 = 430.
        let total = s.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        assert_eq!(total[Input], 1_000_000);
        assert_eq!(total[InputCacheRead], 300_000);
        assert_eq!(total[Output], 260_000);
        assert_eq!(total.total(), 1_560_000);
        assert_eq!(s.records.iter().map(|r| r.requests).sum::<u64>(), 430);
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let (_, s) = read_fixture("amount-2026-10.csv");
        let ids: HashSet<_> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 9);
        assert_eq!(
            s.records[1].id,
            format!(
                "deepseek:amount:1790784000-1790870400:user_id=8d6c0b2e-4f1a-4c57-9e3b-71a2d5c0f9b4:model=deepseek-chat:api_key_name=dify-prod:api_key={KA}:type=input_cache_miss_tokens"
            )
        );
        let (_, again) = read_fixture("amount-2026-10.csv");
        assert_eq!(s.records, again.records);
        let (_, c) = read_fixture("cost-2026-10.csv");
        let cids: HashSet<_> = c.records.iter().map(|r| &r.id).collect();
        assert_eq!(cids.len(), 4);
        assert!(cids.iter().all(|id| id.starts_with("deepseek:cost:")));
    }

    #[test]
    fn cost_rows_carry_money_only() {
        let (format, s) = read_fixture("cost-2026-10.csv");
        assert_eq!(format, Format::DeepseekCostCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 4);
        assert!(s.records.iter().all(|r| r.cost_only
            && r.usage.is_zero()
            && r.requests == 0
            && r.provider == "deepseek"
            && r.reported_cost.unwrap().currency == Currency::CNY));
        assert_eq!(
            s.records[0].reported_cost,
            Some(Money::new(dec!(1.76), Currency::CNY))
        );
        // Day 1 chat: 0.5M miss × 2 + 0.3M hit × 0.2 + 0.08M output × 8 = 1 + 0.06 + 0.64 =
        // 1.70 CNY, split 0.50 granted + 1.20 topped up; reasoner 0.1M × 4 + 0.06M × 16 = 1.36;
        // day 2 chat 0.4M × 2 + 0.12M × 8 = 1.76. Total 1.70 + 1.36 + 1.76 = 4.82.
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(total, dec!(4.82));
    }

    #[test]
    fn bad_rows_are_rejected_with_the_value() {
        let (_, s) = read_fixture("amount-bad-rows.csv");
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].usage, Usage::of(&[(Output, 1000)]));
        let r: Vec<(u64, &str)> = s.rejected.iter().map(|(l, r)| (*l, r.as_str())).collect();
        assert_eq!(r.len(), 4, "{r:?}");
        assert_eq!(r[0].0, 3);
        assert!(
            r[0].1.contains("unknown usage type 'image_tokens'"),
            "{}",
            r[0].1
        );
        assert!(
            r[1].1.contains("amount") && r[1].1.contains("'lots'"),
            "{}",
            r[1].1
        );
        assert!(
            r[2].1.contains("start_time_iso") && r[2].1.contains("'yesterday'"),
            "{}",
            r[2].1
        );
        assert!(r[3].1.contains("expected 9 fields"), "{}", r[3].1);
        // CRLF lines: the short row is on line 6 of the file.
        assert_eq!(r[3].0, 6);

        let (_, c) = read_fixture("cost-bad-rows.csv");
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.rejected.len(), 2);
        assert!(c.rejected[0].1.contains("cost") && c.rejected[0].1.contains("'n/a'"));
        assert!(c.rejected[1].1.contains("currency") && c.rejected[1].1.contains("'yuan'"));
    }

    #[test]
    fn times_without_offset_are_utc_and_end_must_follow_start() {
        let text = "user_id,start_time_iso,end_time_iso,model,api_key_name,api_key,type,price,amount\n\
            u,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,deepseek-chat,k,,output_tokens,8,7\n\
            u,2026-10-02T00:00:00,2026-10-01T00:00:00,deepseek-chat,k,,output_tokens,8,7\n";
        let (_d, path) = temp("amount-x.csv", text);
        let s = read_as(Format::DeepseekAmountCsv, &path).unwrap();
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].start.timestamp(), 1_790_812_800);
        // Empty api_key: the key name stands in.
        assert_eq!(s.records[0].scope.api_key.as_deref(), Some("k"));
        assert!(
            s.rejected[0].1.contains("is not after"),
            "{}",
            s.rejected[0].1
        );
    }

    /// The older layout: one `utc_date` per row (`YYYY-MM-DD` or compact `YYYYMMDD`), a UTC day;
    /// per-token prices and an empty price on `request_count`, as real exports write them.
    #[test]
    fn older_exports_with_a_utc_date() {
        let amount = "\u{feff}user_id,utc_date,model,api_key_name,api_key,type,price,amount\r\n\
            u,20261001,deepseek-chat,dify-prod,sk-7f3a****c2e1,input_cache_miss_tokens,0.000002,500000\r\n\
            u,2026-10-01,deepseek-chat,dify-prod,sk-7f3a****c2e1,request_count,,180\r\n\
            u,10/01/2026,deepseek-chat,dify-prod,sk-7f3a****c2e1,output_tokens,0.000008,1\r\n";
        let (_d, path) = temp("amount-2026-10.csv", amount);
        let (format, s) = read_all(&path).unwrap();
        assert_eq!(format, Format::DeepseekAmountCsv);
        assert_eq!(s.records.len(), 2, "{:?}", s.rejected);
        // 2026-10-01T00:00:00Z = 1790812800, one day.
        assert_eq!(s.records[0].start.timestamp(), 1_790_812_800);
        assert_eq!(s.records[0].end.timestamp(), 1_790_812_800 + 86_400);
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 500_000)]));
        assert_eq!(
            (s.records[1].requests, s.records[1].start),
            (180, s.records[0].start)
        );
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 4);
        assert!(s.rejected[0].1.contains("utc_date") && s.rejected[0].1.contains("'10/01/2026'"));

        let cost = "user_id,utc_date,model,wallet_type,cost,currency\n\
            u,20261001,deepseek-chat,granted,1.0000000000000000,CNY\n";
        let (_d2, path) = temp("cost-2026-10.csv", cost);
        let (format, c) = read_all(&path).unwrap();
        assert_eq!(format, Format::DeepseekCostCsv);
        assert_eq!(
            c.records[0].reported_cost,
            Some(Money::new(dec!(1), Currency::CNY))
        );
        assert_eq!(c.records[0].start.timestamp(), 1_790_812_800);
    }

    #[test]
    fn sniffing() {
        for (name, want) in [
            ("amount-2026-10.csv", Format::DeepseekAmountCsv),
            ("amount-bad-rows.csv", Format::DeepseekAmountCsv),
            ("cost-2026-10.csv", Format::DeepseekCostCsv),
            ("cost-bad-rows.csv", Format::DeepseekCostCsv),
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(sniff(&head), Some(want), "{name}");
            assert_eq!(crate::source::sniff(&head), Some(want), "{name}");
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("deepseek") {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let path = f.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                if let Ok(head) = crate::source::read_head(&InputFile::new(0, &path)) {
                    assert_eq!(sniff(&head), None, "{}", path.display());
                }
            }
        }
    }

    #[test]
    fn unrecognizable_and_unreadable_files() {
        let (_d, path) = temp(
            "usage.csv",
            "date,model,tokens\n2026-10-01,deepseek-chat,5\n",
        );
        let e = read_all(&path).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        // Forced on a file without the columns.
        let e = read_as(Format::DeepseekCostCsv, &path).unwrap_err();
        assert!(e.message.contains("missing column 'user_id'"), "{e}");
        let file = InputFile::new(0, &path);
        let mut sink = CollectSink::default();
        let mut r: &[u8] = b"";
        let e = read(Format::OpenaiCostCsv, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not a DeepSeek format"), "{e}");
    }

    /// Every data row ends in exactly one of record / no_usage / reject.
    #[test]
    fn accounting_every_row_once() {
        for name in [
            "amount-2026-10.csv",
            "amount-bad-rows.csv",
            "cost-2026-10.csv",
            "cost-bad-rows.csv",
        ] {
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            let rows = text.lines().filter(|l| !l.trim().is_empty()).count() - 1;
            let (_, s) = read_fixture(name);
            assert_eq!(
                s.records.len() + s.no_usage.len() + s.rejected.len(),
                rows,
                "{name}"
            );
        }
    }
}
