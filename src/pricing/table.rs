//! Reading one price table (TOML) into validated entries.

use super::tier::{self, Tier, TierPrice, Window};
use super::{PriceEntry, PricingError};
use crate::record::{Currency, UsageClass};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One `[[entry]]` as written; every value is checked in `validate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    provider: String,
    model: String,
    names: Vec<String>,
    effective_from: String,
    unit: String,
    currency: String,
    source: String,
    #[serde(default)]
    batch_discount: Option<toml::Value>,
    #[serde(default)]
    unpriced: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    prices: BTreeMap<String, toml::Value>,
    #[serde(default)]
    tiers: Vec<RawTier>,
}

/// One `[[entry.tiers]]`: conditions, then exactly one of `prices`, `multiplier`, `unpriced`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    name: String,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    input_above: Option<i64>,
    #[serde(default)]
    counts: Option<Vec<String>>,
    #[serde(default)]
    window_utc: Option<String>,
    #[serde(default)]
    prices: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    multiplier: Option<toml::Value>,
    #[serde(default)]
    unpriced: bool,
    #[serde(default)]
    note: Option<String>,
}

/// Parses a table's text. `order` is the load position of the first entry (later loads win ties).
pub(super) fn parse(file: &str, text: &str, order: usize) -> Result<Vec<PriceEntry>, PricingError> {
    parse_each(file, text, order)?.into_iter().collect()
}

/// Like [`parse`], but one result per `[[entry]]`, so `pricing check` can report every bad entry
/// rather than the first. The outer error is a file that is not a table of entries at all.
pub(super) fn parse_each(
    file: &str,
    text: &str,
    order: usize,
) -> Result<Vec<Result<PriceEntry, PricingError>>, PricingError> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| PricingError::Syntax {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
    for key in doc.keys() {
        if key != "entry" {
            return Err(PricingError::Syntax {
                file: file.to_string(),
                message: format!(
                    "unexpected top-level key '{key}': expected only [[entry]] tables"
                ),
            });
        }
    }
    let Some(list) = doc.get("entry") else {
        return Ok(Vec::new());
    };
    let toml::Value::Array(items) = list else {
        return Err(PricingError::Syntax {
            file: file.to_string(),
            message: "'entry' must be an array of tables, written [[entry]]".into(),
        });
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        // Name the entry by position and, when readable, by its model and date.
        let label = entry_label(i, item);
        let err = |message: String| PricingError::Entry {
            file: file.to_string(),
            entry: label.clone(),
            message,
        };
        out.push(
            RawEntry::deserialize(item.clone())
                .map_err(|e| e.to_string())
                .and_then(|raw| validate(file, raw, order + i, i + 1))
                .map_err(err),
        );
    }
    Ok(out)
}

fn entry_label(i: usize, item: &toml::Value) -> String {
    let field = |k: &str| item.get(k).and_then(|v| v.as_str()).unwrap_or("?");
    format!(
        "#{} ({}/{}@{})",
        i + 1,
        field("provider"),
        field("model"),
        field("effective_from")
    )
}

fn validate(file: &str, raw: RawEntry, order: usize, pos: usize) -> Result<PriceEntry, String> {
    let provider = lower_name("provider", &raw.provider)?;
    let model = lower_name("model", &raw.model)?;
    if raw.names.is_empty() {
        return Err("names: expected at least one model name, got []".into());
    }
    // Repeated names are dropped, first spelling kept; a set keeps that linear (one entry with
    // 200,000 names took 44 s with a list scan per name).
    let mut names = Vec::with_capacity(raw.names.len());
    let mut seen = std::collections::HashSet::with_capacity(raw.names.len());
    for n in &raw.names {
        let n = lower_name("names", n)?;
        if seen.insert(n.clone()) {
            names.push(n);
        }
    }
    let effective_from = parse_instant(&raw.effective_from)?;
    let per = match raw.unit.trim() {
        "1M" => Decimal::from(1_000_000),
        "1K" => Decimal::from(1_000),
        "token" => Decimal::ONE,
        other => {
            return Err(format!(
                "unit: expected \"1M\", \"1K\" or \"token\", got '{other}'"
            ));
        }
    };
    let currency = Currency::parse(&raw.currency).ok_or_else(|| {
        format!(
            "currency: expected a code like \"USD\" or \"CNY\", got '{}'",
            raw.currency
        )
    })?;
    if raw.source.trim().is_empty() {
        return Err("source: expected the public page the prices were read from".into());
    }
    let batch_discount = match &raw.batch_discount {
        None => None,
        Some(v) => {
            let d = decimal("batch_discount", v)?;
            if d <= Decimal::ZERO || d > Decimal::ONE {
                return Err(format!(
                    "batch_discount: expected a multiplier in (0, 1], got {d}"
                ));
            }
            Some(d)
        }
    };
    let per_token = price_map("prices", &raw.prices, per)?;
    if !raw.tiers.is_empty() && raw.prices.is_empty() {
        return Err(
            "tiers without a default: [entry.prices] lists no price (the default tier)".into(),
        );
    }
    // Chat and embedding models all bill input; the only exception is a model billed on one
    // media class alone (speech-to-text, text-to-speech, image generation).
    let listed: Vec<UsageClass> = UsageClass::ALL
        .into_iter()
        .filter(|&c| per_token[c as usize].is_some())
        .collect();
    let media_only = matches!(
        listed.as_slice(),
        [UsageClass::InputAudio
            | UsageClass::InputImage
            | UsageClass::OutputAudio
            | UsageClass::OutputImage]
    );
    if per_token[UsageClass::Input as usize].is_none() && !media_only {
        return Err(
            "prices: expected an 'input' price (only an entry priced on a single \
                    audio or image class may omit it)"
                .into(),
        );
    }
    let mut unpriced = Vec::new();
    for u in &raw.unpriced {
        let class = UsageClass::from_name(u)
            .ok_or_else(|| format!("unpriced: unknown usage class '{u}'"))?;
        if per_token[class as usize].is_some() {
            return Err(format!("unpriced: '{u}' also has a price"));
        }
        unpriced.push(class);
    }
    let mut tiers = Vec::with_capacity(raw.tiers.len());
    for (i, t) in raw.tiers.into_iter().enumerate() {
        tiers.push(read_tier(i + 1, t, per)?);
    }
    tier::validate(&tiers, &per_token, &unpriced, batch_discount.is_some())?;
    // A snapshot-only entry is named by its snapshot so ids stay unique.
    let head = if names.contains(&model) {
        &model
    } else {
        &names[0]
    };
    let id = format!("{provider}/{head}@{}", effective_from.format("%Y-%m-%d"));
    Ok(PriceEntry {
        id,
        provider,
        model,
        names,
        effective_from,
        currency,
        source: raw.source.trim().to_string(),
        batch_discount,
        note: raw.note,
        file: file.to_string(),
        per_token,
        unpriced,
        tiers,
        order,
        pos,
    })
}

fn lower_name(field: &str, s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(format!("{field}: expected a non-empty name"));
    }
    Ok(t)
}

/// `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 instant.
fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            format!("effective_from: expected a date like \"2024-10-02\" or \"2025-02-08T16:00:00Z\", got '{s}'")
        })
}

