//! Alibaba Cloud Model Studio (Bailian) bill details CSV, the bill view.
//!
//! The Expenses and Costs console's Bill Details export (Statistic Item = Billable Item), with
//! Chinese headers (`账期, 产品, 产品明细, 消费类型, 实例ID, 实例标签, 账单日期, 用量, 用量单位,
//! 应付金额`, …) or their English equivalents (`Billing Cycle, Product Name, Product Detail,
//! Subscription Type, Instance ID, Instance Tag, Billing Date, Usage, Usage Unit, Pretax Amount`).
//! Columns are found by name, so the export's other columns may come in any order.
//!
//! Model Studio packs its dimensions into the instance ID, semicolon-separated:
//! `ApiKeyID;WorkspaceID;ModelName;AmountType;Source[;SafeModeStatus]`, e.g.
//! `12xxx;llm-xxx;qwen-max;output_token;app`. An empty ApiKeyID is a call made in the console;
//! bills from before the key dimension carry the billing type (`text_token`) in its place. The
//! key is the record's API key, the workspace its project; `input_token` is input and
//! `output_token` output. Any other amount type is rejected with its name. Text rerank models
//! (`gte-rerank-v2`, billed per input token) are rerank lines, embedding models embedding lines.
//!
//! Times are the bill's, UTC+8: a detail export's own `账单开始时间` / `账单结束时间`, else the day of `消费时间` or `账单日期`, else the `账期`
//! month, becomes a `[start, end)` bucket in UTC. Money is `应付金额` in CNY unless a currency column says
//! otherwise. Quantities are converted to tokens from `用量单位` (tokens, thousands or millions
//! of tokens); a unit not listed is rejected with its name, never guessed.
//!
//! Lines of other products, and prepaid Model Studio charges (savings plans), are counted as
//! without usage. Record ids are built from every column of the line, so the same bill read
//! twice yields the same ids while two lines differing in any column (a detail export's times,
//! tags) never collide.

use super::util;
use super::{Format, Head, InputError, InputFile, RecordSink};
use crate::record::{Currency, Money, Operation, UsageClass, UsageRecord};
use chrono::{DateTime, Duration, FixedOffset, Months, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use std::io::BufRead;

/// The bill's logical columns, each with its Chinese and English header names.
#[derive(Clone, Copy)]
enum Col {
    Cycle,
    Product,
    ProductDetail,
    Kind,
    Instance,
    Date,
    Usage,
    Unit,
    Amount,
    Currency,
    Consumed,
    UsageStart,
    UsageEnd,
}

const COLS: [(Col, &[&str]); 13] = [
    (Col::Cycle, &["账期", "Billing Cycle"]),
    (Col::Product, &["产品", "Product Name", "Product"]),
    (Col::ProductDetail, &["产品明细", "Product Detail"]),
    (Col::Kind, &["消费类型", "Subscription Type"]),
    (Col::Instance, &["实例ID", "Instance ID"]),
    (Col::Date, &["账单日期", "Billing Date"]),
    (Col::Usage, &["用量", "Usage"]),
    (Col::Unit, &["用量单位", "Usage Unit"]),
    (
        Col::Amount,
        // `Amount After Reduction` is the name Alibaba's Bill details page uses since 2025.
        &[
            "应付金额",
            "Pretax Amount",
            "Amount After Price Reduction",
            "Amount After Reduction",
        ],
    ),
    (Col::Currency, &["币种", "Currency"]),
    // Detail exports (Statistic Period = Detail) carry the line's own times; the API names
    // them `UsageStartTime` / `UsageEndTime`.
    (Col::Consumed, &["消费时间", "Consumption Time"]),
    (Col::UsageStart, &["账单开始时间", "Usage Start Time"]),
    (Col::UsageEnd, &["账单结束时间", "Usage End Time"]),
];

/// Columns a file must have to be read.
const REQUIRED: [Col; 6] = [
    Col::Cycle,
    Col::Product,
    Col::Instance,
    Col::Usage,
    Col::Unit,
    Col::Amount,
];

fn names(c: Col) -> &'static [&'static str] {
    COLS[c as usize].1
}

fn position(headers: &[String], c: Col) -> Option<usize> {
    headers.iter().position(|h| names(c).contains(&h.as_str()))
}

