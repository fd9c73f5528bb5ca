//! Dify's view: the `messages` and `workflow_node_executions` tables of a chatflow app
//! (`app_mode` `advanced-chat`), as `psql \copy (select …) to … csv header` writes them.
//!
//! Shapes: langgenius/dify `api/models/model.py` (Message), `api/models/workflow.py`
//! (WorkflowNodeExecution), `core/model_runtime/entities/llm_entities.py` (LLMUsage, pydantic:
//! decimals as `str(Decimal)`), `core/workflow/workflow_type_encoder.py` (execution_metadata:
//! Decimal → float → JSON). What Dify records: only the final attempt of a call (a `retry` row
//! without usage for the failed one), 0 tokens for a stopped stream (`stopped`), its own price
//! (configured unit prices, HALF_UP to 7 places), the Anthropic plugin's folded cache; never
//! embeddings, conversation naming or suggested questions.

use super::fmt::{J, csv_field, f3, pg_ts, py_decimal, py_float, uuid};
use super::world::{
    ANSWER_TEXT, Call, DifyRec, QUERIES, Role, Run, SMALL, STOPPED_TEXT, Step, World,
};
use super::{Provider, Rng, create, io_err};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::io::Write;
use std::path::Path;

pub const MESSAGES: &str = "dify_messages.csv";
pub const NODES: &str = "dify_node_executions.csv";
/// The second, overlapping node export (double counting).
pub const NODES_2: &str = "dify_node_executions_2.csv";

const NODE_COLS: [&str; 23] = [
    "id",
    "tenant_id",
    "app_id",
    "workflow_id",
    "triggered_from",
    "workflow_run_id",
    "index",
    "predecessor_node_id",
    "node_execution_id",
    "node_id",
    "node_type",
    "title",
    "inputs",
    "process_data",
    "outputs",
    "status",
    "error",
    "elapsed_time",
    "execution_metadata",
    "created_at",
    "created_by_role",
    "created_by",
    "finished_at",
];
const MSG_COLS: [&str; 32] = [
    "id",
    "app_id",
    "model_provider",
    "model_id",
    "override_model_configs",
    "conversation_id",
    "inputs",
    "query",
    "message",
    "message_tokens",
    "message_unit_price",
    "message_price_unit",
    "answer",
    "answer_tokens",
    "answer_unit_price",
    "answer_price_unit",
    "parent_message_id",
    "provider_response_latency",
    "total_price",
    "currency",
    "from_source",
    "from_end_user_id",
    "from_account_id",
    "created_at",
    "updated_at",
    "agent_based",
    "workflow_run_id",
    "status",
    "error",
    "message_metadata",
    "invoke_from",
    "app_mode",
];

pub const NODE_START: &str = "1759190400001";
pub const NODE_CLASSIFIER: &str = "1759190400002";
pub const NODE_ITERATION: &str = "1759190400003";
pub const NODE_CHILD: &str = "1759190400004";
pub const NODE_LLM: &str = "llm";
const NODE_ANSWER: &str = "answer";
const NODE_END: &str = "1759190400009";

pub const REJECT_ERROR: &str = "[openai] Bad Request Error, Error code: 400 - {'error': {'message': 'Invalid prompt: your prompt was flagged as potentially violating our usage policy.', 'type': 'invalid_request_error', 'code': 'invalid_prompt'}}";
pub const TIMEOUT_ERROR: &str = "Request timed out.";

/// Python's `json.dumps` default separators.
fn py(j: &J) -> String {
    j.line(", ", ": ")
}

fn plugin(p: Provider) -> &'static str {
    match p {
        Provider::Openai => "langgenius/openai/openai",
        Provider::Anthropic => "langgenius/anthropic/anthropic",
    }
}

/// A configured unit price as Dify reads it from the model YAML (`"2.00"`, `"0.548"`).
fn unit_str(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    py_decimal(d)
}

