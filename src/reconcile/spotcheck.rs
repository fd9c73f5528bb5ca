//! Per-call spot check for engineers: the app's calls matched one to one with the trace's, each
//! with the tokens both sides report, the table price, and the cause that explains any
//! difference; unmatched calls on either side are listed too.
//!
//! Matching: the app record's id is the trace's generation id (Dify node execution id =
//! Langfuse generation id), else the app id is the trace id (Dify message id = Langfuse trace
//! id, when the trace has one successful generation), else the same canonical model within two
//! minutes and the closest token count (reported with a confidence below 1).
//! Spot checks are meant for a window of minutes to days: the calls of the window are held.

use super::bridge::Valuation;
use super::causes::{self, SpotPair};
use super::{RunError, Span};
use crate::pricing::PriceBook;
use crate::record::{Currency, Role, Status, UsageClass, UsageRecord};
use crate::report::{count, money};
use crate::source::Format;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// The spot check's table width: one call a line, every id and cause whole.
const WIDTH: u16 = 120;

/// The largest time difference for a match by time and model.
const PROXIMITY: i64 = 120;

#[derive(Clone, Debug, Serialize)]
pub struct CallSide {
    pub id: String,
    pub origin: String,
    pub input: i64,
    pub input_cached: i64,
    pub output: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_cost: Option<String>,
    pub status: Status,
}

#[derive(Clone, Debug, Serialize)]
pub struct SpotRow {
    pub at: DateTime<Utc>,
    pub model: String,
    /// `id`, `trace_id`, `time+model`, or `none` for an unmatched call.
    pub matched_by: &'static str,
    pub confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<CallSide>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<CallSide>,
    /// Trace total tokens − app total tokens.
    pub token_difference: i64,
    pub causes: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SpotCheck {
    pub schema: &'static str,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub app: Option<String>,
    pub trace: Option<String>,
    /// The currency of every cost.
    pub currency: Currency,
    /// Rows per cause (a row can have several).
    pub causes: BTreeMap<&'static str, u64>,
    pub rows: Vec<SpotRow>,
}

struct Call {
    rec: UsageRecord,
    origin: String,
    reported: Option<Decimal>,
    computed: Option<Decimal>,
}

impl Call {
    fn side(&self) -> CallSide {
        let u = &self.rec.usage;
        CallSide {
            id: self.rec.id.clone(),
            origin: self.origin.clone(),
            input: u.input_total() - UsageClass::CACHE.iter().map(|&c| u[c]).sum::<i64>(),
            input_cached: UsageClass::CACHE.iter().map(|&c| u[c]).sum(),
            output: u.output_total(),
            reported_cost: self.reported.map(|d| d.normalize().to_string()),
            table_cost: self.computed.map(|d| d.normalize().to_string()),
            status: self.rec.link.status,
        }
    }
}

/// Reads the inputs and matches the app's calls with the trace's inside `window`; with `call`,
/// keeps only the rows that involve that id (record id or trace id).
pub fn spot_check(
    paths: &[PathBuf],
    forced: Option<Format>,
    window: Option<Span>,
    prices: &PriceBook,
    currency: Currency,
    call: Option<&str>,
) -> Result<SpotCheck, RunError> {
    let mut app: Vec<Call> = Vec::new();
    let mut trace: Vec<Call> = Vec::new();
    let (mut app_name, mut trace_name) = (None, None);
    let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    super::for_each_record(paths, forced, prices, currency, &mut |role, name, r, v| {
        if r.is_bucket() || window.is_some_and(|w| !w.contains(r.start)) {
            return;
        }
        let c = |r: &UsageRecord, v: &Valuation| Call {
            rec: r.clone(),
            origin: format!(
                "{}:{}",
                files
                    .get(r.origin.file as usize)
                    .cloned()
                    .unwrap_or_default(),
                r.origin.line
            ),
            reported: v.reported,
            computed: v.computed,
        };
        match role {
            Role::App if !r.model.is_empty() || !r.usage.is_zero() => {
                app_name.get_or_insert_with(|| name.to_string());
                app.push(c(r, v));
            }
            Role::Trace => {
                trace_name.get_or_insert_with(|| name.to_string());
                trace.push(c(r, v));
            }
            _ => {}
        }
    })?;
    let mut rows = match_calls(&app, &trace);
    let call = call
        .map(|c| resolve_call(c, &app, &trace, window))
        .transpose()?;
    if let Some(id) = call.as_deref() {
        rows.retain(|row| {
            let hit = |s: &Option<CallSide>, calls: &[Call]| {
                s.as_ref().is_some_and(|s| {
                    s.id == id
                        || calls
                            .iter()
                            .any(|c| c.rec.id == s.id && c.rec.link.trace_id.as_deref() == Some(id))
                })
            };
            hit(&row.app, &app) || hit(&row.trace, &trace)
        });
    }
    rows.sort_by_key(|r| r.at);
    let mut causes = BTreeMap::new();
    for r in &rows {
        for c in &r.causes {
            *causes.entry(*c).or_default() += 1;
        }
    }
    Ok(SpotCheck {
        schema: "llm-recon/spot-check/v1",
        window: window.map(|w| (w.start, w.end)),
        app: app_name,
        trace: trace_name,
        currency,
        causes,
        rows,
    })
}

/// The id `--call` names: an exact record or trace id, else the one id that starts with it.
fn resolve_call(
    given: &str,
    app: &[Call],
    trace: &[Call],
    window: Option<Span>,
) -> Result<String, RunError> {
    let ids: std::collections::BTreeSet<&str> = app
        .iter()
        .chain(trace)
        .flat_map(|c| std::iter::once(c.rec.id.as_str()).chain(c.rec.link.trace_id.as_deref()))
        .collect();
    if ids.contains(given) {
        return Ok(given.to_string());
    }
    let hits: Vec<&str> = ids
        .range(given..)
        .take_while(|id| id.starts_with(given))
        .copied()
        .collect();
    let within = window.map_or(String::new(), |w| {
        format!(
            " between {} and {}",
            w.start.format("%Y-%m-%dT%H:%M:%SZ"),
            w.end.format("%Y-%m-%dT%H:%M:%SZ")
        )
    });
    match hits.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(RunError::Usage(format!(
            "--call {given}: no app or trace call{within} has this id (record id, trace id or message id) or an id starting with it"
        ))),
        many => Err(RunError::Usage(format!(
            "--call {given}: {} ids start with it ({}{}); give more characters",
            many.len(),
            many.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            if many.len() > 5 { ", …" } else { "" }
        ))),
    }
}