/// The largest price a table may state per `unit` (any currency), so that a price times the
/// largest count a record may carry (`record::MAX_RECORD_TOKENS`), times a tier multiplier,
/// summed over a run, stays exact.
pub const MAX_PRICE: i64 = 1_000_000_000;
/// The largest tier multiplier (real ones are 0.5 to 2).
pub const MAX_MULTIPLIER: i64 = 100;

/// Prices are decimal strings; a TOML float would already have lost exactness.
fn decimal(field: &str, v: &toml::Value) -> Result<Decimal, String> {
    let d = match v {
        toml::Value::String(s) => Decimal::from_str(s.trim())
            .map_err(|_| format!("{field}: expected a decimal string like \"2.50\", got '{s}'")),
        toml::Value::Integer(i) => Ok(Decimal::from(*i)),
        other => Err(format!(
            "{field}: expected a decimal string like \"2.50\", got {other} (write prices in quotes)"
        )),
    }?;
    if d.abs() > Decimal::from(MAX_PRICE) {
        return Err(format!(
            "{field}: {d} is beyond what a cost can carry (at most {MAX_PRICE} per unit)"
        ));
    }
    Ok(d)
}

/// A `prices` table: class name → decimal per `per` tokens, stored per token.
fn price_map(
    field: &str,
    map: &BTreeMap<String, toml::Value>,
    per: Decimal,
) -> Result<[Option<Decimal>; UsageClass::COUNT], String> {
    let mut per_token = [None; UsageClass::COUNT];
    for (k, v) in map {
        let class = UsageClass::from_name(k).ok_or_else(|| {
            format!(
                "{field}: unknown usage class '{k}' (expected one of {})",
                UsageClass::ALL.map(|c| c.name()).join(", ")
            )
        })?;
        let p = decimal(&format!("{field}.{k}"), v)?;
        if p < Decimal::ZERO {
            return Err(format!(
                "{field}.{k}: expected a non-negative price, got {p}"
            ));
        }
        per_token[class as usize] = Some(p / per);
    }
    Ok(per_token)
}

