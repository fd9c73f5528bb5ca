//! `llm-recon price` (what one call cost, line by line) and `llm-recon pricing list|check`.

use super::fx::FxTable;
use super::{BUNDLED, PriceBook, PriceEntry, PricingError, table};
use crate::catalog;
use crate::record::{Currency, Usage, UsageClass};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned text for a terminal.
    Table,
    /// JSON (money as decimal strings).
    Json,
}

/// Service tier of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Tier {
    /// The entry's standard prices.
    Standard,
    /// The batch tier or batch discount.
    Batch,
    /// The flex tier (OpenAI).
    Flex,
    /// The priority tier (OpenAI).
    Priority,
}

impl Tier {
    fn name(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Batch => "batch",
            Tier::Flex => "flex",
            Tier::Priority => "priority",
        }
    }
}

/// Arguments of `price`.
#[derive(clap::Args, Debug, Clone)]
pub struct PriceArgs {
    /// Model name as a source writes it (alias, dated snapshot, vendor path).
    #[arg(long, short = 'm', value_name = "MODEL")]
    pub model: String,
    /// Time of the call: RFC 3339 (2024-09-15T12:00:00Z) or a UTC date (2024-09-15).
    #[arg(long, value_name = "TIME")]
    pub at: String,
    /// Tokens per usage class, disjoint (input = uncached input):
    /// input=N,output=N[,input_cache_read=N,input_cache_write_5m=N,input_cache_write_1h=N,...].
    #[arg(long, value_name = "CLASS=N,...")]
    pub usage: String,
    /// Service tier: batch uses the entry's batch tier or batch discount; flex and priority use
    /// the entry's flex / priority tier (unpriced when it has none).
    #[arg(long, value_enum, default_value_t = Tier::Standard)]
    pub tier: Tier,
    /// Provider (openai, anthropic, deepseek, alibaba, ...); by default implied by the model.
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Directory of extra price tables (*.toml) that override the bundled ones.
    #[arg(long, value_name = "DIR")]
    pub pricing: Option<PathBuf>,
}

