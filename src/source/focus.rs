//! FOCUS 1.0–1.2 cost and usage exports as CSV or Parquet, the bill view. A Parquet row is
//! turned into the text its CSV delivery would carry (`parquet_file`) and goes through the same
//! row mapping.
//!
//! Columns (FOCUS specification; fact sheet `billing-formats.md`, section FOCUS): mandatory
//! `BilledCost`, `BillingCurrency`, `ChargeCategory`, `ChargeClass`, `ChargeDescription`,
//! `ChargePeriodStart`, `ChargePeriodEnd`, `ServiceCategory`, `PricingQuantity`, `PricingUnit`,
//! …; conditional `ConsumedQuantity`, `ConsumedUnit`, `ResourceId`, `ResourceName`,
//! `SubAccountId`, `SubAccountName`; 1.1 adds `ServiceSubcategory` and `SkuMeter`; providers add
//! `x_` columns (Microsoft: `x_SkuMeterName`).
//!
//! - Charges: `ChargeCategory` `Usage` rows are usage. A `Credit` row of a generative AI service
//!   is money the bill takes off that no call causes: a cost-only line (no model, operation
//!   other, adjustment `credit`), the `discounts_and_credits` step, never tokens. `Tax`,
//!   `Purchase` (a commitment's, already amortized into its usage rows' EffectiveCost) and
//!   `Adjustment` rows, and other services' credits, are rows without usage, named by category.
//!   A `ChargeClass` of `Correction` (a fix to an earlier, already invoiced period) is likewise
//!   kept apart.
//! - LLM rows: `ServiceCategory` `AI and Machine Learning`. Inside it, a row is LLM usage when
//!   `ServiceSubcategory` is `Generative AI` or its unit counts tokens; other AI rows (speech,
//!   vision) are rows without usage. An LLM row whose meter cannot be read is rejected naming it.
//! - Model and class come from `SkuMeter`, then `x_SkuMeterName`, then `ChargeDescription`:
//!   Azure OpenAI meter names through the Azure meter reader; otherwise a text naming a known
//!   model and `input` / `cached input` / `output` tokens.
//! - Window: `[ChargePeriodStart, ChargePeriodEnd)` (End is exclusive), UTC.
//! - Tokens: `ConsumedQuantity` in `ConsumedUnit` when the unit counts tokens, else
//!   `PricingQuantity` in `PricingUnit` (`1000 Tokens` → × 1000).
//! - FOCUS 1.3 AI rows name the model in `SkuPriceDetails` (`ModelId`, else `ModelFamily`) and
//!   the class in its `TokenDirection` / `TokenCacheAction`; `SkuMeter` is then only "Input
//!   Tokens". `CredentialId` (else `PrincipalId`) is the key.
//! - Money: `EffectiveCost` in `BillingCurrency` when the row has it, else `BilledCost`: usage
//!   covered by a commitment bills 0 (the purchase row carries the money, kept out as a row
//!   without usage) yet costs its amortized share; a row where the two differ is noted. A row
//!   whose `ListCost` is above that cost is a discount: its usage line is at `ListCost` (what the
//!   app's prices compare with) and the difference is a cost-only line of its own (adjustment
//!   `commitment` when the row names a `CommitmentDiscountId`, else `discount`).

use super::azure;
use super::util::{self, Fields};
use super::{Format, Head, InputError, InputFile, RecordSink, Row, parquet_file};
use crate::record::{Adjustment, Currency, Money, Operation, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::io::BufRead;

/// FOCUS column names are PascalCase and fixed by the specification; these six are mandatory
/// since 1.0 and together occur in no other export this tool reads.
pub fn sniff(head: &Head) -> Option<Format> {
    is_focus(&head.csv_columns()).then_some(Format::FocusCsv)
}

/// A Parquet file with the same mandatory columns.
pub fn sniff_parquet(columns: &[String]) -> Option<Format> {
    is_focus(columns).then_some(Format::FocusParquet)
}

fn is_focus(cols: &[String]) -> bool {
    let has = |n: &str| cols.iter().any(|c| c == n);
    [
        "BilledCost",
        "BillingCurrency",
        "ChargeCategory",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ServiceCategory",
    ]
    .iter()
    .all(|c| has(c))
}

/// Amount and price columns: left out of the record id.
const MEASURES: [&str; 8] = [
    "billedcost",
    "contractedcost",
    "effectivecost",
    "listcost",
    "pricingquantity",
    "consumedquantity",
    "listunitprice",
    "contractedunitprice",
];

struct Cols {
    billed_cost: usize,
    currency: usize,
    category: usize,
    class: Option<usize>,
    description: Option<usize>,
    start: usize,
    end: usize,
    service_category: usize,
    subcategory: Option<usize>,
    sku_meter: Option<usize>,
    x_meter: Option<usize>,
    consumed_q: Option<usize>,
    consumed_u: Option<usize>,
    pricing_q: Option<usize>,
    pricing_u: Option<usize>,
    provider: Option<usize>,
    resource_id: Option<usize>,
    resource_name: Option<usize>,
    sub_account_id: Option<usize>,
    sub_account_name: Option<usize>,
    effective_cost: Option<usize>,
    list_cost: Option<usize>,
    /// `CommitmentDiscountId`: the row's usage is drawn from a commitment.
    commitment: Option<usize>,
    sku_price_details: Option<usize>,
    credential: Option<usize>,
    principal: Option<usize>,
    identity: Vec<(String, usize)>,
}

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    match format {
        Format::FocusCsv => {}
        Format::FocusParquet => return read_parquet(file, sink),
        _ => {
            return Err(InputError::new(
                file,
                None,
                format!("{format} is not a FOCUS format"),
            ));
        }
    }
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    let cols = columns(&names).map_err(|n| {
        InputError::new(
            file,
            Some(1),
            format!("missing column '{n}'; expected a FOCUS 1.0–1.2 CSV export"),
        )
    })?;
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        emit(row(file, &cols, rec, line), line, "", sink)
    })
}

