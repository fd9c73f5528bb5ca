//! Azure Cost Management cost and usage details exports (actual cost, CSV), the bill view.
//!
//! Two schemas (MicrosoftDocs/azure-docs `articles/cost-management-billing/dataset-schema/`
//! `cost-usage-details-ea.md` version 2024-08-01 and `cost-usage-details-mca.md` version
//! 2023-12-01-preview; fact sheet `billing-formats.md`, section Azure):
//! - EA: PascalCase — `Date`, `MeterCategory`, `MeterSubCategory`, `MeterId`, `MeterName`,
//!   `UnitOfMeasure`, `Quantity`, `CostInBillingCurrency`, `BillingCurrencyCode`, `ResourceId`,
//!   `SubscriptionId`, `SubscriptionName`, `ResourceGroup`, `ChargeType`, …
//! - MCA: camelCase — `date`, `meterCategory`, `meterName`, `unitOfMeasure`, `quantity`,
//!   `costInBillingCurrency`, `billingCurrency`, `resourceGroupName`, `chargeType`, … (a few
//!   columns keep PascalCase there too: `SubscriptionId`, `ResourceId`, `ProductName`).
//!
//! Columns are found case-insensitively, so one reader serves both. One row is one meter of one
//! resource on one day (`MM/DD/YYYY`, a UTC day), carrying both its quantity and its cost: there
//! are no separate cost lines.
//!
//! `ChargeType` (documented values `Usage`, `Purchase`, `Refund`, `UnusedReservation`,
//! `UnusedSavingsPlan`, `RoundingAdjustment`): only `Usage` rows carry tokens. A `Refund` row of
//! an Azure OpenAI meter (money given back) is a cost-only credit record and an
//! `UnusedReservation` row (amortized-cost exports: the unused part of a reservation, such as
//! provisioned throughput units) a cost-only commitment record, both for the
//! `discounts_and_credits` step: no model, no tokens, the row's own day, subscription and
//! resource, money from the same cost column as usage rows (`CostInBillingCurrency`,
//! `costInBillingCurrency`, `Cost`, `PreTaxCost`), id suffixed `:charge=<ChargeType>`.
//! `Purchase` rows stay rows without usage: the columns read here cannot tell a reservation
//! purchase from another purchase. The other charge types and other services' rows are kept out
//! as before.
//!
//! Azure OpenAI / Foundry meters name the model, the token class, the tier and the deployment
//! type in an abbreviated dialect (`gpt 4o 0513 Input global Tokens`, `gpt 4o 1120 cached Inp
//! glbl Tokens`, `gpt-4o-0806-Batch-Inp-glbl Tokens`, `5 mini pp Inp Gl 1M Tokens`);
//! [`parse_meter`] reads it word by word and rejects any word it does not know.
//!
//! Quantity is in blocks of `UnitOfMeasure` (`1K`, `10K`, `1M`): tokens = Quantity × block
//! (4 in `1K` is 4000 tokens). The fact sheet notes this is implied by the EA test export, not
//! stated by the schema page, which says only "the number of units used".

