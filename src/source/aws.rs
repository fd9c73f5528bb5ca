//! AWS Cost and Usage Reports, the bill view for Amazon Bedrock: legacy CUR (`lineItem/UsageType`
//! headers) and CUR 2.0 from AWS Data Exports (snake_case `line_item_usage_type`), as CSV or
//! Parquet. Both Parquet deliveries (CUR 2.0, and legacy CUR's Athena-ready Parquet) name their
//! columns in snake_case, with legacy tags flattened to `resource_tags_user_*` columns; their rows
//! are turned into CSV text (`parquet_file`) and go through the same row mapping.
//!
//! One record per Bedrock `Usage` line: the usage type names region, model and token kind
//! (`USE1-Claude3.5Sonnet-input-tokens`, `...-output-tokens`, `...-cache-read-input-token-count`,
//! `...-cache-write-input-token-count`, `...-mantle-input-tokens-...`); marketplace models bill
//! as `USE1-MP:USE1_InputTokenCount-Units` and are named only by `product/ProductName`. The line
//! carries tokens and money (`line_item_unblended_cost`), so it is not cost-only.
//!
//! Scope: `line_item_iam_principal` (CUR 2.0, opt-in) is the API key dimension, the usage
//! account is the project.
//!
//! Bedrock lines whose line item type (`lineItem/LineItemType`, AWS CUR data dictionary) is
//! `Credit` or `Refund` (a credit), or `EdpDiscount`, `PrivateRateDiscount` or `BundledDiscount`
//! (a discount) are money only: a cost-only line marked with its kind (`adjustment`), no model,
//! no tokens, over the line's own window and on its account, valued at its (negative)
//! `line_item_unblended_cost`; they are the `discounts_and_credits` step. Their usage type names
//! the usage they offset, so no model is read from it. Lines of other services (their credits
//! too) and the other non-usage line item types (Tax, Fee, RIFee, SavingsPlan*, ...) are counted
//! as rows without usage, never mixed into tokens. A Bedrock usage type this module does not
//! understand is rejected with its name.

use super::util::{self, Fields};
use super::{Format, Head, InputError, InputFile, RecordSink, Row, parquet_file};
use crate::record::{Adjustment, Currency, Money, Operation, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::io::BufRead;

// ---------------------------------------------------------------------------------------------
// Sniffing

/// The two header spellings are unique to CUR: slash-separated camelCase for legacy CUR, the
/// `line_item_` snake_case prefix for CUR 2.0.
pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return None;
    }
    let cols = head.csv_columns();
    let has = |n: &str| cols.iter().any(|c| c == n);
    if has("lineItem/UsageType") && has("lineItem/UsageAmount") {
        Some(Format::AwsCurCsv)
    } else if has("line_item_usage_type") && has("line_item_usage_amount") {
        Some(Format::AwsCur2Csv)
    } else {
        None
    }
}

/// A Parquet CUR: the same snake_case columns (CUR 2.0 and legacy CUR's Parquet alike).
pub fn sniff_parquet(columns: &[String]) -> Option<Format> {
    let has = |n: &str| columns.iter().any(|c| c == n);
    (has("line_item_usage_type") && has("line_item_usage_amount")).then_some(Format::AwsCurParquet)
}

// ---------------------------------------------------------------------------------------------
// Columns

/// A column as legacy CUR and CUR 2.0 name it.
struct Col {
    cur1: &'static str,
    cur2: &'static str,
}

const USAGE_TYPE: Col = Col {
    cur1: "lineItem/UsageType",
    cur2: "line_item_usage_type",
};
const USAGE_AMOUNT: Col = Col {
    cur1: "lineItem/UsageAmount",
    cur2: "line_item_usage_amount",
};
const UNBLENDED_COST: Col = Col {
    cur1: "lineItem/UnblendedCost",
    cur2: "line_item_unblended_cost",
};
const START: Col = Col {
    cur1: "lineItem/UsageStartDate",
    cur2: "line_item_usage_start_date",
};
const END: Col = Col {
    cur1: "lineItem/UsageEndDate",
    cur2: "line_item_usage_end_date",
};
const PRODUCT_CODE: Col = Col {
    cur1: "lineItem/ProductCode",
    cur2: "line_item_product_code",
};
const ITEM_TYPE: Col = Col {
    cur1: "lineItem/LineItemType",
    cur2: "line_item_line_item_type",
};
const RESOURCE: Col = Col {
    cur1: "lineItem/ResourceId",
    cur2: "line_item_resource_id",
};
const ACCOUNT: Col = Col {
    cur1: "lineItem/UsageAccountId",
    cur2: "line_item_usage_account_id",
};
const CURRENCY: Col = Col {
    cur1: "lineItem/CurrencyCode",
    cur2: "line_item_currency_code",
};
const OPERATION: Col = Col {
    cur1: "lineItem/Operation",
    cur2: "line_item_operation",
};
const PRODUCT_NAME: Col = Col {
    cur1: "product/ProductName",
    cur2: "product_product_name",
};
const PRICING_UNIT: Col = Col {
    cur1: "pricing/unit",
    cur2: "pricing_unit",
};
/// A line item's id: unique within a delivery, so two line items with the same dimensions are
/// two charges, not one.
const LINE_ITEM_ID: Col = Col {
    cur1: "identity/LineItemId",
    cur2: "identity_line_item_id",
};
/// Only CUR 2.0 has the caller's IAM principal.
const PRINCIPAL: &str = "line_item_iam_principal";

/// Every named column, for choosing what to decode from a Parquet file.
const ALL_COLS: [&Col; 14] = [
    &USAGE_TYPE,
    &USAGE_AMOUNT,
    &UNBLENDED_COST,
    &START,
    &END,
    &PRODUCT_CODE,
    &ITEM_TYPE,
    &RESOURCE,
    &ACCOUNT,
    &CURRENCY,
    &OPERATION,
    &PRODUCT_NAME,
    &PRICING_UNIT,
    &LINE_ITEM_ID,
];

const REQUIRED: [&Col; 7] = [
    &USAGE_TYPE,
    &USAGE_AMOUNT,
    &UNBLENDED_COST,
    &START,
    &END,
    &PRODUCT_CODE,
    &ITEM_TYPE,
];

struct Cols {
    usage_type: usize,
    amount: usize,
    cost: usize,
    start: usize,
    end: usize,
    product_code: usize,
    item_type: usize,
    resource: Option<usize>,
    account: Option<usize>,
    currency: Option<usize>,
    operation: Option<usize>,
    product_name: Option<usize>,
    /// CUR 2.0 `product` map (JSON text in CSV), which holds `product_name`.
    product_map: Option<usize>,
    pricing_unit: Option<usize>,
    principal: Option<usize>,
    line_item_id: Option<usize>,
    /// Legacy CUR `resourceTags/user:*` columns (name, index).
    tag_cols: Vec<(String, usize)>,
    /// CUR 2.0 `tags` / `resource_tags` map columns (JSON text in CSV).
    tag_maps: Vec<(String, usize)>,
}

