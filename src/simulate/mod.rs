//! `simulate`: one world of LLM calls seen three ways — a Dify chatflow app's export, its
//! Langfuse export and the provider's bill (OpenAI or Anthropic) — each as the real system
//! records it, plus `truth.json`, the planted amount of every bridge step per group, and
//! `demo.args`, the reconcile settings for the world. An app on several providers is one world
//! per provider (each its own Dify app) written into the same exports, with a bill each
//! ([`split_by_provider`], [`run_worlds`]).
//!
//! Deterministic per seed: the only randomness is [`Rng`], a xoshiro256** generator written
//! here, so the same arguments give byte-identical files on every platform and with every
//! dependency version. Files are written in one pass per view; the truth is checked against the
//! files re-read ([`truth`]): `baseline + Σ steps == reference` per group, per token class and in
//! money, or the run fails.

pub mod anthropic;
pub mod dify;
pub mod fmt;
pub mod langfuse;
pub mod openai;
pub mod truth;
pub mod world;

use crate::reconcile::causes::{self, Amount};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use std::path::{Path, PathBuf};

/// Number of bridge steps (every cause of the report, then `unexplained`).
pub const STEPS: usize = causes::N + 1;

/// The bridge steps, in the report's order: the report's own list of causes, so the truth
/// plants no cause the report does not measure. `fx` is never planted (every bill is in USD).
pub fn causes() -> Vec<&'static str> {
    causes::step_names().collect()
}

/// Each plantable cause and what its AMOUNT means (also the `--help` text and the README table).
pub fn cause_help() -> Vec<(&'static str, &'static str)> {
    causes::plants().map(|(n, p)| (n, p.amount)).collect()
}

/// Which provider bills the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// (Also the index of its default amounts in a cause's plant.)
    Openai = 0,
    Anthropic = 1,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
        }
    }
}

/// Everything a world is made from.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// Dify messages (workflow runs) inside the report window.
    pub calls: usize,
    pub days: u32,
    /// First local day of the report window.
    pub start: NaiveDate,
    pub tz: Tz,
    pub provider: Provider,
    /// Planted amount per step (index of [`causes`]); 0 = not planted.
    pub amounts: [f64; STEPS],
    /// Write the node executions as one export even when double counting is planted: only
    /// iteration containers then repeat usage (no overlapping second export).
    pub one_node_export: bool,
}

impl Config {
    /// The planted amount of a step, by name.
    pub fn amount(&self, cause: &str) -> f64 {
        self.amounts[causes::step_index(cause)]
    }
}

/// The default realistic mix (no `--cause`).
pub fn default_amounts(provider: Provider) -> [f64; STEPS] {
    let mut a = [0.0; STEPS];
    for (name, p) in causes::plants() {
        a[causes::step_index(name)] = p.default[provider as usize];
    }
    a
}

/// Parses `--cause` values: none (the default mix), `none` (nothing planted), or
/// `NAME=AMOUNT`, each at most once.
pub fn parse_causes(list: &[String], provider: Provider) -> Result<[f64; STEPS], String> {
    if list.is_empty() {
        return Ok(default_amounts(provider));
    }
    parse_cause_list(list, &[provider])
}

/// The amounts of a world billed by one of `providers`, parsed once for all of them: a cause
/// only one provider has is accepted when that provider is among them.
fn parse_cause_list(list: &[String], providers: &[Provider]) -> Result<[f64; STEPS], String> {
    let mut a = [0.0; STEPS];
    let mut seen = [false; STEPS];
    for item in list {
        if item == "none" {
            if list.len() > 1 {
                return Err("--cause none plants nothing; give it alone".into());
            }
            return Ok(a);
        }
        let (name, amount) = item.split_once('=').ok_or_else(|| {
            format!("--cause {item}: expected NAME=AMOUNT (e.g. retries=0.05) or none")
        })?;
        let plant = causes::plants()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p)
            .ok_or_else(|| {
                format!(
                    "--cause {name}: unknown cause; expected one of {}",
                    cause_help()
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let i = causes::step_index(name);
        let v: f64 = amount
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("--cause {item}: AMOUNT must be a number like 0.05"))?;
        if seen[i] {
            return Err(format!("--cause {name} given twice"));
        }
        seen[i] = true;
        if v < 0.0 && plant.kind != Amount::Relative {
            return Err(format!("--cause {item}: AMOUNT must not be negative"));
        }
        if plant.kind == Amount::Share && v > 1.0 {
            return Err(format!("--cause {item}: AMOUNT is a share, at most 1"));
        }
        if plant.kind == Amount::Relative && v <= -1.0 {
            return Err(format!("--cause {item}: AMOUNT must be above -1"));
        }
        if let Some(p) = plant.only
            && !providers.contains(&p)
            && v != 0.0
        {
            return Err(format!(
                "--cause {name}: only a {} world has it (use --provider {})",
                p.name(),
                p.name()
            ));
        }
        a[i] = v;
    }
    Ok(a)
}

/// Parses `--provider`: one provider, or several separated by commas (each at most once).
pub fn parse_providers(s: &str) -> Result<Vec<Provider>, String> {
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim) {
        let p = match name {
            "openai" => Provider::Openai,
            "anthropic" => Provider::Anthropic,
            _ => {
                return Err(format!(
                    "--provider {name}: expected openai or anthropic (or both: openai,anthropic)"
                ));
            }
        };
        if out.contains(&p) {
            return Err(format!("--provider {name} given twice"));
        }
        out.push(p);
    }
    Ok(out)
}