use super::util;
use super::{Format, Head, InputError, InputFile, RecordSink, Row};
use crate::record::{Adjustment, Currency, Money, Operation, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::HashSet;
use std::io::BufRead;
use std::sync::Mutex;

// ---------------------------------------------------------------------------------------------
// Sniffing

/// EA headers are PascalCase (`MeterCategory`, `CostInBillingCurrency`); MCA headers camelCase
/// (`meterCategory`, `costInBillingCurrency`). Exact-case names keep the two apart and keep
/// other systems' files (FOCUS has no `MeterCategory`) out.
///
/// Older EA exports (and Microsoft's FinOps toolkit samples of them) write `Cost` and
/// `BillingCurrency` where current ones write `CostInBillingCurrency` and
/// `BillingCurrencyCode`; the legacy pay-as-you-go usage file writes `UsageDateTime`,
/// `UsageQuantity`, `PreTaxCost` and `Currency`.
pub fn sniff(head: &Head) -> Option<Format> {
    let cols = head.csv_columns();
    let has = |n: &str| cols.iter().any(|c| c == n);
    let meters = has("MeterCategory") && has("MeterName") && has("UnitOfMeasure");
    if meters && has("UsageDateTime") && has("UsageQuantity") && has("PreTaxCost") {
        Some(Format::AzurePaygCsv)
    } else if meters && has("Quantity") && (has("CostInBillingCurrency") || has("Cost")) {
        Some(Format::AzureEaCsv)
    } else if has("meterCategory")
        && has("meterName")
        && has("unitOfMeasure")
        && has("quantity")
        && has("costInBillingCurrency")
    {
        Some(Format::AzureMcaCsv)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Meter names

/// What an Azure OpenAI token meter says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meter {
    /// Model as the meter spells it, dashed: `gpt-4o-0513`, `gpt-5-mini`.
    pub model: String,
    pub class: UsageClass,
    /// `batch` or `priority`; `None` for standard.
    pub tier: Option<&'static str>,
    /// `global`, `datazone` or `regional`; `None` when the meter does not say.
    pub deployment: Option<&'static str>,
    /// Block size written in the name (`1M Tokens`), if any.
    pub block_in_name: Option<i64>,
}

/// Words of the model stem that mean the meter is not a text-token meter we can count.
const NOT_TEXT: [&str; 12] = [
    "aud", "audio", "realtime", "rt", "image", "img", "ft", "finetune", "training", "hosting",
    "grader", "session",
];

/// Reads a token meter name; `Err` says which word was not understood.
pub fn parse_meter(name: &str) -> Result<Meter, String> {
    let lower = name.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    if words.last() != Some(&"tokens") {
        return Err("expected a token meter ending in 'Tokens'".to_string());
    }
    words.pop();
    let mut block_in_name = None;
    if let Some(b) = words.last().and_then(|w| block_size(w)) {
        block_in_name = Some(b);
        words.pop();
    }
    // The stem runs up to the first class or tier word.
    let is_modifier = |w: &str| {
        matches!(
            w,
            "input"
                | "inp"
                | "inpt"
                | "in"
                | "output"
                | "outp"
                | "outpt"
                | "opt"
                | "out"
                | "cached"
                | "cchd"
                | "cd"
                | "batch"
                | "pp"
                | "priority"
        )
    };
    let split = words
        .iter()
        .position(|w| is_modifier(w))
        .unwrap_or(words.len());
    let (stem, rest) = words.split_at(split);
    if stem.is_empty() {
        return Err("no model name before the token class".to_string());
    }
    if let Some(w) = stem.iter().find(|w| NOT_TEXT.contains(w)) {
        return Err(format!("'{w}' is not a text-token meter this tool counts"));
    }
    let mut model = stem.join("-");
    // GPT-5 family meters drop the `gpt` (`5 mini …`). Other numbers (`4.6 Inp DZ Tokens` is
    // a Grok meter) are not guessed at.
    if stem[0] == "5" || stem[0].starts_with("5.") {
        model = format!("gpt-{model}");
    }
    // `gpt 4o …` → `gpt-4o-…`; the catalog must know the family.
    if crate::catalog::provider_of_model(&model).is_none() {
        return Err(format!(
            "model '{}' is not a known model family",
            stem.join(" ")
        ));
    }
    let (mut input, mut output, mut cached) = (false, false, false);
    let mut tier = None;
    let mut deployment = None;
    let mut i = 0;
    while i < rest.len() {
        let w = rest[i];
        match w {
            "input" | "inp" | "inpt" | "in" => input = true,
            "output" | "outp" | "outpt" | "opt" | "out" => output = true,
            "cached" | "cchd" | "cd" => cached = true,
            "batch" => tier = Some("batch"),
            "pp" => tier = Some("priority"),
            // `Priority Processing`
            "priority" if rest.get(i + 1) == Some(&"processing") => {
                tier = Some("priority");
                i += 1;
            }
            "global" | "glbl" | "gl" => deployment = Some("global"),
            "regional" | "regnl" | "rgnl" => deployment = Some("regional"),
            "dz" => deployment = Some("datazone"),
            "data" if rest.get(i + 1) == Some(&"zone") => {
                deployment = Some("datazone");
                i += 1;
            }
            _ => return Err(format!("word '{w}' not understood")),
        }
        i += 1;
    }
    let class = match (input, output, cached) {
        (true, false, false) => UsageClass::Input,
        (true, false, true) => UsageClass::InputCacheRead,
        (false, true, false) => UsageClass::Output,
        _ => {
            return Err("expected exactly one of input, cached input or output".to_string());
        }
    };
    Ok(Meter {
        model,
        class,
        tier,
        deployment,
        block_in_name,
    })
}

/// A block size as `UnitOfMeasure` writes it: `1K` = 1000, `10K` = 10000, `1M` = 1000000,
/// `100` = 100, `1` = 1 (a trailing ` Tokens` is allowed).
pub fn block_size(unit: &str) -> Option<i64> {
    let u = unit.trim();
    let u = u
        .strip_suffix(" Tokens")
        .or_else(|| u.strip_suffix(" tokens"))
        .unwrap_or(u)
        .trim();
    let (digits, mult) = match u.as_bytes().last()? {
        b'K' | b'k' => (&u[..u.len() - 1], 1_000),
        b'M' | b'm' => (&u[..u.len() - 1], 1_000_000),
        _ => (u, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    (n > 0).then_some(n.checked_mul(mult)?)
}

/// Tokens from a quantity in blocks: Quantity × block, to the nearest whole token (Azure writes
/// Quantity as a rounded decimal, so `0.0032` of `1M` is 3200 tokens and `0.0012344` of `1M` is
/// 1234.4, written as 1234). A count of single tokens is never rounded: `4000.5` tokens is no
/// count, as in every other adapter. `None` for a negative, fractional-token or overflowing
/// quantity.
pub fn tokens_from_blocks(quantity: Decimal, block: i64) -> Option<i64> {
    if quantity.is_sign_negative() && !quantity.is_zero() {
        return None;
    }
    if block == 1 && !quantity.fract().is_zero() {
        return None;
    }
    let t = quantity.checked_mul(Decimal::from(block))?;
    t.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven)
        .to_i64()
}

// ---------------------------------------------------------------------------------------------
// Reasons for rows without usage

/// A `no_usage` reason naming a value from the file. The sink takes `&'static str` (reasons are
/// grouped and counted), so each distinct reason is kept once for the process; past a bound a
/// fixed reason stands for the rest, so a file with endless distinct categories cannot grow it.
pub(crate) fn static_reason(prefix: &'static str, value: &str) -> &'static str {
    const MAX: usize = 256;
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let text = format!("{prefix}: {}", value.chars().take(80).collect::<String>());
    let Ok(mut guard) = SEEN.lock() else {
        return prefix;
    };
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(s) = set.get(text.as_str()) {
        return s;
    }
    if set.len() >= MAX {
        return prefix;
    }
    let s: &'static str = Box::leak(text.into_boxed_str());
    set.insert(s);
    s
}

/// Stable 64-bit FNV-1a, for ids that must not change between runs or Rust versions.
pub(crate) fn fnv64(parts: &[(&str, &str)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in parts {
        for b in k.bytes().chain([0x1f]).chain(v.bytes()).chain([0x1e]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Meter categories of Azure's AI services. `Cognitive Services` also holds Speech, Translator
/// and other non-LLM meters; those are told apart by the meter (below).
const AI_CATEGORIES: [&str; 4] = [
    "cognitive services",
    "foundry models",
    "azure openai",
    "azure ai foundry",
];

/// Columns that carry amounts rather than identify the line; left out of the record id so the
/// same line with a corrected amount stays one line.
const MEASURES: [&str; 10] = [
    "quantity",
    "effectiveprice",
    "costinbillingcurrency",
    "costinpricingcurrency",
    "costinusd",
    "paygcostinbillingcurrency",
    "paygcostinusd",
    "exchangeratepricingtobilling",
    "unitprice",
    "paygprice",
];

struct Cols {
    date: usize,
    category: usize,
    subcategory: Option<usize>,
    meter: usize,
    meter_id: Option<usize>,
    unit: usize,
    quantity: usize,
    cost: usize,
    currency: usize,
    resource_id: Option<usize>,
    resource_name: Option<usize>,
    subscription_id: Option<usize>,
    subscription_name: Option<usize>,
    resource_group: Option<usize>,
    charge_type: Option<usize>,
    /// Indices of every non-measure column, sorted by lower-cased name (for the id).
    identity: Vec<(String, usize)>,
    /// The header as written, to name a column in a reason.
    names: Vec<String>,
}

impl Cols {
    fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("?", |n| n.trim())
    }
}

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let what = match format {
        Format::AzureEaCsv => "an Azure EA cost and usage details export",
        Format::AzureMcaCsv => "an Azure MCA cost and usage details export",
        Format::AzurePaygCsv => "an Azure pay-as-you-go usage details export",
        _ => {
            return Err(InputError::new(
                file,
                None,
                format!("{format} is not an Azure format"),
            ));
        }
    };
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(n))
        })
    };
    let need = |names: &[&str]| {
        find(names).ok_or_else(|| {
            InputError::new(
                file,
                Some(1),
                format!("missing column '{}'; expected {what}", names[0]),
            )
        })
    };
    let mut identity: Vec<(String, usize)> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
        .filter(|(h, _)| !MEASURES.contains(&h.as_str()))
        .collect();
    identity.sort();
    let cols = Cols {
        // Current EA/MCA names first, then the older EA and pay-as-you-go spellings.
        date: need(&["Date", "UsageDateTime"])?,
        category: need(&["MeterCategory"])?,
        subcategory: find(&["MeterSubCategory"]),
        meter: need(&["MeterName"])?,
        meter_id: find(&["MeterId"]),
        unit: need(&["UnitOfMeasure"])?,
        quantity: need(&["Quantity", "UsageQuantity"])?,
        cost: need(&["CostInBillingCurrency", "Cost", "PreTaxCost"])?,
        currency: need(&["BillingCurrencyCode", "BillingCurrency", "Currency"])?,
        resource_id: find(&["ResourceId", "InstanceId"]),
        resource_name: find(&["ResourceName"]),
        subscription_id: find(&["SubscriptionId", "SubscriptionGuid"]),
        subscription_name: find(&["SubscriptionName"]),
        resource_group: find(&["ResourceGroup", "ResourceGroupName"]),
        charge_type: find(&["ChargeType"]),
        identity,
        names: headers.iter().map(str::to_string).collect(),
    };
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        Row::emit(row(file, &cols, rec, line), line, "", sink)
    })
}