// ---------------------------------------------------------------------------------------------
// Reading

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let cur2 = match format {
        Format::AwsCurCsv => false,
        Format::AwsCur2Csv => true,
        Format::AwsCurParquet => return read_parquet(file, sink),
        other => {
            return Err(InputError::new(
                file,
                None,
                format!("{other} is not an AWS format"),
            ));
        }
    };
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    let want = if cur2 {
        "an AWS CUR 2.0 (Data Exports) CSV"
    } else {
        "a legacy AWS CUR CSV"
    };
    let cols = columns(&names, cur2)
        .map_err(|m| InputError::new(file, Some(1), format!("{m}; expected {want}")))?;
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        Row::emit(row(file, &cols, rec, line), line, "", sink)
    })
}

/// A Parquet CUR, streamed a row group at a time; rows are numbered from 1.
fn read_parquet(file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), InputError> {
    let table = parquet_file::open(file, &|name| wanted(name))?;
    let cols = columns(table.columns(), true).map_err(|m| {
        InputError::new(
            file,
            None,
            format!("{m}; expected an AWS CUR 2.0 or legacy CUR Parquet file"),
        )
    })?;
    table.for_each_row(file, &mut |n, values| {
        let prefix = format!("row {n}: ");
        match values {
            Ok(values) => Row::emit(row(file, &cols, values, n), n, &prefix, sink),
            Err(why) => sink.reject(n, format!("{prefix}{why}")),
        }
    })
}

/// The Parquet columns the mapping reads (CUR 2.0 has over a hundred; only these are decoded).
fn wanted(name: &str) -> bool {
    ALL_COLS.iter().any(|c| c.cur2 == name)
        || matches!(name, PRINCIPAL | "product" | "tags" | "resource_tags")
        || name.starts_with("resource_tags_")
}

/// Column positions from the header names; the error names the first required column missing.
fn columns(names: &[String], cur2: bool) -> Result<Cols, String> {
    let find = |name: &str| names.iter().position(|h| h == name);
    let pick = |c: &Col| find(if cur2 { c.cur2 } else { c.cur1 });
    for c in REQUIRED {
        if pick(c).is_none() {
            let name = if cur2 { c.cur2 } else { c.cur1 };
            return Err(format!("missing column '{name}'"));
        }
    }
    let req = |c: &Col| pick(c).unwrap_or(0);
    let prefixed = |prefix: &str| -> Vec<(String, usize)> {
        names
            .iter()
            .enumerate()
            .filter(|(_, h)| h.starts_with(prefix))
            .map(|(i, h)| (h.clone(), i))
            .collect()
    };
    Ok(Cols {
        usage_type: req(&USAGE_TYPE),
        amount: req(&USAGE_AMOUNT),
        cost: req(&UNBLENDED_COST),
        start: req(&START),
        end: req(&END),
        product_code: req(&PRODUCT_CODE),
        item_type: req(&ITEM_TYPE),
        resource: pick(&RESOURCE),
        account: pick(&ACCOUNT),
        currency: pick(&CURRENCY),
        operation: pick(&OPERATION),
        product_name: pick(&PRODUCT_NAME),
        product_map: if cur2 { find("product") } else { None },
        pricing_unit: pick(&PRICING_UNIT),
        principal: if cur2 { find(PRINCIPAL) } else { None },
        line_item_id: pick(&LINE_ITEM_ID),
        // Legacy CUR: `resourceTags/user:team` in CSV, `resource_tags_user_team` in its Parquet.
        tag_cols: if cur2 {
            prefixed("resource_tags_")
        } else {
            prefixed("resourceTags/")
        },
        tag_maps: if cur2 {
            ["tags", "resource_tags"]
                .iter()
                .filter_map(|n| find(n).map(|i| (n.to_string(), i)))
                .collect()
        } else {
            Vec::new()
        },
    })
}

fn field<R: Fields + ?Sized>(rec: &R, i: usize) -> &str {
    rec.get(i).map(str::trim).unwrap_or("")
}

fn opt_field<R: Fields + ?Sized>(rec: &R, i: Option<usize>) -> Option<&str> {
    i.and_then(|i| util::opt_str(rec.get(i).unwrap_or("")))
}

/// Bedrock's product codes: `AmazonBedrock`, `AmazonBedrockService` (where Anthropic's Claude 4
/// and later bill; its Price List offer and Cost Explorer's "Amazon Bedrock Service") and
/// `AmazonBedrockFoundationModels` (marketplace models).
const BEDROCK_CODES: [&str; 3] = [
    "AmazonBedrock",
    "AmazonBedrockService",
    "AmazonBedrockFoundationModels",
];

/// The kind of money a Bedrock line of this line item type is, if it is a credit or discount
/// (AWS CUR data dictionary, `lineItem/LineItemType`): `Credit` (credits AWS applied) and
/// `Refund` (money given back) are credits; `EdpDiscount` (Enterprise Discount Program),
/// `PrivateRateDiscount` (negotiated private rates) and `BundledDiscount` (usage-based
/// discounts) are discounts off the list price.
fn adjustment_of(item_type: &str) -> Option<Adjustment> {
    match item_type {
        "Credit" | "Refund" => Some(Adjustment::Credit),
        "EdpDiscount" | "PrivateRateDiscount" | "BundledDiscount" => Some(Adjustment::Discount),
        _ => None,
    }
}

/// Why a line item type other than `Usage` (and not a credit or discount) carries no tokens.
fn non_usage_reason(item_type: &str) -> &'static str {
    match item_type {
        "Tax" => "AWS Tax line: a non-usage charge, kept out of token variance",
        "Fee" => "AWS Fee line: a non-usage charge, kept out of token variance",
        "RIFee" => "AWS RIFee line (reserved capacity fee): a non-usage charge",
        _ => "AWS line item type other than Usage (savings plan, ...): not token usage",
    }
}