/// An app on several providers, as one world per provider: each provider's app is its own Dify
/// app (its own app id, API key and project), so every one of its calls, iteration containers
/// included, routes to that provider's bill. `base` gives the seed, the window and the total
/// `calls`; the calls are split as evenly as possible in the order of `providers`, the earlier
/// ones taking one more when they do not divide. The first world keeps `base.seed`, each other
/// world a seed derived from it (`seed ^ i × 0x9E37_79B9_7F4A_7C15`). `causes` apply to every
/// world (none: each provider's default mix); a cause only one provider has is planted in that
/// provider's world only.
pub fn split_by_provider(
    base: &Config,
    providers: &[Provider],
    causes: &[String],
) -> Result<Vec<Config>, String> {
    if providers.is_empty() {
        return Err("--provider: at least one".into());
    }
    let n = providers.len();
    if base.calls != 0 && base.calls < n {
        return Err(format!(
            "--calls {}: at least one message per provider ({n})",
            base.calls
        ));
    }
    let shared = if causes.is_empty() {
        None
    } else {
        Some(parse_cause_list(causes, providers)?)
    };
    Ok(providers
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let amounts = match shared {
                None => default_amounts(p),
                Some(mut a) => {
                    for (name, plant) in causes::plants() {
                        if plant.only.is_some_and(|o| o != p) {
                            a[causes::step_index(name)] = 0.0;
                        }
                    }
                    a
                }
            };
            Config {
                seed: base.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                calls: base.calls / n + usize::from(i < base.calls % n),
                provider: p,
                amounts,
                ..base.clone()
            }
        })
        .collect())
}

/// What a run wrote.
#[derive(Debug)]
pub struct Summary {
    pub files: Vec<(String, u64)>,
    pub messages: usize,
    pub billed_requests: usize,
}

/// The report window `[start, end)`: local midnights of the first and the day after the last.
pub fn window(cfg: &Config) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    use crate::reconcile::window::local_midnight;
    let end_day = cfg
        .start
        .checked_add_days(chrono::Days::new(cfg.days as u64))
        .ok_or("--days: the window ends past the calendar")?;
    let s = local_midnight(cfg.tz, cfg.start).ok_or("--start: no local midnight")?;
    let e = local_midnight(cfg.tz, end_day).ok_or("--days: no local midnight")?;
    Ok((s, e))
}

/// Builds the world, writes every view into `out`, re-reads them and checks the truth.
/// The largest world `simulate` builds, in messages: the world is held in memory (about 8 KB per
/// message with its trace and bill), so more than this would not fit a common machine.
pub const MAX_WORLD_MESSAGES: f64 = 1_000_000.0;

/// Refuses, before anything is built, a world larger than [`MAX_WORLD_MESSAGES`]: `--calls`
/// messages plus the traffic the unbounded causes add in proportion to them (edge-of-window
/// runs, other keys' tokens, embeddings).
fn check_world_size(cfgs: &[Config]) -> Result<(), String> {
    let mut size = 0.0;
    for cfg in cfgs {
        let extra: f64 = ["window_misalignment", "unattributed_traffic", "embeddings"]
            .iter()
            .map(|&c| cfg.amount(c).max(0.0))
            .sum();
        size += cfg.calls as f64 * (1.0 + extra);
        if size > MAX_WORLD_MESSAGES {
            return Err(format!(
                "--calls {} with window_misalignment + unattributed_traffic + embeddings = {extra}: \
                 a world of {size:.0} messages; at most {MAX_WORLD_MESSAGES:.0} fit in memory \
                 (--calls × (1 + those amounts))",
                cfgs.iter().map(|c| c.calls).sum::<usize>()
            ));
        }
    }
    Ok(())
}

pub fn run(cfg: &Config, out: &Path) -> Result<Summary, String> {
    run_worlds(std::slice::from_ref(cfg), out)
}