/// `MM/DD/YYYY` (the export's spelling), or `YYYY-MM-DD`, as the UTC day `[00:00, +1 day)`;
/// the pay-as-you-go file's `UsageDateTime` writes the day as `YYYY-MM-DD 00:00:00`.
pub fn parse_day(s: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let t = s.trim();
    let t = t
        .strip_suffix(" 00:00:00")
        .or_else(|| t.strip_suffix("T00:00:00Z"))
        .or_else(|| t.strip_suffix("T00:00:00"))
        .unwrap_or(t);
    let d = NaiveDate::parse_from_str(t, "%m/%d/%Y")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .ok()?;
    let start = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?);
    Some((start, start + Duration::days(1)))
}

/// The account (and deployment) from an ARM id:
/// `/subscriptions/…/providers/Microsoft.CognitiveServices/accounts/aoai-prod` → `aoai-prod`;
/// `…/accounts/aoai-prod/deployments/chat` → `aoai-prod/chat`; otherwise the last segment.
pub fn resource_name(resource_id: &str) -> Option<String> {
    let t = resource_id.trim().trim_end_matches('/');
    if t.is_empty() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if let Some(pos) = lower.find("/accounts/") {
        let rest = &t[pos + "/accounts/".len()..];
        let mut parts = rest.split('/');
        let account = parts.next().unwrap_or("");
        let deployment = match (parts.next(), parts.next()) {
            (Some(k), Some(d)) if k.eq_ignore_ascii_case("deployments") => Some(d),
            _ => None,
        };
        return Some(match deployment {
            Some(d) => format!("{account}/{d}"),
            None => account.to_string(),
        });
    }
    t.rsplit('/').next().map(str::to_string)
}