/// A FOCUS Parquet export, streamed a row group at a time; rows are numbered from 1. Every
/// column is decoded: all but the measures make up the record id, as in CSV.
fn read_parquet(file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), InputError> {
    let table = parquet_file::open(file, &|_| true)?;
    let cols = columns(table.columns()).map_err(|n| {
        InputError::new(
            file,
            None,
            format!("missing column '{n}'; expected a FOCUS 1.0–1.2 Parquet export"),
        )
    })?;
    table.for_each_row(file, &mut |n, values| {
        let prefix = format!("row {n}: ");
        match values {
            Ok(values) => emit(row(file, &cols, values, n), n, &prefix, sink),
            Err(why) => sink.reject(n, format!("{prefix}{why}")),
        }
    })
}

/// Column positions from the header names; the error is the first mandatory column missing.
fn columns(names: &[String]) -> Result<Cols, String> {
    let find = |n: &str| names.iter().position(|h| h == n);
    let need = |n: &str| find(n).ok_or_else(|| n.to_string());
    let mut identity: Vec<(String, usize)> = names
        .iter()
        .enumerate()
        .map(|(i, h)| (h.clone(), i))
        .filter(|(h, _)| !MEASURES.contains(&h.to_ascii_lowercase().as_str()))
        .collect();
    identity.sort();
    Ok(Cols {
        billed_cost: need("BilledCost")?,
        currency: need("BillingCurrency")?,
        category: need("ChargeCategory")?,
        class: find("ChargeClass"),
        description: find("ChargeDescription"),
        start: need("ChargePeriodStart")?,
        end: need("ChargePeriodEnd")?,
        service_category: need("ServiceCategory")?,
        subcategory: find("ServiceSubcategory"),
        sku_meter: find("SkuMeter"),
        x_meter: find("x_SkuMeterName"),
        consumed_q: find("ConsumedQuantity"),
        consumed_u: find("ConsumedUnit"),
        pricing_q: find("PricingQuantity"),
        pricing_u: find("PricingUnit"),
        provider: find("ProviderName"),
        resource_id: find("ResourceId"),
        resource_name: find("ResourceName"),
        sub_account_id: find("SubAccountId"),
        sub_account_name: find("SubAccountName"),
        effective_cost: find("EffectiveCost"),
        list_cost: find("ListCost"),
        commitment: find("CommitmentDiscountId"),
        sku_price_details: find("SkuPriceDetails"),
        credential: find("CredentialId"),
        principal: find("PrincipalId"),
        identity,
    })
}

/// Tokens per unit of a FOCUS unit: `Tokens` = 1, `1000 Tokens` = 1000, `1K Tokens` = 1000,
/// `1M Tokens` = 1000000; `None` when the unit does not count tokens.
pub fn tokens_per_unit(unit: &str) -> Option<i64> {
    let u = unit.trim();
    let lower = u.to_ascii_lowercase();
    let n = lower
        .strip_suffix("tokens")
        .or_else(|| lower.strip_suffix("token"))?
        .trim();
    if n.is_empty() {
        return Some(1);
    }
    azure::block_size(n)
}