/// Beijing time, in which the bill writes its days and months.
fn utc8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

// ---------------------------------------------------------------------------------------------
// Sniffing

/// The instance ID, usage unit and payable amount columns together, in either language.
pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return None;
    }
    let cols = head.csv_columns();
    [Col::Cycle, Col::Instance, Col::Unit, Col::Amount]
        .iter()
        .all(|&c| position(&cols, c).is_some())
        .then_some(Format::AlibabaBillCsv)
}

// ---------------------------------------------------------------------------------------------
// Reading

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    if format != Format::AlibabaBillCsv {
        return Err(InputError::new(
            file,
            None,
            format!("{format} is not an Alibaba Cloud format"),
        ));
    }
    let mut rdr = util::csv_reader(reader);
    let headers: Vec<String> = util::csv_headers(&mut rdr, file)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    for c in REQUIRED {
        if position(&headers, c).is_none() {
            let n = names(c);
            return Err(InputError::new(
                file,
                Some(1),
                format!(
                    "missing column '{}' ('{}'); expected an Alibaba Cloud bill details export",
                    n[0], n[1]
                ),
            ));
        }
    }
    let idx: Vec<Option<usize>> = COLS.iter().map(|&(c, _)| position(&headers, c)).collect();
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        let row = Row { rec, idx: &idx };
        match bill_line(file, &row, line) {
            Ok(Line::Record(r)) => sink.record(*r),
            Ok(Line::NoUsage(reason)) => sink.no_usage(line, reason),
            Err(reason) => sink.reject(line, reason),
        }
    })
}

struct Row<'a> {
    rec: &'a csv::StringRecord,
    idx: &'a [Option<usize>],
}

impl Row<'_> {
    fn get(&self, c: Col) -> Option<&str> {
        self.idx[c as usize]
            .and_then(|i| self.rec.get(i))
            .and_then(util::opt_str)
    }
}

enum Line {
    Record(Box<UsageRecord>),
    NoUsage(&'static str),
}

const OTHER_PRODUCT: &str = "another Alibaba Cloud product's charge, not Model Studio usage";
const PREPAID: &str = "prepaid Model Studio charge (savings plan or subscription), not token usage";

/// The product names the bill gives Model Studio, in Chinese and English.
fn is_model_studio(product: &str) -> bool {
    product.contains("百炼") || product.to_ascii_lowercase().contains("model studio")
}

/// The dimensions packed into a Model Studio instance ID.
#[derive(Debug, PartialEq)]
struct Packed<'a> {
    api_key: Option<&'a str>,
    workspace: &'a str,
    model: &'a str,
    amount_type: &'a str,
}

const PACKED_SHAPE: &str =
    "expected ApiKeyID;WorkspaceID;ModelName;input_token|output_token;Source[;SafeModeStatus]";

fn unpack(instance: &str) -> Result<Packed<'_>, String> {
    let parts: Vec<&str> = instance.split(';').map(str::trim).collect();
    if !(5..=6).contains(&parts.len()) || parts[1].is_empty() || parts[2].is_empty() {
        return Err(format!("instance ID: {PACKED_SHAPE}, got '{instance}'"));
    }
    // Empty: a console call. `text_token`: bills from before the key dimension, which led with
    // the billing type.
    let api_key = match parts[0] {
        "" => None,
        k if k.ends_with("_token") => None,
        k => Some(k),
    };
    Ok(Packed {
        api_key,
        workspace: parts[1],
        model: parts[2],
        amount_type: parts[3],
    })
}

/// Tokens per unit of `用量单位`. Model Studio prices per thousand tokens (`元/千Token`); the
/// export may count in tokens or in thousands.
fn tokens_per_unit(unit: &str) -> Option<i64> {
    let u: String = unit
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let u = u.strip_suffix('s').unwrap_or(&u);
    match u {
        "token" | "个" => Some(1),
        "千token" | "千个" | "thousandtoken" | "ktoken" | "1ktoken" | "1000token" => Some(1_000),
        "百万token" | "milliontoken" | "mtoken" | "1mtoken" => Some(1_000_000),
        _ => None,
    }
}