fn row(file: &InputFile, cols: &Cols, rec: &csv::StringRecord, line: u64) -> Result<Row, String> {
    let field = |i: usize| rec.get(i).and_then(util::opt_str);
    let opt = |i: Option<usize>| i.and_then(field);
    let category = field(cols.category).unwrap_or("");
    let meter_name = field(cols.meter).unwrap_or("");
    let cat_lower = category.to_ascii_lowercase();
    if !AI_CATEGORIES.contains(&cat_lower.as_str()) {
        let shown = if category.is_empty() {
            "(no meter category)"
        } else {
            category
        };
        return Ok(Row::NoUsage(static_reason(
            "not an AI service charge",
            shown,
        )));
    }
    let sub = opt(cols.subcategory).unwrap_or("");
    // Speech, Translator, Vision … sit in the same category: only token meters and the Azure
    // OpenAI subcategory are LLM usage.
    let token_meter = meter_name.to_ascii_lowercase().ends_with("tokens");
    if !token_meter && !sub.to_ascii_lowercase().contains("openai") {
        return Ok(Row::NoUsage(static_reason(
            "AI service charge without LLM tokens",
            &format!("{category} / {meter_name}"),
        )));
    }
    if let Some(ct) = opt(cols.charge_type)
        && !ct.eq_ignore_ascii_case("usage")
    {
        if let Some(kind) = adjustment_of(ct) {
            return adjustment_row(file, cols, rec, line, ct, kind);
        }
        return Ok(Row::NoUsage(static_reason("not a usage charge", ct)));
    }
    let meter = parse_meter(meter_name)
        .map_err(|e| format!("unknown Azure OpenAI meter '{meter_name}': {e}"))?;
    let (start, end) = day(cols, rec)?;
    let raw_unit = field(cols.unit).unwrap_or("");
    let block = block_size(raw_unit).ok_or_else(|| {
        format!("UnitOfMeasure: expected a token block like 1K, 10K or 1M for meter '{meter_name}', got '{raw_unit}'")
    })?;
    if let Some(b) = meter.block_in_name
        && b != block
    {
        return Err(format!(
            "meter '{meter_name}' names blocks of {b} tokens but UnitOfMeasure is '{raw_unit}'"
        ));
    }
    let raw_q = field(cols.quantity).unwrap_or("");
    let quantity = util::parse_decimal(raw_q).ok_or_else(|| {
        format!(
            "{}: expected a decimal number of {raw_unit} blocks, got '{raw_q}'",
            cols.name(cols.quantity)
        )
    })?;
    let tokens = tokens_from_blocks(quantity, block).ok_or_else(|| {
        format!(
            "{}: expected a non-negative number of {raw_unit} blocks (a whole number of single tokens), got '{raw_q}'",
            cols.name(cols.quantity)
        )
    })?;
    let money = money(cols, rec)?;

    let mut r = UsageRecord::bucket(line_id(cols, rec, start), file.origin(line), start, end);
    r.set_model(Some("azure"), &meter.model);
    r.operation = Operation::Chat;
    r.service_tier = meter.tier.map(str::to_string);
    set_scope(&mut r, cols, rec);
    r.usage = Usage::of(&[(meter.class, tokens)]);
    r.reported_cost = Some(money);
    Ok(Row::Record(Box::new(r)))
}

/// The kind of money an Azure OpenAI row of this `ChargeType` is, if it is money only (the
/// documented values are `Usage`, `Purchase`, `Refund`, `UnusedReservation`,
/// `UnusedSavingsPlan`, `RoundingAdjustment`): a `Refund` is money given back, a credit; an
/// `UnusedReservation` (amortized-cost exports) is the part of a reservation — provisioned
/// throughput units — that no usage drew, a commitment's cost. `Purchase` stays a row without
/// usage: the columns read here cannot tell a reservation purchase from any other purchase.
fn adjustment_of(charge_type: &str) -> Option<Adjustment> {
    if charge_type.eq_ignore_ascii_case("refund") {
        Some(Adjustment::Credit)
    } else if charge_type.eq_ignore_ascii_case("unusedreservation") {
        Some(Adjustment::Commitment)
    } else {
        None
    }
}

/// A `Refund` or `UnusedReservation` row of an Azure OpenAI meter: money no call causes, as a
/// cost-only record with no model and no tokens over the row's day, on its subscription /
/// resource group and resource. Its meter names the reservation or the usage it refunds, not
/// a token meter, so it is not parsed. The id is the usage rows' id with `:charge=<ChargeType>`
/// appended.
fn adjustment_row(
    file: &InputFile,
    cols: &Cols,
    rec: &csv::StringRecord,
    line: u64,
    charge_type: &str,
    kind: Adjustment,
) -> Result<Row, String> {
    let (start, end) = day(cols, rec)?;
    let money = money(cols, rec)?;
    let id = format!("{}:charge={charge_type}", line_id(cols, rec, start));
    let mut r = UsageRecord::bucket(id, file.origin(line), start, end);
    r.set_model(None, "");
    r.operation = Operation::Other;
    r.requests = 0;
    set_scope(&mut r, cols, rec);
    r.cost_only = true;
    r.adjustment = Some(kind);
    r.reported_cost = Some(money);
    Ok(Row::Record(Box::new(r)))
}

/// The row's `Date` (or `UsageDateTime`) as its UTC day.
fn day(cols: &Cols, rec: &csv::StringRecord) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let raw_date = rec.get(cols.date).and_then(util::opt_str).unwrap_or("");
    parse_day(raw_date).ok_or_else(|| {
        format!(
            "{}: expected a day like 10/01/2026 (MM/DD/YYYY), got '{raw_date}'",
            cols.name(cols.date)
        )
    })
}

/// The row's cost (`CostInBillingCurrency` / `costInBillingCurrency`, the older `Cost`, or the
/// pay-as-you-go `PreTaxCost`) in its billing currency.
fn money(cols: &Cols, rec: &csv::StringRecord) -> Result<Money, String> {
    let raw_cost = rec.get(cols.cost).and_then(util::opt_str).unwrap_or("");
    let cost = util::parse_decimal(raw_cost).ok_or_else(|| {
        format!(
            "{}: expected a decimal amount like 0.02, got '{raw_cost}'",
            cols.name(cols.cost)
        )
    })?;
    let raw_cur = rec.get(cols.currency).and_then(util::opt_str).unwrap_or("");
    let currency = Currency::parse(raw_cur).ok_or_else(|| {
        format!("billing currency: expected a currency code like USD, got '{raw_cur}'")
    })?;
    Ok(Money::new(cost, currency))
}