/// Builds one world per config (one app per provider, see [`split_by_provider`]) and writes them
/// as one export set: one Dify export and one Langfuse export holding every app, one bill per
/// provider, one `truth.json` with a truth per bill and one `demo.args`.
pub fn run_worlds(cfgs: &[Config], out: &Path) -> Result<Summary, String> {
    let Some(first) = cfgs.first() else {
        return Err("--provider: at least one".into());
    };
    for (i, cfg) in cfgs.iter().enumerate() {
        if cfg.calls == 0 {
            return Err("--calls: at least one message".into());
        }
        if cfg.days == 0 || cfg.days > 366 {
            return Err("--days: between 1 and 366".into());
        }
        if (cfg.start, cfg.days, cfg.tz) != (first.start, first.days, first.tz) {
            return Err("the worlds of one export must share the window".into());
        }
        if cfgs[..i].iter().any(|c| c.provider == cfg.provider) {
            return Err(format!(
                "--provider {}: one world per provider",
                cfg.provider.name()
            ));
        }
    }
    check_world_size(cfgs)?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create: {e}", out.display()))?;
    let mut ws = Vec::with_capacity(cfgs.len());
    for cfg in cfgs {
        ws.push(world::World::build(cfg)?);
    }
    // One workspace and one Langfuse project hold every app.
    let (tenant, project) = (ws[0].ids.tenant, ws[0].ids.langfuse_project.clone());
    for w in &mut ws[1..] {
        w.ids.tenant = tenant;
        w.ids.langfuse_project.clone_from(&project);
    }
    let ws = ws;
    // The views are independent: Dify's (the largest) is written beside the others.
    let (dify_files, others) = std::thread::scope(|s| {
        let h = s.spawn(|| dify::write(&ws, out));
        let others = langfuse::write(&ws, out).and_then(|mut f| {
            for w in &ws {
                f.extend(match w.cfg.provider {
                    Provider::Openai => openai::write(w, out)?,
                    Provider::Anthropic => anthropic::write(w, out)?,
                });
            }
            Ok(f)
        });
        (h.join(), others)
    });
    let mut files = dify_files.map_err(|_| "the Dify writer panicked".to_string())??;
    files.extend(others?);
    truth::write(&ws, out, &files)?;
    write_args(&ws, out, &files)?;
    let mut sizes = Vec::new();
    for f in files
        .iter()
        .map(String::as_str)
        .chain(["truth.json", "demo.args"])
    {
        let n = std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        sizes.push((f.to_string(), n));
    }
    Ok(Summary {
        files: sizes,
        messages: ws.iter().map(|w| w.runs.len()).sum(),
        billed_requests: ws.iter().map(|w| w.calls.len()).sum(),
    })
}

/// `demo.args`: the reconcile settings that read this world (`llm-recon demo` reads the file of
/// the same name in fixtures/demo).
fn write_args(ws: &[world::World], out: &Path, files: &[String]) -> Result<(), String> {
    let cfg = &ws[0].cfg;
    let last = cfg
        .start
        .checked_add_days(chrono::Days::new(cfg.days as u64))
        .unwrap_or(cfg.start);
    let mut s = String::new();
    s.push_str(
        "# Settings for `llm-recon demo` / reconcile: the simulated app's report window in the\n",
    );
    s.push_str("# account's time zone. Bare file names are relative to this folder; `#` starts a comment.\n");
    s.push_str(&format!(
        "--from {} --to {} --tz {} --bucket 1d\n",
        cfg.start, last, cfg.tz
    ));
    if ws.len() == 1 {
        s.push_str(
            "# The app's own API key; the other key on the bill is another team's traffic.\n",
        );
    } else {
        s.push_str(
            "# Each provider's app and its own API key; the other key on each bill is another\n",
        );
        s.push_str("# team's traffic.\n");
    }
    for w in ws {
        s.push_str(&format!("--key {}\n", w.ids.app_key));
        if w.cfg.provider == Provider::Anthropic {
            // Cost report lines carry the workspace, not the key.
            s.push_str(&format!("--project {}\n", w.ids.app_project));
        }
    }
    for f in files {
        s.push_str(f);
        s.push('\n');
    }
    std::fs::write(out.join("demo.args"), s)
        .map_err(|e| format!("{}: cannot write: {e}", out.join("demo.args").display()))
}

/// Opens a file for writing in `out`.
pub(crate) fn create(out: &Path, name: &str) -> Result<std::io::BufWriter<std::fs::File>, String> {
    let p: PathBuf = out.join(name);
    std::fs::File::create(&p)
        .map(|f| std::io::BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| format!("{}: cannot write: {e}", p.display()))
}

