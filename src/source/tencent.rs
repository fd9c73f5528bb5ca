//! Tencent Cloud bill details CSV (费用中心 → 账单明细, the resource-level "Bill Details"
//! export), the bill view of Hunyuan (腾讯混元大模型) usage.
//!
//! One row per billed component, with Chinese headers (`支付者UIN, 使用者UIN, 操作者UIN, 产品名称,
//! 子产品名称, 计费模式, 项目名称, 地域, 可用区, 资源ID, 资源别名, 交易类型, 交易ID, 扣费时间,
//! 开始使用时间, 结束使用时间, 组件类型, 组件名称, 组件刊例价, 组件价格单位, 组件用量, 组件用量单位,
//! 组件原价, 折扣率, 优惠后总价, 代金券支出, 现金账户支出, …`, the labels of the billing API's
//! `BillDetail` / `BillDetailComponent`) or the international site's English ones (`Payer Account
//! ID, Owner Account ID, Operator Account ID, Product Name, Subproduct Name, Billing Mode, …,
//! Component Usage, Component Usage Unit, Original Cost, Discount Multiplier, Total Amount After
//! Discount (Excluding Tax), Voucher Deduction, …`). Columns are found by name.
//!
//! A Hunyuan row names its model and direction in its component columns (`组件类型` / `组件名称`,
//! or the subproduct): the first `hunyuan…` name found is the model, `输入`/`input` is input,
//! `输出`/`output` output, `缓存`/`cache` a cached input read. A row whose direction is none of
//! those is rejected with its text. The bill carries no SecretId: the key is the billed resource
//! (`资源ID` / `Instance ID`), the project `项目名称`.
//!
//! Times are Beijing time (UTC+8): `开始使用时间` .. `结束使用时间`, the end written inclusive
//! (`13:59:59`), so a second is added to an end at :59 seconds. Money is `优惠后总价` (after
//! discounts, before vouchers and tax), in CNY unless a currency column says otherwise. Quantities
//! are tokens, thousands or millions of tokens by `组件用量单位`.
//!
//! Rows of other products and prepaid (包年包月, resource-package) rows are counted as without
//! usage. Record ids are built from every column of the row, as for Alibaba's bill.

use super::util;
use super::{Format, Head, InputError, InputFile, RecordSink};
use crate::record::{Currency, Money, Operation, UsageClass, UsageRecord};
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;
use std::io::BufRead;

#[derive(Clone, Copy)]
enum Col {
    Payer,
    Owner,
    Product,
    Subproduct,
    BillingMode,
    Project,
    Instance,
    Start,
    End,
    ComponentType,
    ComponentName,
    Usage,
    Unit,
    Amount,
    Currency,
}

const COLS: [(Col, &[&str]); 15] = [
    (Col::Payer, &["支付者UIN", "Payer Account ID"]),
    (Col::Owner, &["使用者UIN", "Owner Account ID"]),
    (Col::Product, &["产品名称", "Product Name", "ProductName"]),
    (
        Col::Subproduct,
        &["子产品名称", "Subproduct Name", "SubproductName"],
    ),
    (
        Col::BillingMode,
        &["计费模式", "Billing Mode", "BillingMode"],
    ),
    (Col::Project, &["项目名称", "Project Name", "ProjectName"]),
    (
        Col::Instance,
        &["资源ID", "实例ID", "Instance ID", "InstanceID"],
    ),
    (
        Col::Start,
        &["开始使用时间", "Usage Start Time", "Start Date of Usage"],
    ),
    (
        Col::End,
        &["结束使用时间", "Usage End Time", "End Date of Usage"],
    ),
    (
        Col::ComponentType,
        &["组件类型", "Component Type", "ComponentType"],
    ),
    (
        Col::ComponentName,
        &["组件名称", "Component Name", "ComponentName"],
    ),
    (Col::Usage, &["组件用量", "Component Usage"]),
    (Col::Unit, &["组件用量单位", "Component Usage Unit"]),
    (
        Col::Amount,
        &[
            "优惠后总价",
            "优惠后总价（不含税）",
            "Total Amount After Discount (Excluding Tax)",
            "Total Amount After Discount",
        ],
    ),
    (Col::Currency, &["币种", "Currency", "currency"]),
];