/// Arguments of `pricing`.
#[derive(clap::Args, Debug, Clone)]
pub struct PricingArgs {
    #[command(subcommand)]
    pub command: PricingCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum PricingCommand {
    /// List the price entries (those in force at --at, one per name, if given).
    List(ListArgs),
    /// Validate the bundled price tables and, if given, DIR's *.toml files.
    Check(CheckArgs),
    /// Convert a public price list (Langfuse, LiteLLM, genai-prices) into a price table.
    Import(super::import::ImportArgs),
    /// Exchange rates in force at a time (bundled ECB reference rates and your own files).
    Fx(FxArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct FxArgs {
    /// Currency to convert from; all quoted currencies when omitted.
    #[arg(long, value_name = "CUR")]
    pub from: Option<String>,
    /// Currency to convert to.
    #[arg(long, value_name = "CUR", default_value = "USD")]
    pub to: String,
    /// Time (RFC 3339 or a UTC date); default the latest day in the tables.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Your own rate file (CSV, same format as pricing/fx/ecb-eurofxref.csv); overrides the
    /// bundled rates where it has them. Repeatable; the last one given is consulted first.
    #[arg(long = "rates", value_name = "FILE")]
    pub rates: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    /// Only this provider's entries.
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// Only the entries in force at this time (RFC 3339 or a UTC date), one per name.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Directory of extra price tables (*.toml) that override the bundled ones.
    #[arg(long, value_name = "DIR")]
    pub pricing: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// A directory of price tables to check as well (every *.toml in it).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `price`: 0, or an error message (exit 2) when the call cannot be priced.
pub fn run_price(args: &PriceArgs) -> Result<i32, String> {
    let book = load_book(args.pricing.as_deref())?;
    write_stdout(&price_to_string(&book, args)?)?;
    Ok(0)
}

/// Runs `pricing list`, `check`, `import` or `fx`.
pub fn run_pricing(args: &PricingArgs) -> Result<i32, String> {
    match &args.command {
        PricingCommand::List(a) => {
            let book = load_book(a.pricing.as_deref())?;
            write_stdout(&list_to_string(&book, a)?)?;
            Ok(0)
        }
        PricingCommand::Check(a) => {
            let (out, problems) = check(a.dir.as_deref())?;
            write_stdout(&out)?;
            if problems > 0 {
                return Err(format!(
                    "pricing check: {problems} problem{} in the price tables",
                    if problems == 1 { "" } else { "s" }
                ));
            }
            Ok(0)
        }
        PricingCommand::Import(a) => super::import::run_import(a),
        PricingCommand::Fx(a) => {
            write_stdout(&fx_to_string(a)?)?;
            Ok(0)
        }
    }
}

fn currency_arg(flag: &str, s: &str) -> Result<Currency, String> {
    Currency::parse(s)
        .ok_or_else(|| format!("{flag} {s}: expected a currency code like USD, EUR or CNY"))
}

/// The output of `pricing fx`: the rates to `--to` in force at `--at`, each with its day and
/// source. An asked-for pair without a rate is an error (exit 2), never a rate of 1.
pub fn fx_to_string(args: &FxArgs) -> Result<String, String> {
    let mut table = FxTable::bundled().map_err(|e| format!("bundled exchange rates: {e}"))?;
    for f in &args.rates {
        table.load_file(f).map_err(|e| e.to_string())?;
    }
    let to = currency_arg("--to", &args.to)?;
    let at = match &args.at {
        Some(s) => parse_at("--at", s)?,
        None => table
            .last_day()
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
            .ok_or("no exchange rates loaded")?,
    };
    let from: Vec<Currency> = match &args.from {
        Some(f) => vec![currency_arg("--from", f)?],
        None => table
            .currencies()
            .into_iter()
            .filter(|&c| c != to)
            .collect(),
    };
    let at_s = at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let rates: Vec<_> = from
        .iter()
        .map(|&f| (f, table.rate_info(f, to, at)))
        .collect();
    if args.from.is_some() && rates.iter().all(|(_, r)| r.is_none()) {
        return Err(format!(
            "no {}→{to} rate in force at {at_s}: no rate file quotes both within its staleness limit (bundled: {} days; the bundled ECB table runs {}); convert with your own rates (--rates FILE)",
            from[0],
            super::fx::DEFAULT_MAX_AGE_DAYS,
            table
                .files()
                .last()
                .map(|f| format!("{} to {}", f.3, f.4))
                .unwrap_or_default()
        ));
    }
    Ok(match args.format {
        ListFormat::Json => {
            let v: Vec<Value> = rates
                .iter()
                .map(|(f, r)| match r {
                    Some(r) => json!({
                        "from": f.to_string(),
                        "to": to.to_string(),
                        "at": at_s,
                        "rate": dec(r.rate),
                        "date": r.date.map(|d| d.to_string()),
                        "base": r.base.to_string(),
                        "from_per_base": dec(r.from_per_base),
                        "to_per_base": dec(r.to_per_base),
                        "source": r.source,
                        "file": r.file,
                    }),
                    None => json!({"from": f.to_string(), "to": to.to_string(), "at": at_s, "rate": null}),
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
        ListFormat::Table => {
            let mut t = vec![[
                "from".to_string(),
                "to".into(),
                "rate".into(),
                "date".into(),
                "explanation".into(),
            ]];
            for (f, r) in &rates {
                t.push(match r {
                    Some(r) => [
                        f.to_string(),
                        to.to_string(),
                        dec(r.rate),
                        r.date.map(|d| d.to_string()).unwrap_or_default(),
                        r.explain(),
                    ],
                    None => [
                        f.to_string(),
                        to.to_string(),
                        "-".into(),
                        "".into(),
                        "no rate in force (stale or not quoted)".into(),
                    ],
                });
            }
            let mut out = aligned(&t, &[false, false, true, false, false]);
            let _ = writeln!(
                out,
                "rates in force at {at_s}: the latest published on or before that UTC day (weekends and holidays use the last business day; older than the file's limit, {} days by default, is no rate)",
                super::fx::DEFAULT_MAX_AGE_DAYS
            );
            out
        }
    })
}

fn write_stdout(s: &str) -> Result<(), String> {
    crate::output::write_stdout(s.as_bytes())
}

fn load_book(dir: Option<&Path>) -> Result<PriceBook, String> {
    let mut book = PriceBook::bundled().map_err(|e| format!("bundled price tables: {e}"))?;
    if let Some(d) = dir {
        book.merge(PriceBook::load_dir(d).map_err(|e| e.to_string())?);
    }
    Ok(book)
}

/// `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 instant.
fn parse_at(flag: &str, s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{flag} {s}: expected an RFC 3339 time like 2024-09-15T12:00:00Z or a UTC date like 2024-09-15"
            )
        })
}

fn provider_arg(p: Option<&str>) -> Result<Option<&'static str>, String> {
    p.map(|p| {
        catalog::canonical_provider(p).ok_or_else(|| {
            format!(
                "--provider {p}: expected a provider like openai, anthropic, google, deepseek, alibaba, mistral, azure or bedrock"
            )
        })
    })
    .transpose()
}

/// `input=1000000,output=200000`: class names as in the tables; `_` may group digits. Returns
/// the usage and the classes named.
fn parse_usage(s: &str) -> Result<(Usage, Vec<UsageClass>), String> {
    let known = || UsageClass::ALL.map(|c| c.name()).join(", ");
    let mut usage = Usage::ZERO;
    let mut seen = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--usage: expected CLASS=N, got '{part}'"))?;
        let k = k.trim();
        let class = UsageClass::from_name(k).ok_or_else(|| {
            format!(
                "--usage: unknown usage class '{k}' (expected one of {})",
                known()
            )
        })?;
        if seen.contains(&class) {
            return Err(format!("--usage: '{k}' given twice"));
        }
        seen.push(class);
        let digits: String = v.trim().chars().filter(|&c| c != '_').collect();
        let max = crate::record::MAX_RECORD_TOKENS;
        let n: i64 = digits
            .parse()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| {
                format!(
                    "--usage: {k}: expected a token count like 1000000 (at most {max}), got '{}'",
                    v.trim()
                )
            })?;
        usage[class] = n;
    }
    if seen.is_empty() {
        return Err(format!(
            "--usage: expected CLASS=N pairs like input=1000,output=200 (classes: {})",
            known()
        ));
    }
    Ok((usage, seen))
}

/// Decimal without trailing zeros.
fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

fn per_million(p: Decimal) -> Decimal {
    p * Decimal::from(1_000_000)
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Names `lookup` would try, in its order: raw, raw without a vendor path, canonical model.
fn lookup_names(raw: &str, model: &str) -> Vec<String> {
    let raw = raw.trim().to_ascii_lowercase();
    let bare = raw.rsplit('/').next().unwrap_or(&raw).to_string();
    let mut v = Vec::new();
    for n in [raw, bare, model.to_string()] {
        if !n.is_empty() && !v.contains(&n) {
            v.push(n);
        }
    }
    v
}

/// The entry used for a call, or why there is none.
fn find_entry<'a>(
    book: &'a PriceBook,
    provider: Option<&str>,
    raw: &str,
    at: DateTime<Utc>,
) -> Result<&'a PriceEntry, String> {
    let canon = catalog::canonicalize(provider, raw);
    // --provider as records carry it (Azure-served OpenAI models are priced as OpenAI's);
    // without it, the provider implied by the name first, then any provider.
    let providers: Vec<&str> = match provider {
        Some(_) => vec![canon.provider.as_str()],
        None if canon.provider.is_empty() => vec![""],
        None => vec![canon.provider.as_str(), ""],
    };
    for p in &providers {
        if let Some(e) = book.lookup(p, raw, &canon.model, at) {
            return Ok(e);
        }
    }
    // Unpriced: say whether the model is unknown or only not priced yet at that time.
    let names = lookup_names(raw, &canon.model);
    let p = providers[0];
    for n in &names {
        if let Some(list) = book.indexed(p, n) {
            let first = list
                .iter()
                .map(|&i| &book.entries[i])
                .find(|e| p.is_empty() || e.provider == p);
            if let Some(e) = first {
                return Err(format!(
                    "'{raw}' has no price at {}: the first entry for '{n}' is {} (in force from {}); the call is unpriced, not $0",
                    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    e.id,
                    e.effective_from
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ));
            }
        }
    }
    let prov = if p.is_empty() {
        String::new()
    } else {
        format!(" of provider '{p}'")
    };
    Err(format!(
        "no price table lists model '{raw}'{prov} (looked up: {}); it is unpriced, not $0 (see `llm-recon pricing list`)",
        names.join(", ")
    ))
}

