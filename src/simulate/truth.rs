//! `truth.json`: the planted amount of every bridge step, per comparison and per group, and the
//! check that it ties out.
//!
//! Steps come from the simulated calls; baselines and references come from the files just
//! written, re-read here with plain CSV/JSON parsing (not the project's adapters), so the check
//! `baseline + Σ steps == reference` (per group, per class, in money) also checks the writers.
//!
//! Groups: a bill comparison groups by the bill bucket (UTC day) holding the call's start; the
//! app → trace comparison by the local day in `--tz` (the report's display bucket, `1d`). Provider
//! and model are canonical (`catalog::canonicalize`). An iteration container row has no model of
//! its own: it is the group `(iteration/loop container)` with no provider, and its
//! `total_tokens` (Dify keeps no split) are `input`. Rows that repeat usage (containers, the
//! second copy of a row two node exports share) count in the Dify baseline inside the window
//! and are the `double_counting` step there; outside the window they are no traffic at all.

use super::dify::{NODES, NODES_2};
use super::fmt::{J, plain, rfc3339};
use super::world::add_tokens;
use super::world::{
    CLASS_NAMES, CR, IMG, IN, OUT, RSN, Role, Step, Tokens, W1, W5, World, as_text, folded,
    input_total,
};
use super::{Provider, STEPS};
use crate::reconcile::causes::{
    self as causes, auxiliary_calls, cache_hits, cache_write_folding, double_counting, embeddings,
    multimodal_tokens, price_mismatch, reasoning_tokens, retries, service_tier,
    streaming_interruption, tokenizer_drift, unattributed_traffic, unexplained,
    window_misalignment,
};

use crate::catalog;
use crate::reconcile::window::{BucketSize, Calendar};
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Acc {
    pub t: Tokens,
    pub cost: Decimal,
}

impl Acc {
    fn add(&mut self, t: &Tokens, cost: Decimal, times: i64) {
        add_tokens(&mut self.t, t, times);
        self.cost += cost * Decimal::from(times);
    }
    fn is_zero(&self) -> bool {
        self.t.iter().all(|x| *x == 0) && self.cost.is_zero()
    }
    fn json(&self) -> J {
        let mut tokens: Vec<(&'static str, J)> = CLASS_NAMES
            .iter()
            .zip(self.t.iter())
            .map(|(k, v)| (*k, J::Int(*v)))
            .collect();
        tokens.push(("total", J::Int(self.t.iter().sum())));
        J::Obj(vec![
            ("tokens", J::Obj(tokens)),
            ("cost", J::s(plain(self.cost))),
        ])
    }
}

#[derive(Default)]
struct Group {
    base: Acc,
    reference: Acc,
    steps: [Acc; STEPS],
}

impl Group {
    fn is_zero(&self) -> bool {
        self.base.is_zero() && self.reference.is_zero() && self.steps.iter().all(Acc::is_zero)
    }
    fn merge(&mut self, o: &Group) {
        self.base.add(&o.base.t, o.base.cost, 1);
        self.reference.add(&o.reference.t, o.reference.cost, 1);
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            a.add(&b.t, b.cost, 1);
        }
    }
}

type Key = (DateTime<Utc>, usize);
/// Adds a step amount: (comparison, time, model, cause, tokens, cost, times).
type StepFn<'a> = dyn FnMut(usize, DateTime<Utc>, usize, &'static str, &Tokens, Decimal, i64) + 'a;

struct Comp {
    baseline: &'static str,
    reference: &'static str,
    groups_by: String,
    groups: BTreeMap<Key, Group>,
}

const DIFY_BILL: usize = 0;
const LF_BILL: usize = 1;
const DIFY_LF: usize = 2;

fn dify_tokens(prompt: i64, completion: i64) -> Tokens {
    [prompt, 0, 0, 0, completion, 0, 0]
}

/// The pseudo-model index of iteration/loop container rows (see the module docs).
const CONTAINER: usize = usize::MAX;

/// Group key names of a model index.
fn group_names(w: &World, m: usize) -> (&str, &str) {
    if m == CONTAINER {
        ("", crate::source::dify::CONTAINER_MODEL)
    } else {
        (
            w.models[m].provider.as_str(),
            w.models[m].canonical.as_str(),
        )
    }
}