fn read_tier(pos: usize, raw: RawTier, per: Decimal) -> Result<Tier, String> {
    let name = raw.name.trim().to_string();
    let at = format!("tiers.{pos} ('{name}')");
    if name.is_empty() {
        return Err(format!(
            "tiers.{pos}: name: expected a label like \"long_context\""
        ));
    }
    let service_tier = match raw.service_tier {
        None => None,
        Some(s) => {
            let t = s.trim().to_ascii_lowercase();
            if !tier::SERVICE_TIERS.contains(&t.as_str()) {
                return Err(format!(
                    "{at}: service_tier: unknown condition value '{s}' (expected one of {})",
                    tier::SERVICE_TIERS.join(", ")
                ));
            }
            Some(t)
        }
    };
    if let Some(n) = raw.input_above
        && n <= 0
    {
        return Err(format!(
            "{at}: input_above: expected a positive token count, got {n}"
        ));
    }
    let counts = match raw.counts {
        None => UsageClass::ALL
            .into_iter()
            .filter(|c| c.is_input())
            .collect(),
        Some(list) => {
            if raw.input_above.is_none() {
                return Err(format!("{at}: counts is only meaningful with input_above"));
            }
            let mut v = Vec::new();
            for c in &list {
                let class = UsageClass::from_name(c.trim())
                    .filter(|c| c.is_input())
                    .ok_or_else(|| format!("{at}: counts: '{c}' is not an input usage class"))?;
                if !v.contains(&class) {
                    v.push(class);
                }
            }
            if v.is_empty() {
                return Err(format!("{at}: counts: expected at least one input class"));
            }
            v
        }
    };
    let window = raw
        .window_utc
        .as_deref()
        .map(Window::parse)
        .transpose()
        .map_err(|e| format!("{at}: {e}"))?;
    let price = match (raw.prices, raw.multiplier, raw.unpriced) {
        (Some(p), None, false) => {
            TierPrice::Prices(Box::new(price_map(&format!("{at}: prices"), &p, per)?))
        }
        (None, Some(m), false) => {
            let d = decimal(&format!("{at}: multiplier"), &m)?;
            if d <= Decimal::ZERO || d > Decimal::from(MAX_MULTIPLIER) {
                return Err(format!(
                    "{at}: multiplier: expected a positive factor of at most {MAX_MULTIPLIER}, got {d}"
                ));
            }
            TierPrice::Multiplier(d)
        }
        (None, None, true) => TierPrice::Unpriced,
        _ => {
            return Err(format!(
                "{at}: expected exactly one of prices, multiplier or unpriced = true"
            ));
        }
    };
    Ok(Tier {
        name,
        service_tier,
        input_above: raw.input_above,
        counts,
        window,
        price,
        note: raw.note,
    })
}