// LLMUsage's own fields, in its order; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
fn usage_json(
    prompt: i64,
    completion: i64,
    ip: Decimal,
    op: Decimal,
    pp: Decimal,
    cp: Decimal,
    latency: f64,
    ttft: Option<f64>,
) -> Vec<(&'static str, J)> {
    let unit = "0.000001";
    let mut v = vec![
        ("prompt_tokens", J::Int(prompt)),
        ("prompt_unit_price", J::s(unit_str(ip))),
        ("prompt_price_unit", J::s(unit)),
        ("prompt_price", J::s(py_decimal(pp))),
        ("completion_tokens", J::Int(completion)),
        ("completion_unit_price", J::s(unit_str(op))),
        ("completion_price_unit", J::s(unit)),
        ("completion_price", J::s(py_decimal(cp))),
        ("total_tokens", J::Int(prompt + completion)),
        ("total_price", J::s(py_decimal(pp + cp))),
        ("currency", J::s("USD")),
        ("latency", J::Num(f3(latency))),
    ];
    if let Some(t) = ttft {
        v.push(("time_to_first_token", J::Num(f3(t))));
        v.push(("time_to_generate", J::Num(f3(latency - t))));
    } else {
        v.push(("time_to_first_token", J::Null));
        v.push(("time_to_generate", J::Null));
    }
    v
}

/// `LLMUsage.empty_usage()`: what a stopped stream leaves.
fn empty_usage() -> Vec<(&'static str, J)> {
    let z = || J::s("0.0");
    vec![
        ("prompt_tokens", J::Int(0)),
        ("prompt_unit_price", z()),
        ("prompt_price_unit", z()),
        ("prompt_price", z()),
        ("completion_tokens", J::Int(0)),
        ("completion_unit_price", z()),
        ("completion_price_unit", z()),
        ("completion_price", z()),
        ("total_tokens", J::Int(0)),
        ("total_price", z()),
        ("currency", J::s("USD")),
        ("latency", J::Num("0.0".into())),
        ("time_to_first_token", J::Null),
        ("time_to_generate", J::Null),
    ]
}

fn prompt_msgs(c: &Call, run: &Run) -> J {
    let msg = |role: &str, text: &str| {
        J::Obj(vec![
            ("role", J::s(role)),
            ("text", J::s(text)),
            ("files", J::Arr(vec![])),
        ])
    };
    match &c.prompts {
        Some(p) => J::Arr(p.iter().map(|(r, t)| msg(r, t)).collect()),
        None => J::Arr(vec![
            msg(
                "system",
                if c.model != SMALL {
                    "You are the support assistant."
                } else {
                    "Classify."
                },
            ),
            msg("user", QUERIES[run.query].0),
        ]),
    }
}

struct Node<'a> {
    node_id: &'a str,
    node_type: &'a str,
    title: &'a str,
    start: DateTime<Utc>,
    elapsed: f64,
    status: &'a str,
    inputs: Option<String>,
    process_data: Option<String>,
    outputs: Option<String>,
    error: Option<&'a str>,
    meta: Option<String>,
    id: Option<u128>,
    predecessor: Option<String>,
}

struct RunWriter<'w> {
    w: &'w World,
    rng: &'w mut Rng,
    run: &'w Run,
    index: u32,
    pred: Option<String>,
    rows: Vec<(DateTime<Utc>, String)>,
}