/// Steps from the simulated calls.
fn plant(w: &World, comps: &mut [Comp; 3]) {
    let utc = Calendar {
        tz: chrono_tz::UTC,
        bucket: BucketSize::Day,
    };
    let local = Calendar {
        tz: w.cfg.tz,
        bucket: BucketSize::Day,
    };
    let mut step = |c: usize,
                    t: DateTime<Utc>,
                    m: usize,
                    cause: &'static str,
                    tok: &Tokens,
                    cost: Decimal,
                    times: i64| {
        let key = if c == DIFY_LF {
            local.floor(t)
        } else {
            utc.floor(t)
        };
        comps[c].groups.entry((key, m)).or_default().steps[causes::step_index(cause)]
            .add(tok, cost, times);
    };
    for c in &w.calls {
        let m = &w.models[c.model];
        let table = m.table(&c.u);
        let inw = w.in_window(c.t);
        // Served at priority: the bill's price difference to the standard price every other
        // step values the call at (money only; Dify and Langfuse know no tier).
        if c.priority {
            for k in [DIFY_BILL, LF_BILL] {
                step(
                    k,
                    c.t,
                    c.model,
                    service_tier::NAME,
                    &[0; 7],
                    m.billed(c) - table,
                    1,
                );
            }
        }
        // An attached image: the bill counts it apart, Dify and Langfuse as text input (the
        // trace and the app agree); moved at (image − input price), $0 on gpt-4.1.
        if c.u[IMG] != 0 {
            let mut tok = [0; 7];
            tok[IN] = -c.u[IMG];
            tok[IMG] = c.u[IMG];
            let money = Decimal::from(c.u[IMG]) * (m.price[IMG] - m.price[IN]);
            for k in [DIFY_BILL, LF_BILL] {
                step(k, c.t, c.model, multimodal_tokens::NAME, &tok, money, 1);
            }
        }
        // A reasoning model's thinking: Langfuse counts it apart (`output_reasoning`), Dify
        // and the usage pages as output, so the app and the bill agree. App → trace moves it
        // from `output` to `output_reasoning`, trace → bill back, each at the difference of
        // the two prices, $0 where thinking is billed as output (o4-mini). The trace's calls
        // outside the window are its window step, in its own classes, and moved back here too.
        if c.u[RSN] != 0 {
            let mut tok = [0; 7];
            tok[OUT] = -c.u[RSN];
            tok[RSN] = c.u[RSN];
            let money = Decimal::from(c.u[RSN]) * (m.price[RSN] - m.price[OUT]);
            if inw && c.dify.is_some() {
                step(
                    DIFY_LF,
                    c.t,
                    c.model,
                    reasoning_tokens::NAME,
                    &tok,
                    money,
                    1,
                );
            }
            if c.role.traced() {
                tok[OUT] = c.u[RSN];
                tok[RSN] = -c.u[RSN];
                step(
                    LF_BILL,
                    c.t,
                    c.model,
                    reasoning_tokens::NAME,
                    &tok,
                    -money,
                    1,
                );
            }
        }
        let bills = |step: &mut StepFn<'_>, cause| {
            step(DIFY_BILL, c.t, c.model, cause, &c.u, table, 1);
            step(LF_BILL, c.t, c.model, cause, &c.u, table, 1);
        };
        match c.role {
            Role::Other => bills(&mut step, unattributed_traffic::NAME),
            Role::Embedding => bills(&mut step, embeddings::NAME),
            Role::Unexplained => bills(&mut step, unexplained::NAME),
            Role::Aux(_) | Role::Retry => {
                let cause = if c.role == Role::Retry {
                    retries::NAME
                } else {
                    auxiliary_calls::NAME
                };
                step(DIFY_BILL, c.t, c.model, cause, &c.u, table, 1);
                if inw {
                    step(DIFY_LF, c.t, c.model, cause, &c.u, table, 1);
                } else {
                    step(
                        LF_BILL,
                        c.t,
                        c.model,
                        window_misalignment::NAME,
                        &c.u,
                        table,
                        1,
                    );
                }
            }
            Role::Classifier | Role::Child(_) | Role::Answer | Role::Stopped => {
                let Some(d) = &c.dify else { continue };
                if !inw {
                    step(
                        LF_BILL,
                        c.t,
                        c.model,
                        window_misalignment::NAME,
                        &as_text(&c.u),
                        table,
                        1,
                    );
                }
                let p = &m.price;
                let targets: &[usize] = if inw {
                    &[DIFY_BILL, DIFY_LF]
                } else {
                    &[DIFY_BILL]
                };
                for &k in targets {
                    let mut s =
                        |cause, tok: Tokens, cost| step(k, c.t, c.model, cause, &tok, cost, 1);
                    let table_dify =
                        Decimal::from(d.prompt) * p[IN] + Decimal::from(d.completion) * p[OUT];
                    s(price_mismatch::NAME, [0; 7], table_dify - d.price());
                    let di = input_total(&c.u) - d.prompt;
                    let dout = folded(&c.u)[OUT] - d.completion;
                    let moved = Decimal::from(di) * p[IN] + Decimal::from(dout) * p[OUT];
                    let cause = if c.role == Role::Stopped {
                        Some(streaming_interruption::NAME)
                    } else if d.drift {
                        Some(tokenizer_drift::NAME)
                    } else if di != 0 {
                        Some(cache_write_folding::NAME)
                    } else {
                        None
                    };
                    if let Some(cause) = cause {
                        s(cause, [di, 0, 0, 0, dout, 0, 0], moved);
                    }
                    for kk in [CR, W5, W1] {
                        let x = c.u[kk];
                        if x != 0 {
                            let mut tok = [0; 7];
                            tok[IN] = -x;
                            tok[kk] = x;
                            s(cache_hits::NAME, tok, Decimal::from(x) * (p[kk] - p[IN]));
                        }
                    }
                }
            }
        }
    }
    // Dify's counted rows: LLM rows (the overlapping export repeats some) and iteration
    // containers (their children's sum, never real usage).
    let occurrences = |t: DateTime<Utc>| match w.node_cut {
        None => 1,
        Some((cut1, cut2)) => (t < cut1) as i64 + (t >= cut2) as i64,
    };
    for run in &w.runs {
        for s in &run.steps {
            let rows: Vec<(DateTime<Utc>, usize, Tokens, Decimal, bool)> = match s {
                Step::Classifier(i) | Step::Answer(i) => {
                    let c = &w.calls[*i];
                    c.dify
                        .iter()
                        .map(|d| {
                            (
                                c.t,
                                c.model,
                                dify_tokens(d.prompt, d.completion),
                                d.price(),
                                false,
                            )
                        })
                        .collect()
                }
                Step::Iteration {
                    start, children, ..
                } => {
                    let mut v: Vec<_> = children
                        .iter()
                        .filter_map(|i| {
                            let c = &w.calls[*i];
                            c.dify.as_ref().map(|d| {
                                (
                                    c.t,
                                    c.model,
                                    dify_tokens(d.prompt, d.completion),
                                    d.price(),
                                    false,
                                )
                            })
                        })
                        .collect();
                    let (mut tok, mut cost) = ([0; 7], Decimal::ZERO);
                    for r in &v {
                        add_tokens(&mut tok, &r.2, 1);
                        cost += r.3;
                    }
                    // Dify keeps only the container's total: all of it `input`.
                    let total: i64 = tok.iter().sum();
                    v.push((*start, CONTAINER, [total, 0, 0, 0, 0, 0, 0], cost, true));
                    v
                }
                _ => vec![],
            };
            for (t, m, tok, cost, container) in rows {
                let occ = occurrences(t);
                let extra = if container { occ } else { occ - 1 };
                if !w.in_window(t) {
                    // Real traffic at the edges counts once; repeats there are nothing.
                    if !container && occ > 0 {
                        step(DIFY_BILL, t, m, window_misalignment::NAME, &tok, cost, 1);
                    }
                } else if extra > 0 {
                    step(DIFY_BILL, t, m, double_counting::NAME, &tok, cost, -extra);
                    step(DIFY_LF, t, m, double_counting::NAME, &tok, cost, -extra);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Re-reading the written files

fn dec(s: &str) -> Result<Decimal, String> {
    let r = if s.contains(['e', 'E']) {
        Decimal::from_scientific(s)
    } else {
        Decimal::from_str(s)
    };
    r.map_err(|e| format!("re-read: '{s}' is not a decimal: {e}"))
}

fn num_dec(v: &Value) -> Result<Decimal, String> {
    match v {
        Value::Number(n) => dec(&n.to_string()),
        Value::String(s) => dec(s),
        other => Err(format!("re-read: expected a number, got {other}")),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn model_index(w: &World, provider_hint: Option<&str>, raw: &str) -> Result<usize, String> {
    let c = catalog::canonicalize(provider_hint, raw);
    w.models
        .iter()
        .position(|m| m.canonical == c.model && m.provider == c.provider)
        .ok_or_else(|| format!("re-read: model '{raw}' is not one the world uses"))
}

struct CsvRow<'a> {
    idx: &'a HashMap<String, usize>,
    rec: &'a csv::StringRecord,
}

impl<'a> CsvRow<'a> {
    fn get(&self, k: &str) -> &'a str {
        self.idx.get(k).and_then(|i| self.rec.get(*i)).unwrap_or("")
    }
}

fn csv_rows(
    path: &Path,
    mut f: impl FnMut(&CsvRow<'_>) -> Result<(), String>,
) -> Result<u64, String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
    let idx: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect();
    let mut n = 0;
    let mut rec = csv::StringRecord::new();
    while rdr
        .read_record(&mut rec)
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        f(&CsvRow {
            idx: &idx,
            rec: &rec,
        })?;
        n += 1;
    }
    Ok(n)
}

fn pg_time(s: &str) -> Result<DateTime<Utc>, String> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|_| format!("re-read: bad timestamp '{s}'"))
}

fn json(s: &str) -> Result<Value, String> {
    serde_json::from_str(s).map_err(|e| format!("re-read: bad JSON ({e}): {s}"))
}

/// A counted row re-read: start, model, tokens, money.
type Row = (DateTime<Utc>, usize, Tokens, Decimal);

/// Dify's counted rows (LLM rows with usage, iteration containers) of every node export.
/// Only the rows of `w`'s app (an export set of several worlds holds every app's rows).
fn read_dify(w: &World, ws: &[World], out: &Path) -> Result<(u64, u64, Vec<Row>), String> {
    let app = super::fmt::uuid(w.ids.app);
    let mut node_rows = 0;
    let mut dify_usage_rows = 0;
    // Dify: LLM rows with usage and iteration containers, in the window.
    let mut children: HashMap<(String, String), (Tokens, usize)> = HashMap::new();
    let mut seen_children: HashSet<String> = HashSet::new();
    let mut containers: Vec<(String, String, DateTime<Utc>, i64, Decimal)> = Vec::new();
    let mut llm: Vec<(DateTime<Utc>, usize, Tokens, Decimal)> = Vec::new();
    let mut node_files = vec![NODES];
    if ws.iter().any(|o| o.node_cut.is_some()) {
        node_files.push(NODES_2);
    }
    for name in node_files {
        node_rows += csv_rows(&out.join(name), |r| {
            let get = |k: &str| r.get(k);
            if get("app_id") != app {
                return Ok(());
            }
            let t = pg_time(get("created_at"))?;
            let meta = get("execution_metadata");
            match get("node_type") {
                "llm" | "question-classifier"
                    if matches!(get("status"), "succeeded" | "stopped") =>
                {
                    let pd = json(get("process_data"))?;
                    let u = &pd["usage"];
                    let tok = dify_tokens(int(&u["prompt_tokens"]), int(&u["completion_tokens"]));
                    let m = model_index(
                        w,
                        pd["model_provider"].as_str(),
                        pd["model_name"].as_str().unwrap_or(""),
                    )?;
                    let md = json(meta)?;
                    let money = num_dec(&md["total_price"])?;
                    if let Some(it) = md["iteration_id"].as_str()
                        && seen_children.insert(get("id").to_string())
                    {
                        let e = children
                            .entry((get("workflow_run_id").to_string(), it.to_string()))
                            .or_insert(([0; 7], m));
                        add_tokens(&mut e.0, &tok, 1);
                    }
                    dify_usage_rows += 1;
                    llm.push((t, m, tok, money));
                }
                "iteration" | "loop" => {
                    let md = json(meta)?;
                    containers.push((
                        get("workflow_run_id").to_string(),
                        get("node_id").to_string(),
                        t,
                        int(&md["total_tokens"]),
                        num_dec(&md["total_price"])?,
                    ));
                }
                _ => {}
            }
            Ok(())
        })?;
    }
    for (run, node, t, total, money) in containers {
        let (tok, _) = children
            .get(&(run, node))
            .copied()
            .ok_or("re-read: an iteration container without children")?;
        if tok.iter().sum::<i64>() != total {
            return Err(format!(
                "re-read: container total_tokens {total} is not its children's sum"
            ));
        }
        llm.push((t, CONTAINER, [total, 0, 0, 0, 0, 0, 0], money));
    }
    Ok((node_rows, dify_usage_rows, llm))
}

/// Langfuse generations with usage in the window, of `w`'s models (an export set of several
/// worlds, one per provider, holds every world's generations; their models differ).
fn read_langfuse(w: &World, ws: &[World], out: &Path) -> Result<(u64, u64, Vec<Row>), String> {
    let (mut lf_rows, mut lf_gens) = (0, 0);
    let mut gens: Vec<Row> = Vec::new();
    let provider = w.cfg.provider;
    lf_rows += csv_rows(&out.join(super::langfuse::FILE), |r| {
        let get = |k: &str| r.get(k);
        if get("type") != "GENERATION" {
            return Ok(());
        }
        lf_gens += 1;
        let t = DateTime::parse_from_rfc3339(get("startTime"))
            .map_err(|_| format!("re-read: bad startTime '{}'", get("startTime")))?
            .with_timezone(&Utc);
        let u = json(get("usageDetails"))?;
        let cd = json(get("costDetails"))?;
        let mut tok = [0; 7];
        let names: [(usize, &str); 6] = match provider {
            Provider::Openai => [
                (IN, "input"),
                (CR, "input_cached_tokens"),
                (W5, "-"),
                (W1, "-"),
                (OUT, "output"),
                (RSN, "output_reasoning"),
            ],
            Provider::Anthropic => [
                (IN, "input"),
                (CR, "input_cache_read"),
                (W5, "input_cache_creation_5m"),
                (W1, "input_cache_creation_1h"),
                (OUT, "output"),
                (RSN, "-"),
            ],
        };
        for (k, n) in names {
            tok[k] = int(&u[n]);
        }
        let money = match cd.get("total") {
            Some(v) => num_dec(v)?,
            None => Decimal::ZERO,
        };
        if tok.iter().all(|x| *x == 0) && money.is_zero() {
            return Ok(());
        }
        let m = match model_index(w, None, get("model")) {
            Ok(m) => m,
            Err(_)
                if ws
                    .iter()
                    .any(|o| model_index(o, None, get("model")).is_ok()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if w.in_window(t) {
            gens.push((t, m, tok, money));
        }
        Ok(())
    })?;

    Ok((lf_rows, lf_gens, gens))
}

struct Reread {
    node_rows: u64,
    langfuse_rows: u64,
    langfuse_generations: u64,
    dify_usage_rows: u64,
}

fn reread(
    w: &World,
    ws: &[World],
    out: &Path,
    files: &[String],
    comps: &mut [Comp; 3],
) -> Result<Reread, String> {
    let utc = Calendar {
        tz: chrono_tz::UTC,
        bucket: BucketSize::Day,
    };
    let local = Calendar {
        tz: w.cfg.tz,
        bucket: BucketSize::Day,
    };
    let (dify, lf) = std::thread::scope(|sc| {
        let h = sc.spawn(|| read_dify(w, ws, out));
        let lf = read_langfuse(w, ws, out);
        (h.join(), lf)
    });
    let (node_rows, dify_usage_rows, llm) =
        dify.map_err(|_| "re-read: Dify reader panicked".to_string())??;
    let (lf_rows, lf_gens, gens) = lf?;
    for (t, m, tok, money) in llm {
        if w.in_window(t) {
            comps[DIFY_BILL]
                .groups
                .entry((utc.floor(t), m))
                .or_default()
                .base
                .add(&tok, money, 1);
            comps[DIFY_LF]
                .groups
                .entry((local.floor(t), m))
                .or_default()
                .base
                .add(&tok, money, 1);
        }
    }

    for (t, m, tok, money) in gens {
        comps[LF_BILL]
            .groups
            .entry((utc.floor(t), m))
            .or_default()
            .base
            .add(&tok, money, 1);
        comps[DIFY_LF]
            .groups
            .entry((local.floor(t), m))
            .or_default()
            .reference
            .add(&tok, money, 1);
    }

    // The bill.
    let mut bill = |t: DateTime<Utc>, m: usize, tok: &Tokens, money: Decimal| {
        for c in [DIFY_BILL, LF_BILL] {
            comps[c]
                .groups
                .entry((utc.floor(t), m))
                .or_default()
                .reference
                .add(tok, money, 1);
        }
    };
    let pages = |name: &str| -> Result<Vec<Value>, String> {
        let text = std::fs::read_to_string(out.join(name)).map_err(|e| format!("{name}: {e}"))?;
        match json(&text)? {
            Value::Array(p) => Ok(p),
            page => Ok(vec![page]),
        }
    };
    let unix = |v: &Value| DateTime::from_timestamp(int(v), 0).unwrap_or_default();
    match w.cfg.provider {
        Provider::Openai => {
            let names: Vec<&String> = files
                .iter()
                .filter(|f| f.starts_with("openai_") && f.ends_with(".json"))
                .collect();
            for name in names {
                for page in pages(name)? {
                    for b in page["data"].as_array().into_iter().flatten() {
                        let t = unix(&b["start_time"]);
                        for r in b["results"].as_array().into_iter().flatten() {
                            match r["object"].as_str().unwrap_or("") {
                                "organization.usage.completions.result" => {
                                    let m = model_index(
                                        w,
                                        Some("openai"),
                                        r["model"].as_str().unwrap_or(""),
                                    )?;
                                    let (i, c, un, img) = (
                                        int(&r["input_tokens"]),
                                        int(&r["input_cached_tokens"]),
                                        int(&r["input_uncached_tokens"]),
                                        int(&r["input_image_tokens"]),
                                    );
                                    if i != c + un {
                                        return Err(
                                            "re-read: input_tokens != cached + uncached".into()
                                        );
                                    }
                                    bill(
                                        t,
                                        m,
                                        &[un - img, c, 0, 0, int(&r["output_tokens"]), img, 0],
                                        Decimal::ZERO,
                                    );
                                }
                                "organization.usage.embeddings.result" => {
                                    let m = model_index(
                                        w,
                                        Some("openai"),
                                        r["model"].as_str().unwrap_or(""),
                                    )?;
                                    bill(
                                        t,
                                        m,
                                        &[int(&r["input_tokens"]), 0, 0, 0, 0, 0, 0],
                                        Decimal::ZERO,
                                    );
                                }
                                _ => {
                                    let li = r["line_item"].as_str().unwrap_or("");
                                    let model = li.split(", ").next().unwrap_or("");
                                    let m = model_index(w, Some("openai"), model)?;
                                    bill(t, m, &[0; 7], num_dec(&r["amount"]["value"])?);
                                }
                            }
                        }
                    }
                }
            }
        }
        Provider::Anthropic => {
            for name in [super::anthropic::USAGE, super::anthropic::COST] {
                for page in pages(name)? {
                    for b in page["data"].as_array().into_iter().flatten() {
                        let t =
                            DateTime::parse_from_rfc3339(b["starting_at"].as_str().unwrap_or(""))
                                .map_err(|_| "re-read: bad starting_at".to_string())?
                                .with_timezone(&Utc);
                        for r in b["results"].as_array().into_iter().flatten() {
                            let m = model_index(
                                w,
                                Some("anthropic"),
                                r["model"].as_str().unwrap_or(""),
                            )?;
                            if name == super::anthropic::USAGE {
                                let cc = &r["cache_creation"];
                                bill(
                                    t,
                                    m,
                                    &[
                                        int(&r["uncached_input_tokens"]),
                                        int(&r["cache_read_input_tokens"]),
                                        int(&cc["ephemeral_5m_input_tokens"]),
                                        int(&cc["ephemeral_1h_input_tokens"]),
                                        int(&r["output_tokens"]),
                                        0,
                                        0,
                                    ],
                                    Decimal::ZERO,
                                );
                            } else {
                                let cents = num_dec(&r["amount"])?;
                                bill(t, m, &[0; 7], cents / Decimal::ONE_HUNDRED);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(Reread {
        node_rows,
        langfuse_rows: lf_rows,
        langfuse_generations: lf_gens,
        dify_usage_rows,
    })
}

/// baseline + Σ steps == reference for every group of every comparison, or the first failure.
fn check(comps: &[Comp; 3]) -> Result<(), String> {
    for c in comps {
        for ((t, m), g) in &c.groups {
            let mut acc = g.base;
            for s in &g.steps {
                acc.add(&s.t, s.cost, 1);
            }
            if acc.t != g.reference.t || acc.cost != g.reference.cost {
                return Err(format!(
                    "BRIDGE FAILS for {} → {} group {} model #{m}: baseline + steps = {:?} {} but reference = {:?} {}",
                    c.baseline,
                    c.reference,
                    rfc3339(*t),
                    acc.t,
                    acc.cost,
                    g.reference.t,
                    g.reference.cost
                ));
            }
        }
    }
    Ok(())
}

/// A comparison's groups by name, in order, with the JSON of the comparison.
type Named<'a> = Vec<((DateTime<Utc>, &'a str, &'a str), &'a Group)>;

fn named<'a>(w: &'a World, c: &'a Comp) -> Named<'a> {
    c.groups
        .iter()
        .map(|((t, m), g)| {
            let (p, model) = group_names(w, *m);
            ((*t, p, model), g)
        })
        .collect()
}

fn comparison_json(baseline: &str, reference: &str, groups_by: &str, named: Named<'_>) -> J {
    let mut base = Acc::default();
    let mut refer = Acc::default();
    let mut steps = [Acc::default(); STEPS];
    let mut groups = Vec::new();
    for ((t, provider, model), g) in named {
        if g.is_zero() {
            continue;
        }
        base.add(&g.base.t, g.base.cost, 1);
        refer.add(&g.reference.t, g.reference.cost, 1);
        for (k, s) in g.steps.iter().enumerate() {
            steps[k].add(&s.t, s.cost, 1);
        }
        groups.push(J::Obj(vec![
            ("window_start", J::s(rfc3339(t))),
            ("provider", J::s(provider)),
            ("model", J::s(model)),
            ("baseline", g.base.json()),
            ("reference", g.reference.json()),
            // Only the steps planted in this group; a step not listed is zero.
            (
                "steps",
                J::Map(
                    causes::step_names()
                        .zip(g.steps.iter())
                        .filter(|(_, s)| !s.is_zero())
                        .map(|(k, s)| (k.to_string(), s.json()))
                        .collect(),
                ),
            ),
        ]));
    }
    J::Obj(vec![
        ("baseline", J::s(baseline)),
        ("reference", J::s(reference)),
        ("groups_by", J::s(groups_by)),
        ("baseline_totals", base.json()),
        ("reference_totals", refer.json()),
        (
            "steps",
            J::Map(
                causes::step_names()
                    .zip(steps.iter())
                    .map(|(k, s)| (k.to_string(), s.json()))
                    .collect(),
            ),
        ),
        ("groups", J::Arr(groups)),
    ])
}

/// Plants, re-reads and checks every world; writes `truth.json`. Each world is its provider's
/// app: its `dify → BILL` and `langfuse → BILL` comparisons are its own, and `dify → langfuse`
/// holds every world's calls (groups of the same day, provider and model added up: only the
/// iteration containers, which name no provider, share groups across worlds).
pub fn write(ws: &[World], out: &Path, files: &[String]) -> Result<(), String> {
    let tz = ws[0].cfg.tz.name();
    let mut per_world = Vec::with_capacity(ws.len());
    for w in ws {
        let bill = w.cfg.provider.name();
        let mk = |baseline, reference, groups_by: String| Comp {
            baseline,
            reference,
            groups_by,
            groups: BTreeMap::new(),
        };
        let mut comps = [
            mk("dify", bill, "bill bucket (UTC day)".into()),
            mk("langfuse", bill, "bill bucket (UTC day)".into()),
            mk("dify", "langfuse", format!("local day in {tz}")),
        ];
        plant(w, &mut comps);
        let rr = reread(w, ws, out, files, &mut comps)?;
        check(&comps)?;
        per_world.push((comps, rr));
    }

    let mut comparisons = Vec::new();
    for (w, (comps, _)) in ws.iter().zip(&per_world) {
        for c in &comps[..DIFY_LF] {
            comparisons.push(comparison_json(
                c.baseline,
                c.reference,
                &c.groups_by,
                named(w, c),
            ));
        }
    }
    let app_trace = &per_world[0].0[DIFY_LF];
    if ws.len() == 1 {
        comparisons.push(comparison_json(
            app_trace.baseline,
            app_trace.reference,
            &app_trace.groups_by,
            named(&ws[0], app_trace),
        ));
    } else {
        let mut merged: BTreeMap<(DateTime<Utc>, &str, &str), Group> = BTreeMap::new();
        for (w, (comps, _)) in ws.iter().zip(&per_world) {
            for (k, g) in named(w, &comps[DIFY_LF]) {
                merged.entry(k).or_default().merge(g);
            }
        }
        comparisons.push(comparison_json(
            app_trace.baseline,
            app_trace.reference,
            &app_trace.groups_by,
            merged.iter().map(|(k, g)| (*k, g)).collect(),
        ));
    }
    let rr = &per_world[0].1;
    let dify_usage_rows: u64 = per_world.iter().map(|(_, r)| r.dify_usage_rows).sum();

    let calls = || ws.iter().flat_map(|w| &w.calls);
    let runs = || ws.iter().flat_map(|w| w.runs.iter().map(move |r| (w, r)));
    let count = |f: &dyn Fn(&super::world::Call) -> bool| calls().filter(|c| f(c)).count() as i64;
    let planted = |cfg: &super::Config| -> J {
        J::Map(
            causes::step_names()
                .zip(cfg.amounts.iter())
                .filter(|(_, a)| **a != 0.0)
                .map(|(k, a)| (k.to_string(), J::Num(format!("{a}"))))
                .collect(),
        )
    };
    let w = &ws[0];
    let cfg = &w.cfg;
    let providers: Vec<&str> = ws.iter().map(|w| w.cfg.provider.name()).collect();
    let mut generator = vec![
        ("command", J::s("llm-recon simulate")),
        ("seed", J::Num(cfg.seed.to_string())),
        ("calls", J::Int(ws.iter().map(|w| w.cfg.calls as i64).sum())),
        ("days", J::Int(cfg.days as i64)),
        ("start", J::s(cfg.start.to_string())),
        ("tz", J::s(tz)),
        ("provider", J::s(providers.join(","))),
    ];
    // One world: its keys at the top. Several: one entry per provider's app and bill.
    let mut ids = Vec::new();
    if ws.len() == 1 {
        generator.push(("causes", planted(cfg)));
        ids.extend([
            ("app_key", J::s(w.ids.app_key.as_str())),
            ("app_project", J::s(w.ids.app_project.as_str())),
            ("other_key", J::s(w.ids.other_key.as_str())),
            ("other_project", J::s(w.ids.other_project.as_str())),
        ]);
    } else {
        generator.push((
            "worlds",
            J::Arr(
                ws.iter()
                    .map(|w| {
                        J::Obj(vec![
                            ("provider", J::s(w.cfg.provider.name())),
                            ("seed", J::Num(w.cfg.seed.to_string())),
                            ("calls", J::Int(w.cfg.calls as i64)),
                            ("causes", planted(&w.cfg)),
                        ])
                    })
                    .collect(),
            ),
        ));
        ids.push((
            "bills",
            J::Arr(
                ws.iter()
                    .map(|w| {
                        J::Obj(vec![
                            ("provider", J::s(w.cfg.provider.name())),
                            ("app_id", J::s(super::fmt::uuid(w.ids.app))),
                            ("app_key", J::s(w.ids.app_key.as_str())),
                            ("app_project", J::s(w.ids.app_project.as_str())),
                            ("other_key", J::s(w.ids.other_key.as_str())),
                            ("other_project", J::s(w.ids.other_project.as_str())),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    let mut top = vec![
        ("schema", J::s("llm-recon/sim-truth/v1")),
        ("generator", J::Obj(generator)),
        (
            "window",
            J::Obj(vec![
                ("start", J::s(rfc3339(w.win.0))),
                ("end", J::s(rfc3339(w.win.1))),
                ("timezone", J::s(tz)),
            ]),
        ),
        (
            "bill_span",
            J::Obj(vec![
                ("start", J::s(rfc3339(w.span.0))),
                ("end", J::s(rfc3339(w.span.1))),
                ("timezone", J::s("UTC")),
                ("bucket", J::s("1d")),
            ]),
        ),
    ];
    top.extend(ids);
    top.extend([
        (
            "files",
            J::Arr(files.iter().map(|f| J::s(f.as_str())).collect()),
        ),
        (
            "counts",
            J::Obj(vec![
                ("messages", J::Int(runs().count() as i64)),
                (
                    "messages_in_window",
                    J::Int(runs().filter(|(w, r)| w.in_window(r.t0)).count() as i64),
                ),
                ("dify_node_rows", J::Int(rr.node_rows as i64)),
                ("dify_llm_rows_with_usage", J::Int(dify_usage_rows as i64)),
                ("langfuse_rows", J::Int(rr.langfuse_rows as i64)),
                (
                    "langfuse_generations",
                    J::Int(rr.langfuse_generations as i64),
                ),
                ("retried_answers", J::Int(count(&|c| c.role == Role::Retry))),
                (
                    "rejected_answers",
                    J::Int(runs().filter(|(_, r)| r.failed).count() as i64),
                ),
                (
                    "stopped_answers",
                    J::Int(count(&|c| c.role == Role::Stopped)),
                ),
                (
                    "drift_classifier_calls",
                    J::Int(count(&|c| c.dify.as_ref().is_some_and(|d| d.drift))),
                ),
                (
                    "iteration_runs",
                    J::Int(
                        runs()
                            .filter(|(_, r)| {
                                r.steps.iter().any(|s| matches!(s, Step::Iteration { .. }))
                            })
                            .count() as i64,
                    ),
                ),
                (
                    "auxiliary_calls",
                    J::Int(count(&|c| matches!(c.role, Role::Aux(_)))),
                ),
                (
                    "unexplained_calls",
                    J::Int(count(&|c| c.role == Role::Unexplained)),
                ),
                (
                    "other_key_requests",
                    J::Int(count(&|c| c.role == Role::Other)),
                ),
                (
                    "embedding_requests",
                    J::Int(count(&|c| c.role == Role::Embedding)),
                ),
                ("billed_requests", J::Int(calls().count() as i64)),
            ]),
        ),
        ("comparisons", J::Arr(comparisons)),
    ]);
    let truth = J::Obj(top);
    let mut s = String::new();
    truth.pretty(&mut s, 0);
    s.push('\n');
    std::fs::write(out.join("truth.json"), s).map_err(|e| format!("truth.json: cannot write: {e}"))
}