/// `用量 × tokens per unit`, which must come out whole: `120.5` thousand tokens is 120500
/// tokens, `1.2345` thousand is not a token count.
fn to_tokens(usage: Decimal, per_unit: i64) -> Option<i64> {
    let t = usage.checked_mul(Decimal::from(per_unit))?;
    if t.is_sign_negative() || !t.fract().is_zero() {
        return None;
    }
    i64::try_from(t.trunc()).ok()
}

/// A bill time `2026-10-05 13:00:00` (or `2026-10-05T13:00:00`), UTC+8, in UTC.
fn bill_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim().replace('T', " ");
    let naive = chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M"))
        .ok()?;
    utc8()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The line's bucket, in UTC+8: the line's own usage start and end when the export has them,
/// else the day of its consumption time or billing date, else (a monthly bill) its `账期`.
fn bucket(row: &Row) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let tz = utc8();
    let at = |d: NaiveDate| -> Option<DateTime<Utc>> {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    if let (Some(a), Some(b)) = (row.get(Col::UsageStart), row.get(Col::UsageEnd)) {
        let start = bill_time(a).ok_or_else(|| {
            format!("账单开始时间: expected a time like 2026-10-05 13:00:00, got '{a}'")
        })?;
        let end = bill_time(b).ok_or_else(|| {
            format!("账单结束时间: expected a time like 2026-10-05 14:00:00, got '{b}'")
        })?;
        if end <= start {
            return Err(format!(
                "账单结束时间 '{b}' is not after 账单开始时间 '{a}'"
            ));
        }
        return Ok((start, end));
    }
    if let Some(c) = row.get(Col::Consumed) {
        let day = c.get(..10).unwrap_or(c);
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            format!("消费时间: expected a time like 2026-10-05 13:00:00, got '{c}'")
        })?;
        let start = at(d).ok_or_else(|| format!("消费时间: no such day '{c}'"))?;
        return Ok((start, start + Duration::days(1)));
    }
    if let Some(day) = row.get(Col::Date) {
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| format!("账单日期: expected a date like 2026-10-05, got '{day}'"))?;
        let start = at(d).ok_or_else(|| format!("账单日期: no such day '{day}'"))?;
        return Ok((start, start + Duration::days(1)));
    }
    let cycle = row.get(Col::Cycle).unwrap_or("");
    let first = NaiveDate::parse_from_str(&format!("{cycle}-01"), "%Y-%m-%d")
        .map_err(|_| format!("账期: expected a month like 2026-10, got '{cycle}'"))?;
    let next = first
        .checked_add_months(Months::new(1))
        .ok_or_else(|| format!("账期: no month after '{cycle}'"))?;
    match (at(first), at(next)) {
        (Some(s), Some(e)) => Ok((s, e)),
        _ => Err(format!("账期: no such month '{cycle}'")),
    }
}