const REQUIRED: [Col; 7] = [
    Col::Product,
    Col::Start,
    Col::End,
    Col::ComponentName,
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

fn utc8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The account UIN columns with the component name, usage and discounted amount, in either
/// language.
pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return None;
    }
    let cols = head.csv_columns();
    [
        Col::Payer,
        Col::Owner,
        Col::ComponentName,
        Col::Usage,
        Col::Amount,
    ]
    .iter()
    .all(|&c| position(&cols, c).is_some())
    .then_some(Format::TencentBillCsv)
}

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    if format != Format::TencentBillCsv {
        return Err(InputError::new(
            file,
            None,
            format!("{format} is not a Tencent Cloud format"),
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
                    "missing column '{}' ('{}'); expected a Tencent Cloud bill details export",
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
    /// The field, or `None` when empty, NULL or the export's `-` placeholder.
    fn get(&self, c: Col) -> Option<&str> {
        self.idx[c as usize]
            .and_then(|i| self.rec.get(i))
            .and_then(util::opt_str)
            .filter(|s| *s != "-")
    }
}

enum Line {
    Record(Box<UsageRecord>),
    NoUsage(&'static str),
}

const OTHER_PRODUCT: &str = "another Tencent Cloud product's charge, not Hunyuan usage";
const PREPAID: &str =
    "prepaid Hunyuan charge (monthly subscription or resource package), not token usage";

fn is_hunyuan(product: &str) -> bool {
    product.contains("混元") || product.to_ascii_lowercase().contains("hunyuan")
}

fn is_prepaid(mode: &str) -> bool {
    mode.contains("包年包月")
        || mode.contains("预付费")
        || mode.contains("资源包")
        || mode.to_ascii_lowercase().contains("subscription")
        || mode.to_ascii_lowercase().contains("prepaid")
}

/// The first `hunyuan…` model name in `text`: the run of name characters from `hunyuan` on,
/// lower-cased, without trailing separators.
fn model_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("hunyuan")?;
    let name: String = lower[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    let name = name.trim_end_matches(['-', '_', '.']);
    Some(name.to_string())
}

fn class_in(text: &str) -> Option<UsageClass> {
    let lower = text.to_lowercase();
    if lower.contains("缓存") || lower.contains("cache") {
        Some(UsageClass::InputCacheRead)
    } else if lower.contains("输入") || lower.contains("input") {
        Some(UsageClass::Input)
    } else if lower.contains("输出") || lower.contains("output") {
        Some(UsageClass::Output)
    } else {
        None
    }
}

/// Tokens per unit of `组件用量单位`.
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

fn to_tokens(usage: Decimal, per_unit: i64) -> Option<i64> {
    let t = usage.checked_mul(Decimal::from(per_unit))?;
    if t.is_sign_negative() || !t.fract().is_zero() {
        return None;
    }
    i64::try_from(t.trunc()).ok()
}

/// A bill time `2026-10-05 13:00:00` (also `2026/10/05 13:00:00` or with a `T`), UTC+8, in UTC.
fn bill_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim().replace('T', " ").replace('/', "-");
    let naive = chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M"))
        .ok()?;
    utc8()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn window(row: &Row) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let a = row.get(Col::Start).unwrap_or("");
    let b = row.get(Col::End).unwrap_or("");
    let start = bill_time(a).ok_or_else(|| {
        format!("开始使用时间: expected a time like 2026-10-05 13:00:00, got '{a}'")
    })?;
    let mut end = bill_time(b).ok_or_else(|| {
        format!("结束使用时间: expected a time like 2026-10-05 13:59:59, got '{b}'")
    })?;
    // The bill writes the last second of the period (`23:59:59`); buckets are half-open.
    if end.second() == 59 {
        end += Duration::seconds(1);
    }
    if end <= start {
        return Err(format!(
            "结束使用时间 '{b}' is not after 开始使用时间 '{a}'"
        ));
    }
    Ok((start, end))
}

fn bill_line(file: &InputFile, row: &Row, line: u64) -> Result<Line, String> {
    let product = row.get(Col::Product).unwrap_or("");
    if !is_hunyuan(product) {
        return Ok(Line::NoUsage(OTHER_PRODUCT));
    }
    if row.get(Col::BillingMode).is_some_and(is_prepaid) {
        return Ok(Line::NoUsage(PREPAID));
    }
    let texts: Vec<&str> = [Col::ComponentName, Col::ComponentType, Col::Subproduct]
        .iter()
        .filter_map(|&c| row.get(c))
        .collect();
    let component = texts.join(" / ");
    let model = texts.iter().find_map(|t| model_in(t)).ok_or_else(|| {
        format!("组件名称: no Hunyuan model named in '{component}'; expected e.g. hunyuan-turbos")
    })?;
    let class = texts.iter().find_map(|t| class_in(t)).ok_or_else(|| {
        format!(
            "组件名称: '{component}' names no token direction; expected 输入/输出 (input/output)"
        )
    })?;
    let unit = row.get(Col::Unit).unwrap_or("");
    let per_unit = tokens_per_unit(unit).ok_or_else(|| {
        format!(
            "组件用量单位: unknown usage unit '{unit}'; expected tokens, 千tokens or 百万tokens"
        )
    })?;
    let raw = row.get(Col::Usage).unwrap_or("");
    let usage = util::parse_decimal(raw)
        .ok_or_else(|| format!("组件用量: expected a number like 120.5, got '{raw}'"))?;
    let tokens = to_tokens(usage, per_unit).ok_or_else(|| {
        format!("组件用量: {raw} {unit} is not a whole, non-negative number of tokens")
    })?;
    let raw = row.get(Col::Amount).unwrap_or("");
    let amount = util::parse_decimal(raw)
        .ok_or_else(|| format!("优惠后总价: expected a decimal amount like 0.016, got '{raw}'"))?;
    let currency = match row.get(Col::Currency) {
        None => Currency::CNY,
        Some(c) => Currency::parse(c)
            .ok_or_else(|| format!("币种: expected a currency code like CNY, got '{c}'"))?,
    };
    let (start, end) = window(row)?;

    let id = format!(
        "tencent:{}",
        row.rec.iter().map(str::trim).collect::<Vec<_>>().join("|")
    );
    let mut rec = UsageRecord::bucket(id, file.origin(line), start, end);
    rec.set_model(Some("tencent"), &model);
    rec.operation = if crate::catalog::is_embedding_model(&model) {
        Operation::Embedding
    } else {
        Operation::Chat
    };
    rec.scope.api_key = row.get(Col::Instance).map(str::to_string);
    rec.scope.project = row.get(Col::Project).map(str::to_string);
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

    const APP: &str = "1312345601";
    const OTHER: &str = "1312345602";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/tencent")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("tencent/{name}"))
    }

    fn cny(x: Decimal) -> Option<Money> {
        Some(Money::new(x, Currency::CNY))
    }

    #[test]
    fn chinese_headers_thousands_of_tokens_beijing_days() {
        let (format, s) = read_fixture("bill-details-zh.csv");
        assert_eq!(format, Format::TencentBillCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 6);
        let r = &s.records[0];
        // Line 2 (after the BOM'd header): 20 千tokens of hunyuan-turbos input = 20000 tokens.
        assert_eq!(r.origin.line, 2);
        assert_eq!(r.usage, Usage::of(&[(Input, 20_000)]));
        assert_eq!(r.provider, "tencent");
        assert_eq!(r.model, "hunyuan-turbos");
        assert_eq!(r.scope.api_key.as_deref(), Some(APP));
        assert_eq!(r.scope.project.as_deref(), Some("默认项目"));
        assert_eq!(r.reported_cost, cny(dec!(0.016)));
        // 2026-10-05 00:00:00 .. 23:59:59 in UTC+8 is [2026-10-04T16:00Z, 2026-10-05T16:00Z).
        assert_eq!(r.start.to_rfc3339(), "2026-10-04T16:00:00+00:00");
        assert_eq!(r.end.to_rfc3339(), "2026-10-05T16:00:00+00:00");
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 5_000)]));
        assert_eq!(s.records[4].scope.api_key.as_deref(), Some(OTHER));
        // Input 20000 + 40000 + 100000 = 160000, output 5000 + 5000 + 10000 = 20000.
        let total = s.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        assert_eq!(total[Input], 160_000);
        assert_eq!(total[Output], 20_000);
        // 0.016 + 0.01 + 0.032 + 0.01 + 0.08 + 0.02 = 0.168 CNY.
        let money: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(money, dec!(0.168));
        // The CVM line and the resource package purchase are rows without usage.
        assert_eq!(s.no_usage, vec![(8, OTHER_PRODUCT), (9, PREPAID)]);
    }

    #[test]
    fn english_headers_read_the_same_bill() {
        let (format, en) = read_fixture("bill-details-en.csv");
        assert_eq!(format, Format::TencentBillCsv);
        assert!(en.rejected.is_empty(), "{:?}", en.rejected);
        let (_, zh) = read_fixture("bill-details-zh.csv");
        let key = |s: &CollectSink| -> Vec<_> {
            s.records
                .iter()
                .map(|r| {
                    (
                        r.model.clone(),
                        r.usage,
                        r.reported_cost,
                        r.start,
                        r.end,
                        r.scope.api_key.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(key(&en), key(&zh));
        assert_eq!(en.no_usage.len(), 2);
    }

    #[test]
    fn model_and_direction_from_component_text() {
        assert_eq!(
            model_in("hunyuan-standard-256K输入").as_deref(),
            Some("hunyuan-standard-256k")
        );
        assert_eq!(
            model_in("混元生文-hunyuan-t1-latest").as_deref(),
            Some("hunyuan-t1-latest")
        );
        assert_eq!(model_in("输入tokens"), None);
        assert_eq!(class_in("输入token"), Some(Input));
        assert_eq!(class_in("Output tokens"), Some(Output));
        assert_eq!(class_in("缓存命中输入"), Some(InputCacheRead));
        assert_eq!(class_in("调用次数"), None);
    }

    #[test]
    fn units_by_hand() {
        assert_eq!(tokens_per_unit("tokens"), Some(1));
        assert_eq!(tokens_per_unit("千tokens"), Some(1_000));
        assert_eq!(tokens_per_unit("K tokens"), Some(1_000));
        assert_eq!(tokens_per_unit("百万tokens"), Some(1_000_000));
        assert_eq!(tokens_per_unit("次"), None);
        // 20.5 × 1000 = 20500; 1.2345 × 1000 = 1234.5 is not whole.
        assert_eq!(to_tokens(dec!(20.5), 1_000), Some(20_500));
        assert_eq!(to_tokens(dec!(1.2345), 1_000), None);
    }

    #[test]
    fn bad_rows_are_rejected_with_the_reason() {
        let header = std::fs::read_to_string(fixture("bill-details-zh.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        let good = std::fs::read_to_string(fixture("bill-details-zh.csv"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        let rows = [
            good.replace("输入token", "调用次数"),
            good.replace("千tokens", "次"),
            good.replace(",20,", ",abc,"),
            good.replace("2026-10-05 23:59:59", "10/05/2026"),
            good.replace("hunyuan-turbos", "混元"),
        ];
        let text = format!("{header}\n{}\n", rows.join("\n"));
        let (_d, p) = temp("bad.csv", &text);
        let (_, s) = read_all(&p).unwrap();
        assert!(s.records.is_empty());
        let r: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r[0].contains("names no token direction"), "{}", r[0]);
        assert!(r[1].contains("unknown usage unit '次'"), "{}", r[1]);
        assert!(r[2].contains("'abc'"), "{}", r[2]);
        assert!(r[3].contains("'10/05/2026'"), "{}", r[3]);
        assert!(r[4].contains("no Hunyuan model"), "{}", r[4]);
        assert_eq!(s.rejected[0].0, 2);
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let (_, s) = read_fixture("bill-details-zh.csv");
        let ids: HashSet<_> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 6);
        let (_, again) = read_fixture("bill-details-zh.csv");
        assert_eq!(s.records, again.records);
    }

    #[test]
    fn sniffing_and_missing_columns() {
        for name in ["bill-details-zh.csv", "bill-details-en.csv"] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(crate::source::sniff(&head), Some(Format::TencentBillCsv));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("tencent") || dir.ends_with("tencent_e2e") {
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
        let (_d, path) = temp(
            "bill.csv",
            "支付者UIN,使用者UIN,产品名称,组件名称,组件用量,优惠后总价\n1,1,腾讯混元大模型,x,1,1\n",
        );
        let file = InputFile::new(0, &path);
        let mut sink = CollectSink::default();
        let e = crate::source::read(Format::TencentBillCsv, &file, &mut sink).unwrap_err();
        assert!(e.message.contains("missing column '开始使用时间'"), "{e}");
    }

    #[test]
    fn accounting_every_row_once() {
        for name in ["bill-details-zh.csv", "bill-details-en.csv"] {
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