/// One CUR line, CSV or Parquet, to its outcome.
fn row<R: Fields + ?Sized>(
    file: &InputFile,
    cols: &Cols,
    rec: &R,
    line: u64,
) -> Result<Row, String> {
    let usage_type = field(rec, cols.usage_type);
    let product_code = field(rec, cols.product_code);
    let marketplace = marketplace_kind(usage_type);
    let bedrock = BEDROCK_CODES.contains(&product_code) || marketplace.is_some();
    if !bedrock {
        return Ok(Row::NoUsage(
            "AWS line of a service other than Amazon Bedrock",
        ));
    }
    let item_type = field(rec, cols.item_type);
    if let Some(kind) = adjustment_of(item_type) {
        return adjustment_row(file, cols, rec, line, item_type, kind);
    }
    if item_type != "Usage" {
        return Ok(Row::NoUsage(non_usage_reason(item_type)));
    }

    // Model, class and tier from the usage type.
    let (model, class, tier) = match marketplace {
        Some(class) => {
            let name = opt_field(rec, cols.product_name)
                .map(str::to_string)
                .or_else(|| product_map_name(rec, cols.product_map));
            let Some(name) = name else {
                return Err(format!(
                    "marketplace usage type '{usage_type}': the model is named only by product/ProductName, which is empty (line_item_product_code '{product_code}')"
                ));
            };
            let model = product_name_model(&name).ok_or_else(|| {
                format!(
                    "marketplace usage type '{usage_type}': unknown model product name '{name}'"
                )
            })?;
            (model, class, None)
        }
        None => parse_usage_type(usage_type)?,
    };

    let (start, end) = window(rec, cols)?;

    let amount_raw = field(rec, cols.amount);
    let amount = util::parse_decimal(amount_raw)
        .ok_or_else(|| format!("usage amount: expected a number of tokens, got '{amount_raw}'"))?;
    let unit = opt_field(rec, cols.pricing_unit).unwrap_or("");
    let tokens = tokens_from_amount(amount, unit).map_err(|e| format!("usage amount: {e}"))?;

    let (cost, currency) = money(rec, cols)?;
    let mut r = scoped_line(file, cols, rec, line, (start, end), "");
    let hint = if model.starts_with("claude") {
        "anthropic"
    } else {
        "bedrock"
    };
    r.set_model(Some(hint), &model);
    r.operation = Operation::Chat;
    r.service_tier = tier;
    r.usage = Usage::of(&[(class, tokens)]);
    r.reported_cost = Some(Money::new(cost, currency));
    Ok(Row::Record(Box::new(r)))
}

/// A Bedrock `Credit`, `Refund` or discount line: money the bill takes off (or adds) that no
/// call causes, as a cost-only line with no model and no tokens over the line's own window, on
/// its account (and principal, if any). Its usage type names the usage it offsets, never a model
/// of its own, so it is not parsed.
fn adjustment_row<R: Fields + ?Sized>(
    file: &InputFile,
    cols: &Cols,
    rec: &R,
    line: u64,
    item_type: &str,
    kind: Adjustment,
) -> Result<Row, String> {
    let (start, end) = window(rec, cols)?;
    let (cost, currency) = money(rec, cols)?;
    let mut r = scoped_line(
        file,
        cols,
        rec,
        line,
        (start, end),
        &format!(":type={item_type}"),
    );
    r.set_model(None, "");
    r.operation = Operation::Other;
    r.requests = 0;
    r.cost_only = true;
    r.adjustment = Some(kind);
    r.reported_cost = Some(Money::new(cost, currency));
    Ok(Row::Record(Box::new(r)))
}

/// A line's record over its window, on its account (the project) and principal (the key),
/// its id the line's id with `suffix` appended.
fn scoped_line<R: Fields + ?Sized>(
    file: &InputFile,
    cols: &Cols,
    rec: &R,
    line: u64,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    suffix: &str,
) -> UsageRecord {
    let account = opt_field(rec, cols.account).map(str::to_string);
    let principal = opt_field(rec, cols.principal).map(str::to_string);
    let id = line_id(
        rec,
        cols,
        start,
        end,
        account.as_deref(),
        principal.as_deref(),
    );
    let mut r = UsageRecord::bucket(id + suffix, file.origin(line), start, end);
    r.scope.api_key = principal;
    r.scope.project = account;
    r
}

/// A line's record id: every dimension of the line and its line item id, so a file read twice
/// yields the same ids and two line items stay apart even when every other dimension is the
/// same. (AWS does not keep line item ids across deliveries: read one delivery of a month, the
/// latest.)
fn line_id<R: Fields + ?Sized>(
    rec: &R,
    cols: &Cols,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    account: Option<&str>,
    principal: Option<&str>,
) -> String {
    let usage_type = field(rec, cols.usage_type);
    let product_code = field(rec, cols.product_code);
    let mut id = format!(
        "aws:{}-{}:{usage_type}:{product_code}",
        rfc3339(start),
        rfc3339(end)
    );
    for (name, v) in [
        ("operation", opt_field(rec, cols.operation)),
        ("resource", opt_field(rec, cols.resource)),
        ("account", account),
        ("principal", principal),
        ("product", opt_field(rec, cols.product_name)),
        ("line_item", opt_field(rec, cols.line_item_id)),
    ] {
        if let Some(v) = v {
            id.push_str(&format!(":{name}={v}"));
        }
    }
    for (name, i) in &cols.tag_cols {
        if let Some(v) = opt_field(rec, Some(*i)) {
            id.push_str(&format!(":{name}={v}"));
        }
    }
    for (name, i) in &cols.tag_maps {
        if let Some(text) = opt_field(rec, Some(*i)) {
            id.push_str(&format!(":{name}={}", sorted_map(text)));
        }
    }
    id
}

/// `[usage start, usage end)` of a line.
fn window<R: Fields + ?Sized>(
    rec: &R,
    cols: &Cols,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let start = time(rec, cols.start, "usage start date")?;
    let end = time(rec, cols.end, "usage end date")?;
    if end < start {
        return Err(format!(
            "usage end date {} is before its start {}; expected [start, end)",
            rfc3339(end),
            rfc3339(start)
        ));
    }
    Ok((start, end))
}

/// `line_item_unblended_cost` in the line's currency.
fn money<R: Fields + ?Sized>(rec: &R, cols: &Cols) -> Result<(Decimal, Currency), String> {
    let cost_raw = field(rec, cols.cost);
    let cost = util::parse_decimal(cost_raw)
        .ok_or_else(|| format!("unblended cost: expected a decimal amount, got '{cost_raw}'"))?;
    // CUR is in USD unless the payer bills in another currency, which the column names.
    let currency = match opt_field(rec, cols.currency) {
        None => Currency::USD,
        Some(c) => Currency::parse(c)
            .ok_or_else(|| format!("currency code: expected a code like USD, got '{c}'"))?,
    };
    Ok((cost, currency))
}

