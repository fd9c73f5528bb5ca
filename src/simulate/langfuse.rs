//! Langfuse's view: the UI batch export of observations (CSV, camelCase columns, JSON columns as
//! compact JSON text, ISO-8601 UTC times with milliseconds, numbers as JavaScript prints them).
//!
//! Through Dify's Langfuse integration: one SPAN per workflow run (id = run id, trace id =
//! message id) and one GENERATION per LLM attempt (id = Dify node execution id; a failed
//! attempt has its own id and level ERROR with the provider's usage), plus Dify's auxiliary
//! traces (`generate_conversation_name`, `suggested_question`) with one generation each.
//! `usageDetails` are the provider's counts (`input` excludes cache classes); `costDetails` are
//! at the table prices. Source: langfuse/langfuse batch export and observation model (see the
//! Langfuse fact sheet).

use super::fmt::{J, csv_field, f3, iso_ms, js_number, uuid};
use super::world::{
    BIG, CR, Call, IN, OUT, QUERIES, REASON, RSN, Role, Run, Step, W1, W5, World, as_text, secs_f,
};
use super::{Provider, Rng, create, io_err};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::io::Write;
use std::path::Path;

pub const FILE: &str = "langfuse_observations.csv";

pub const COLS: [&str; 44] = [
    "id",
    "traceId",
    "startTime",
    "endTime",
    "projectId",
    "parentObservationId",
    "type",
    "environment",
    "name",
    "level",
    "statusMessage",
    "version",
    "input",
    "output",
    "metadata",
    "model",
    "internalModelId",
    "modelParameters",
    "completionStartTime",
    "promptId",
    "promptName",
    "promptVersion",
    "usageDetails",
    "costDetails",
    "providedUsageDetails",
    "providedCostDetails",
    "usagePricingTierName",
    "inputUsage",
    "outputUsage",
    "totalUsage",
    "inputCost",
    "outputCost",
    "totalCost",
    "latency",
    "timeToFirstToken",
    "modelId",
    "inputPrice",
    "outputPrice",
    "totalPrice",
    "traceName",
    "traceTags",
    "traceTimestamp",
    "userId",
    "sessionId",
];

/// JavaScript's `JSON.stringify` separators.
fn js(j: &J) -> String {
    j.line(",", ":")
}

/// Usage-detail keys per class as Langfuse stores them for each provider.
fn keys(p: Provider) -> [(usize, &'static str); 3] {
    match p {
        Provider::Openai => [(CR, "input_cached_tokens"), (W5, ""), (W1, "")],
        Provider::Anthropic => [
            (CR, "input_cache_read"),
            (W5, "input_cache_creation_5m"),
            (W1, "input_cache_creation_1h"),
        ],
    }
}

struct Gen<'a> {
    id: u128,
    trace_id: u128,
    parent: Option<u128>,
    name: &'a str,
    trace_name: &'a str,
    trace_time: DateTime<Utc>,
    call: Option<&'a Call>,
    model: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    level: &'a str,
    status: Option<&'a str>,
    node_type: Option<&'a str>,
    user: u128,
    session: u128,
}

fn row(out: &mut String, fields: &[Option<String>; 44]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f.as_deref(), false);
    }
    out.push('\n');
}