fn bill_line(file: &InputFile, row: &Row, line: u64) -> Result<Line, String> {
    let product = row.get(Col::Product).unwrap_or("");
    if !is_model_studio(product) {
        return Ok(Line::NoUsage(OTHER_PRODUCT));
    }
    let kind = row.get(Col::Kind).unwrap_or("");
    if kind == "预付费" || kind.eq_ignore_ascii_case("subscription") {
        return Ok(Line::NoUsage(PREPAID));
    }
    let instance = row.get(Col::Instance).unwrap_or("");
    let p = unpack(instance)?;
    let class = match p.amount_type {
        "input_token" => UsageClass::Input,
        "output_token" => UsageClass::Output,
        other => {
            return Err(format!(
                "instance ID: unknown amount type '{other}' in '{instance}'; expected input_token or output_token"
            ));
        }
    };
    let unit = row.get(Col::Unit).unwrap_or("");
    let per_unit = tokens_per_unit(unit).ok_or_else(|| {
        format!("用量单位: unknown usage unit '{unit}'; expected Token, 千Token or 百万Token")
    })?;
    let raw = row.get(Col::Usage).unwrap_or("");
    let usage = util::parse_decimal(raw)
        .ok_or_else(|| format!("用量: expected a number like 120.5, got '{raw}'"))?;
    let tokens = to_tokens(usage, per_unit).ok_or_else(|| {
        format!("用量: {raw} {unit} is not a whole, non-negative number of tokens")
    })?;
    let raw = row.get(Col::Amount).unwrap_or("");
    let amount = util::parse_decimal(raw)
        .ok_or_else(|| format!("应付金额: expected a decimal amount like 0.0964, got '{raw}'"))?;
    let currency = match row.get(Col::Currency) {
        None => Currency::CNY,
        Some(c) => Currency::parse(c)
            .ok_or_else(|| format!("币种: expected a currency code like CNY, got '{c}'"))?,
    };
    let (start, end) = bucket(row)?;

    let id = format!(
        "alibaba:{}",
        row.rec.iter().map(str::trim).collect::<Vec<_>>().join("|")
    );
    let mut rec = UsageRecord::bucket(id, file.origin(line), start, end);
    rec.set_model(Some("alibaba"), p.model);
    // The instance ID names the model, not the call: a text rerank model (`gte-rerank-v2`,
    // billed per input token like an embedding model) is a rerank line.
    rec.operation = if crate::catalog::is_rerank_model(p.model) {
        Operation::Rerank
    } else if crate::catalog::is_embedding_model(p.model) {
        Operation::Embedding
    } else {
        Operation::Chat
    };
    rec.scope.api_key = p.api_key.map(str::to_string);
    rec.scope.project = Some(p.workspace.to_string());
    rec.usage[class] = tokens;
    rec.reported_cost = Some(Money::new(amount, currency));
    Ok(Line::Record(Box::new(rec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Usage;
    use crate::source::testutil::temp;
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    const WA: &str = "llm-7dk2q9xw3m5r8p1a";
    const WB: &str = "llm-c4n8v2b6x0z3m7q5";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/alibaba")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("alibaba/{name}"))
    }

    fn cny(x: Decimal) -> Option<Money> {
        Some(Money::new(x, Currency::CNY))
    }

    #[test]
    fn chinese_headers_thousands_of_tokens() {
        let (format, s) = read_fixture("bill-details-zh.csv");
        assert_eq!(format, Format::AlibabaBillCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 6);
        // 120.5 千Token = 120.5 × 1000 = 120500 input tokens.
        let r = &s.records[0];
        assert_eq!(r.origin.line, 2);
        assert_eq!(r.usage, Usage::of(&[(Input, 120_500)]));
        assert_eq!(r.model, "qwen-plus");
        assert_eq!(r.provider, "alibaba");
        assert_eq!(r.scope.api_key.as_deref(), Some("1001"));
        assert_eq!(r.scope.project.as_deref(), Some(WA));
        assert_eq!(r.reported_cost, cny(dec!(0.0964)));
        assert!(!r.cost_only);
        // 2026-10-05 in UTC+8 starts at 2026-10-04T16:00:00Z: 2026-10-01T00:00:00Z is
        // 1_790_812_800, + 3 days 16 h = 1_790_812_800 + 316_800 = 1_791_129_600.
        assert_eq!(r.start.timestamp(), 1_791_129_600);
        assert_eq!(r.end.timestamp(), 1_791_129_600 + 86_400);
        // 30.25 千Token = 30250 output tokens.
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 30_250)]));
        // Six parts (SafeModeStatus `0`) read the same way.
        assert_eq!(s.records[2].scope.api_key.as_deref(), Some("1002"));
        assert_eq!(s.records[2].scope.project.as_deref(), Some(WB));
        assert_eq!(s.records[2].model, "qwen-max");
        // Console call: no ApiKeyID.
        assert_eq!(s.records[4].scope.api_key, None);
        assert_eq!(s.records[4].usage[Input], 2_000);
        assert_eq!(s.records[5].operation, Operation::Embedding);
        // Totals: input 120500 + 50000 + 2000 + 400000 = 572500; output 30250 + 10000 = 40250.
        let total = s.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        assert_eq!(total[Input], 572_500);
        assert_eq!(total[Output], 40_250);
        // 0.0964 + 0.0605 + 0.12 + 0.096 + 0.0016 + 0.2 = 0.5745 CNY.
        let money: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(money, dec!(0.5745));
        // The ECS line and the prepaid savings plan are counted as without usage.
        assert_eq!(s.no_usage, vec![(8, OTHER_PRODUCT), (9, PREPAID)]);
    }

    #[test]
    fn english_headers_tokens_and_the_older_instance_id() {
        let (format, s) = read_fixture("bill-details-en.csv");
        assert_eq!(format, Format::AlibabaBillCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 3);
        // Unit `Token`: 8000 is 8000 tokens, not 8 million.
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 8_000)]));
        assert_eq!(s.records[0].reported_cost, cny(dec!(0.0064)));
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 2_000)]));
        // `text_token;…`: the billing type, not a key.
        assert_eq!(s.records[2].scope.api_key, None);
        assert_eq!(s.records[2].scope.project.as_deref(), Some(WB));
        assert_eq!(s.records[2].model, "qwen-max");
    }

    /// The newer English amount column of the Bill details page.
    #[test]
    fn amount_after_reduction_is_the_money() {
        let text = std::fs::read_to_string(fixture("bill-details-en.csv"))
            .unwrap()
            .replacen("Pretax Amount", "Amount After Reduction", 1);
        let (_d, p) = temp("bill-details-new.csv", &text);
        let (format, s) = crate::source::read_all(&p).unwrap();
        assert_eq!(format, Format::AlibabaBillCsv);
        assert_eq!(s.records.len(), 3, "{:?}", s.rejected);
        // The first line's 0.0064 CNY (8000 qwen-plus input tokens at 0.0008 CNY per 1K).
        assert_eq!(s.records[0].reported_cost, cny(dec!(0.0064)));
    }

    #[test]
    fn unit_conversion_by_hand() {
        assert_eq!(tokens_per_unit("Token"), Some(1));
        assert_eq!(tokens_per_unit("tokens"), Some(1));
        assert_eq!(tokens_per_unit("千Token"), Some(1_000));
        assert_eq!(tokens_per_unit("千 tokens"), Some(1_000));
        assert_eq!(tokens_per_unit("Thousand Tokens"), Some(1_000));
        assert_eq!(tokens_per_unit("百万Token"), Some(1_000_000));
        assert_eq!(tokens_per_unit("次"), None);
        assert_eq!(tokens_per_unit("张"), None);
        // 120.5 × 1000 = 120500; 0.001 × 1000 = 1; 1.2345 × 1000 = 1234.5 is not whole.
        assert_eq!(to_tokens(dec!(120.5), 1_000), Some(120_500));
        assert_eq!(to_tokens(dec!(0.001), 1_000), Some(1));
        assert_eq!(to_tokens(dec!(1.2345), 1_000), None);
        // 0.75 × 1_000_000 = 750000.
        assert_eq!(to_tokens(dec!(0.75), 1_000_000), Some(750_000));
        assert_eq!(to_tokens(dec!(-1), 1), None);
    }

    #[test]
    fn instance_ids_unpack() {
        assert_eq!(
            unpack("12;llm-x;qwen-max;output_token;app"),
            Ok(Packed {
                api_key: Some("12"),
                workspace: "llm-x",
                model: "qwen-max",
                amount_type: "output_token"
            })
        );
        assert_eq!(
            unpack(";llm-x;qwen-max;input_token;app;0").map(|p| p.api_key),
            Ok(None)
        );
        assert!(unpack("i-bp1f2g3h").unwrap_err().contains("'i-bp1f2g3h'"));
        assert!(unpack("1;;qwen;input_token;app").is_err());
        assert!(unpack("1;w;qwen;input_token;app;0;x").is_err());
    }

    #[test]
    fn a_detail_line_keeps_its_own_times_not_the_month() {
        let (_, s) = read_fixture("bill-details-detail-zh.csv");
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 3);
        let t = |r: &UsageRecord| (r.start.to_rfc3339(), r.end.to_rfc3339());
        // 2026-10-05 13:00–14:00 in UTC+8 is 05:00–06:00 UTC, not the whole of 账期 2026-10.
        assert_eq!(
            t(&s.records[0]),
            (
                "2026-10-05T05:00:00+00:00".into(),
                "2026-10-05T06:00:00+00:00".into()
            )
        );
        assert_eq!(s.records[0].usage[Input], 120_500);
        assert_eq!(
            t(&s.records[1]),
            (
                "2026-10-05T05:00:00+00:00".into(),
                "2026-10-05T06:00:00+00:00".into()
            )
        );
        // Only 消费时间: the day it names, in UTC+8.
        assert_eq!(
            t(&s.records[2]),
            (
                "2026-10-05T16:00:00+00:00".into(),
                "2026-10-06T16:00:00+00:00".into()
            )
        );
    }

    #[test]
    fn month_bucket_without_a_billing_date() {
        let text = "账期,产品,实例ID,用量,用量单位,应付金额\n\
            2026-10,大模型服务平台百炼,7;llm-x;qwen-plus;output_token;app,3,千Token,0.006\n";
        let (_d, path) = temp("month.csv", text);
        let (_, s) = read_all(&path).unwrap();
        assert_eq!(s.records.len(), 1);
        let r = &s.records[0];
        // [2026-10-01T00:00+08:00, 2026-11-01T00:00+08:00) = [2026-09-30T16:00Z,
        // 2026-10-31T16:00Z): 1_790_812_800 - 28_800 = 1_790_784_000, + 31 days.
        assert_eq!(r.start.timestamp(), 1_790_784_000);
        assert_eq!(r.end.timestamp(), 1_790_784_000 + 31 * 86_400);
        assert_eq!(r.usage[Output], 3_000);
    }

    #[test]
    fn bad_rows_are_rejected_with_what_was_not_understood() {
        let (_, s) = read_fixture("bill-details-bad-rows.csv");
        assert_eq!(s.records.len(), 1);
        let r: Vec<(u64, &str)> = s.rejected.iter().map(|(l, r)| (*l, r.as_str())).collect();
        assert_eq!(r.len(), 6, "{r:?}");
        // CRLF file: the unknown amount type is the second data row, line 3.
        assert_eq!(r[0].0, 3);
        assert!(
            r[0].1.contains("unknown amount type 'image_number'"),
            "{}",
            r[0].1
        );
        assert!(r[1].1.contains("unknown usage unit '次'"), "{}", r[1].1);
        assert!(
            r[2].1.contains("用量") && r[2].1.contains("'abc'"),
            "{}",
            r[2].1
        );
        assert!(r[3].1.contains("'bailian-7x2k'"), "{}", r[3].1);
        assert!(
            r[4].1.contains("1.2345 千Token is not a whole"),
            "{}",
            r[4].1
        );
        assert!(r[5].1.contains("'10/05/2026'"), "{}", r[5].1);
        assert_eq!(r[5].0, 8);
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let (_, s) = read_fixture("bill-details-zh.csv");
        let ids: HashSet<_> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 6);
        assert!(s.records[0].id.starts_with("alibaba:2026-10|"));
        assert!(
            s.records[0]
                .id
                .contains("|1001;llm-7dk2q9xw3m5r8p1a;qwen-plus;input_token;app|")
        );
        let (_, again) = read_fixture("bill-details-zh.csv");
        assert_eq!(s.records, again.records);
    }

    #[test]
    fn sniffing() {
        for name in [
            "bill-details-zh.csv",
            "bill-details-en.csv",
            "bill-details-bad-rows.csv",
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(sniff(&head), Some(Format::AlibabaBillCsv), "{name}");
            assert_eq!(
                crate::source::sniff(&head),
                Some(Format::AlibabaBillCsv),
                "{name}"
            );
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            // `rerank/` holds an Alibaba bill of its own (the rerank step's end-to-end fixture).
            if !dir.is_dir() || dir.ends_with("alibaba") || dir.ends_with("rerank") {
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
        let (_d, path) = temp("bill.csv", "账期,产品,金额\n2026-10,大模型服务平台百炼,1\n");
        let e = read_all(&path).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        let file = InputFile::new(0, &path);
        let mut sink = CollectSink::default();
        let e = crate::source::read(Format::AlibabaBillCsv, &file, &mut sink).unwrap_err();
        assert!(e.message.contains("missing column '实例ID'"), "{e}");
        let mut r: &[u8] = b"";
        let e = read(Format::DeepseekCostCsv, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not an Alibaba Cloud format"), "{e}");
        // GBK-encoded bytes are not UTF-8: the file is refused, not misread.
        let (_d2, gbk) = temp("gbk.csv", "");
        std::fs::write(&gbk, b"\xd5\xcb\xc6\xda,\xb2\xfa\xc6\xb7\n").unwrap();
        assert!(read_all(&gbk).unwrap_err().message.contains("not UTF-8"));
    }

    /// Every data row ends in exactly one of record / no_usage / reject.
    #[test]
    fn accounting_every_row_once() {
        for name in [
            "bill-details-zh.csv",
            "bill-details-en.csv",
            "bill-details-bad-rows.csv",
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