/// The output of `price`. Separate from [`run_price`] for tests.
pub fn price_to_string(book: &PriceBook, args: &PriceArgs) -> Result<String, String> {
    let at = parse_at("--at", &args.at)?;
    let (usage, given) = parse_usage(&args.usage)?;
    let provider = provider_arg(args.provider.as_deref())?;
    let e = find_entry(book, provider, &args.model, at)?;

    let tier = args.tier;
    let cond = super::Conditions::call(at, (tier != Tier::Standard).then_some(tier.name()));
    let q = e
        .quote(&usage, &cond, &given)
        .map_err(|why| format!("{}: {why}; the call is unpriced, not $0", args.model))?;
    let lines = &q.lines;
    let (subtotal, cost, multiplier) = (q.subtotal, q.cost, q.batch_discount);
    // Why the tier applied (or, for an entry with tiers, that none did).
    let tier_used = q.tier.map(|t| {
        let mut why = t.describe();
        if let Some(n) = t.input_above {
            let counted = t.counted_input(&usage);
            why = format!("{why}: {} > {}", thousands(counted), thousands(n));
        }
        (t.name.clone(), why)
    });
    let tiers_listed: Vec<String> = e
        .tiers
        .iter()
        .map(|t| format!("{} ({})", t.name, t.describe()))
        .collect();

    Ok(match args.format {
        ListFormat::Json => {
            let mut v = json!({
                "model": args.model,
                "provider": e.provider,
                "canonical_model": e.model,
                "at": at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "entry": e.id,
                "effective_from": e.effective_from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "currency": e.currency.to_string(),
                "source": e.source,
                "table": e.file,
                "tier": tier.name(),
                "lines": lines.iter().map(|l| {
                    let mut o = json!({
                        "class": l.class.name(),
                        "quantity": l.quantity,
                        "unit_price": dec(l.unit_price),
                        "unit_price_per_1m": dec(per_million(l.unit_price)),
                        "cost": dec(l.cost),
                    });
                    if let Some(c) = l.priced_as {
                        o["priced_as"] = c.name().into();
                    }
                    o
                }).collect::<Vec<_>>(),
                "subtotal": dec(subtotal),
                "cost": dec(cost),
            });
            if let Some(m) = multiplier {
                v["batch_discount"] = dec(m).into();
            }
            v["price_tier"] = match &tier_used {
                Some((name, why)) => json!({"name": name, "because": why}),
                None => json!({"name": "default"}),
            };
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
        ListFormat::Table => {
            let cur = e.currency.to_string();
            let mut out = String::new();
            let _ = writeln!(
                out,
                "model           {} ({}/{})",
                args.model, e.provider, e.model
            );
            let _ = writeln!(
                out,
                "at              {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            );
            let _ = writeln!(
                out,
                "entry           {} ({}: entry #{})",
                e.id, e.file, e.pos
            );
            let _ = writeln!(
                out,
                "effective_from  {}",
                e.effective_from
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            );
            let _ = writeln!(out, "source          {}", e.source);
            let _ = writeln!(out, "tier            {}", tier.name());
            match &tier_used {
                Some((name, why)) => {
                    let _ = writeln!(out, "price tier      {name} ({why})");
                }
                None if !tiers_listed.is_empty() => {
                    let _ = writeln!(
                        out,
                        "price tier      default (conditions not met: {})",
                        tiers_listed.join("; ")
                    );
                }
                None => {}
            }
            let _ = writeln!(out);
            let mut rows = vec![[
                "class".to_string(),
                "quantity".into(),
                format!("× unit price ({cur}/token)"),
                format!("({cur}/1M)"),
                format!("= cost ({cur})"),
            ]];
            for l in lines {
                let class = match l.priced_as {
                    Some(c) => format!("{} (as {})", l.class, c),
                    None => l.class.name().to_string(),
                };
                rows.push([
                    class,
                    thousands(l.quantity),
                    dec(l.unit_price),
                    dec(per_million(l.unit_price)),
                    dec(l.cost),
                ]);
            }
            if let Some(m) = multiplier {
                rows.push([
                    "subtotal".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    dec(subtotal),
                ]);
                rows.push([
                    format!("batch × {}", dec(m)),
                    "".into(),
                    "".into(),
                    "".into(),
                    dec(cost),
                ]);
            }
            rows.push([
                "total".into(),
                "".into(),
                "".into(),
                "".into(),
                format!("{} {cur}", dec(cost)),
            ]);
            out.push_str(&aligned(&rows, &[false, true, true, true, true]));
            out
        }
    })
}

/// Rows padded into columns; `right[i]` right-aligns column i. Trailing spaces are trimmed.
fn aligned<const N: usize>(rows: &[[String; N]], right: &[bool; N]) -> String {
    let mut w = [0usize; N];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w[i] - c.chars().count();
            if right[i] {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Entries to list, each with the names it is listed for (in force at `at`, if given).
fn listed<'a>(
    book: &'a PriceBook,
    provider: Option<&str>,
    at: Option<DateTime<Utc>>,
) -> Vec<(&'a PriceEntry, Vec<String>)> {
    let keep = |e: &PriceEntry| provider.is_none_or(|p| e.provider == p);
    let mut rows: Vec<(&PriceEntry, Vec<String>)> = match at {
        None => book
            .entries
            .iter()
            .filter(|e| keep(e))
            .map(|e| (e, e.names.clone()))
            .collect(),
        Some(at) => {
            // Per (provider, name), the entry in force: the last one from before `at`.
            let mut in_force: HashMap<usize, Vec<&str>> = HashMap::new();
            for (name, list) in &book.by_name {
                let mut chosen: BTreeMap<&str, usize> = BTreeMap::new();
                for &i in list {
                    let e = &book.entries[i];
                    if keep(e) && e.effective_from <= at {
                        chosen.insert(e.provider.as_str(), i);
                    }
                }
                for i in chosen.into_values() {
                    in_force.entry(i).or_default().push(name);
                }
            }
            in_force
                .into_iter()
                .map(|(i, names)| {
                    let e = &book.entries[i];
                    // Keep the table's order of names.
                    let names = e
                        .names
                        .iter()
                        .filter(|n| names.contains(&n.as_str()))
                        .cloned()
                        .collect();
                    (e, names)
                })
                .collect()
        }
    };
    rows.sort_by(|a, b| {
        (&a.0.provider, &a.0.model, a.0.effective_from, &a.0.id).cmp(&(
            &b.0.provider,
            &b.0.model,
            b.0.effective_from,
            &b.0.id,
        ))
    });
    rows
}

const MAIN_CLASSES: [UsageClass; 5] = [
    UsageClass::Input,
    UsageClass::InputCacheRead,
    UsageClass::InputCacheWrite5m,
    UsageClass::InputCacheWrite1h,
    UsageClass::Output,
];

/// A tier as `pricing list --format json` shows it: conditions and per-1M prices.
fn tier_json(t: &super::Tier) -> Value {
    let mut o = json!({"name": t.name, "when": t.describe()});
    if let Some(s) = &t.service_tier {
        o["service_tier"] = s.as_str().into();
    }
    if let Some(n) = t.input_above {
        o["input_above"] = n.into();
    }
    if let Some(w) = &t.window {
        o["window_utc"] = w.label().into();
    }
    match &t.price {
        super::TierPrice::Prices(p) => {
            let prices: serde_json::Map<String, Value> = UsageClass::ALL
                .iter()
                .filter_map(|&c| {
                    p[c as usize].map(|v| (c.name().to_string(), dec(per_million(v)).into()))
                })
                .collect();
            o["prices_per_1m"] = prices.into();
        }
        super::TierPrice::Multiplier(m) => o["multiplier"] = dec(*m).into(),
        super::TierPrice::Unpriced => o["unpriced"] = true.into(),
    }
    o
}

/// The output of `pricing list`.
pub fn list_to_string(book: &PriceBook, args: &ListArgs) -> Result<String, String> {
    let provider = provider_arg(args.provider.as_deref())?;
    let at = args
        .at
        .as_deref()
        .map(|s| parse_at("--at", s))
        .transpose()?;
    let rows = listed(book, provider, at);
    let price = |e: &PriceEntry, c: UsageClass| e.listed_price(c).map(per_million);
    Ok(match args.format {
        ListFormat::Json => {
            let v: Vec<Value> = rows
                .iter()
                .map(|(e, names)| {
                    let prices: serde_json::Map<String, Value> = UsageClass::ALL
                        .iter()
                        .filter_map(|&c| price(e, c).map(|p| (c.name().to_string(), dec(p).into())))
                        .collect();
                    let mut o = json!({
                        "entry": e.id,
                        "provider": e.provider,
                        "model": e.model,
                        "names": names,
                        "effective_from": e.effective_from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                        "currency": e.currency.to_string(),
                        "prices_per_1m": prices,
                        "source": e.source,
                        "table": e.file,
                    });
                    if let Some(b) = e.batch_discount {
                        o["batch_discount"] = dec(b).into();
                    }
                    if !e.unpriced.is_empty() {
                        o["unpriced"] = e.unpriced.iter().map(|c| c.name()).collect::<Vec<_>>().into();
                    }
                    if !e.tiers.is_empty() {
                        o["tiers"] = e.tiers.iter().map(tier_json).collect::<Vec<_>>().into();
                    }
                    o
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
        ListFormat::Table => {
            let mut t = vec![[
                "provider".to_string(),
                "model".into(),
                "names".into(),
                "effective_from".into(),
                "cur".into(),
                "input/1M".into(),
                "cache_read".into(),
                "write_5m".into(),
                "write_1h".into(),
                "output/1M".into(),
                "batch".into(),
                "tiers".into(),
                "source".into(),
            ]];
            for (e, names) in &rows {
                let mut r: [String; 13] = Default::default();
                r[0] = e.provider.clone();
                r[1] = e.model.clone();
                r[2] = names.join(" ");
                r[3] = if e.effective_from.time() == chrono::NaiveTime::MIN {
                    e.effective_from.format("%Y-%m-%d").to_string()
                } else {
                    e.effective_from
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                };
                r[4] = e.currency.to_string();
                for (k, &c) in MAIN_CLASSES.iter().enumerate() {
                    r[5 + k] = match price(e, c) {
                        Some(p) => dec(p),
                        None if e.unpriced.contains(&c) => "?".into(),
                        None => "-".into(),
                    };
                }
                r[10] = e.batch_discount.map(dec).unwrap_or_else(|| "-".into());
                r[11] = if e.tiers.is_empty() {
                    "-".into()
                } else {
                    e.tiers
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                r[12] = e.source.clone();
                t.push(r);
            }
            let mut out = aligned(
                &t,
                &[
                    false, false, false, false, false, true, true, true, true, true, true, false,
                    false,
                ],
            );
            let _ = writeln!(
                out,
                "{} entries{}; prices per 1M tokens, '-' not listed (falls back as in pricing/README.md), '?' unconfirmed",
                rows.len(),
                at.map(|a| format!(
                    " in force at {}",
                    a.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ))
                .unwrap_or_default()
            );
            out
        }
    })
}

/// One table set's findings. Entries that parsed are returned for the cross-entry checks.
fn check_files(files: &[(String, String)], findings: &mut Vec<String>) -> Vec<PriceEntry> {
    let mut entries = Vec::new();
    for (file, text) in files {
        match table::parse_each(file, text, entries.len()) {
            Err(e) => findings.push(e.to_string()),
            Ok(list) => {
                for r in list {
                    match r {
                        Ok(e) => entries.push(e),
                        Err(e) => findings.push(e.to_string()),
                    }
                }
            }
        }
    }
    // A currency no bundled rate quotes could never be stated in the report's currency.
    let known = crate::pricing::fx::FxTable::bundled()
        .map(|fx| fx.currencies())
        .unwrap_or_default();
    for e in &entries {
        if e.currency != crate::record::Currency::USD && !known.contains(&e.currency) {
            findings.push(format!(
                "{}: currency {}: no bundled exchange rate quotes it, so its prices could never be \
                 converted; expected USD or one of {}",
                e.locator(),
                e.currency,
                known
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    // Per provider and name: two entries from one instant, or entries of different models.
    let mut by_name: BTreeMap<(&str, &str), Vec<&PriceEntry>> = BTreeMap::new();
    for e in &entries {
        for n in &e.names {
            by_name.entry((&e.provider, n)).or_default().push(e);
        }
    }
    for ((_, name), list) in &by_name {
        for (k, a) in list.iter().enumerate() {
            for b in &list[k + 1..] {
                if a.effective_from == b.effective_from {
                    findings.push(
                        PricingError::Duplicate {
                            name: name.to_string(),
                            first: a.locator(),
                            second: b.locator(),
                        }
                        .to_string(),
                    );
                }
            }
        }
        let mut models: Vec<&PriceEntry> = Vec::new();
        for e in list {
            if !models.iter().any(|m| m.model == e.model) {
                models.push(e);
            }
        }
        if models.len() > 1 {
            findings.push(format!(
                "name '{name}' is listed by entries of different models: {}; a name must price one model",
                models
                    .iter()
                    .map(|e| format!("{} (model {})", e.locator(), e.model))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    entries
}

/// The report of `pricing check` and its number of problems.
pub fn check(dir: Option<&Path>) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut findings = Vec::new();
    let bundled: Vec<(String, String)> = BUNDLED
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    let base = check_files(&bundled, &mut findings);
    let names = |es: &[PriceEntry]| {
        let mut v: Vec<&str> = es
            .iter()
            .flat_map(|e| e.names.iter().map(String::as_str))
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let _ = writeln!(
        out,
        "bundled: {} entries, {} names in {} tables",
        base.len(),
        names(&base),
        bundled.len()
    );
    if let Some(d) = dir {
        let files = super::toml_files(d).map_err(|e| e.to_string())?;
        let user = check_files(&files, &mut findings);
        let _ = writeln!(
            out,
            "{}: {} entries, {} names in {} tables",
            d.display(),
            user.len(),
            names(&user),
            files.len()
        );
        // Not a problem: user tables are meant to override; said so they are not a surprise.
        // One note per (user entry, bundled entry), found through an index of the bundled names
        // so a user entry with many names costs one look-up per name.
        let mut bundled_by_name: HashMap<(&str, chrono::DateTime<chrono::Utc>, &str), Vec<usize>> =
            HashMap::new();
        for (i, b) in base.iter().enumerate() {
            for n in &b.names {
                bundled_by_name
                    .entry((b.provider.as_str(), b.effective_from, n.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        for u in &user {
            let mut first_name: BTreeMap<usize, &str> = BTreeMap::new();
            for n in &u.names {
                for &i in bundled_by_name
                    .get(&(u.provider.as_str(), u.effective_from, n.as_str()))
                    .map_or(&[][..], Vec::as_slice)
                {
                    first_name.entry(i).or_insert(n.as_str());
                }
            }
            for (i, n) in first_name {
                let _ = writeln!(
                    out,
                    "note: {} overrides the bundled {} for '{n}'",
                    u.locator(),
                    base[i].locator()
                );
            }
        }
    }
    for f in &findings {
        let _ = writeln!(out, "error: {f}");
    }
    if findings.is_empty() {
        let _ = writeln!(out, "ok: no problems");
    }
    Ok((out, findings.len()))
}