/// For each id, its shortest prefix of at least `min` characters no other id shares (what the
/// table prints, and `--call` accepts).
fn unique_prefixes<'a>(ids: &[&'a str], min: usize) -> HashMap<&'a str, &'a str> {
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let mut out = HashMap::new();
    for (i, id) in sorted.iter().enumerate() {
        let before = i.checked_sub(1).map_or(0, |j| common(sorted[j], id));
        let after = sorted.get(i + 1).map_or(0, |n| common(n, id));
        let len = (before.max(after) + 1).max(min);
        let end = id.char_indices().nth(len).map_or(id.len(), |(b, _)| b);
        out.insert(*id, &id[..end]);
    }
    out
}

fn match_calls(app: &[Call], trace: &[Call]) -> Vec<SpotRow> {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut by_trace: HashMap<&str, Option<usize>> = HashMap::new();
    for (i, t) in trace.iter().enumerate() {
        by_id.insert(&t.rec.id, i);
        if t.rec.link.status != Status::Error
            && let Some(tid) = t.rec.link.trace_id.as_deref()
        {
            by_trace
                .entry(tid)
                .and_modify(|x| *x = None)
                .or_insert(Some(i));
        }
    }
    let mut used = vec![false; trace.len()];
    let mut pairs: Vec<(usize, Option<usize>, &'static str, f64)> = Vec::new();
    for (i, a) in app.iter().enumerate() {
        let hit = by_id
            .get(a.rec.id.as_str())
            .map(|&j| (j, "id"))
            .or_else(|| {
                a.rec
                    .link
                    .trace_id
                    .as_deref()
                    .and_then(|t| by_trace.get(t).copied().flatten())
                    .map(|j| (j, "trace_id"))
            })
            .filter(|&(j, _)| !used[j]);
        match hit {
            Some((j, how)) => {
                used[j] = true;
                pairs.push((i, Some(j), how, 1.0));
            }
            None => pairs.push((i, None, "none", 0.0)),
        }
    }
    // Time + model proximity for what is left, closest token count first.
    let mut free: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, t) in trace.iter().enumerate() {
        if !used[j] && t.rec.link.status != Status::Error {
            free.entry(t.rec.model.as_str()).or_default().push(j);
        }
    }
    for p in pairs.iter_mut().filter(|p| p.1.is_none()) {
        let a = &app[p.0];
        let Some(cands) = free.get_mut(a.rec.model.as_str()) else {
            continue;
        };
        let best = cands
            .iter()
            .enumerate()
            .filter(|&(_, &j)| {
                (trace[j].rec.start - a.rec.start).abs() <= Duration::seconds(PROXIMITY)
            })
            .min_by_key(|&(_, &j)| (trace[j].rec.usage.total() - a.rec.usage.total()).abs());
        if let Some((k, &j)) = best {
            let (x, y) = (a.rec.usage.total(), trace[j].rec.usage.total());
            let closeness = 1.0 - (x - y).abs() as f64 / x.max(y).max(1) as f64;
            let dt = (trace[j].rec.start - a.rec.start).num_seconds().abs() as f64;
            p.1 = Some(j);
            p.2 = "time+model";
            p.3 = (closeness * (1.0 - dt / (2.0 * PROXIMITY as f64))).clamp(0.0, 0.99);
            used[j] = true;
            cands.swap_remove(k);
        }
    }
    let mut rows: Vec<SpotRow> = pairs
        .into_iter()
        .map(|(i, j, how, conf)| row(Some(&app[i]), j.map(|j| &trace[j]), how, conf))
        .collect();
    rows.extend(
        trace
            .iter()
            .enumerate()
            .filter(|(j, _)| !used[*j])
            .map(|(_, t)| row(None, Some(t), "none", 0.0)),
    );
    rows
}