fn generation(w: &World, rng: &mut Rng, g: Gen<'_>, out: &mut String) {
    let m = &w.models[g.model];
    let (mut usage, mut cost) = (Vec::new(), Vec::new());
    let (mut c_in, mut c_out, mut u_in, mut u_out) = (Decimal::ZERO, Decimal::ZERO, 0, 0);
    if let Some(c) = g.call {
        // Langfuse keeps OpenAI's prompt count: an image is text input to it.
        let u = &as_text(&c.u);
        usage.push(("input".to_string(), J::Int(u[IN])));
        let x = Decimal::from(u[IN]) * m.price[IN];
        cost.push(("input".to_string(), J::Num(js_number(x))));
        c_in += x;
        for (k, name) in keys(w.cfg.provider) {
            if u[k] != 0 && !name.is_empty() {
                let x = Decimal::from(u[k]) * m.price[k];
                usage.push((name.to_string(), J::Int(u[k])));
                cost.push((name.to_string(), J::Num(js_number(x))));
                c_in += x;
            }
        }
        c_out = Decimal::from(u[OUT]) * m.price[OUT];
        usage.push(("output".to_string(), J::Int(u[OUT])));
        cost.push(("output".to_string(), J::Num(js_number(c_out))));
        // Langfuse's own split of OpenAI's completion count: `output` the visible part,
        // `output_reasoning` the thinking (`completion_tokens_details.reasoning_tokens`).
        if u[RSN] != 0 {
            let x = Decimal::from(u[RSN]) * m.price[RSN];
            usage.push(("output_reasoning".to_string(), J::Int(u[RSN])));
            cost.push(("output_reasoning".to_string(), J::Num(js_number(x))));
            c_out += x;
        }
        u_in = u[IN] + u[CR] + u[W5] + u[W1];
        u_out = u[OUT] + u[RSN];
        usage.push(("total".to_string(), J::Int(u_in + u_out)));
        cost.push(("total".to_string(), J::Num(js_number(c_in + c_out))));
    }
    let dur =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let ttft = g
        .call
        .map(|_| g.start + secs_f(dur(g.start, g.end) * rng.uniform(0.1, 0.4)));
    let usage_text = js(&J::Map(usage));
    let input = g.call.and_then(|c| c.prompts.as_ref()).map(|p| {
        js(&J::Arr(
            p.iter()
                .map(|(r, t)| {
                    J::Obj(vec![
                        ("role", J::s(*r)),
                        ("text", J::s(t.as_str())),
                        ("files", J::Arr(vec![])),
                    ])
                })
                .collect(),
        ))
    });
    let metadata = match g.node_type {
        Some(t) => js(&J::Obj(vec![("node_type", J::s(t))])),
        None => "{}".into(),
    };
    // o-series models take only the default temperature (1).
    let temperature = match g.model {
        BIG => "0.2",
        REASON => "1",
        _ => "0",
    };
    let fields: [Option<String>; 44] = [
        Some(uuid(g.id)),
        Some(uuid(g.trace_id)),
        Some(iso_ms(g.start)),
        Some(iso_ms(g.end)),
        Some(w.ids.langfuse_project.clone()),
        g.parent.map(uuid),
        Some("GENERATION".into()),
        Some("default".into()),
        Some(g.name.into()),
        Some(g.level.into()),
        g.status.map(str::to_string),
        None,
        input,
        None,
        Some(metadata),
        Some(m.bill_name.into()),
        Some(m.langfuse_id.into()),
        Some(js(&J::Obj(vec![(
            "temperature",
            J::Num(temperature.into()),
        )]))),
        ttft.map(iso_ms),
        None,
        None,
        None,
        Some(usage_text.clone()),
        Some(js(&J::Map(cost))),
        Some(usage_text),
        Some("{}".into()),
        Some("Standard".into()),
        Some(u_in.to_string()),
        Some(u_out.to_string()),
        Some((u_in + u_out).to_string()),
        Some(js_number(c_in)),
        Some(js_number(c_out)),
        Some(js_number(c_in + c_out)),
        Some(f3(dur(g.start, g.end))),
        ttft.map(|t| f3(dur(g.start, t))),
        Some(m.langfuse_id.into()),
        Some(js_number(m.price[IN])),
        Some(js_number(m.price[OUT])),
        None,
        Some(g.trace_name.into()),
        Some("[]".into()),
        Some(iso_ms(g.trace_time)),
        Some(uuid(g.user)),
        Some(uuid(g.session)),
    ];
    row(out, &fields);
}

fn span_row(w: &World, run: &Run, end: DateTime<Utc>, out: &mut String) {
    let query = QUERIES[run.query].0;
    let (level, status, output) = if run.failed {
        (
            "ERROR",
            Some(super::dify::REJECT_ERROR.to_string()),
            J::Obj(vec![]),
        )
    } else {
        let a = if run.stopped {
            super::world::STOPPED_TEXT
        } else {
            super::world::ANSWER_TEXT
        };
        ("DEFAULT", None, J::Obj(vec![("answer", J::s(a))]))
    };
    let mut f: [Option<String>; 44] = std::array::from_fn(|_| None);
    let set = |f: &mut [Option<String>; 44], k: &str, v: String| {
        if let Some(i) = COLS.iter().position(|c| *c == k) {
            f[i] = Some(v);
        }
    };
    set(&mut f, "id", uuid(run.run_id));
    set(&mut f, "traceId", uuid(run.msg_id));
    set(&mut f, "startTime", iso_ms(run.t0));
    set(&mut f, "endTime", iso_ms(end));
    set(&mut f, "projectId", w.ids.langfuse_project.clone());
    set(&mut f, "type", "SPAN".into());
    set(&mut f, "environment", "default".into());
    set(&mut f, "name", "workflow".into());
    set(&mut f, "level", level.into());
    if let Some(s) = status {
        set(&mut f, "statusMessage", s);
    }
    set(&mut f, "input", js(&J::Obj(vec![("query", J::s(query))])));
    set(&mut f, "output", js(&output));
    set(
        &mut f,
        "metadata",
        js(&J::Obj(vec![("workflow_id", J::s(uuid(w.ids.workflow)))])),
    );
    for k in [
        "usageDetails",
        "costDetails",
        "providedUsageDetails",
        "providedCostDetails",
    ] {
        set(&mut f, k, "{}".into());
    }
    for k in ["inputUsage", "outputUsage", "totalUsage", "totalCost"] {
        set(&mut f, k, "0".into());
    }
    let lat = (end - run.t0).num_microseconds().unwrap_or(0) as f64 / 1e6;
    set(&mut f, "latency", f3(lat));
    set(&mut f, "traceName", "message".into());
    set(&mut f, "traceTags", "[]".into());
    set(&mut f, "traceTimestamp", iso_ms(run.t0));
    set(&mut f, "userId", uuid(w.ids.users[run.user]));
    set(&mut f, "sessionId", uuid(run.conv));
    row(out, &f);
}