fn time<R: Fields + ?Sized>(rec: &R, i: usize, name: &str) -> Result<DateTime<Utc>, String> {
    let raw = field(rec, i);
    util::parse_utc(raw)
        .ok_or_else(|| format!("{name}: expected a time like 2026-10-01T00:00:00Z, got '{raw}'"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A JSON map written in a CSV cell, with its keys sorted; the text itself if it is not one.
fn sorted_map(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => {
            let mut kv: Vec<(String, String)> = m
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect();
            kv.sort();
            kv.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        }
        _ => text.to_string(),
    }
}

/// `product_name` from the CUR 2.0 `product` map column.
fn product_map_name<R: Fields + ?Sized>(rec: &R, i: Option<usize>) -> Option<String> {
    let text = opt_field(rec, i)?;
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(m) => m
            .get("product_name")
            .and_then(Value::as_str)
            .and_then(util::opt_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Tokens from `line_item_usage_amount`. Real Bedrock token lines are metered in thousands with
/// `pricing_unit` `1K tokens` (10666.36 = 10,666,360 tokens), so a unit naming a block (`1K
/// tokens`, `1M tokens`) multiplies the amount; with no unit, or a unit of tokens/units, the
/// amount is the count. The result must be whole.
fn tokens_from_amount(amount: Decimal, unit: &str) -> Result<i64, String> {
    let u = unit.trim().to_ascii_lowercase().replace(',', "");
    let factor: i64 = match u.as_str() {
        "" | "tokens" | "token" | "units" | "unit" | "count" => 1,
        "1k tokens" | "1000 tokens" | "k tokens" | "thousand tokens" => 1_000,
        "1m tokens" | "1000000 tokens" | "m tokens" | "million tokens" => 1_000_000,
        _ => {
            return Err(format!(
                "pricing unit '{unit}' is not a token unit; expected tokens, 1K tokens or 1M tokens"
            ));
        }
    };
    let t = amount
        .checked_mul(Decimal::from(factor))
        .ok_or_else(|| format!("{amount} × {factor} tokens overflows"))?;
    if t.is_sign_negative() || !t.fract().is_zero() {
        return Err(format!(
            "expected a non-negative whole number of tokens, got {amount} at unit '{unit}' ({t} tokens)"
        ));
    }
    i64::try_from(t).map_err(|_| format!("{t} tokens is out of range"))
}

// ---------------------------------------------------------------------------------------------
// Usage types

/// Token class of a marketplace usage type (`USE1-MP:USE1_InputTokenCount-Units`), or `None`
/// when it is not a marketplace token line.
fn marketplace_kind(usage_type: &str) -> Option<UsageClass> {
    let (_, dim) = usage_type.split_once("MP:")?;
    // `USE1_InputTokenCount-Units`: region, dimension, unit.
    let dim = dim.split_once('_').map_or(dim, |(_, d)| d);
    let dim = dim.split_once('-').map_or(dim, |(d, _)| d);
    match dim {
        "InputTokenCount" => Some(UsageClass::Input),
        "OutputTokenCount" => Some(UsageClass::Output),
        _ => None,
    }
}

/// Token kinds as Bedrock usage types end, longest first (the cache kinds contain `input`).
const KINDS: [(&str, UsageClass); 8] = [
    ("-cache-read-input-token-count", UsageClass::InputCacheRead),
    // Bedrock's prompt cache writes default to a 5-minute TTL.
    (
        "-cache-write-input-token-count",
        UsageClass::InputCacheWrite5m,
    ),
    // The `mantle` serving stack: `USW2-anthropic.claude-opus-4-8-mantle-cache-write-tokens-…`.
    ("-mantle-cache-read-tokens", UsageClass::InputCacheRead),
    ("-mantle-cache-write-tokens", UsageClass::InputCacheWrite5m),
    ("-mantle-input-tokens", UsageClass::Input),
    ("-mantle-output-tokens", UsageClass::Output),
    ("-input-tokens", UsageClass::Input),
    ("-output-tokens", UsageClass::Output),
];

/// Service-tier words a usage type may carry before or after its token kind.
const TIERS: [&str; 5] = ["batch", "flex", "priority", "standard", "reserved"];

/// Routing words after the token kind: cross-region inference (`-cross-region-global`) and the
/// global endpoint (`-global-standard`). They change the rate, not the model or class; the usage
/// type (in the record id) keeps them.
const ROUTES: [&str; 2] = ["cross-region", "global"];

/// `USE1-Claude3.5Sonnet-input-tokens` → (`claude-3-5-sonnet`, input, no tier);
/// `USW2-Claude4.5Haiku-batch-output-tokens` → (`claude-haiku-4-5`, output, `batch`).
fn parse_usage_type(usage_type: &str) -> Result<(String, UsageClass, Option<String>), String> {
    let unknown = |why: &str| format!("unknown Bedrock usage type '{usage_type}': {why}");
    let Some((region, body)) = usage_type.split_once('-') else {
        return Err(unknown("expected REGION-Model-token-kind"));
    };
    if !is_region(region) {
        return Err(unknown(
            "expected a region prefix like USE1, USW2, EUC1 or APN1",
        ));
    }
    let Some((pos, marker, class)) = KINDS
        .iter()
        .find_map(|(m, c)| body.find(m).map(|p| (p, *m, *c)))
    else {
        return Err(unknown(
            "expected it to end in -input-tokens, -output-tokens, -cache-read-input-token-count or -cache-write-input-token-count",
        ));
    };
    let mut tiers: Vec<String> = Vec::new();
    let mut after = body[pos + marker.len()..].to_string();
    for route in ROUTES {
        after = after.replace(&format!("-{route}"), "");
    }
    for w in after.split('-').filter(|w| !w.is_empty()) {
        let l = w.to_ascii_lowercase();
        if TIERS.contains(&l.as_str()) {
            tiers.push(l);
        } else {
            return Err(unknown(&format!("unknown suffix '{w}'")));
        }
    }
    let mut model_part = &body[..pos];
    while let Some((rest, last)) = model_part.rsplit_once('-') {
        let l = last.to_ascii_lowercase();
        if TIERS.contains(&l.as_str()) {
            tiers.insert(0, l);
            model_part = rest;
        } else {
            break;
        }
    }
    let model = usage_type_model(model_part)
        .ok_or_else(|| unknown(&format!("unknown model '{model_part}'")))?;
    let tier = (!tiers.is_empty()).then(|| tiers.join("-"));
    Ok((model, class, tier))
}

/// AWS region codes in usage types: letters then a digit (`USE1`, `EUC1`, `APN1`, `CAN1`).
fn is_region(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=5).contains(&b.len())
        && b[..b.len() - 1].iter().all(u8::is_ascii_uppercase)
        && b[b.len() - 1].is_ascii_digit()
}

/// Canonical model from the model part of a usage type, or `None` if not known.
fn usage_type_model(part: &str) -> Option<String> {
    // The mantle form names the Bedrock model id: `anthropic.claude-opus-4-8`.
    if let Some(id) = part.strip_prefix("anthropic.") {
        let model = crate::catalog::canonical_model(id);
        return model.starts_with("claude-").then_some(model);
    }
    if let Some(rest) = part.strip_prefix("Claude") {
        return claude_model(rest);
    }
    if let Some(rest) = part.strip_prefix("Llama") {
        return llama_model(rest);
    }
    None
}

/// Claude's usage-type spelling `3.5Sonnet`, `4.6Sonnet`, `3Haiku`, `4Opus` (the version before
/// the family), or `Sonnet4.5` (family first). Claude 4 and later put the family first in the
/// model id (`claude-sonnet-4-6`); earlier ones put the version first (`claude-3-5-sonnet`).
fn claude_model(rest: &str) -> Option<String> {
    let rest = rest.trim();
    let split = |s: &str| -> Option<(String, String)> {
        let n = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (ver, fam) = s.split_at(n);
        (!ver.is_empty()).then(|| (ver.to_string(), fam.to_string()))
    };
    let (version, family) = if rest.starts_with(|c: char| c.is_ascii_digit()) {
        split(rest)?
    } else {
        let n = rest.find(|c: char| c.is_ascii_digit())?;
        let (fam, ver) = rest.split_at(n);
        let (ver, tail) = split(ver)?;
        if !tail.is_empty() {
            return None;
        }
        (ver, fam.to_string())
    };
    let family = family.to_ascii_lowercase();
    if !matches!(family.as_str(), "sonnet" | "haiku" | "opus") {
        return None;
    }
    let major: u32 = version.split('.').next()?.parse().ok()?;
    let ver = version.replace('.', "-");
    if ver.split('-').any(str::is_empty) {
        return None;
    }
    Some(if major >= 4 {
        format!("claude-{family}-{ver}")
    } else {
        format!("claude-{ver}-{family}")
    })
}

/// `3-1-70B` → `llama-3.1-70b`; `3-70B-Instruct` → `llama-3-70b-instruct`;
/// `4-Scout-17B` → `llama-4-scout-17b`. The first two number groups are major.minor.
fn llama_model(rest: &str) -> Option<String> {
    let mut parts = rest.split('-').filter(|p| !p.is_empty());
    let major = parts.next()?;
    if !major.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut out = format!("llama-{major}");
    let mut tail: Vec<String> = Vec::new();
    for (i, p) in parts.enumerate() {
        if i == 0 && p.chars().all(|c| c.is_ascii_digit()) {
            out.push('.');
            out.push_str(p);
        } else {
            tail.push(p.to_ascii_lowercase());
        }
    }
    // A size (`70b`) or a named variant is required: `Llama3` alone names no model.
    if tail.is_empty() {
        return None;
    }
    Some(format!("{out}-{}", tail.join("-")))
}

/// Model from a marketplace product name: `Claude 3.5 Sonnet (Amazon Bedrock Edition)` →
/// `claude-3-5-sonnet`, `Claude Sonnet 4.5 (Amazon Bedrock Edition)` → `claude-sonnet-4-5`.
fn product_name_model(name: &str) -> Option<String> {
    let base = name.split('(').next().unwrap_or(name).trim();
    let compact: String = base.split_whitespace().collect();
    usage_type_model(&compact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testutil::{read_as, temp};
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;
    use std::path::{Path, PathBuf};

    const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
    const APP: &str = "arn:aws:sts::123456789012:assumed-role/chat-app/i-0abc";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/aws")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("aws/{name}"))
    }

    #[test]
    fn usage_types_by_hand() {
        let p = |s: &str| parse_usage_type(s).unwrap();
        assert_eq!(
            p("USE1-Claude3.5Sonnet-input-tokens"),
            ("claude-3-5-sonnet".to_string(), Input, None)
        );
        assert_eq!(
            p("USW2-Claude4.6Sonnet-output-tokens"),
            ("claude-sonnet-4-6".to_string(), Output, None)
        );
        assert_eq!(
            p("EUC1-Claude3.7Sonnet-cache-read-input-token-count"),
            ("claude-3-7-sonnet".to_string(), InputCacheRead, None)
        );
        assert_eq!(
            p("APN1-Claude4.5Haiku-cache-write-input-token-count"),
            ("claude-haiku-4-5".to_string(), InputCacheWrite5m, None)
        );
        assert_eq!(
            p("USE1-Claude4Opus-batch-output-tokens"),
            (
                "claude-opus-4".to_string(),
                Output,
                Some("batch".to_string())
            )
        );
        assert_eq!(
            p("USE1-Claude4.6Sonnet-mantle-input-tokens-flex"),
            (
                "claude-sonnet-4-6".to_string(),
                Input,
                Some("flex".to_string())
            )
        );
        assert_eq!(
            p("USW2-Llama3-1-70B-input-tokens"),
            ("llama-3.1-70b".to_string(), Input, None)
        );
        assert_eq!(
            p("USE1-Llama3-70B-Instruct-output-tokens").0,
            "llama-3-70b-instruct"
        );
        assert_eq!(p("USE1-Claude3Haiku-input-tokens").0, "claude-3-haiku");
        // Routing suffixes and the mantle model-id form.
        assert_eq!(
            p("USE1-Claude4.6Opus-cache-read-input-token-count-cross-region-global"),
            ("claude-opus-4-6".to_string(), InputCacheRead, None)
        );
        assert_eq!(
            p("USW2-anthropic.claude-opus-4-8-mantle-cache-write-tokens-global-standard"),
            (
                "claude-opus-4-8".to_string(),
                InputCacheWrite5m,
                Some("standard".to_string())
            )
        );
        assert_eq!(
            p("USE1-anthropic.claude-sonnet-4-5-mantle-output-tokens"),
            ("claude-sonnet-4-5".to_string(), Output, None)
        );
        for bad in [
            "USE1-Titan-input-tokens",
            "USE1-Claude3.5Sonnet-input-tokens-turbo",
            "Claude3.5Sonnet-input-tokens",
            "USE1-Claude3.5Sonnet-ProvisionedThroughput",
            "USE1-Llama3-input-tokens",
            "USE1-Claude3.5Poem-input-tokens",
            "USE1-KimiK2.5-mantle-input-tokens-standard",
            "USE1-anthropic.titan-mantle-input-tokens",
            "USE1-NovaPro-cache-write-input-token-count-custom-model",
        ] {
            let e = parse_usage_type(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
        assert_eq!(
            product_name_model("Claude 3.5 Sonnet (Amazon Bedrock Edition)").as_deref(),
            Some("claude-3-5-sonnet")
        );
        assert_eq!(
            product_name_model("Claude Sonnet 4.5 (Amazon Bedrock Edition)").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(product_name_model("Jamba 1.5 Large"), None);
        assert_eq!(
            marketplace_kind("USE1-MP:USE1_InputTokenCount-Units"),
            Some(Input)
        );
        assert_eq!(
            marketplace_kind("USE1-MP:USE1_OutputTokenCount-Units"),
            Some(Output)
        );
        assert_eq!(marketplace_kind("USE1-MP:USE1_Hours-Units"), None);
    }

    #[test]
    fn token_units_by_hand() {
        // Plain tokens: the amount is the count.
        assert_eq!(tokens_from_amount(dec!(2000), ""), Ok(2000));
        assert_eq!(
            tokens_from_amount(dec!(2000.0000000000), "tokens"),
            Ok(2000)
        );
        // 1.5 blocks of 1K = 1,500 tokens; 0.0125 blocks of 1M = 12,500 tokens.
        assert_eq!(tokens_from_amount(dec!(1.5), "1K tokens"), Ok(1500));
        assert_eq!(tokens_from_amount(dec!(0.0125), "1M tokens"), Ok(12_500));
        // A fraction of a token, or a non-token unit, is refused.
        assert!(tokens_from_amount(dec!(0.0005), "1K tokens").is_err());
        assert!(tokens_from_amount(dec!(2.5), "").is_err());
        let e = tokens_from_amount(dec!(3), "Hrs").unwrap_err();
        assert!(e.contains("'Hrs'"), "{e}");
    }

    #[test]
    fn cur2_bedrock_lines() {
        let (format, s) = read_fixture("cur2_bedrock.csv");
        assert_eq!(format, Format::AwsCur2Csv);
        // Seven usage lines and the Credit line (line 10), a cost-only record.
        assert_eq!(s.records.len(), 8, "{:?}", s.rejected);
        // Line 2: Alice, Claude 4.6 Sonnet input, 23,000 tokens, $0.069 (23,000 × $3/M).
        let a = &s.records[0];
        assert_eq!(a.origin.line, 2);
        assert_eq!(a.provider, "anthropic");
        assert_eq!(a.model, "claude-sonnet-4-6");
        assert_eq!(a.model_raw, "claude-sonnet-4-6");
        assert_eq!(a.usage, Usage::of(&[(Input, 23_000)]));
        assert_eq!(a.reported_cost, Some(Money::usd(dec!(0.069))));
        assert_eq!(a.scope.api_key.as_deref(), Some(ALICE));
        assert_eq!(a.scope.project.as_deref(), Some("123456789012"));
        assert!(!a.cost_only);
        // 2026-10-01T00:00:00Z = 1790812800; hourly line.
        assert_eq!(a.start.timestamp(), 1_790_812_800);
        assert_eq!(a.end.timestamp(), 1_790_812_800 + 3600);
        // Output: 14,266 tokens at $15/M = $0.21399, billed 0.21399.
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 14_266)]));
        // Cache read and write lines of the app role.
        assert_eq!(s.records[2].usage, Usage::of(&[(InputCacheRead, 40_000)]));
        assert_eq!(s.records[2].scope.api_key.as_deref(), Some(APP));
        assert_eq!(s.records[3].usage, Usage::of(&[(InputCacheWrite5m, 8_000)]));
        // Batch tier, Haiku 4.5.
        assert_eq!(s.records[4].model, "claude-haiku-4-5");
        assert_eq!(s.records[4].service_tier.as_deref(), Some("batch"));
        // Marketplace line: model from the product map.
        assert_eq!(s.records[5].model, "claude-3-5-sonnet");
        assert_eq!(s.records[5].usage, Usage::of(&[(Input, 5_000)]));
        // Llama on Bedrock keeps the bedrock provider.
        assert_eq!(s.records[6].model, "llama-3.1-70b");
        assert_eq!(s.records[6].provider, "bedrock");
        // Tokens: input 23000 + 5000 + 12000 (llama) = 40000.
        let total = s.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        assert_eq!(total[Input], 40_000);
        // Usage money: 0.069 + 0.21399 + 0.012 + 0.03 + 0.0025 + 0.015 + 0.00864 = 0.35113.
        let money: Decimal = s
            .records
            .iter()
            .filter(|r| !r.cost_only)
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(money, dec!(0.35113));
        // The Credit line: −$0.05, money only, though its usage type names a Sonnet input line.
        let c = &s.records[7];
        assert_eq!(c.origin.line, 10);
        assert!(c.cost_only);
        assert_eq!(c.adjustment, Some(Adjustment::Credit));
        assert_eq!(c.reported_cost, Some(Money::usd(dec!(-0.05))));
        assert_eq!(c.usage, Usage::ZERO);
        assert_eq!(c.model, "");
        assert_eq!(c.scope.project.as_deref(), Some("123456789012"));
        // Non-usage lines: tax, EC2.
        let reasons: Vec<&str> = s.no_usage.iter().map(|(_, r)| *r).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("AWS Tax line")));
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("other than Amazon Bedrock"))
        );
        // The unknown usage type is rejected by name.
        assert_eq!(s.rejected.len(), 1);
        assert!(
            s.rejected[0].1.contains("'USE1-TitanEmbedV9-input-tokens'"),
            "{}",
            s.rejected[0].1
        );
    }

    /// `cur2_bedrock_credits.csv`: two Claude 3.7 Sonnet usage lines of one hour ($0.30 each),
    /// a Credit (−0.05), a Refund (−0.02) and an EdpDiscount (−0.009) line of that hour, a
    /// monthly Tax line and an EC2 Credit line.
    #[test]
    fn credit_refund_and_discount_lines_are_money_only() {
        let (format, s) = read_fixture("cur2_bedrock_credits.csv");
        assert_eq!(format, Format::AwsCur2Csv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 5);
        let usage: Vec<_> = s.records.iter().filter(|r| !r.cost_only).collect();
        assert_eq!(usage.len(), 2);
        assert!(usage.iter().all(|r| r.adjustment.is_none()));
        // 100 × 1K input at $3/M = 0.30; 20 × 1K output at $15/M = 0.30.
        assert_eq!(usage[0].usage, Usage::of(&[(Input, 100_000)]));
        assert_eq!(usage[1].usage, Usage::of(&[(Output, 20_000)]));
        let adj: Vec<_> = s.records.iter().filter(|r| r.cost_only).collect();
        let want = [
            (4, Adjustment::Credit, dec!(-0.05), "Credit"),
            (5, Adjustment::Credit, dec!(-0.02), "Refund"),
            (6, Adjustment::Discount, dec!(-0.009), "EdpDiscount"),
        ];
        assert_eq!(adj.len(), want.len());
        for (r, (line, kind, money, item_type)) in adj.iter().zip(want) {
            assert_eq!(r.origin.line, line, "{}", r.id);
            assert_eq!(r.adjustment, Some(kind), "{}", r.id);
            assert_eq!(r.reported_cost, Some(Money::usd(money)), "{}", r.id);
            // Money only: no tokens, no model (the usage type names the usage it offsets).
            assert_eq!(r.usage, Usage::ZERO, "{}", r.id);
            assert_eq!(r.model, "", "{}", r.id);
            assert_eq!(r.operation, Operation::Other);
            assert_eq!(r.requests, 0);
            assert_eq!(r.service_tier, None);
            // The account is the project; these lines have no IAM principal.
            assert_eq!(r.scope.project.as_deref(), Some("123456789012"));
            assert_eq!(r.scope.api_key, None);
            // The line's own hour: 2026-10-01T00:00:00Z = 1790812800.
            assert_eq!(r.start.timestamp(), 1_790_812_800);
            assert_eq!(r.end.timestamp(), 1_790_812_800 + 3600);
            assert!(r.id.ends_with(&format!(":type={item_type}")), "{}", r.id);
        }
        // −0.05 − 0.02 − 0.009 = −0.079.
        let total: Decimal = adj.iter().map(|r| r.reported_cost.unwrap().amount).sum();
        assert_eq!(total, dec!(-0.079));
        // The Credit line names the input usage type the usage line also has: ids stay apart.
        let ids: std::collections::HashSet<_> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 5);
        // The Tax line stays a row without usage, and so does another service's Credit line.
        let reasons: Vec<(u64, &str)> = s.no_usage.iter().map(|(l, r)| (*l, *r)).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!(reasons[0].0, 7);
        assert!(reasons[0].1.starts_with("AWS Tax line"), "{reasons:?}");
        assert_eq!(reasons[1].0, 8);
        assert!(
            reasons[1].1.contains("other than Amazon Bedrock"),
            "{reasons:?}"
        );
    }

    /// Every line item type by kind, in legacy CUR: the two other discounts are discounts,
    /// Fee/RIFee/SavingsPlan lines stay rows without usage, and a credit line whose cost is not
    /// a number is rejected with the value.
    #[test]
    fn line_item_types_by_kind() {
        assert_eq!(adjustment_of("Credit"), Some(Adjustment::Credit));
        assert_eq!(adjustment_of("Refund"), Some(Adjustment::Credit));
        for t in ["EdpDiscount", "PrivateRateDiscount", "BundledDiscount"] {
            assert_eq!(adjustment_of(t), Some(Adjustment::Discount), "{t}");
        }
        for t in [
            "Usage",
            "Tax",
            "Fee",
            "RIFee",
            "DiscountedUsage",
            "SavingsPlanCoveredUsage",
            "SavingsPlanNegation",
            "SavingsPlanRecurringFee",
            "SavingsPlanUpfrontFee",
            "credit",
        ] {
            assert_eq!(adjustment_of(t), None, "{t}");
        }
        let head = "lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/UsageAmount,lineItem/UnblendedCost,lineItem/CurrencyCode";
        let day = "2026-10-01T00:00:00Z,2026-10-02T00:00:00Z";
        let text = format!(
            "{head}\n\
210987654321,PrivateRateDiscount,{day},AmazonBedrock,USE1-Claude3.5Sonnet-input-tokens,0,-0.036,USD\n\
210987654321,BundledDiscount,{day},AmazonBedrockService,USE1-Claude4.6Sonnet-output-tokens,0,-0.25,EUR\n\
210987654321,SavingsPlanNegation,{day},AmazonBedrock,USE1-Claude3.5Sonnet-input-tokens,0,-0.1,USD\n\
210987654321,Fee,{day},AmazonBedrock,,1,2.0,USD\n\
210987654321,Credit,{day},AmazonBedrock,USE1-Claude3.5Sonnet-input-tokens,0,minus one,USD\n"
        );
        let (_d, path) = temp("cur.csv", &text);
        let (format, s) = read_all(&path).unwrap();
        assert_eq!(format, Format::AwsCurCsv);
        assert_eq!(s.records.len(), 2, "{:?}", s.rejected);
        let (p, b) = (&s.records[0], &s.records[1]);
        assert_eq!(p.adjustment, Some(Adjustment::Discount));
        assert_eq!(p.reported_cost, Some(Money::usd(dec!(-0.036))));
        assert_eq!(b.adjustment, Some(Adjustment::Discount));
        // The currency is the line's own.
        assert_eq!(
            b.reported_cost,
            Some(Money::new(dec!(-0.25), Currency::EUR))
        );
        for r in [p, b] {
            assert!(r.cost_only);
            assert_eq!(r.usage, Usage::ZERO);
            assert_eq!(r.model, "");
            assert_eq!(r.scope.project.as_deref(), Some("210987654321"));
            // A daily line keeps its day.
            assert_eq!(r.end.timestamp() - r.start.timestamp(), 86_400);
        }
        let reasons: Vec<&str> = s.no_usage.iter().map(|(_, r)| *r).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("savings plan"), "{reasons:?}");
        assert!(reasons[1].starts_with("AWS Fee line"), "{reasons:?}");
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 6);
        assert!(
            s.rejected[0].1.contains("unblended cost") && s.rejected[0].1.contains("'minus one'"),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let (_, s) = read_fixture("cur2_bedrock.csv");
        let (_, again) = read_fixture("cur2_bedrock.csv");
        let ids: Vec<&String> = s.records.iter().map(|r| &r.id).collect();
        let ids2: Vec<&String> = again.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids, ids2);
        let set: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(set.len(), ids.len());
        assert!(
            s.records[0].id.starts_with(
                "aws:2026-10-01T00:00:00Z-2026-10-01T01:00:00Z:USE1-Claude4.6Sonnet-input-tokens:AmazonBedrock"
            ),
            "{}",
            s.records[0].id
        );
        assert!(s.records[0].id.contains(&format!("principal={ALICE}")));
        assert!(s.records[0].id.contains("tags=user_team=search"));
    }

    #[test]
    fn legacy_cur_lines() {
        let (format, s) = read_fixture("cur_legacy_bedrock.csv");
        assert_eq!(format, Format::AwsCurCsv);
        assert!(s.rejected.len() == 1, "{:?}", s.rejected);
        // Four usage lines and the Refund line, a cost-only credit.
        assert_eq!(s.records.len(), 5);
        let r = &s.records[0];
        assert_eq!(r.model, "claude-3-5-sonnet");
        assert_eq!(r.usage, Usage::of(&[(Input, 120_000)]));
        // 120,000 × $3/M = $0.36.
        assert_eq!(r.reported_cost, Some(Money::usd(dec!(0.36))));
        // Legacy CUR has no IAM principal; the account is the project.
        assert_eq!(r.scope.api_key, None);
        assert_eq!(r.scope.project.as_deref(), Some("210987654321"));
        // Daily line: 2026-10-01 to 2026-10-02.
        assert_eq!(r.end.timestamp() - r.start.timestamp(), 86_400);
        assert!(r.id.contains("resourceTags/user:team=search"), "{}", r.id);
        // The marketplace line named by product/ProductName.
        assert_eq!(s.records[2].model, "claude-3-5-sonnet");
        assert_eq!(s.records[2].usage, Usage::of(&[(Output, 3_000)]));
        // pricing/unit "1K tokens": 2.5 blocks = 2,500 tokens.
        assert_eq!(s.records[3].usage, Usage::of(&[(Output, 2_500)]));
        // The Refund line (line 7): −$0.10 on the account, a credit, no tokens, no model.
        let refund = &s.records[4];
        assert_eq!(refund.origin.line, 7);
        assert!(refund.cost_only);
        assert_eq!(refund.adjustment, Some(Adjustment::Credit));
        assert_eq!(refund.reported_cost, Some(Money::usd(dec!(-0.1))));
        assert_eq!(refund.usage, Usage::ZERO);
        assert_eq!(refund.model, "");
        assert_eq!(refund.scope.project.as_deref(), Some("210987654321"));
        assert_eq!(s.no_usage.len(), 1);
        assert!(s.no_usage.iter().any(|(_, r)| r.starts_with("AWS Fee")));
        // The marketplace line with an unknown product is rejected by name.
        assert!(
            s.rejected[0].1.contains("'Jamba 1.5 Large")
                && s.rejected[0]
                    .1
                    .contains("USE1-MP:USE1_InputTokenCount-Units"),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn bad_rows_are_rejected_with_the_value() {
        let text = "line_item_usage_type,line_item_usage_amount,line_item_unblended_cost,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_line_item_type,line_item_currency_code\n\
USE1-Claude3.5Sonnet-input-tokens,lots,0.1,2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,AmazonBedrock,Usage,USD\n\
USE1-Claude3.5Sonnet-input-tokens,10,0.1,yesterday,2026-10-01T01:00:00Z,AmazonBedrock,Usage,USD\n\
USE1-Claude3.5Sonnet-input-tokens,10,0.1,2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,AmazonBedrock,Usage,dollars\n\
USE1-Claude3.5Sonnet-input-tokens,10.5,0.1,2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,AmazonBedrock,Usage,USD\n\
USE1-Claude3.5Sonnet-input-tokens,10,0.1,2026-10-01T00:00:00Z\n";
        let (_d, path) = temp("cur2.csv", text);
        let (format, s) = read_all(&path).unwrap();
        assert_eq!(format, Format::AwsCur2Csv);
        assert!(s.records.is_empty());
        let r: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r[0].contains("usage amount") && r[0].contains("'lots'"));
        assert!(r[1].contains("usage start date") && r[1].contains("'yesterday'"));
        assert!(r[2].contains("currency code") && r[2].contains("'dollars'"));
        assert!(r[3].contains("whole number of tokens"), "{}", r[3]);
        assert!(r[4].contains("expected 8 fields"), "{}", r[4]);
        assert_eq!(s.rejected[1].0, 3);
    }

    #[test]
    fn unrecognizable_and_unreadable_files() {
        let (_d, path) = temp("other.csv", "date,service,amount\n2026-10-01,bedrock,1\n");
        let e = read_all(&path).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        // Forced as CUR 2.0 without its columns.
        let e = read_as(Format::AwsCur2Csv, &path).unwrap_err();
        assert!(
            e.message.contains("missing column 'line_item_usage_type'"),
            "{e}"
        );
        let e = read_as(Format::AwsCurCsv, &path).unwrap_err();
        assert!(e.message.contains("lineItem/UsageType"), "{e}");
        let file = InputFile::new(0, &path);
        let mut sink = CollectSink::default();
        let mut r: &[u8] = b"x";
        let e = read(Format::OpenaiCostCsv, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not an AWS format"), "{e}");
    }

    #[test]
    fn sniffing_claims_only_cur() {
        for (name, want) in [
            ("cur2_bedrock.csv", Format::AwsCur2Csv),
            ("cur_legacy_bedrock.csv", Format::AwsCurCsv),
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(sniff(&head), Some(want));
            assert_eq!(crate::source::sniff(&head), Some(want));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            // The Bedrock end-to-end folder holds a CUR bill too.
            if !dir.is_dir() || dir.ends_with("aws") || dir.ends_with("bedrock_e2e") {
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

    /// The same day of Claude Sonnet 4.5 traffic billed by the Anthropic Admin API and by
    /// Bedrock lands in the same canonical group, window and token classes.
    #[test]
    fn same_traffic_as_the_anthropic_bill() {
        let (_, aws) = read_fixture("cur2_same_traffic_as_anthropic.csv");
        assert!(aws.rejected.is_empty(), "{:?}", aws.rejected);
        let anthropic_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/anthropic/usage_1d_pages.json");
        let (_, ant) = read_all(&anthropic_path).unwrap();
        // Anthropic key A, day 1: 4000 uncached input + 1000 output on claude-sonnet-4-5.
        let a = &ant.records[0];
        let usage = aws.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        assert_eq!(usage, a.usage);
        for r in &aws.records {
            assert_eq!(
                (r.provider.as_str(), r.model.as_str()),
                ("anthropic", "claude-sonnet-4-5")
            );
            assert_eq!(
                (r.provider.as_str(), r.model.as_str()),
                (a.provider.as_str(), a.model.as_str())
            );
            assert_eq!((r.start, r.end), (a.start, a.end));
        }
        // Bedrock's money: 4000 × $3/M + 1000 × $15/M = 0.012 + 0.015 = $0.027.
        let money: Decimal = aws
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(money, dec!(0.027));
    }

    /// Every CSV row ends in exactly one of record / no_usage / reject.
    #[test]
    fn accounting_every_row_once() {
        for name in [
            "cur2_bedrock.csv",
            "cur_legacy_bedrock.csv",
            "cur2_same_traffic_as_anthropic.csv",
            "cur2_bedrock_credits.csv",
        ] {
            let (_, s) = read_fixture(name);
            let mut rdr = csv::Reader::from_path(fixture(name)).unwrap();
            let rows = rdr.records().count();
            assert_eq!(
                s.records.len() + s.no_usage.len() + s.rejected.len(),
                rows,
                "{name}"
            );
        }
    }
}