fn row(app: Option<&Call>, trace: Option<&Call>, how: &'static str, conf: f64) -> SpotRow {
    let pair = SpotPair {
        app: app.map(|a| &a.rec),
        app_reported: app.and_then(|a| a.reported),
        app_computed: app.and_then(|a| a.computed),
        trace: trace.map(|t| &t.rec),
        kind: match (app, trace) {
            (Some(a), Some(t)) if a.rec.link.repeats.is_none() => {
                Some(causes::classify_match(&a.rec, &t.rec.usage))
            }
            _ => None,
        },
    };
    let mut labels: Vec<&'static str> = causes::ALL
        .iter()
        .filter_map(|c| c.spot_label(&pair))
        .collect();
    if labels.is_empty() {
        // Rows no cause explains.
        labels.extend(match (app, trace) {
            (Some(_), Some(_)) => Some("agrees"),
            (Some(_), None) => Some("not_in_trace"),
            (None, Some(t)) if t.rec.link.status == Status::Error => Some("failed_no_usage"),
            (None, Some(_)) => Some("not_in_app"),
            (None, None) => None,
        });
    }
    let causes = labels;
    let first = app.or(trace).map(|c| &c.rec);
    SpotRow {
        at: first.map(|r| r.start).unwrap_or_default(),
        model: first.map(|r| r.model.clone()).unwrap_or_default(),
        matched_by: how,
        confidence: conf,
        token_difference: trace.map_or(0, |t| t.rec.usage.total())
            - app.map_or(0, |a| a.rec.usage.total()),
        app: app.map(Call::side),
        trace: trace.map(Call::side),
        causes,
    }
}