impl RunWriter<'_> {
    fn row(&mut self, n: Node<'_>) {
        self.index += 1;
        let ids = &self.w.ids;
        let id = uuid(n.id.unwrap_or_else(|| self.rng.u128()));
        let exec_id = uuid(self.rng.u128());
        let finished = n.start + super::world::secs_f(n.elapsed);
        let fields: [Option<String>; 23] = [
            Some(id),
            Some(uuid(ids.tenant)),
            Some(uuid(ids.app)),
            Some(uuid(ids.workflow)),
            Some("workflow-run".into()),
            Some(uuid(self.run.run_id)),
            Some(self.index.to_string()),
            n.predecessor,
            Some(exec_id),
            Some(n.node_id.into()),
            Some(n.node_type.into()),
            Some(n.title.into()),
            n.inputs,
            n.process_data,
            n.outputs,
            Some(n.status.into()),
            n.error.map(str::to_string),
            Some(f3(n.elapsed)),
            n.meta,
            Some(pg_ts(n.start)),
            Some("end_user".into()),
            Some(uuid(ids.users[self.run.user])),
            Some(pg_ts(finished)),
        ];
        let mut line = String::with_capacity(1024);
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            csv_field(&mut line, f.as_deref(), true);
        }
        line.push('\n');
        self.rows.push((n.start, line));
    }

    /// A row whose predecessor is the last node that ran, which it then becomes.
    fn chained(&mut self, mut n: Node<'_>) {
        n.predecessor = self.pred.clone();
        let id = n.node_id.to_string();
        self.row(n);
        self.pred = Some(id);
    }

    fn llm(
        &mut self,
        c: &Call,
        node_id: &str,
        node_type: &str,
        title: &str,
        extra_meta: Vec<(&'static str, J)>,
        chained: bool,
    ) {
        let w = self.w;
        let m = &w.models[c.model];
        let zero = DifyRec {
            prompt: 0,
            completion: 0,
            pp: Decimal::ZERO,
            cp: Decimal::ZERO,
            drift: false,
        };
        let d = c.dify.as_ref().unwrap_or(&zero);
        let stopped = c.role == Role::Stopped;
        let ttft = (node_type == "llm").then(|| c.elapsed * self.rng.uniform(0.1, 0.4));
        let usage = if stopped {
            empty_usage()
        } else {
            usage_json(
                d.prompt,
                d.completion,
                m.dify_in,
                m.dify_out,
                d.pp,
                d.cp,
                c.elapsed,
                ttft,
            )
        };
        let pdata = J::Obj(vec![
            ("model_mode", J::s("chat")),
            ("prompts", prompt_msgs(c, self.run)),
            ("usage", J::Obj(usage)),
            (
                "finish_reason",
                if stopped { J::Null } else { J::s("stop") },
            ),
            ("model_provider", J::s(plugin(w.cfg.provider))),
            ("model_name", J::s(m.dify_name)),
        ]);
        let mut meta = vec![
            ("total_tokens", J::Int(d.prompt + d.completion)),
            ("total_price", J::Num(py_float(d.price()))),
            ("currency", J::s("USD")),
        ];
        meta.extend(extra_meta);
        let outputs = if node_type == "llm" {
            let text = match c.role {
                Role::Stopped => STOPPED_TEXT,
                Role::Answer => ANSWER_TEXT,
                _ => "Chunk summary.",
            };
            J::Obj(vec![
                ("text", J::s(text)),
                (
                    "finish_reason",
                    if stopped { J::Null } else { J::s("stop") },
                ),
            ])
        } else {
            J::Obj(vec![("class_name", J::s(QUERIES[self.run.query].1))])
        };
        let n = Node {
            node_id,
            node_type,
            title,
            start: c.t,
            elapsed: c.elapsed,
            status: if stopped { "stopped" } else { "succeeded" },
            inputs: Some("{}".into()),
            process_data: Some(py(&pdata)),
            outputs: Some(py(&outputs)),
            error: None,
            meta: Some(py(&J::Obj(meta))),
            id: Some(c.id),
            predecessor: None,
        };
        if chained {
            self.chained(n);
        } else {
            self.row(n);
        }
    }
}

fn plain_node<'a>(
    node_id: &'a str,
    node_type: &'a str,
    title: &'a str,
    start: DateTime<Utc>,
    elapsed: f64,
) -> Node<'a> {
    Node {
        node_id,
        node_type,
        title,
        start,
        elapsed,
        status: "succeeded",
        inputs: None,
        process_data: None,
        outputs: None,
        error: None,
        meta: None,
        id: None,
        predecessor: None,
    }
}

/// Writes the two (or, with overlapping exports, three) Dify files; returns their names.
/// Several worlds (one app per provider) go into the same files, one world's rows after the
/// other's, as one export of the workspace's tables holds every app.
pub fn write(ws: &[World], out: &Path) -> Result<Vec<String>, String> {
    let mut msgs = create(out, MESSAGES)?;
    let mut nodes = create(out, NODES)?;
    let mut nodes2 = if ws.iter().any(|w| w.node_cut.is_some()) {
        Some(create(out, NODES_2)?)
    } else {
        None
    };
    let header = |cols: &[&str]| cols.join(",") + "\n";
    msgs.write_all(header(&MSG_COLS).as_bytes())
        .map_err(io_err(MESSAGES))?;
    nodes
        .write_all(header(&NODE_COLS).as_bytes())
        .map_err(io_err(NODES))?;
    if let Some(n2) = nodes2.as_mut() {
        n2.write_all(header(&NODE_COLS).as_bytes())
            .map_err(io_err(NODES_2))?;
    }
    let mut line = String::with_capacity(4096);
    for w in ws {
        write_world(w, &mut msgs, &mut nodes, nodes2.as_mut(), &mut line)?;
    }
    msgs.flush().map_err(io_err(MESSAGES))?;
    nodes.flush().map_err(io_err(NODES))?;
    let mut names = vec![MESSAGES.to_string(), NODES.to_string()];
    if let Some(mut n2) = nodes2 {
        n2.flush().map_err(io_err(NODES_2))?;
        names.push(NODES_2.to_string());
    }
    Ok(names)
}

