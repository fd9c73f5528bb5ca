//! `llm-recon pricing import`: a public price list (Langfuse, LiteLLM, pydantic genai-prices)
//! converted into our TOML table format (`pricing/README.md`).
//!
//! Every figure is read from the JSON number's own text (never through `f64`) and written per 1M
//! tokens. What the source has but our format cannot say (conditional tiers, regex matches,
//! time-of-day prices) goes into `note` or is left out and counted on stderr, never guessed.

use super::PriceBook;
use crate::catalog;
use crate::record::UsageClass;
use crate::source::util::json_decimal;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The public price lists `pricing import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFrom {
    /// Langfuse `worker/src/constants/default-model-prices.json` (flat or tiered shape).
    Langfuse,
    /// LiteLLM `model_prices_and_context_window.json`.
    Litellm,
    /// pydantic genai-prices `prices/data.json`.
    #[value(name = "genai-prices")]
    GenaiPrices,
}

impl ImportFrom {
    fn origin(self) -> &'static str {
        match self {
            ImportFrom::Langfuse => "Langfuse default-model-prices.json",
            ImportFrom::Litellm => "LiteLLM model_prices_and_context_window.json",
            ImportFrom::GenaiPrices => "pydantic genai-prices data.json",
        }
    }
}

/// Arguments of `pricing import`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// Which public list FILE is.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub from: ImportFrom,
    /// The list's JSON file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// When the imported prices take effect: a UTC date (2026-11-23) or an RFC 3339 instant.
    /// genai-prices' dated prices keep their own start dates.
    #[arg(long, value_name = "DATE")]
    pub effective_from: String,
    /// Write the table here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// A converted list: the TOML table and the stderr summary of what was left out.
#[derive(Debug, Clone)]
pub struct Imported {
    pub toml: String,
    pub summary: String,
    pub entries: usize,
}

/// Runs `pricing import`: 0, or an error naming the file (exit 2).
pub fn run_import(args: &ImportArgs) -> Result<i32, String> {
    let label = args.file.display().to_string();
    if let Some(out) = &args.output {
        crate::output::refuse_input_as_output(out, std::slice::from_ref(&args.file))?;
    }
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("{label}: cannot read the price list: {e}"))?;
    let out = import(args.from, &label, &text, &args.effective_from)?;
    crate::output::emit(
        args.output.as_deref(),
        std::slice::from_ref(&args.file),
        out.toml.as_bytes(),
    )?;
    eprint!("{}", out.summary);
    Ok(0)
}

/// One entry to write.
struct Entry {
    provider: String,
    model: String,
    names: Vec<String>,
    effective_from: String,
    /// Per 1M tokens.
    prices: BTreeMap<usize, Decimal>,
    unpriced: Vec<UsageClass>,
    batch_discount: Option<Decimal>,
    notes: Vec<String>,
}

/// What was left out, for the summary.
#[derive(Default)]
struct Tally {
    models: usize,
    /// reason → models
    skipped: BTreeMap<String, Vec<String>>,
    /// field → occurrences
    ignored: BTreeMap<String, usize>,
    /// provider spelled as the source has it (no mapping to ours) → models
    own_provider: BTreeMap<String, usize>,
}

impl Tally {
    fn skip(&mut self, reason: impl Into<String>, model: &str) {
        self.skipped
            .entry(reason.into())
            .or_default()
            .push(model.to_string());
    }
    fn ignore(&mut self, field: &str) {
        *self.ignored.entry(field.to_string()).or_default() += 1;
    }
}

/// Converts `text` (the file's contents; `file` names it in messages and in `source`).
pub fn import(
    from: ImportFrom,
    file: &str,
    text: &str,
    effective_from: &str,
) -> Result<Imported, String> {
    let eff = parse_effective(effective_from)?;
    let json: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("{file}: not a JSON {}: {e}", from.origin()))?;
    let mut tally = Tally::default();
    let entries = match from {
        ImportFrom::Langfuse => langfuse(file, &json, &eff, &mut tally)?,
        ImportFrom::Litellm => litellm(file, &json, &eff, &mut tally)?,
        ImportFrom::GenaiPrices => genai(file, &json, &eff, &mut tally)?,
    };
    if entries.is_empty() {
        return Err(format!(
            "{file}: no model could be imported from this {} ({} models read){}",
            from.origin(),
            tally.models,
            skipped_text(&tally)
        ));
    }
    let source = format!("imported from {} ({file}) on {}", from.origin(), eff.text);
    let toml = write_toml(&entries, &source);
    // The output must load as a table; anything else is a bug here, reported rather than written.
    PriceBook::from_toml_str("imported table", &toml)
        .map_err(|e| format!("{file}: the converted table does not load: {e}"))?;
    let mut summary = format!(
        "pricing import: {} entries from {} models in {file} ({})\n",
        entries.len(),
        tally.models,
        from.origin()
    );
    summary.push_str(&skipped_text(&tally));
    if !tally.own_provider.is_empty() {
        let list: Vec<String> = tally
            .own_provider
            .iter()
            .map(|(p, n)| format!("{p} ({n})"))
            .collect();
        let _ = writeln!(
            summary,
            "providers kept as the list spells them (no canonical provider): {}",
            list.join(", ")
        );
    }
    if !tally.ignored.is_empty() {
        let mut list: Vec<(&String, &usize)> = tally.ignored.iter().collect();
        list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let total: usize = list.iter().map(|(_, n)| **n).sum();
        let shown: Vec<String> = list
            .iter()
            .take(20)
            .map(|(f, n)| format!("{f} ({n})"))
            .collect();
        let more = if list.len() > 20 {
            format!(", and {} more fields", list.len() - 20)
        } else {
            String::new()
        };
        let _ = writeln!(
            summary,
            "ignored {total} values of {} fields with no place in the table: {}{more}",
            list.len(),
            shown.join(", ")
        );
    }
    Ok(Imported {
        toml,
        summary,
        entries: entries.len(),
    })
}

fn skipped_text(t: &Tally) -> String {
    let mut s = String::new();
    for (reason, models) in &t.skipped {
        let shown: Vec<&str> = models.iter().take(8).map(String::as_str).collect();
        let more = if models.len() > 8 {
            format!(", … {} more", models.len() - 8)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "skipped {} model{} ({reason}): {}{more}",
            models.len(),
            if models.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    s
}

/// `--effective-from`: as written in the table, and as an instant for comparisons.
struct Effective {
    text: String,
    at: DateTime<Utc>,
}

fn parse_effective(s: &str) -> Result<Effective, String> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Effective {
            text: d.format("%Y-%m-%d").to_string(),
            at: d.and_time(chrono::NaiveTime::MIN).and_utc(),
        });
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| Effective {
            text: t.to_string(),
            at: d.with_timezone(&Utc),
        })
        .map_err(|_| {
            format!(
                "--effective-from {s}: expected a UTC date like 2026-11-23 or an RFC 3339 instant"
            )
        })
}

/// Per-unit USD price (Langfuse, LiteLLM) as per 1M tokens.
fn per_million(d: Decimal) -> Decimal {
    d * Decimal::from(1_000_000)
}

/// `2.5` → `"2.50"`, `0.075` → `"0.075"`: at least two decimals, no trailing zeros beyond.
fn price_text(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

/// Collects one source model's prices, per class, from keys that may be aliases of each other.
/// Two aliases with different prices leave the class unpriced (noted) rather than picking one.
#[derive(Default)]
struct Prices {
    per_class: BTreeMap<usize, (Decimal, String)>,
    conflicts: BTreeMap<usize, Vec<String>>,
}

impl Prices {
    fn set(&mut self, class: UsageClass, price: Decimal, key: &str) {
        let i = class as usize;
        match self.per_class.get(&i) {
            None => {
                self.per_class.insert(i, (price, key.to_string()));
            }
            Some((p, k)) if *p != price => {
                let c = self.conflicts.entry(i).or_default();
                if c.is_empty() {
                    c.push(format!("{k} = {}", price_text(*p)));
                }
                c.push(format!("{key} = {}", price_text(price)));
            }
            Some(_) => {}
        }
    }

    /// The entry's prices, unpriced classes and notes; `Err` when `input` itself is in doubt
    /// or missing (an entry needs it, unless priced on one media class alone).
    #[allow(clippy::type_complexity)]
    fn finish(self) -> Result<(BTreeMap<usize, Decimal>, Vec<UsageClass>, Vec<String>), String> {
        let mut prices: BTreeMap<usize, Decimal> = self
            .per_class
            .into_iter()
            .map(|(i, (p, _))| (i, p))
            .collect();
        let mut unpriced = Vec::new();
        let mut notes = Vec::new();
        for (i, list) in self.conflicts {
            let class = UsageClass::ALL[i];
            if class == UsageClass::Input {
                return Err(format!("conflicting input prices: {}", list.join(", ")));
            }
            prices.remove(&i);
            unpriced.push(class);
            notes.push(format!(
                "{} left unpriced: the list gives different prices ({})",
                class.name(),
                list.join(", ")
            ));
        }
        let media = [
            UsageClass::InputAudio,
            UsageClass::InputImage,
            UsageClass::OutputAudio,
            UsageClass::OutputImage,
        ];
        let media_only =
            prices.len() == 1 && prices.keys().all(|&i| media.contains(&UsageClass::ALL[i]));
        if !prices.contains_key(&(UsageClass::Input as usize)) && !media_only {
            return Err("no per-token input price".into());
        }
        Ok((prices, unpriced, notes))
    }
}

/// Names already given to an entry, per provider: a name prices one model only.
#[derive(Default)]
struct Claimed(HashSet<(String, String)>);

impl Claimed {
    /// The names not taken by another model yet, now claimed.
    fn take(&mut self, provider: &str, names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for n in names {
            if self.0.insert((provider.to_string(), n.clone())) {
                out.push(n.clone());
            }
        }
        out
    }
}

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Langfuse

/// Langfuse usage keys → our classes. `total` is handled apart (it prices all tokens).
fn langfuse_class(key: &str) -> Option<UsageClass> {
    use UsageClass::*;
    Some(match key {
        "input" | "input_tokens" | "input_text" | "input_text_tokens" | "prompt_token_count"
        | "promptTokenCount" => Input,
        "output"
        | "output_tokens"
        | "output_text"
        | "output_text_tokens"
        | "candidates_token_count"
        | "candidatesTokenCount" => Output,
        "input_cached_tokens"
        | "input_cache_read"
        | "cache_read_input_tokens"
        | "cached_content_token_count"
        | "input_cached_text_tokens" => InputCacheRead,
        "cache_creation_input_tokens"
        | "input_cache_creation"
        | "input_cache_creation_5m"
        | "cache_write_tokens" => InputCacheWrite5m,
        "input_cache_creation_1h" => InputCacheWrite1h,
        "output_reasoning"
        | "output_reasoning_tokens"
        | "reasoning_tokens"
        | "thoughtsTokenCount"
        | "thoughts_token_count" => OutputReasoning,
        "input_audio" | "input_audio_tokens" => InputAudio,
        "output_audio" | "output_audio_tokens" => OutputAudio,
        "input_image" => InputImage,
        "output_image" => OutputImage,
        _ => return None,
    })
}

/// Provider of a Langfuse model: from its name, else from the optional vendor prefix its
/// pattern allows (`(?i)^(openai\/)?(gpt-4o)$`). Langfuse itself records no provider.
fn langfuse_provider(name: &str, pattern: &str) -> Option<&'static str> {
    if let Some(p) = catalog::provider_of_model(&catalog::canonical_model(name)) {
        return Some(p);
    }
    let end = pattern.find("/)?")?;
    let start = pattern[..end].rfind('(')? + 1;
    catalog::canonical_provider(&pattern[start..end])
}

/// Langfuse prices map (usage key → USD per unit) as per-1M prices.
fn langfuse_prices(
    model: &str,
    prices: &Map<String, Value>,
    tally: &mut Tally,
) -> Result<(Prices, Vec<String>), String> {
    let mut out = Prices::default();
    let mut notes = Vec::new();
    for (k, v) in prices {
        let p = json_decimal(v).ok_or_else(|| format!("prices.{k}: expected a number, got {v}"))?;
        if k == "total" {
            continue;
        }
        match langfuse_class(k) {
            Some(c) => out.set(c, per_million(p), k),
            None => tally.ignore(k),
        }
    }
    if let Some(v) = prices.get("total") {
        let p = json_decimal(v).map(per_million).unwrap_or_default();
        if out.per_class.is_empty() {
            // `total` prices every token alike: input and output the same.
            out.set(UsageClass::Input, p, "total");
            if !catalog::is_embedding_model(model) {
                out.set(UsageClass::Output, p, "total");
            }
            notes.push("Langfuse prices this model's total tokens".into());
        } else {
            tally.ignore("total");
        }
    }
    Ok((out, notes))
}

fn langfuse_conditions(c: &Value) -> String {
    let Some(list) = c.as_array() else {
        return String::new();
    };
    let parts: Vec<String> = list
        .iter()
        .map(|c| {
            let s = |k: &str| {
                c.get(k)
                    .map(|v| v.as_str().map_or(v.to_string(), String::from))
            };
            let op = s("operator").unwrap_or_default();
            if let Some(p) = s("usageDetailPattern") {
                format!("usage {p} {op} {}", s("value").unwrap_or_default())
            } else {
                format!(
                    "{} {op} {}",
                    s("key").unwrap_or_default(),
                    c.get("values").map(Value::to_string).unwrap_or_default()
                )
            }
        })
        .collect();
    parts.join(" and ")
}

fn langfuse(
    file: &str,
    json: &Value,
    eff: &Effective,
    tally: &mut Tally,
) -> Result<Vec<Entry>, String> {
    let items = json.as_array().ok_or_else(|| {
        format!(
            "{file}: expected a Langfuse default-model-prices.json: a JSON array of models, got {}",
            kind(json)
        )
    })?;
    let mut claimed = Claimed::default();
    let mut out = Vec::new();
    for (i, m) in items.iter().enumerate() {
        let str_of = |a: &str, b: &str| {
            m.get(a)
                .or_else(|| m.get(b))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (Some(name), true) = (str_of("modelName", "model_name"), m.is_object()) else {
            return Err(format!(
                "{file}: model #{}: expected an object with modelName (or model_name), got {}",
                i + 1,
                short(m)
            ));
        };
        tally.models += 1;
        let pattern = str_of("matchPattern", "match_pattern").unwrap_or_default();
        // New shape: pricingTiers with one default; old shape: a flat prices map.
        let mut notes = Vec::new();
        let prices = if let Some(tiers) = m.get("pricingTiers").and_then(Value::as_array) {
            let Some(default) = tiers
                .iter()
                .find(|t| t.get("isDefault") == Some(&Value::Bool(true)))
            else {
                tally.skip("no default pricing tier", &name);
                continue;
            };
            for t in tiers.iter().filter(|t| !std::ptr::eq(*t, default)) {
                let tier_name = t.get("name").and_then(Value::as_str).unwrap_or("?");
                let listed: Vec<String> = t
                    .get("prices")
                    .and_then(Value::as_object)
                    .map(|p| {
                        p.iter()
                            .filter(|(k, _)| matches!(k.as_str(), "input" | "output"))
                            .filter_map(|(k, v)| {
                                json_decimal(v)
                                    .map(|d| format!("{k} {}", price_text(per_million(d))))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                notes.push(format!(
                    "Langfuse tier '{tier_name}' when {} (not imported): {} per 1M",
                    langfuse_conditions(t.get("conditions").unwrap_or(&Value::Null)),
                    listed.join(", ")
                ));
            }
            default.get("prices")
        } else {
            m.get("prices")
        };
        let Some(prices) = prices.and_then(Value::as_object) else {
            tally.skip("no prices object", &name);
            continue;
        };
        let Some(provider) = langfuse_provider(&name, &pattern) else {
            tally.skip(
                "provider not known from the model name; Langfuse lists none",
                &name,
            );
            continue;
        };
        let (p, more) = match langfuse_prices(&name, prices, tally) {
            Ok(x) => x,
            Err(e) => {
                tally.skip(e, &name);
                continue;
            }
        };
        notes.extend(more);
        let (prices, unpriced, more) = match p.finish() {
            Ok(x) => x,
            Err(e) => {
                tally.skip(e, &name);
                continue;
            }
        };
        notes.extend(more);
        notes.insert(0, format!("Langfuse matchPattern {pattern}"));
        let names = claimed.take(provider, &[lower(&name)]);
        if names.is_empty() {
            tally.skip("name already imported for this provider", &name);
            continue;
        }
        out.push(Entry {
            provider: provider.to_string(),
            model: catalog::canonical_model(&name),
            names,
            effective_from: eff.text.clone(),
            prices,
            unpriced,
            batch_discount: None,
            notes,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// LiteLLM

/// LiteLLM per-token cost fields → our classes.
fn litellm_class(field: &str) -> Option<UsageClass> {
    use UsageClass::*;
    Some(match field {
        "input_cost_per_token" => Input,
        "output_cost_per_token" => Output,
        "cache_read_input_token_cost" => InputCacheRead,
        "cache_creation_input_token_cost" => InputCacheWrite5m,
        "cache_creation_input_token_cost_above_1hr" => InputCacheWrite1h,
        "output_cost_per_reasoning_token" => OutputReasoning,
        "input_cost_per_audio_token" => InputAudio,
        "output_cost_per_audio_token" => OutputAudio,
        "input_cost_per_image_token" => InputImage,
        "output_cost_per_image_token" => OutputImage,
        _ => return None,
    })
}

/// Descriptive fields, not prices: not counted as ignored.
fn litellm_metadata(field: &str) -> bool {
    field.starts_with("supports_")
        || field.starts_with("supported_")
        || matches!(
            field,
            "litellm_provider"
                | "mode"
                | "max_tokens"
                | "max_input_tokens"
                | "max_output_tokens"
                | "source"
                | "deprecation_date"
                | "metadata"
                | "comment"
                | "output_vector_size"
        )
}

/// `litellm_provider` → our provider; `None` keeps LiteLLM's own spelling.
fn litellm_provider(p: &str) -> Option<&'static str> {
    let p = lower(p);
    match p.as_str() {
        "text-completion-openai" => Some("openai"),
        "bedrock_converse" => Some("bedrock"),
        "codestral" => Some("mistral"),
        _ if p.starts_with("vertex_ai") => Some("google"),
        _ => catalog::canonical_provider(&p),
    }
}

fn litellm(
    file: &str,
    json: &Value,
    eff: &Effective,
    tally: &mut Tally,
) -> Result<Vec<Entry>, String> {
    let obj = json.as_object().ok_or_else(|| {
        format!(
            "{file}: expected LiteLLM's model_prices_and_context_window.json: a JSON object of models by name, got {}",
            kind(json)
        )
    })?;
    let mut claimed = Claimed::default();
    let mut out = Vec::new();
    for (key, m) in obj {
        // The first key documents the fields; it is not a model.
        if key == "sample_spec" {
            continue;
        }
        let Some(m) = m.as_object() else {
            tally.models += 1;
            tally.skip("not an object", key);
            continue;
        };
        tally.models += 1;
        let Some(lp) = m.get("litellm_provider").and_then(Value::as_str) else {
            tally.skip("no litellm_provider", key);
            continue;
        };
        let provider = match litellm_provider(lp) {
            Some(p) => p.to_string(),
            None => {
                *tally.own_provider.entry(lower(lp)).or_default() += 1;
                lower(lp)
            }
        };
        let mut prices = Prices::default();
        let mut tiers = Vec::new();
        let mut bad = None;
        for (f, v) in m {
            if let Some(c) = litellm_class(f) {
                match json_decimal(v) {
                    Some(d) => prices.set(c, per_million(d), f),
                    None => bad = Some(format!("{f}: expected a number, got {v}")),
                }
            } else if f.contains("_above_")
                && f.ends_with("k_tokens")
                && let Some(d) = json_decimal(v)
            {
                tiers.push(format!("{f} {}", price_text(per_million(d))));
            } else if !litellm_metadata(f)
                && !matches!(
                    f.as_str(),
                    "input_cost_per_token_batches" | "output_cost_per_token_batches"
                )
            {
                tally.ignore(f);
            }
        }
        if let Some(e) = bad {
            tally.skip(e, key);
            continue;
        }
        let (prices, unpriced, mut notes) = match prices.finish() {
            Ok(x) => x,
            Err(e) => {
                tally.skip(e, key);
                continue;
            }
        };
        if !tiers.is_empty() {
            notes.push(format!(
                "LiteLLM long-context prices per 1M (not modeled): {}",
                tiers.join(", ")
            ));
        }
        // Batch: one multiplier when input and output batch prices agree on it.
        let ratio = |batch: &str, base: &str| {
            let b = json_decimal(m.get(batch)?)?;
            let p = json_decimal(m.get(base)?)?;
            (!p.is_zero()).then(|| (b / p).normalize())
        };
        let batch_in = ratio("input_cost_per_token_batches", "input_cost_per_token");
        let batch_out = ratio("output_cost_per_token_batches", "output_cost_per_token");
        let batch_discount = match (batch_in, batch_out) {
            (Some(a), Some(b)) if a == b && a > Decimal::ZERO && a <= Decimal::ONE => Some(a),
            // Batch prices that are not one multiplier of both sides have no place here.
            (None, None) => None,
            _ => {
                tally.ignore("input_cost_per_token_batches/output_cost_per_token_batches");
                None
            }
        };
        let names = claimed.take(&provider, &[lower(key)]);
        if names.is_empty() {
            tally.skip("name already imported for this provider", key);
            continue;
        }
        out.push(Entry {
            provider,
            model: catalog::canonical_model(key),
            names,
            effective_from: eff.text.clone(),
            prices,
            unpriced,
            batch_discount,
            notes,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// pydantic genai-prices

fn genai_class(field: &str) -> Option<UsageClass> {
    use UsageClass::*;
    Some(match field {
        "input_mtok" | "input_text_mtok" => Input,
        "output_mtok" | "output_text_mtok" => Output,
        "cache_read_mtok" | "cache_text_read_mtok" => InputCacheRead,
        "cache_write_mtok" | "cache_text_write_mtok" => InputCacheWrite5m,
        "input_audio_mtok" => InputAudio,
        "output_audio_mtok" => OutputAudio,
        "input_image_mtok" => InputImage,
        "output_image_mtok" => OutputImage,
        _ => return None,
    })
}

fn genai_provider(id: &str) -> Option<&'static str> {
    match lower(id).as_str() {
        "aws" => Some("bedrock"),
        p => catalog::canonical_provider(p),
    }
}

/// Every `equals` name in a match rule (`{"or": [{"equals": …}, {"starts_with": …}]}`).
fn genai_equals(rule: &Value, out: &mut Vec<String>) {
    match rule {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("equals", Value::String(s)) => out.push(lower(s)),
                    _ => genai_equals(v, out),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|r| genai_equals(r, out)),
        _ => {}
    }
}

/// One `prices` object: numbers, or `{base, tiers: [{start, price}]}` (the base is used).
fn genai_prices(
    p: &Map<String, Value>,
    tally: &mut Tally,
) -> Result<(Prices, Vec<String>), String> {
    let mut out = Prices::default();
    let mut notes = Vec::new();
    for (k, v) in p {
        let Some(class) = genai_class(k) else {
            tally.ignore(k);
            continue;
        };
        let price = match v {
            Value::Object(t) => {
                let base = t
                    .get("base")
                    .and_then(json_decimal)
                    .ok_or_else(|| format!("{k}.base: expected a number"))?;
                let steps: Vec<String> = t
                    .get("tiers")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(|s| {
                                Some(format!(
                                    "{} from {} tokens",
                                    price_text(json_decimal(s.get("price")?)?),
                                    s.get("start")?
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                notes.push(format!(
                    "genai-prices tiers for {k} (base imported; a tier prices all tokens once input passes its start): {}",
                    steps.join(", ")
                ));
                base
            }
            _ => json_decimal(v).ok_or_else(|| format!("{k}: expected a number, got {v}"))?,
        };
        out.set(class, price, k);
    }
    Ok((out, notes))
}

fn genai(
    file: &str,
    json: &Value,
    eff: &Effective,
    tally: &mut Tally,
) -> Result<Vec<Entry>, String> {
    let providers = json.as_array().ok_or_else(|| {
        format!(
            "{file}: expected genai-prices' data.json: a JSON array of providers, got {}",
            kind(json)
        )
    })?;
    let mut claimed = Claimed::default();
    let mut out = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        let (Some(pid), Some(models)) = (
            p.get("id").and_then(Value::as_str),
            p.get("models").and_then(Value::as_array),
        ) else {
            return Err(format!(
                "{file}: provider #{}: expected an object with id and models, got {}",
                i + 1,
                short(p)
            ));
        };
        for m in models {
            let Some(mid) = m.get("id").and_then(Value::as_str) else {
                tally.models += 1;
                tally.skip("model without an id", &short(m));
                continue;
            };
            tally.models += 1;
            let label = format!("{pid}/{mid}");
            let provider = match genai_provider(pid) {
                Some(p) => p.to_string(),
                None => {
                    *tally.own_provider.entry(lower(pid)).or_default() += 1;
                    lower(pid)
                }
            };
            // Conditional prices: unconstrained first, then start dates; a time-of-day
            // constraint (off-peak prices) cannot be expressed, so the model is left out.
            let mut base = None;
            let mut dated: Vec<(String, &Map<String, Value>)> = Vec::new();
            let mut problem = None;
            match m.get("prices") {
                Some(Value::Object(o)) => base = Some(o),
                Some(Value::Array(list)) => {
                    for c in list {
                        let prices = c.get("prices").and_then(Value::as_object);
                        let constraint = c.get("constraint").filter(|v| !v.is_null());
                        match (prices, constraint) {
                            (Some(pr), None) => base = Some(pr),
                            (Some(pr), Some(con)) => {
                                match con.get("start_date").and_then(Value::as_str) {
                                    Some(d) if con.get("start_time").is_none() => {
                                        dated.push((d.to_string(), pr))
                                    }
                                    _ => {
                                        problem = Some(
                                            "time-of-day prices (start_time/end_time) not modeled",
                                        )
                                    }
                                }
                            }
                            (None, _) => problem = Some("conditional price without prices"),
                        }
                    }
                }
                _ => problem = Some("no prices"),
            }
            if let Some(why) = problem {
                tally.skip(why, &label);
                continue;
            }
            dated.sort_by(|a, b| a.0.cmp(&b.0));
            let mut versions: Vec<(String, &Map<String, Value>)> = Vec::new();
            if let Some(b) = base {
                // Undated prices hold from --effective-from until the first dated change; when
                // that change is already in force then, they are history of unknown start.
                let first = dated
                    .first()
                    .and_then(|(d, _)| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
                if first.is_none_or(|f| eff.at < f) {
                    versions.push((eff.text.clone(), b));
                } else {
                    tally.skip(
                        "undated price superseded by a dated one before --effective-from",
                        &label,
                    );
                }
            }
            let mut bad_date = false;
            for (d, pr) in &dated {
                if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                    bad_date = true;
                }
                versions.push((d.clone(), pr));
            }
            if bad_date {
                tally.skip("start_date is not a date like 2025-06-10", &label);
                continue;
            }
            let mut names = vec![lower(mid)];
            if let Some(rule) = m.get("match") {
                genai_equals(rule, &mut names);
            }
            let mut seen = HashSet::new();
            names.retain(|n| seen.insert(n.clone()));
            let names = claimed.take(&provider, &names);
            if names.is_empty() {
                tally.skip("names already imported for this provider", &label);
                continue;
            }
            let match_note = m
                .get("match")
                .map(|r| format!("genai-prices match {r}"))
                .unwrap_or_default();
            for (date, pr) in versions {
                let (prices, unpriced, mut notes) =
                    match genai_prices(pr, tally).and_then(|(p, n)| {
                        p.finish().map(|(a, b, mut c)| {
                            c.extend(n);
                            (a, b, c)
                        })
                    }) {
                        Ok(x) => x,
                        Err(e) => {
                            tally.skip(e, &format!("{label}@{date}"));
                            continue;
                        }
                    };
                notes.insert(0, match_note.clone());
                out.push(Entry {
                    provider: provider.clone(),
                    model: catalog::canonical_model(mid),
                    names: names.clone(),
                    effective_from: date,
                    prices,
                    unpriced,
                    batch_discount: None,
                    notes,
                });
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn write_toml(entries: &[Entry], source: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {source}, by `llm-recon pricing import`. Review before use: prices per 1M tokens."
    );
    for e in entries {
        let _ = writeln!(s, "\n[[entry]]");
        let _ = writeln!(s, "provider = {}", q(&e.provider));
        let _ = writeln!(s, "model = {}", q(&e.model));
        let names: Vec<String> = e.names.iter().map(|n| q(n)).collect();
        let _ = writeln!(s, "names = [{}]", names.join(", "));
        let _ = writeln!(s, "effective_from = {}", q(&e.effective_from));
        let _ = writeln!(s, "unit = \"1M\"");
        let _ = writeln!(s, "currency = \"USD\"");
        let _ = writeln!(s, "source = {}", q(source));
        if let Some(b) = e.batch_discount {
            let _ = writeln!(s, "batch_discount = {}", q(&b.normalize().to_string()));
        }
        if !e.unpriced.is_empty() {
            let list: Vec<String> = e.unpriced.iter().map(|c| q(c.name())).collect();
            let _ = writeln!(s, "unpriced = [{}]", list.join(", "));
        }
        let notes: Vec<&str> = e
            .notes
            .iter()
            .map(String::as_str)
            .filter(|n| !n.is_empty())
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(s, "note = {}", q(&notes.join("; ")));
        }
        let _ = writeln!(s, "[entry.prices]");
        for (&i, p) in &e.prices {
            let _ = writeln!(s, "{} = {}", UsageClass::ALL[i].name(), q(&price_text(*p)));
        }
    }
    s
}