/// The spot check for a terminal: a summary by cause, then one line per call (at most `limit`,
/// the largest token differences first).
pub fn render_table(s: &SpotCheck, limit: usize) -> String {
    use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
    let mut out = String::new();
    out.push_str(&format!(
        "spot check · {} ↔ {} · {} calls\n",
        s.app.as_deref().unwrap_or("(no app)"),
        s.trace.as_deref().unwrap_or("(no trace)"),
        count(s.rows.len() as i64)
    ));
    for (c, n) in &s.causes {
        out.push_str(&format!("  {c}: {}\n", count(*n as i64)));
    }
    let mut rows: Vec<&SpotRow> = s.rows.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.token_difference.abs()));
    let shown = &rows[..rows.len().min(limit)];
    let all_ids: Vec<&str> = s
        .rows
        .iter()
        .flat_map(|r| r.app.iter().chain(r.trace.iter()))
        .map(|c| c.id.as_str())
        .collect();
    let prefixes = unique_prefixes(&all_ids, 8);
    let cost = |c: &CallSide| {
        c.reported_cost
            .as_deref()
            .or(c.table_cost.as_deref())
            .and_then(|x| x.parse::<Decimal>().ok())
    };
    let amounts: Vec<Decimal> = shown
        .iter()
        .flat_map(|r| r.app.iter().chain(r.trace.iter()))
        .filter_map(cost)
        .collect();
    let dp = crate::report::display::precision(&amounts);
    let money_of = |c: &Option<CallSide>| {
        c.as_ref()
            .and_then(cost)
            .map_or("-".to_string(), |d| crate::report::display::money_dp(d, dp))
    };
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(vec![
            "time (UTC)",
            "call",
            "model",
            "app in/out",
            "trace in/out",
            "Δ tokens",
            &format!("app {}", s.currency),
            &format!("trace {}", s.currency),
            "cause",
        ]);
    let io = |c: &Option<CallSide>| {
        c.as_ref().map_or("-".to_string(), |c| {
            format!("{}/{}", count(c.input + c.input_cached), count(c.output))
        })
    };
    for r in shown {
        let id = r
            .app
            .as_ref()
            .or(r.trace.as_ref())
            .map(|c| {
                prefixes
                    .get(c.id.as_str())
                    .copied()
                    .unwrap_or(&c.id)
                    .to_string()
            })
            .unwrap_or_default();
        t.add_row(vec![
            r.at.format("%m-%d %H:%M:%S").to_string(),
            id,
            r.model.clone(),
            io(&r.app),
            io(&r.trace),
            crate::report::signed_count(r.token_difference),
            money_of(&r.app),
            money_of(&r.trace),
            // One cause a line: a name is never cut.
            r.causes.join("\n"),
        ]);
    }
    // Every column at least as wide as its longest word: ids, times and cause names never wrap
    // mid-word.
    let cells: Vec<Vec<String>> = t
        .row_iter()
        .map(|r| r.cell_iter().map(|c| c.content()).collect())
        .collect();
    for (i, col) in t.column_iter_mut().enumerate() {
        let widest = cells
            .iter()
            .filter_map(|r| r.get(i))
            .flat_map(|c| c.split_whitespace())
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(1);
        col.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
            comfy_table::Width::Fixed(widest as u16 + 2),
        ));
    }
    out.push_str(&format!("{t}\n"));
    if rows.len() > limit {
        out.push_str(&format!(
            "{} more calls (--limit, or --format json for all)\n",
            count((rows.len() - limit) as i64)
        ));
    }
    let costs: Decimal = s
        .rows
        .iter()
        .filter_map(|r| {
            r.app
                .as_ref()?
                .reported_cost
                .as_deref()?
                .parse::<Decimal>()
                .ok()
        })
        .sum();
    out.push_str(&format!(
        "app-recorded cost of these calls: {} {} (app {}: recorded cost, else table price; trace {}: the trace's cost, else table price)\n",
        money(costs),
        s.currency,
        s.currency,
        s.currency
    ));
    out
}

/// One CSV row per call.
pub fn render_csv(s: &SpotCheck) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "at",
        "model",
        "matched_by",
        "confidence",
        "app_id",
        "app_origin",
        "app_input",
        "app_output",
        "app_cost",
        "table_cost",
        "trace_id",
        "trace_input",
        "trace_input_cached",
        "trace_output",
        "token_difference",
        "causes",
    ]);
    for r in &s.rows {
        let a = r.app.as_ref();
        let t = r.trace.as_ref();
        let _ = w.write_record([
            r.at.to_rfc3339(),
            r.model.clone(),
            r.matched_by.to_string(),
            format!("{:.2}", r.confidence),
            a.map(|a| a.id.clone()).unwrap_or_default(),
            a.map(|a| a.origin.clone()).unwrap_or_default(),
            a.map(|a| a.input.to_string()).unwrap_or_default(),
            a.map(|a| a.output.to_string()).unwrap_or_default(),
            a.and_then(|a| a.reported_cost.clone()).unwrap_or_default(),
            a.and_then(|a| a.table_cost.clone()).unwrap_or_default(),
            t.map(|t| t.id.clone()).unwrap_or_default(),
            t.map(|t| t.input.to_string()).unwrap_or_default(),
            t.map(|t| t.input_cached.to_string()).unwrap_or_default(),
            t.map(|t| t.output.to_string()).unwrap_or_default(),
            r.token_difference.to_string(),
            r.causes.join(";"),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