pub(crate) fn io_err(name: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{name}: cannot write: {e}")
}

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64. Written here rather than taken
/// from a crate so a seed's output never changes with a dependency upgrade.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    pub fn u128(&mut self) -> u128 {
        ((self.u64() as u128) << 64) | self.u64() as u128
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `[lo, hi]` (multiply-shift; the bias is below 2^-40 for our ranges).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u128 + 1;
        lo + ((self.u64() as u128 * span) >> 64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.f64() < p
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.int(0, n as i64 - 1) as usize
    }

    /// A uniform duration in `[lo, hi]` seconds, in whole microseconds.
    pub fn secs(&mut self, lo: f64, hi: f64) -> chrono::Duration {
        chrono::Duration::microseconds(self.int((lo * 1e6) as i64, (hi * 1e6) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_matches_the_reference_sequence() {
        // xoshiro256** with state [1, 2, 3, 4] (reference C code, Vigna): first outputs
        // rotl(2 * 5, 7) * 9 = 11520; then s1 = 0 gives 0; then s1 = 262149 gives
        // 262149 * 5 * 128 * 9 = 1509978240 (worked by hand from the algorithm).
        let mut r = Rng { s: [1, 2, 3, 4] };
        assert_eq!(r.u64(), 11520);
        assert_eq!(r.u64(), 0);
        assert_eq!(r.u64(), 1509978240);
    }

    #[test]
    fn causes_parse_and_check() {
        let p = Provider::Openai;
        assert_eq!(parse_causes(&[], p).unwrap(), default_amounts(p));
        assert_eq!(parse_causes(&["none".into()], p).unwrap(), [0.0; STEPS]);
        let a = parse_causes(&["retries=0.05".into()], p).unwrap();
        assert_eq!(a[causes::step_index("retries")], 0.05);
        assert_eq!(a.iter().filter(|v| **v != 0.0).count(), 1);
        assert!(parse_causes(&["retries=2".into()], p).is_err());
        assert!(parse_causes(&["fx=1".into()], p).is_err());
        assert!(parse_causes(&["cache_write_folding=0.2".into()], p).is_err());
        assert!(parse_causes(&["embeddings=0.2".into()], Provider::Anthropic).is_err());
        // Only OpenAI's world has a priority tier; a share is at most 1.
        assert!(parse_causes(&["service_tier=0.2".into()], Provider::Anthropic).is_err());
        assert!(parse_causes(&["service_tier=1.5".into()], p).is_err());
        assert!(default_amounts(p)[causes::step_index("service_tier")] > 0.0);
        assert_eq!(
            default_amounts(Provider::Anthropic)[causes::step_index("service_tier")],
            0.0
        );
        assert!(parse_causes(&["retries".into()], p).is_err());
        assert!(parse_causes(&["none".into(), "retries=0.1".into()], p).is_err());
        assert!(parse_causes(&["price_mismatch=-0.2".into()], p).is_ok());
    }

    #[test]
    fn providers_split_the_calls_and_keep_their_own_causes() {
        use Provider::{Anthropic, Openai};
        assert_eq!(parse_providers("openai").unwrap(), [Openai]);
        assert_eq!(
            parse_providers("anthropic,openai").unwrap(),
            [Anthropic, Openai]
        );
        assert!(parse_providers("openai,openai").is_err());
        assert!(parse_providers("openai,").is_err());
        let base = Config {
            seed: 5,
            calls: 7,
            days: 2,
            start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            tz: chrono_tz::UTC,
            provider: Openai,
            amounts: [0.0; STEPS],
            one_node_export: false,
        };
        // 7 calls over 2 providers: 4 + 3 (the first takes the odd one); seeds differ.
        let ws = split_by_provider(&base, &[Openai, Anthropic], &[]).unwrap();
        assert_eq!(ws.iter().map(|w| w.calls).collect::<Vec<_>>(), [4, 3]);
        assert_eq!(ws[0].seed, 5);
        assert_ne!(ws[1].seed, 5);
        assert_eq!(ws[0].amounts, default_amounts(Openai));
        assert_eq!(ws[1].amounts, default_amounts(Anthropic));
        // A cause only one provider has goes to that provider's world only.
        let list = ["embeddings=0.2".to_string(), "retries=0.1".to_string()];
        let ws = split_by_provider(&base, &[Openai, Anthropic], &list).unwrap();
        assert_eq!(ws[0].amount("embeddings"), 0.2);
        assert_eq!(ws[1].amount("embeddings"), 0.0);
        assert_eq!(ws[1].amount("retries"), 0.1);
        assert!(split_by_provider(&base, &[Anthropic], &list).is_err());
        let one = Config { calls: 1, ..base };
        assert!(split_by_provider(&one, &[Openai, Anthropic], &[]).is_err());
    }
}