/// What a meter (or the SKU price details) says: model, class, service tier, and whether it
/// was an Azure meter name.
type MeterRead = (String, UsageClass, Option<&'static str>, bool);

/// Model and class from a meter or description text of a provider other than Microsoft: a full
/// model id and the words `input`, `cached input` / `cache read`, or `output`.
fn meter_of(text: &str) -> Result<MeterRead, String> {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | ':'))
        .filter(|w| !w.is_empty())
        .collect();
    let model = words
        .iter()
        // A full model id (`gpt-4o-2024-08-06`, `claude-sonnet-4-5`), not a bare family word.
        .find(|w| {
            w.contains('-')
                && crate::catalog::provider_of_model(&crate::catalog::canonical_model(w)).is_some()
        })
        .ok_or("no known model name")?;
    let has = |w: &str| words.contains(&w);
    let cached = has("cached") || (has("cache") && has("read"));
    if has("cache") && has("write") {
        return Err("cache-write tokens without a cache duration".to_string());
    }
    let class = match (has("input"), has("output"), cached) {
        (true, false, false) => UsageClass::Input,
        (true, false, true) => UsageClass::InputCacheRead,
        (false, true, false) => UsageClass::Output,
        _ => return Err("expected exactly one of input, cached input or output".to_string()),
    };
    let tier = has("batch").then_some("batch");
    Ok((model.to_string(), class, tier, false))
}