/// One world's rows of the Dify files.
fn write_world(
    w: &World,
    msgs: &mut impl Write,
    nodes: &mut impl Write,
    mut nodes2: Option<&mut impl Write>,
    line: &mut String,
) -> Result<(), String> {
    let mut rng = Rng::new(w.cfg.seed ^ 0xD1F7_0000_0000_0001);
    for run in &w.runs {
        let mut rw = RunWriter {
            w,
            rng: &mut rng,
            run,
            index: 0,
            pred: None,
            rows: Vec::new(),
        };
        let query = QUERIES[run.query].0;
        let start_at = run.t0 + rw.rng.secs(0.001, 0.004);
        let mut n = plain_node(NODE_START, "start", "Start", start_at, 0.002);
        n.inputs = Some(py(&J::Obj(vec![
            ("sys.query", J::s(query)),
            ("sys.files", J::Arr(vec![])),
            ("sys.dialogue_count", J::Int(run.dialogue as i64)),
        ])));
        n.outputs = Some(py(&J::Obj(vec![("sys.query", J::s(query))])));
        rw.chained(n);

        let mut counted: Vec<&Call> = Vec::new();
        let mut end = run.t0;
        for step in &run.steps {
            match step {
                Step::Classifier(i) => {
                    let c = &w.calls[*i];
                    rw.llm(
                        c,
                        NODE_CLASSIFIER,
                        "question-classifier",
                        "Question Classifier",
                        vec![],
                        true,
                    );
                    counted.push(c);
                    end = c.t + super::world::secs_f(c.elapsed);
                }
                Step::Iteration {
                    start,
                    end: it_end,
                    children,
                    ..
                } => {
                    let kids: Vec<&Call> = children.iter().map(|i| &w.calls[*i]).collect();
                    let tokens: i64 = kids
                        .iter()
                        .filter_map(|k| k.dify.as_ref())
                        .map(|d| d.prompt + d.completion)
                        .sum();
                    let price: Decimal = kids
                        .iter()
                        .filter_map(|k| k.dify.as_ref())
                        .map(DifyRec::price)
                        .sum();
                    let el = (*it_end - *start).num_microseconds().unwrap_or(0) as f64 / 1e6;
                    let mut n = plain_node(NODE_ITERATION, "iteration", "Iteration", *start, el);
                    n.inputs = Some(py(&J::Obj(vec![(
                        "iterator_selector",
                        J::Arr(vec![J::s("chunks")]),
                    )])));
                    n.outputs = Some(py(&J::Obj(vec![(
                        "output",
                        J::Arr(kids.iter().map(|_| J::s("...")).collect()),
                    )])));
                    let durations = kids
                        .iter()
                        .enumerate()
                        .map(|(i, k)| (i.to_string(), J::Num(f3(k.elapsed))))
                        .collect();
                    // The container row carries the SUM of its children.
                    n.meta = Some(py(&J::Obj(vec![
                        ("total_tokens", J::Int(tokens)),
                        ("total_price", J::Num(py_float(price))),
                        ("currency", J::s("USD")),
                        ("iteration_duration_map", J::Map(durations)),
                    ])));
                    n.id = match step {
                        Step::Iteration { id, .. } => Some(*id),
                        _ => None,
                    };
                    rw.chained(n);
                    for (i, k) in kids.iter().enumerate() {
                        rw.llm(
                            k,
                            NODE_CHILD,
                            "llm",
                            "Summarize Chunk",
                            vec![
                                ("iteration_id", J::s(NODE_ITERATION)),
                                ("iteration_index", J::Int(i as i64)),
                            ],
                            false,
                        );
                        counted.push(k);
                    }
                    end = *it_end;
                }
                Step::Retry { call, row_id } => {
                    let c = &w.calls[*call];
                    let mut n = plain_node(NODE_LLM, "llm", "Answer", c.t, c.elapsed);
                    n.status = "retry";
                    n.inputs = Some("{}".into());
                    n.error = Some(TIMEOUT_ERROR);
                    n.meta = Some("{}".into());
                    n.id = Some(*row_id);
                    n.predecessor = rw.pred.clone();
                    rw.row(n);
                }
                Step::Rejected { t, elapsed, id } => {
                    let mut n = plain_node(NODE_LLM, "llm", "Answer", *t, *elapsed);
                    n.status = "failed";
                    n.inputs = Some(py(&J::Obj(vec![("query", J::s(query))])));
                    n.error = Some(REJECT_ERROR);
                    n.meta = Some("{}".into());
                    n.id = Some(*id);
                    rw.chained(n);
                    end = *t + super::world::secs_f(*elapsed);
                }
                Step::Answer(i) => {
                    let c = &w.calls[*i];
                    rw.llm(c, NODE_LLM, "llm", "Answer", vec![], true);
                    counted.push(c);
                    end = c.t + super::world::secs_f(c.elapsed);
                    if c.role == Role::Answer {
                        let s = end + rw.rng.secs(0.001, 0.005);
                        let mut n = plain_node(NODE_ANSWER, "answer", "Direct Reply", s, 0.001);
                        n.inputs = Some("{}".into());
                        n.outputs = Some(py(&J::Obj(vec![("answer", J::s(ANSWER_TEXT))])));
                        rw.chained(n);
                        let s2 = s + rw.rng.secs(0.002, 0.006);
                        let mut n = plain_node(NODE_END, "end", "End", s2, 0.001);
                        n.inputs = Some("{}".into());
                        n.outputs = Some("{}".into());
                        rw.chained(n);
                        end = s2 + chrono::Duration::milliseconds(1);
                    }
                }
            }
        }
        for (t, row) in std::mem::take(&mut rw.rows) {
            match w.node_cut {
                None => nodes.write_all(row.as_bytes()).map_err(io_err(NODES))?,
                Some((cut1, cut2)) => {
                    if t < cut1 {
                        nodes.write_all(row.as_bytes()).map_err(io_err(NODES))?;
                    }
                    if t >= cut2
                        && let Some(n2) = nodes2.as_mut()
                    {
                        n2.write_all(row.as_bytes()).map_err(io_err(NODES_2))?;
                    }
                }
            }
        }

        // messages row: a chatflow sums its counted LLM nodes; unit prices of the LAST usage
        let recs: Vec<&DifyRec> = counted.iter().filter_map(|c| c.dify.as_ref()).collect();
        let msg_tokens: i64 = recs.iter().map(|d| d.prompt).sum();
        let ans_tokens: i64 = recs.iter().map(|d| d.completion).sum();
        let pp: Decimal = recs.iter().map(|d| d.pp).sum();
        let cp: Decimal = recs.iter().map(|d| d.cp).sum();
        let last = counted
            .iter()
            .rev()
            .find(|c| c.role != Role::Stopped)
            .map(|c| &w.models[c.model])
            .unwrap_or(&w.models[0]);
        let latency = (end - run.t0).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let mut mu = usage_json(
            msg_tokens,
            ans_tokens,
            last.dify_in,
            last.dify_out,
            pp,
            cp,
            latency,
            None,
        );
        mu.retain(|(k, _)| !k.starts_with("time_to"));
        let answer = if run.failed {
            ""
        } else if run.stopped {
            STOPPED_TEXT
        } else {
            ANSWER_TEXT
        };
        let fields: [Option<String>; 32] = [
            Some(uuid(run.msg_id)),
            Some(uuid(w.ids.app)),
            None,
            None,
            None,
            Some(uuid(run.conv)),
            Some("{}".into()),
            Some(query.into()),
            Some(py(&J::Arr(vec![J::Obj(vec![
                ("role", J::s("user")),
                ("text", J::s(query)),
                ("files", J::Arr(vec![])),
            ])]))),
            Some(msg_tokens.to_string()),
            Some(format!("{:.4}", last.dify_in)),
            Some("0.0000010".into()),
            Some(answer.into()),
            Some(ans_tokens.to_string()),
            Some(format!("{:.4}", last.dify_out)),
            Some("0.0000010".into()),
            run.parent.map(uuid),
            Some(f3(latency)),
            Some(format!("{:.7}", pp + cp)),
            Some("USD".into()),
            Some("api".into()),
            Some(uuid(w.ids.users[run.user])),
            None,
            Some(pg_ts(run.t0)),
            Some(pg_ts(end)),
            Some("f".into()),
            Some(uuid(run.run_id)),
            Some(if run.failed { "error" } else { "normal" }.into()),
            run.failed.then(|| REJECT_ERROR.to_string()),
            Some(py(&J::Obj(vec![
                ("usage", J::Obj(mu)),
                ("retriever_resources", J::Arr(vec![])),
            ]))),
            Some(if run.web { "web-app" } else { "service-api" }.into()),
            Some("advanced-chat".into()),
        ];
        line.clear();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            csv_field(line, f.as_deref(), true);
        }
        line.push('\n');
        msgs.write_all(line.as_bytes()).map_err(io_err(MESSAGES))?;
    }
    Ok(())
}