/// Several worlds (one app per provider, traced to one Langfuse project) go into the same
/// export, one world's observations after the other's.
pub fn write(ws: &[World], out: &Path) -> Result<Vec<String>, String> {
    let mut f = create(out, FILE)?;
    f.write_all((COLS.join(",") + "\n").as_bytes())
        .map_err(io_err(FILE))?;
    let mut buf = String::with_capacity(1 << 16);
    for w in ws {
        write_world(w, &mut f, &mut buf)?;
    }
    f.flush().map_err(io_err(FILE))?;
    Ok(vec![FILE.to_string()])
}

fn write_world<'w>(w: &'w World, f: &mut impl Write, buf: &mut String) -> Result<(), String> {
    let mut rng = Rng::new(w.cfg.seed ^ 0x1A26_F005_0000_0002);
    for run in &w.runs {
        buf.clear();
        let user = w.ids.users[run.user];
        let end_of = |c: &Call| c.t + secs_f(c.elapsed);
        let run_end = run
            .steps
            .iter()
            .map(|s| match s {
                Step::Classifier(i) | Step::Answer(i) => end_of(&w.calls[*i]),
                Step::Iteration { end, .. } => *end,
                Step::Retry { call, .. } => end_of(&w.calls[*call]),
                Step::Rejected { t, elapsed, .. } => *t + secs_f(*elapsed),
            })
            .max()
            .unwrap_or(run.t0)
            + chrono::Duration::milliseconds(8);
        span_row(w, run, run_end, buf);
        let traced = |c: &'w Call, name: &'static str, node_type: &'static str| -> Gen<'w> {
            Gen {
                id: c.id,
                trace_id: run.msg_id,
                parent: Some(run.run_id),
                name,
                trace_name: "message",
                trace_time: run.t0,
                call: Some(c),
                model: c.model,
                start: c.t,
                end: c.t + secs_f(c.elapsed),
                level: if c.role == Role::Retry {
                    "ERROR"
                } else {
                    "DEFAULT"
                },
                status: (c.role == Role::Retry).then_some(super::dify::TIMEOUT_ERROR),
                node_type: Some(node_type),
                user,
                session: run.conv,
            }
        };
        for s in &run.steps {
            match s {
                Step::Classifier(i) => generation(
                    w,
                    &mut rng,
                    traced(&w.calls[*i], "Question Classifier", "question-classifier"),
                    buf,
                ),
                Step::Iteration { children, .. } => {
                    for i in children {
                        generation(
                            w,
                            &mut rng,
                            traced(&w.calls[*i], "Summarize Chunk", "llm"),
                            buf,
                        );
                    }
                }
                Step::Retry { call, .. } | Step::Answer(call) => {
                    generation(w, &mut rng, traced(&w.calls[*call], "Answer", "llm"), buf)
                }
                Step::Rejected { t, elapsed, id } => generation(
                    w,
                    &mut rng,
                    Gen {
                        id: *id,
                        trace_id: run.msg_id,
                        parent: Some(run.run_id),
                        name: "Answer",
                        trace_name: "message",
                        trace_time: run.t0,
                        call: None,
                        model: BIG,
                        start: *t,
                        end: *t + secs_f(*elapsed),
                        level: "ERROR",
                        status: Some(super::dify::REJECT_ERROR),
                        node_type: Some("llm"),
                        user,
                        session: run.conv,
                    },
                    buf,
                ),
            }
        }
        if let Some(i) = run.aux {
            let c = &w.calls[i];
            let kind = match c.role {
                Role::Aux(k) => k,
                _ => super::world::AuxKind::Name,
            };
            let trace_id = rng.u128();
            generation(
                w,
                &mut rng,
                Gen {
                    id: c.id,
                    trace_id,
                    parent: None,
                    name: kind.name(),
                    trace_name: kind.name(),
                    trace_time: c.t,
                    call: Some(c),
                    model: c.model,
                    start: c.t,
                    end: end_of(c),
                    level: "DEFAULT",
                    status: None,
                    node_type: None,
                    user,
                    session: run.conv,
                },
                buf,
            );
        }
        f.write_all(buf.as_bytes()).map_err(io_err(FILE))?;
    }
    Ok(())
}