/// Hands a row's outcome and its note to the sink.
fn emit(
    result: Result<(Row, Option<&'static str>), String>,
    line: u64,
    prefix: &str,
    sink: &mut dyn RecordSink,
) {
    let result = result.map(|(row, note)| {
        if let Some(n) = note {
            sink.note(line, n);
        }
        row
    });
    Row::emit(result, line, prefix, sink);
}

/// One FOCUS row, CSV or Parquet, to its outcome.
fn row<R: Fields + ?Sized>(
    file: &InputFile,
    cols: &Cols,
    rec: &R,
    line: u64,
) -> Result<(Row, Option<&'static str>), String> {
    let field = |i: usize| rec.get(i).and_then(util::opt_str);
    let opt = |i: Option<usize>| i.and_then(field);
    let category = field(cols.category).unwrap_or("");
    let credit = match category.to_ascii_lowercase().as_str() {
        "usage" => false,
        "credit" => true,
        // A purchase (a commitment's) is already amortized into its usage rows' EffectiveCost.
        "tax" | "purchase" | "adjustment" => {
            return Ok((
                Row::NoUsage(azure::static_reason(
                    "not a usage charge (ChargeCategory)",
                    category,
                )),
                None,
            ));
        }
        _ => {
            return Err(format!(
                "ChargeCategory: expected Usage, Purchase, Tax, Credit or Adjustment, got '{category}'"
            ));
        }
    };
    if opt(cols.class).is_some_and(|c| c.eq_ignore_ascii_case("correction")) {
        return Ok((
            Row::NoUsage("correction of an earlier billing period (ChargeClass Correction)"),
            None,
        ));
    }
    let service = field(cols.service_category).unwrap_or("");
    if !service.eq_ignore_ascii_case("AI and Machine Learning") {
        let shown = if service.is_empty() {
            "(no ServiceCategory)"
        } else {
            service
        };
        return Ok((
            Row::NoUsage(azure::static_reason("not an AI service charge", shown)),
            None,
        ));
    }
    if credit {
        return credit_row(file, cols, rec, line).map(|r| (r, None));
    }
    let consumed_unit = opt(cols.consumed_u);
    let pricing_unit = opt(cols.pricing_u);
    let token_unit = consumed_unit.and_then(tokens_per_unit).is_some()
        || pricing_unit.and_then(tokens_per_unit).is_some();
    let generative = opt(cols.subcategory).is_some_and(|s| s.eq_ignore_ascii_case("Generative AI"));
    if !generative && !token_unit {
        return Ok((
            Row::NoUsage(azure::static_reason(
                "AI service charge without LLM tokens",
                opt(cols.subcategory).unwrap_or("(no ServiceSubcategory)"),
            )),
            None,
        ));
    }
    // Microsoft's rows carry the Azure meter name: only the Azure meter reader applies there,
    // so a meter it rejects is not re-read loosely from the description.
    let microsoft =
        opt(cols.provider).is_some_and(|p| p.to_ascii_lowercase().contains("microsoft"));
    let from_details = opt(cols.sku_price_details)
        .map(sku_price_details_model)
        .transpose()?
        .flatten();
    let candidates = if microsoft {
        vec![cols.sku_meter, cols.x_meter]
    } else {
        vec![cols.sku_meter, cols.x_meter, cols.description]
    };
    // The first meter text that reads; the reject names the first one present.
    let texts: Vec<&str> = candidates.into_iter().filter_map(opt).collect();
    let first = texts.first().copied().unwrap_or("");
    let mut parsed = from_details;
    let mut why = String::from("no SkuMeter, x_SkuMeterName or ChargeDescription");
    for t in texts.iter().filter(|_| parsed.is_none()) {
        let read = if microsoft {
            azure::parse_meter(t).map(|m| (m.model, m.class, m.tier, true))
        } else {
            meter_of(t)
        };
        match read {
            Ok(m) => {
                parsed = Some(m);
                break;
            }
            Err(e) if t == &first => why = e,
            Err(_) => {}
        }
    }
    let Some((model, class, tier, azure_meter)) = parsed else {
        return Err(format!("unknown LLM meter '{first}': {why}"));
    };

    let (start, end) = period(cols, rec)?;
    // Consumed quantity first (the usage as measured), pricing quantity otherwise.
    let (q_col, per_unit, unit_name) = match (
        consumed_unit.and_then(tokens_per_unit),
        pricing_unit.and_then(tokens_per_unit),
    ) {
        (Some(n), _) if opt(cols.consumed_q).is_some() => {
            (cols.consumed_q, n, consumed_unit.unwrap_or(""))
        }
        (_, Some(n)) => (cols.pricing_q, n, pricing_unit.unwrap_or("")),
        _ => {
            return Err(format!(
                "meter '{first}': expected ConsumedUnit or PricingUnit in tokens like '1000 Tokens', got '{}' / '{}'",
                consumed_unit.unwrap_or(""),
                pricing_unit.unwrap_or("")
            ));
        }
    };
    let raw_q = opt(q_col).unwrap_or("");
    let q = util::parse_decimal(raw_q)
        .ok_or_else(|| format!("quantity: expected a number of '{unit_name}', got '{raw_q}'"))?;
    let tokens = azure::tokens_from_blocks(q, per_unit).ok_or_else(|| {
        format!(
            "quantity: expected a non-negative number of '{unit_name}' (a whole number of single tokens), got '{raw_q}'"
        )
    })?;
    let (billed, cost, currency) = amounts(cols, rec)?;
    // The part of a discount off the list price (a commitment's or a negotiated one) is its own
    // line, so the usage line is at list price like the app's and the discount is a bridge step.
    // A list price below the cost (a premium, or none written as 0) is not a discount.
    let list = opt(cols.list_cost)
        .map(|raw| {
            util::parse_decimal(raw)
                .ok_or_else(|| format!("ListCost: expected a decimal amount, got '{raw}'"))
        })
        .transpose()?
        .filter(|l| *l > cost);

    let mut r = UsageRecord::bucket(
        record_id(cols, rec, start, end, first),
        file.origin(line),
        start,
        end,
    );
    let hint = (azure_meter || microsoft).then_some("azure");
    r.set_model(hint, &model);
    set_scope(&mut r, cols, rec);
    r.operation = Operation::Chat;
    r.service_tier = tier.map(str::to_string);
    r.usage = Usage::of(&[(class, tokens)]);
    r.reported_cost = Some(Money::new(list.unwrap_or(cost), currency));
    let note = (cost != billed).then_some(
        "usage valued at EffectiveCost, which differs from BilledCost (commitment or discount)",
    );
    let Some(list) = list else {
        return Ok((Row::Record(Box::new(r)), note));
    };
    let off = cost
        .checked_sub(list)
        .ok_or_else(|| format!("EffectiveCost {cost} − ListCost {list} is beyond a decimal"))?;
    let mut d = r.clone();
    d.id = format!("{}:discount", r.id);
    d.usage = Usage::ZERO;
    d.requests = 0;
    d.cost_only = true;
    d.adjustment = Some(if opt(cols.commitment).is_some() {
        Adjustment::Commitment
    } else {
        Adjustment::Discount
    });
    d.reported_cost = Some(Money::new(off, currency));
    Ok((Row::Records(vec![r, d]), note))
}

/// A `Credit` row of a generative AI service: money the bill takes off (or gives back) that no
/// call causes, as a cost-only line with no model over the row's own period.
fn credit_row<R: Fields + ?Sized>(
    file: &InputFile,
    cols: &Cols,
    rec: &R,
    line: u64,
) -> Result<Row, String> {
    // FOCUS 1.0 has no subcategory: an AI credit is then taken as the AI usage rows are.
    let sub = cols
        .subcategory
        .and_then(|i| rec.get(i))
        .and_then(util::opt_str);
    if let Some(sub) = sub.filter(|s| !s.eq_ignore_ascii_case("Generative AI")) {
        return Ok(Row::NoUsage(azure::static_reason(
            "credit of an AI service without LLM usage",
            sub,
        )));
    }
    let (start, end) = period(cols, rec)?;
    let (_, cost, currency) = amounts(cols, rec)?;
    let mut r = UsageRecord::bucket(
        record_id(cols, rec, start, end, "credit"),
        file.origin(line),
        start,
        end,
    );
    r.set_model(None, "");
    set_scope(&mut r, cols, rec);
    r.operation = Operation::Other;
    r.requests = 0;
    r.cost_only = true;
    r.adjustment = Some(Adjustment::Credit);
    r.reported_cost = Some(Money::new(cost, currency));
    Ok(Row::Record(Box::new(r)))
}

/// `[ChargePeriodStart, ChargePeriodEnd)`, UTC.
fn period<R: Fields + ?Sized>(
    cols: &Cols,
    rec: &R,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let time = |i: usize, name: &str| {
        let raw = rec.get(i).and_then(util::opt_str).unwrap_or("");
        util::parse_utc(raw).ok_or_else(|| {
            format!("{name}: expected a UTC time like 2026-10-01T00:00:00Z, got '{raw}'")
        })
    };
    let start = time(cols.start, "ChargePeriodStart")?;
    let end = time(cols.end, "ChargePeriodEnd")?;
    if end <= start {
        return Err(format!(
            "ChargePeriodEnd {end} is not after ChargePeriodStart {start}; expected [start, end)"
        ));
    }
    Ok((start, end))
}

/// `BilledCost`, the row's cost and its currency. The cost is EffectiveCost when the row has it:
/// usage covered by a commitment bills 0 (the purchase row carries the money) yet costs its
/// amortized share.
fn amounts<R: Fields + ?Sized>(
    cols: &Cols,
    rec: &R,
) -> Result<(Decimal, Decimal, Currency), String> {
    let opt = |i: Option<usize>| i.and_then(|i| rec.get(i)).and_then(util::opt_str);
    let raw_cost = opt(Some(cols.billed_cost)).unwrap_or("");
    let billed = util::parse_decimal(raw_cost)
        .ok_or_else(|| format!("BilledCost: expected a decimal amount, got '{raw_cost}'"))?;
    let cost = match opt(cols.effective_cost) {
        Some(raw) => util::parse_decimal(raw)
            .ok_or_else(|| format!("EffectiveCost: expected a decimal amount, got '{raw}'"))?,
        None => billed,
    };
    let raw_cur = opt(Some(cols.currency)).unwrap_or("");
    let currency = Currency::parse(raw_cur).ok_or_else(|| {
        format!("BillingCurrency: expected a currency code like USD, got '{raw_cur}'")
    })?;
    Ok((billed, cost, currency))
}

/// A line's id: its period, what it is (the meter, or `credit`), its resource and a hash of
/// every column that is not an amount.
fn record_id<R: Fields + ?Sized>(
    cols: &Cols,
    rec: &R,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    what: &str,
) -> String {
    let parts: Vec<(&str, &str)> = cols
        .identity
        .iter()
        .map(|(n, i)| (n.as_str(), rec.get(*i).unwrap_or("").trim()))
        .collect();
    let resource = cols
        .resource_id
        .and_then(|i| rec.get(i))
        .and_then(util::opt_str);
    format!(
        "focus:{}-{}:{}:{}:{:016x}",
        start.format("%Y-%m-%dT%H:%M:%SZ"),
        end.format("%Y-%m-%dT%H:%M:%SZ"),
        what,
        resource.unwrap_or(""),
        azure::fnv64(&parts)
    )
}

/// The bill the line is on, its account, key and principal.
fn set_scope<R: Fields + ?Sized>(r: &mut UsageRecord, cols: &Cols, rec: &R) {
    let opt = |i: Option<usize>| i.and_then(|i| rec.get(i)).and_then(util::opt_str);
    // One FOCUS file may hold several clouds' lines: each line names the bill it is on.
    if let Some(cloud) = opt(cols.provider).and_then(crate::catalog::serving_cloud) {
        r.serving = cloud;
    }
    r.scope.project = opt(cols.sub_account_name)
        .or(opt(cols.sub_account_id))
        .map(str::to_string);
    // FOCUS 1.3 names who called: the credential (API key) first, else the principal.
    r.scope.api_key = opt(cols.credential)
        .or(opt(cols.principal))
        .map(str::to_string)
        .or_else(|| opt(cols.resource_name).map(str::to_string))
        .or_else(|| opt(cols.resource_id).and_then(azure::resource_name));
    r.scope.user = opt(cols.principal).map(str::to_string);
}

/// Model and class from `SkuPriceDetails` (FOCUS 1.3 AI rows): `ModelId` (else `ModelFamily`),
/// `TokenDirection` (`Input`/`Output`) and `TokenCacheAction` (`Read`/`Write`, absent or
/// `None` for uncached). `None` when the details name no model; a model name the catalog does
/// not know stays as written (the record is unpriced, not rejected).
fn sku_price_details_model(raw: &str) -> Result<Option<MeterRead>, String> {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(raw) else {
        return Ok(None);
    };
    let text = |k: &str| {
        m.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let Some(model) = text("ModelId").or(text("ModelFamily")) else {
        return Ok(None);
    };
    let direction = text("TokenDirection").unwrap_or("");
    let cache = text("TokenCacheAction").unwrap_or("").to_ascii_lowercase();
    let class = match (direction.to_ascii_lowercase().as_str(), cache.as_str()) {
        ("input", "" | "none") => UsageClass::Input,
        ("input", "read") => UsageClass::InputCacheRead,
        ("input", "write") => UsageClass::InputCacheWrite5m,
        ("output", "" | "none") => UsageClass::Output,
        _ => {
            return Err(format!(
                "SkuPriceDetails: expected TokenDirection Input or Output (TokenCacheAction Read, Write or none), got '{direction}' / '{cache}'"
            ));
        }
    };
    Ok(Some((model.to_string(), class, None, false)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testutil::temp;
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;
    use std::path::{Path, PathBuf};

    const FIXTURE: &str = "focus_1_2_azure_openai.csv";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/focus")
            .join(name)
    }

    #[test]
    fn ai_rows_of_focus_1_3_read_model_and_class_from_sku_price_details() {
        let (format, s) = read_all(&fixture("focus_1_3_ai_tokens.csv")).unwrap();
        assert_eq!(format, Format::FocusCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        let got: Vec<(&str, Usage, Decimal)> = s
            .records
            .iter()
            .map(|r| (r.model.as_str(), r.usage, r.reported_cost.unwrap().amount))
            .collect();
        assert_eq!(
            got,
            vec![
                ("gpt-4.1", Usage::of(&[(Input, 1_000_000)]), dec!(2)),
                (
                    "gpt-4.1",
                    Usage::of(&[(InputCacheRead, 500_000)]),
                    dec!(0.25)
                ),
                ("gpt-4.1", Usage::of(&[(Output, 100_000)]), dec!(0.8)),
                // Under a commitment: BilledCost 0, EffectiveCost 20 (2.5M × $8).
                ("gpt-4.1", Usage::of(&[(Output, 2_500_000)]), dec!(20)),
                // A model the tables do not know stays a record (priced by nothing here).
                ("acme-reasoner-2", Usage::of(&[(Input, 10_000)]), dec!(0.05)),
                // Line 8's promotional credit: money only, no model.
                ("", Usage::ZERO, dec!(-1.5)),
            ]
        );
        assert_eq!(s.records[4].provider, "");
        // List 20 = effective 20 under the commitment: no discount off the list price, one line.
        assert!(
            s.records[..5]
                .iter()
                .all(|r| !r.cost_only && r.adjustment.is_none())
        );
        let c = &s.records[5];
        assert!(c.cost_only && c.requests == 0);
        assert_eq!(c.adjustment, Some(Adjustment::Credit));
        assert_eq!(c.operation, Operation::Other);
        assert_eq!(c.scope.project.as_deref(), Some("support-bot"));
        assert_eq!((c.start, c.end), (s.records[0].start, s.records[0].end));
        let r = &s.records[0];
        assert_eq!(r.scope.api_key.as_deref(), Some("cred-key-01"));
        assert_eq!(r.scope.user.as_deref(), Some("svc-support@acme.example"));
        // The purchase is already amortized into the commitment row's EffectiveCost.
        assert_eq!(
            s.no_usage,
            vec![(6, "not a usage charge (ChargeCategory): Purchase")]
        );
        assert_eq!(
            s.notes,
            vec![(
                5,
                "usage valued at EffectiveCost, which differs from BilledCost (commitment or discount)"
            )]
        );
    }

    #[test]
    fn sku_price_details_with_an_unknown_direction_is_rejected_naming_it() {
        let e = sku_price_details_model(r#"{"ModelId":"gpt-4.1","TokenDirection":"Sideways"}"#)
            .unwrap_err();
        assert!(e.contains("'Sideways'"), "{e}");
        // No model in the details: the meter readers decide.
        assert_eq!(sku_price_details_model(r#"{"CoreCount":4}"#), Ok(None));
    }

    #[test]
    fn usage_rows_to_records() {
        let (format, s) = read_all(&fixture(FIXTURE)).unwrap();
        assert_eq!(format, Format::FocusCsv);
        // Four usage lines and the credit of line 6.
        assert_eq!(s.records.len(), 5, "{:?}", s.rejected);
        let a = &s.records[0];
        // ConsumedQuantity 4000 in `Tokens`; BilledCost 0.02 USD.
        assert_eq!(a.usage, Usage::of(&[(Input, 4_000)]));
        assert_eq!(a.reported_cost, Some(Money::usd(dec!(0.02))));
        assert_eq!(
            (a.provider.as_str(), a.model.as_str()),
            ("openai", "gpt-4o")
        );
        assert_eq!(a.scope.project.as_deref(), Some("contoso-ai-prod"));
        assert_eq!(a.scope.api_key.as_deref(), Some("aoai-chat-eastus2"));
        // [2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z): End exclusive, one day.
        assert_eq!(a.start.timestamp(), 1_790_812_800);
        assert_eq!(a.end.timestamp(), 1_790_899_200);
        assert!(!a.cost_only);
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 1_000)]));
        // No ConsumedQuantity: PricingQuantity 2.5 of `1000 Tokens` = 2500.
        assert_eq!(s.records[2].usage, Usage::of(&[(InputCacheRead, 2_500)]));
        // Line 6, the Azure credit offer of 2026-10-01: −5.00, a money line of its own.
        let c = &s.records[3];
        assert!(c.cost_only && c.usage.is_zero() && c.model.is_empty());
        assert_eq!(c.adjustment, Some(Adjustment::Credit));
        assert_eq!(c.reported_cost, Some(Money::usd(dec!(-5.00))));
        assert_eq!(c.scope.project.as_deref(), Some("contoso-ai-prod"));
        assert_eq!(
            (c.start.timestamp(), c.end.timestamp()),
            (1_790_812_800, 1_790_899_200)
        );
        assert_eq!(s.records[4].usage, Usage::of(&[(Input, 6_000)]));
        assert_eq!(s.records[4].start.timestamp(), 1_790_899_200);
        // Usage 0.02 + 0.015 + 0.003125 + 0.03 = 0.068125; with the credit 0.068125 − 5 =
        // −4.931875; the tax and the correction are not in it.
        let total = |f: fn(&UsageRecord) -> bool| -> Decimal {
            s.records
                .iter()
                .filter(|r| f(r))
                .map(|r| r.reported_cost.unwrap().amount)
                .sum()
        };
        assert_eq!(total(|r| !r.cost_only), dec!(0.068125));
        assert_eq!(total(|_| true), dec!(-4.931875));
        assert_eq!(
            s.no_usage,
            vec![
                (5, "not a usage charge (ChargeCategory): Tax"),
                (7, "not an AI service charge: Compute"),
                (
                    8,
                    "AI service charge without LLM tokens: Natural Language Processing"
                ),
                (
                    10,
                    "correction of an earlier billing period (ChargeClass Correction)"
                ),
            ]
        );
        let r: Vec<(u64, &str)> = s.rejected.iter().map(|(l, r)| (*l, r.as_str())).collect();
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].0, 9);
        assert!(
            r[0].1
                .contains("unknown LLM meter 'gpt 4o realtime aud Inp glbl Tokens'"),
            "{}",
            r[0].1
        );
        assert_eq!(r[1].0, 11);
        assert!(
            r[1].1.contains("ChargePeriodStart") && r[1].1.contains("'10/02/2026'"),
            "{}",
            r[1].1
        );
        // Every row once: 11 data rows.
        assert_eq!(s.records.len() + s.no_usage.len() + s.rejected.len(), 11);
    }

    /// Line 5 of the FOCUS 1.3 fixture (2.5M output under a commitment) with a list price above
    /// its effective cost, and line 8's credit on a speech service.
    #[test]
    fn a_discount_off_list_is_a_money_line_of_its_own() {
        let text = std::fs::read_to_string(fixture("focus_1_3_ai_tokens.csv")).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // ListCost 25 (2.5M × $10), EffectiveCost 20: $5 off through commitment-2026-q4.
        let committed = "Tokens,20,8,cred-key-01,20,Example AI Inc.,20,8,Committed";
        assert!(lines[4].contains(committed));
        lines[4] = lines[4].replace(
            committed,
            "Tokens,20,8,cred-key-01,20,Example AI Inc.,25,10,Committed",
        );
        // The same row without a commitment id: a negotiated discount.
        let plain = lines[4].replace("commit-2026-q4,Used", ",");
        lines.push(plain);
        // A credit of an AI service that is not generative: another service's money.
        lines.push(lines[7].replace("Generative AI", "Speech"));
        let (_d, p) = temp("focus13.csv", &(lines.join("\n") + "\n"));
        let (_, s) = read_all(&p).unwrap();
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        let got: Vec<(Usage, Decimal, Option<Adjustment>)> = s
            .records
            .iter()
            .map(|r| (r.usage, r.reported_cost.unwrap().amount, r.adjustment))
            .collect();
        let out = Usage::of(&[(Output, 2_500_000)]);
        // The usage line at list price, then 20 − 25 = −5 as a commitment line.
        assert_eq!(got[3], (out, dec!(25), None));
        assert_eq!(
            got[4],
            (Usage::ZERO, dec!(-5), Some(Adjustment::Commitment))
        );
        assert!(s.records[4].cost_only && s.records[4].id.ends_with(":discount"));
        assert_eq!(s.records[4].model, "gpt-4.1");
        assert_eq!(got[7], (out, dec!(25), None));
        assert_eq!(got[8], (Usage::ZERO, dec!(-5), Some(Adjustment::Discount)));
        assert_eq!(s.records.len(), 9);
        assert_eq!(
            s.no_usage.last(),
            Some(&(10, "credit of an AI service without LLM usage: Speech"))
        );
        // The row's money is unchanged: 25 − 5 = 20 = its EffectiveCost.
        let all: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        // 2 + 0.25 + 0.8 + 20 + 0.05 − 1.5 + 20 = 41.6.
        assert_eq!(all, dec!(41.6));
    }

    #[test]
    fn units_and_generic_meters() {
        assert_eq!(tokens_per_unit("Tokens"), Some(1));
        assert_eq!(tokens_per_unit("1000 Tokens"), Some(1_000));
        assert_eq!(tokens_per_unit("1K Tokens"), Some(1_000));
        assert_eq!(tokens_per_unit("1M Tokens"), Some(1_000_000));
        assert_eq!(tokens_per_unit("1 Hour"), None);
        assert_eq!(tokens_per_unit("GB"), None);
        let (m, c, t, az) = meter_of("claude-sonnet-4-5 cached input tokens").unwrap();
        assert_eq!(
            (m.as_str(), c, t, az),
            ("claude-sonnet-4-5", InputCacheRead, None, false)
        );
        let (m, c, t, _) = meter_of("gpt-4o-2024-08-06, output (batch)").unwrap();
        assert_eq!(
            (m.as_str(), c, t),
            ("gpt-4o-2024-08-06", Output, Some("batch"))
        );
        assert!(meter_of("Claude output tokens").is_err());
        assert!(meter_of("claude-sonnet-4-5 cache write tokens").is_err());
        assert!(meter_of("claude-sonnet-4-5 tokens").is_err());
    }

    const HEAD: &str = "BilledCost,BillingCurrency,ChargeCategory,ChargeClass,ChargeDescription,ChargePeriodStart,ChargePeriodEnd,ConsumedQuantity,ConsumedUnit,PricingQuantity,PricingUnit,ProviderName,ServiceCategory,ServiceSubcategory,SkuMeter,SubAccountId,ResourceId\n";

    #[test]
    fn other_providers_and_bad_rows() {
        let text = format!(
            "{HEAD}\
0.012,USD,Usage,,claude-sonnet-4-5 input tokens,2026-10-01 00:00:00,2026-10-02 00:00:00,4000,Tokens,4,1000 Tokens,Example Cloud,AI and Machine Learning,Generative AI,,acct-1,arn:x/key-1\n\
0.012,EUR,Usage,,some model thing,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,4000,Tokens,4,1000 Tokens,Example Cloud,AI and Machine Learning,Generative AI,Text Input,acct-1,\n\
0.012,USD,Usage,,claude-sonnet-4-5 input tokens,2026-10-02T00:00:00Z,2026-10-01T00:00:00Z,4000,Tokens,4,1000 Tokens,Example Cloud,AI and Machine Learning,Generative AI,,acct-1,\n\
0.012,USD,Usage,,claude-sonnet-4-5 input tokens,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,4,Requests,4,Requests,Example Cloud,AI and Machine Learning,Generative AI,,acct-1,\n\
1,USD,Refund,,x,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,,,,,Example Cloud,Other,,,acct-1,\n"
        );
        let (_d, p) = temp("focus.csv", &text);
        let (format, s) = read_all(&p).unwrap();
        assert_eq!(format, Format::FocusCsv);
        assert_eq!(s.records.len(), 1);
        let a = &s.records[0];
        // Naive `YYYY-MM-DD HH:MM:SS` (the official sample's spelling) is UTC.
        assert_eq!(a.start.timestamp(), 1_790_812_800);
        assert_eq!(
            (a.provider.as_str(), a.model.as_str()),
            ("anthropic", "claude-sonnet-4-5")
        );
        assert_eq!(a.usage, Usage::of(&[(Input, 4_000)]));
        assert_eq!(a.scope.project.as_deref(), Some("acct-1"));
        assert_eq!(a.scope.api_key.as_deref(), Some("key-1"));
        let r: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(r.len(), 4, "{r:?}");
        assert!(r[0].contains("unknown LLM meter 'Text Input'"), "{}", r[0]);
        assert!(r[1].contains("not after ChargePeriodStart"), "{}", r[1]);
        assert!(r[2].contains("got 'Requests' / 'Requests'"), "{}", r[2]);
        // An unknown ChargeCategory is rejected, not guessed.
        assert!(r[3].contains("got 'Refund'"), "{}", r[3]);
        assert!(s.no_usage.is_empty());
    }

    #[test]
    fn sniffing_and_unrecognizable_files() {
        let head = crate::source::read_head(&InputFile::new(0, &fixture(FIXTURE))).unwrap();
        assert_eq!(crate::source::sniff(&head), Some(Format::FocusCsv));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("focus") {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let path = f.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                let Ok(head) = crate::source::read_head(&InputFile::new(0, &path)) else {
                    continue;
                };
                assert_eq!(sniff(&head), None, "{}", path.display());
            }
        }
        // A FOCUS-like file missing a mandatory column is not claimed.
        let (_d, p) = temp(
            "x.csv",
            "BilledCost,BillingCurrency,ChargeCategory\n1,USD,Usage\n",
        );
        let e = read_all(&p).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        let file = InputFile::new(0, &p);
        let mut sink = CollectSink::default();
        let e = crate::source::read(Format::FocusCsv, &file, &mut sink).unwrap_err();
        assert!(
            e.message.contains("missing column 'ChargePeriodStart'"),
            "{e}"
        );
        let mut r: &[u8] = b"";
        let e = read(Format::AzureEaCsv, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not a FOCUS format"), "{e}");
    }
}