/// A row's id: its day, meter, resource and a hash of every non-measure column.
fn line_id(cols: &Cols, rec: &csv::StringRecord, start: DateTime<Utc>) -> String {
    let opt = |i: Option<usize>| i.and_then(|i| rec.get(i)).and_then(util::opt_str);
    let mut parts: Vec<(&str, &str)> = Vec::with_capacity(cols.identity.len());
    for (name, i) in &cols.identity {
        parts.push((name.as_str(), rec.get(*i).unwrap_or("").trim()));
    }
    format!(
        "azure:{}:{}:{}:{:016x}",
        start.format("%Y-%m-%d"),
        opt(cols.meter_id).or(opt(Some(cols.meter))).unwrap_or(""),
        opt(cols.resource_id).unwrap_or(""),
        fnv64(&parts)
    )
}

/// Project `subscription/resource group`, API key the resource (`account[/deployment]`).
fn set_scope(r: &mut UsageRecord, cols: &Cols, rec: &csv::StringRecord) {
    let opt = |i: Option<usize>| i.and_then(|i| rec.get(i)).and_then(util::opt_str);
    let subscription = opt(cols.subscription_name).or(opt(cols.subscription_id));
    r.scope.project = match (subscription, opt(cols.resource_group)) {
        (Some(s), Some(g)) => Some(format!("{s}/{g}")),
        (Some(s), None) => Some(s.to_string()),
        (None, Some(g)) => Some(g.to_string()),
        (None, None) => None,
    };
    r.scope.api_key = opt(cols.resource_id)
        .and_then(resource_name)
        .or_else(|| opt(cols.resource_name).map(str::to_string));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testutil::temp;
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/azure")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("azure/{name}"))
    }

    /// Data rows of a CSV fixture, counted without the adapter (for accounting).
    fn data_rows(path: &Path) -> usize {
        let mut r = csv::Reader::from_path(path).unwrap();
        r.records().count()
    }

    #[test]
    fn older_ea_column_names_as_in_microsofts_sample_exports() {
        // `Cost`, `BillingCurrency`, `Product`, `InvoiceSection`: the header of the FinOps
        // toolkit's EA actual-cost sample, no BOM, LF.
        let (format, s) = read_fixture("ea_legacy_actual_cost.csv");
        assert_eq!(format, Format::AzureEaCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 3);
        // 3 × 1K input at $0.005 = $0.015; 2 × 1K output = $0.03; 8 × 1K cached = $0.01.
        let got: Vec<(UsageClass, i64, Decimal)> = s
            .records
            .iter()
            .map(|r| {
                let (c, n) = r.usage.iter().find(|(_, n)| *n > 0).unwrap();
                (c, n, r.reported_cost.unwrap().amount)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Input, 3000, dec!(0.015)),
                (Output, 2000, dec!(0.03)),
                (InputCacheRead, 8000, dec!(0.01))
            ]
        );
        assert_eq!(
            s.records[0].scope.api_key.as_deref(),
            Some("aoai-assist-swc")
        );
        // The storage line and the reservation purchase are rows without usage.
        assert_eq!(s.no_usage.len(), 2);
        assert_eq!(
            s.records.len() + s.no_usage.len(),
            data_rows(&fixture("ea_legacy_actual_cost.csv"))
        );
    }

    #[test]
    fn a_header_only_export_is_valid_and_empty() {
        let (format, s) = read_fixture("ea_no_rows.csv");
        assert_eq!(format, Format::AzureEaCsv);
        assert!(s.records.is_empty() && s.no_usage.is_empty() && s.rejected.is_empty());
    }

    #[test]
    fn legacy_pay_as_you_go_layout() {
        // UsageDateTime `YYYY-MM-DD 00:00:00`, UsageQuantity, PreTaxCost, Currency,
        // SubscriptionGuid, InstanceId; `UnitOfMeasure` empty on a bandwidth line.
        let (format, s) = read_fixture("payg_usage.csv");
        assert_eq!(format, Format::AzurePaygCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 3);
        let r = &s.records[0];
        assert_eq!(r.usage, Usage::of(&[(Input, 40_000)]));
        assert_eq!(r.reported_cost, Some(Money::usd(dec!(0.006))));
        assert_eq!(r.model, "gpt-4o-mini");
        assert_eq!(r.start, Utc.with_ymd_and_hms(2026, 10, 5, 0, 0, 0).unwrap());
        assert_eq!(r.end, Utc.with_ymd_and_hms(2026, 10, 6, 0, 0, 0).unwrap());
        assert_eq!(r.scope.api_key.as_deref(), Some("aoai-helpdesk"));
        assert_eq!(
            r.scope.project.as_deref(),
            Some("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a/rg-helpdesk")
        );
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 10_000)]));
        assert_eq!(s.records[2].usage, Usage::of(&[(Input, 12_500)]));
        assert_eq!(s.no_usage.len(), 1);
    }

    #[test]
    fn meter_names_give_model_class_tier_and_deployment() {
        let m = parse_meter("gpt 4o 0513 Input global Tokens").unwrap();
        assert_eq!(
            (m.model.as_str(), m.class, m.tier, m.deployment),
            ("gpt-4o-0513", Input, None, Some("global"))
        );
        let m = parse_meter("gpt 4o 1120 cached Inp glbl Tokens").unwrap();
        assert_eq!((m.class, m.deployment), (InputCacheRead, Some("global")));
        let m = parse_meter("gpt-4o-0806-Batch-Inp-glbl Tokens").unwrap();
        assert_eq!(
            (m.model.as_str(), m.class, m.tier),
            ("gpt-4o-0806", Input, Some("batch"))
        );
        let m = parse_meter("5 mini pp Inp Gl 1M Tokens").unwrap();
        assert_eq!(
            (m.model.as_str(), m.class, m.tier, m.block_in_name),
            ("gpt-5-mini", Input, Some("priority"), Some(1_000_000))
        );
        let m = parse_meter("gpt 4o 0513 Output Data Zone Tokens").unwrap();
        assert_eq!((m.class, m.deployment), (Output, Some("datazone")));
        let m = parse_meter("gpt 4o 1120 Inp regnl Tokens").unwrap();
        assert_eq!(m.deployment, Some("regional"));
        let m = parse_meter("GPT 5 Mini cchd Inpt Glbl 1M Tokens").unwrap();
        assert_eq!((m.model.as_str(), m.class), ("gpt-5-mini", InputCacheRead));
        // Canonical models through the catalog: snapshots dropped.
        for (meter, want) in [
            ("gpt 4o 0513 Input global Tokens", "gpt-4o"),
            ("gpt-4o-mini-0718-Outp-glbl Tokens", "gpt-4o-mini"),
            ("gpt 4.1 mini Inp glbl Tokens", "gpt-4.1-mini"),
            ("5 mini pp Inp Gl 1M Tokens", "gpt-5-mini"),
        ] {
            let m = parse_meter(meter).unwrap();
            assert_eq!(
                crate::catalog::canonicalize(Some("azure"), &m.model).model,
                want
            );
            assert_eq!(
                crate::catalog::canonicalize(Some("azure"), &m.model).provider,
                "openai"
            );
        }
        // Not understood: each says why.
        for (meter, why) in [
            ("Code-Interpreter-global Session", "ending in 'Tokens'"),
            ("gpt 4o realtime aud Inp glbl Tokens", "'realtime'"),
            ("4.6 Inp DZ Tokens", "not a known model family"),
            ("gpt 4o 1120 Inp glbl Turbo Tokens", "'turbo'"),
            ("gpt 4o 1120 cached Outp glbl Tokens", "exactly one of"),
            ("Inp glbl Tokens", "no model name"),
        ] {
            let e = parse_meter(meter).unwrap_err();
            assert!(e.contains(why), "{meter}: {e}");
        }
    }

    #[test]
    fn blocks_convert_to_tokens() {
        assert_eq!(block_size("1K"), Some(1_000));
        assert_eq!(block_size("10K"), Some(10_000));
        assert_eq!(block_size("1M"), Some(1_000_000));
        assert_eq!(block_size("1M Tokens"), Some(1_000_000));
        assert_eq!(block_size("1"), Some(1));
        assert_eq!(block_size("1 Hour"), None);
        assert_eq!(block_size("K"), None);
        // 4 blocks of 1K = 4000; 2.5 × 1000 = 2500; 0.0032 × 1000000 = 3200; 3.7 × 10000 =
        // 37000; 0.0012344 × 1000000 = 1234.4 → 1234 (nearest token).
        assert_eq!(tokens_from_blocks(dec!(4), 1_000), Some(4_000));
        assert_eq!(tokens_from_blocks(dec!(2.5), 1_000), Some(2_500));
        assert_eq!(tokens_from_blocks(dec!(0.0032), 1_000_000), Some(3_200));
        assert_eq!(tokens_from_blocks(dec!(3.7), 10_000), Some(37_000));
        assert_eq!(tokens_from_blocks(dec!(0.0012344), 1_000_000), Some(1_234));
        assert_eq!(tokens_from_blocks(dec!(-1), 1_000), None);
    }

    #[test]
    fn ea_export_rows_to_records() {
        let (format, s) = read_fixture("ea_actual_cost.csv");
        assert_eq!(format, Format::AzureEaCsv);
        assert_eq!(s.records.len(), 5, "{:?}", s.rejected);
        let a = &s.records[0];
        // 4 × 1K = 4000 input tokens, $0.02 (4 × $0.005).
        assert_eq!(a.usage, Usage::of(&[(Input, 4_000)]));
        assert_eq!(a.reported_cost, Some(Money::usd(dec!(0.02))));
        assert_eq!(
            (a.provider.as_str(), a.model.as_str()),
            ("openai", "gpt-4o")
        );
        assert_eq!(a.model_raw, "gpt-4o-0513");
        assert_eq!(a.scope.project.as_deref(), Some("contoso-ai-prod/rg-chat"));
        assert_eq!(a.scope.api_key.as_deref(), Some("aoai-chat-eastus2"));
        assert!(!a.cost_only);
        assert_eq!(a.requests, 0);
        assert_eq!(a.service_tier, None);
        // 10/01/2026 is the UTC day 2026-10-01 = 1790812800, to 1790899200.
        assert_eq!(a.start.timestamp(), 1_790_812_800);
        assert_eq!(a.end.timestamp(), 1_790_899_200);
        assert_eq!(a.origin.line, 2);
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 1_000)]));
        // 2.5 × 1K cached input = 2500.
        assert_eq!(s.records[2].usage, Usage::of(&[(InputCacheRead, 2_500)]));
        let batch = &s.records[3];
        assert_eq!(batch.usage, Usage::of(&[(Input, 10_000)]));
        assert_eq!(batch.service_tier.as_deref(), Some("batch"));
        assert_eq!(batch.scope.api_key.as_deref(), Some("aoai-batch"));
        assert_eq!(
            batch.scope.project.as_deref(),
            Some("contoso-ai-prod/rg-batch")
        );
        assert_eq!(batch.start.timestamp(), 1_790_899_200);
        // 0.0032 × 1M = 3200 tokens of gpt-5-mini, priority processing.
        let pp = &s.records[4];
        assert_eq!(pp.usage, Usage::of(&[(Input, 3_200)]));
        assert_eq!(pp.model, "gpt-5-mini");
        assert_eq!(pp.service_tier.as_deref(), Some("priority"));
        // 0.02 + 0.015 + 0.003125 + 0.0125 + 0.00144 = 0.052065.
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(total, dec!(0.052065));
        // The VM and storage lines are not AI charges; named by category.
        assert_eq!(
            s.no_usage,
            vec![
                (5, "not an AI service charge: Virtual Machines"),
                (8, "not an AI service charge: Storage")
            ]
        );
        // The code-interpreter session meter is not understood: rejected, naming it.
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 9);
        assert!(
            s.rejected[0]
                .1
                .contains("unknown Azure OpenAI meter 'Code-Interpreter-global Session'"),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn mca_export_camel_case_and_euros() {
        let (format, s) = read_fixture("mca_actual_cost.csv");
        assert_eq!(format, Format::AzureMcaCsv);
        assert_eq!(s.records.len(), 3);
        let eur = Currency::parse("EUR").unwrap();
        let a = &s.records[0];
        // 20 × 1K input; €0.00276 (= $0.003 × 0.92, in the billing currency).
        assert_eq!(a.usage, Usage::of(&[(Input, 20_000)]));
        assert_eq!(a.reported_cost, Some(Money::new(dec!(0.00276), eur)));
        assert_eq!(a.model, "gpt-4o-mini");
        assert_eq!(
            a.scope.project.as_deref(),
            Some("fabrikam-research/rg-research")
        );
        assert_eq!(a.scope.api_key.as_deref(), Some("aoai-research-swc"));
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 5_000)]));
        // 12.5 × 1K = 12500 on 10/04/2026 (1790812800 + 3 × 86400 = 1791072000).
        assert_eq!(s.records[2].usage, Usage::of(&[(Input, 12_500)]));
        assert_eq!(s.records[2].start.timestamp(), 1_791_072_000);
        assert_eq!(s.no_usage, vec![(4, "not a usage charge: Purchase")]);
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 5);
        assert!(
            s.rejected[0].1.starts_with("quantity:") && s.rejected[0].1.contains("'n/a'"),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn refund_and_unused_reservation_rows_are_money_only() {
        // Lines 2-3: 6 × 1K input at $0.005 = $0.03, 2 × 1K output at $0.015 = $0.03.
        // Line 4: a Refund of −1 hour at $0.012 = −$0.012 (a credit); line 5: 0.5 unused
        // reservation hours at $0.04 = $0.02 (a commitment's cost).
        let (format, s) = read_fixture("ea_refund_unused_reservation.csv");
        assert_eq!(format, Format::AzureEaCsv);
        assert!(s.rejected.is_empty() && s.no_usage.is_empty(), "{s:?}");
        assert_eq!(s.records.len(), 4);
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 6_000)]));
        assert_eq!(s.records[1].usage, Usage::of(&[(Output, 2_000)]));
        for u in &s.records[..2] {
            assert!(!u.cost_only && u.adjustment.is_none());
            assert_eq!(u.reported_cost, Some(Money::usd(dec!(0.03))));
        }
        for (r, line, kind, cost, charge) in [
            (&s.records[2], 4, Adjustment::Credit, dec!(-0.012), "Refund"),
            (
                &s.records[3],
                5,
                Adjustment::Commitment,
                dec!(0.02),
                "UnusedReservation",
            ),
        ] {
            assert_eq!(r.origin.line, line);
            assert_eq!(r.adjustment, Some(kind), "{charge}");
            assert!(r.cost_only, "{charge}");
            assert_eq!(r.reported_cost, Some(Money::usd(cost)), "{charge}");
            assert_eq!(r.usage, Usage::ZERO, "{charge}");
            assert_eq!((r.model.as_str(), r.model_raw.as_str()), ("", ""));
            assert_eq!(r.operation, Operation::Other);
            assert_eq!(r.requests, 0);
            assert!(r.id.ends_with(&format!(":charge={charge}")), "{}", r.id);
            // The row's own UTC day, 10/08/2026 = 1790812800 + 7 × 86400 = 1791417600.
            assert_eq!(r.start.timestamp(), 1_791_417_600);
            assert_eq!(r.end.timestamp(), 1_791_417_600 + 86_400);
            assert_eq!(r.scope.project.as_deref(), Some("contoso-ai-prod/rg-chat"));
            assert_eq!(
                r.scope.api_key.as_deref(),
                Some("0f1e2d3c-4b5a-4697-8877-665544332211")
            );
        }
        let ids: HashSet<&String> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 4);
        // −0.012 + 0.02 = 0.008 of adjustments; 0.03 + 0.03 + 0.008 = 0.068 in all.
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(total, dec!(0.068));
    }

    #[test]
    fn other_charge_types_stay_rows_without_usage() {
        let head = "Date,MeterCategory,MeterSubCategory,MeterName,UnitOfMeasure,Quantity,CostInBillingCurrency,BillingCurrencyCode,SubscriptionName,ResourceGroup,ResourceId,ChargeType\n";
        let aoai = "Cognitive Services,Azure OpenAI,Provisioned Managed Global Reservation,1 Hour";
        let text = format!(
            "{head}\
10/08/2026,{aoai},1,10,USD,s,g,,Purchase\n\
10/08/2026,{aoai},1,0.5,USD,s,g,,UnusedSavingsPlan\n\
10/08/2026,{aoai},1,0.01,USD,s,g,,Tax\n\
10/08/2026,{aoai},0,0.000001,USD,s,g,,RoundingAdjustment\n\
10/08/2026,Virtual Machines,BS Series,B2s,1 Hour,-1,-5,USD,s,g,,Refund\n\
10/08/2026,Cognitive Services,Speech,S1 Speech To Text,1 Hour,1,0.2,USD,s,g,,UnusedReservation\n\
10/08/2026,{aoai},1,-0.01,USD,s,g,,refund\n\
yesterday,{aoai},1,-0.01,USD,s,g,,Refund\n\
10/08/2026,{aoai},1,n/a,USD,s,g,,UnusedReservation\n"
        );
        let (_d, path) = temp("ea.csv", &text);
        let (_, s) = read_all(&path).unwrap();
        assert_eq!(
            s.no_usage,
            vec![
                (2, "not a usage charge: Purchase"),
                (3, "not a usage charge: UnusedSavingsPlan"),
                (4, "not a usage charge: Tax"),
                (5, "not a usage charge: RoundingAdjustment"),
                (6, "not an AI service charge: Virtual Machines"),
                (
                    7,
                    "AI service charge without LLM tokens: Cognitive Services / S1 Speech To Text"
                ),
            ]
        );
        // The charge type is matched case-insensitively, as the columns are.
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].adjustment, Some(Adjustment::Credit));
        assert_eq!(s.records[0].reported_cost, Some(Money::usd(dec!(-0.01))));
        // A bad day or cost on an adjustment row is rejected, naming the line and the value.
        assert_eq!(s.rejected.len(), 2, "{:?}", s.rejected);
        assert_eq!(s.rejected[0].0, 9);
        assert!(
            s.rejected[0].1.contains("'yesterday'"),
            "{}",
            s.rejected[0].1
        );
        assert_eq!(s.rejected[1].0, 10);
        assert!(
            s.rejected[1].1.starts_with("CostInBillingCurrency:")
                && s.rejected[1].1.contains("'n/a'"),
            "{}",
            s.rejected[1].1
        );
    }

    const MINI: &str = "Date,MeterCategory,MeterSubCategory,MeterName,UnitOfMeasure,Quantity,CostInBillingCurrency,BillingCurrencyCode,SubscriptionName,ResourceGroup,ResourceId\n";

    #[test]
    fn ten_k_blocks_bad_dates_and_mismatched_units() {
        let text = format!(
            "{MINI}\
10/05/2026,Cognitive Services,Azure OpenAI,gpt 4o 0513 Input global Tokens,10K,3.7,0.185,USD,s,g,/x/accounts/a1/deployments/chat\n\
2026-10-05,Cognitive Services,Azure OpenAI,gpt 4o 0513 Input global Tokens,1K,1,0.005,USD,s,g,\n\
yesterday,Cognitive Services,Azure OpenAI,gpt 4o 0513 Input global Tokens,1K,1,0.005,USD,s,g,\n\
10/05/2026,Cognitive Services,Azure OpenAI,5 mini pp Inp Gl 1M Tokens,1K,1,0.005,USD,s,g,\n\
10/05/2026,Cognitive Services,Azure OpenAI,gpt 4o 0513 Input global Tokens,1 Hour,1,0.005,USD,s,g,\n\
10/05/2026,Cognitive Services,Speech,S1 Speech To Text,1 Hour,1,1,USD,s,g,\n"
        );
        let (_d, path) = temp("ea.csv", &text);
        let (format, s) = read_all(&path).unwrap();
        assert_eq!(format, Format::AzureEaCsv);
        // 3.7 blocks of 10K = 37000 tokens.
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 37_000)]));
        assert_eq!(s.records[0].scope.api_key.as_deref(), Some("a1/chat"));
        // An ISO date is taken too.
        assert_eq!(s.records[1].start, s.records[0].start);
        assert_eq!(s.records.len(), 2);
        let r: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(
            r[0].contains("MM/DD/YYYY") && r[0].contains("'yesterday'"),
            "{}",
            r[0]
        );
        assert!(r[1].contains("UnitOfMeasure is '1K'"), "{}", r[1]);
        assert!(r[2].contains("'1 Hour'"), "{}", r[2]);
        assert_eq!(
            s.no_usage,
            vec![(
                7,
                "AI service charge without LLM tokens: Cognitive Services / S1 Speech To Text"
            )]
        );
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let (_, a) = read_fixture("ea_actual_cost.csv");
        let (_, b) = read_fixture("ea_actual_cost.csv");
        let ids = |s: &CollectSink| s.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        let set: std::collections::HashSet<_> = a.records.iter().map(|r| &r.id).collect();
        assert_eq!(set.len(), a.records.len());
        assert!(
            a.records[0].id.starts_with(
                "azure:2026-10-01:7c0e1c5f-0b8e-4a51-9f1e-0d2b0c6a1a01:/subscriptions/"
            )
        );
        // Same line, only the cost corrected: same id (amounts are not identity).
        let text = std::fs::read_to_string(fixture("ea_actual_cost.csv")).unwrap();
        let (_d, p) = temp("re.csv", &text.replacen(",0.02,", ",0.021,", 1));
        let (_, c) = read_all(&p).unwrap();
        assert_eq!(c.records[0].id, a.records[0].id);
        assert_eq!(c.records[0].reported_cost, Some(Money::usd(dec!(0.021))));
    }

    #[test]
    fn sniffing_and_unrecognizable_files() {
        for (name, want) in [
            ("ea_actual_cost.csv", Format::AzureEaCsv),
            ("mca_actual_cost.csv", Format::AzureMcaCsv),
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(crate::source::sniff(&head), Some(want), "{name}");
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("azure") {
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
        // A cost export of another kind (no meter columns) is not recognized.
        let (_d, p) = temp("x.csv", "Date,ServiceName,Cost\n10/01/2026,VM,1\n");
        let e = read_all(&p).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        // Forced as Azure without a needed column.
        let (_d2, p2) = temp("y.csv", "Date,MeterName\n10/01/2026,x\n");
        let file = InputFile::new(0, &p2);
        let mut sink = CollectSink::default();
        let e = crate::source::read(Format::AzureEaCsv, &file, &mut sink).unwrap_err();
        assert!(e.message.contains("missing column 'MeterCategory'"), "{e}");
        let mut r: &[u8] = b"";
        let e = read(Format::FocusCsv, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not an Azure format"), "{e}");
    }

    #[test]
    fn accounting_every_row_once() {
        for name in [
            "ea_actual_cost.csv",
            "mca_actual_cost.csv",
            "ea_refund_unused_reservation.csv",
        ] {
            let (_, s) = read_fixture(name);
            let out = s.records.len() + s.no_usage.len() + s.rejected.len();
            assert_eq!(out, data_rows(&fixture(name)), "{name}");
        }
    }
}
