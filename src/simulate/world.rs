//! The underlying world: every provider request (what the bill counts), the workflow runs that
//! made the app's requests, and what Dify recorded about each.

use super::{Config, Provider, Rng};
use crate::reconcile::causes::{
    auxiliary_calls, cache_hits, cache_write_folding, double_counting, embeddings,
    multimodal_tokens, price_mismatch, reasoning_tokens, retries, service_tier,
    streaming_interruption, tokenizer_drift, unattributed_traffic, unexplained,
    window_misalignment,
};

use crate::catalog;
use crate::pricing::{PriceBook, tier::Conditions};
use crate::reconcile::window::{BucketSize, Calendar};
use crate::record::{Usage, UsageClass};
use crate::tokenize::chat::{Framing, count_chat};
use crate::tokenize::dify::gpt2_estimate;
use crate::tokenize::{Encoding, Tokenizer};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// Token classes the world uses, in truth order.
pub const IN: usize = 0;
pub const CR: usize = 1;
pub const W5: usize = 2;
pub const W1: usize = 3;
pub const OUT: usize = 4;
/// Image input (`multimodal_tokens`): the bill counts it apart, Dify and Langfuse as text.
pub const IMG: usize = 5;
/// Thinking output (`reasoning_tokens`): Langfuse counts it apart, Dify and the bill as output.
pub const RSN: usize = 6;
pub const CLASS_NAMES: [&str; 7] = [
    "input",
    "input_cache_read",
    "input_cache_write_5m",
    "input_cache_write_1h",
    "output",
    "input_image",
    "output_reasoning",
];
const CLASSES: [UsageClass; 7] = [
    UsageClass::Input,
    UsageClass::InputCacheRead,
    UsageClass::InputCacheWrite5m,
    UsageClass::InputCacheWrite1h,
    UsageClass::Output,
    UsageClass::InputImage,
    UsageClass::OutputReasoning,
];
pub type Tokens = [i64; 7];

/// `a += b × times`, class by class.
pub fn add_tokens(a: &mut Tokens, b: &Tokens, times: i64) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y * times;
    }
}

pub fn input_total(u: &Tokens) -> i64 {
    u[IN] + u[CR] + u[W5] + u[W1] + u[IMG]
}

/// A call's usage as Dify and Langfuse see it: image input counted as text input.
pub fn as_text(u: &Tokens) -> Tokens {
    let mut t = *u;
    t[IN] += t[IMG];
    t[IMG] = 0;
    t
}

/// A call's usage as Dify and OpenAI's usage pages see it: thinking counted as output
/// (`completion_tokens` and `output_tokens` include the reasoning tokens).
pub fn folded(u: &Tokens) -> Tokens {
    let mut t = *u;
    t[OUT] += t[RSN];
    t[RSN] = 0;
    t
}

/// Thinking tokens of one planted reasoning-model answer (`reasoning_tokens`; the `--cause`
/// help text says 1,536).
pub const REASONING_TOKENS: i64 = 1_536;

/// Tokens of one planted image (OpenAI, gpt-4.1 family, 1024 × 1024 at high detail).
pub const IMAGE_TOKENS: i64 = 765;

/// A model as each view names it, with the table's prices and Dify's configured ones.
pub struct Model {
    /// `process_data.model_name` in Dify.
    pub dify_name: &'static str,
    /// What the provider reports (bill, Langfuse).
    pub bill_name: &'static str,
    /// Anthropic cost-report description prefix (`Claude Sonnet 4.5`).
    pub display: &'static str,
    pub provider: String,
    pub canonical: String,
    /// Table price per token per class (the report's price tables).
    pub price: [Decimal; 7],
    /// The same at OpenAI's priority tier, when the table prices it.
    pub priority: Option<[Decimal; 7]>,
    /// Dify's configured unit prices per 1M tokens (`numeric(10,4)`).
    pub dify_in: Decimal,
    pub dify_out: Decimal,
    pub langfuse_id: &'static str,
}

impl Model {
    /// Table cost of provider usage.
    pub fn table(&self, u: &Tokens) -> Decimal {
        cost(&self.price, u)
    }

    /// Table cost of a call's usage at the tier it was served at.
    pub fn billed(&self, c: &Call) -> Decimal {
        match (c.priority, &self.priority) {
            (true, Some(p)) => cost(p, &c.u),
            _ => self.table(&c.u),
        }
    }
}

fn cost(price: &[Decimal; 7], u: &Tokens) -> Decimal {
    price
        .iter()
        .zip(u)
        .map(|(p, n)| Decimal::from(*n) * p)
        .sum()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxKind {
    Name,
    Suggest,
}

impl AuxKind {
    /// Dify's `TraceTaskName` values for these tasks.
    pub fn name(self) -> &'static str {
        match self {
            AuxKind::Name => "generate_conversation_name",
            AuxKind::Suggest => "suggested_question",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Classifier,
    Child(u8),
    Answer,
    /// An Answer the user stopped mid-stream.
    Stopped,
    /// A failed first attempt that the provider billed.
    Retry,
    Aux(AuxKind),
    /// An app-key call only the bill sees.
    Unexplained,
    Embedding,
    /// Another key's traffic.
    Other,
}

impl Role {
    /// Calls on the app's key that Langfuse traces.
    pub fn traced(self) -> bool {
        matches!(
            self,
            Role::Classifier
                | Role::Child(_)
                | Role::Answer
                | Role::Stopped
                | Role::Retry
                | Role::Aux(_)
        )
    }
    pub fn app_key(self) -> bool {
        self != Role::Other
    }
}

/// What Dify recorded for a call.
#[derive(Clone, Debug)]
pub struct DifyRec {
    pub prompt: i64,
    pub completion: i64,
    pub pp: Decimal,
    pub cp: Decimal,
    pub drift: bool,
}

impl DifyRec {
    pub fn price(&self) -> Decimal {
        self.pp + self.cp
    }
}

/// One provider request.
pub struct Call {
    pub t: DateTime<Utc>,
    pub elapsed: f64,
    pub model: usize,
    pub role: Role,
    /// Provider-reported usage (what the bill counts), `OUT` the visible output and `RSN` the
    /// thinking apart (the usage pages and Dify count both as output: [`folded`]).
    pub u: Tokens,
    pub dify: Option<DifyRec>,
    /// Dify node execution id = Langfuse generation id (a fresh id for failed attempts).
    pub id: u128,
    pub run: usize,
    /// The drift calls' real prompt messages (role, text).
    pub prompts: Option<Vec<(&'static str, String)>>,
    /// OpenAI served it at the priority tier (`service_tier`): the bill prices it so, the
    /// request named no tier, so Dify and Langfuse never know.
    pub priority: bool,
}

pub enum Step {
    Classifier(usize),
    Iteration {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        children: Vec<usize>,
        id: u128,
    },
    Retry {
        call: usize,
        row_id: u128,
    },
    Rejected {
        t: DateTime<Utc>,
        elapsed: f64,
        id: u128,
    },
    /// The Answer call (or a stopped one).
    Answer(usize),
}

pub struct Run {
    pub t0: DateTime<Utc>,
    pub user: usize,
    pub conv: u128,
    pub parent: Option<u128>,
    pub dialogue: u32,
    pub msg_id: u128,
    pub run_id: u128,
    pub web: bool,
    pub query: usize,
    pub steps: Vec<Step>,
    pub aux: Option<usize>,
    pub failed: bool,
    pub stopped: bool,
}

pub struct Ids {
    pub tenant: u128,
    pub app: u128,
    pub workflow: u128,
    pub app_key: String,
    pub app_project: String,
    pub other_key: String,
    pub other_project: String,
    pub langfuse_project: String,
    pub users: Vec<u128>,
}

pub struct World {
    pub cfg: Config,
    pub models: Vec<Model>,
    pub calls: Vec<Call>,
    pub runs: Vec<Run>,
    pub ids: Ids,
    /// Report window (local midnights) and bill span (UTC days covering it).
    pub win: (DateTime<Utc>, DateTime<Utc>),
    pub span: (DateTime<Utc>, DateTime<Utc>),
    /// With double counting: node export 1 covers `[span.0, .1)`, export 2 `[.0, span.1)`.
    pub node_cut: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

pub const SMALL: usize = 0;
pub const BIG: usize = 1;
pub const EMBED: usize = 2;
/// The reasoning model (OpenAI o4-mini), only in a world that plants `reasoning_tokens`.
pub const REASON: usize = 3;

pub const QUERIES: [(&str, &str); 12] = [
    ("How do I reset my password?", "Account"),
    ("Why was I charged twice this month?", "Billing"),
    ("Can I change my invoice address?", "Billing"),
    ("The export button does nothing.", "Technical"),
    ("How do I add a teammate?", "Account"),
    ("Is there an API rate limit?", "Technical"),
    ("Summarize the attached contract terms.", "Documents"),
    ("Where can I download last year's invoices?", "Billing"),
    ("The app is slow when loading reports.", "Technical"),
    ("Compare the Pro and Team plans.", "Sales"),
    ("How do I enable SSO?", "Account"),
    ("Translate the refund policy into English.", "Documents"),
];
pub const ANSWER_TEXT: &str = "See the help center article on this.";
pub const STOPPED_TEXT: &str = "See the help";

/// Messages per hour by local hour (office hours busiest), before scaling to `--calls`.
const HOUR_WEIGHT: [f64; 24] = [
    1.2, 0.8, 0.5, 0.5, 0.5, 0.5, 0.6, 0.8, 1.0, 4.0, 4.0, 4.0, 2.5, 2.5, 4.0, 4.0, 4.0, 4.0, 2.0,
    2.0, 2.0, 1.5, 1.5, 1.2,
];
/// Longest run (classifier, iteration, a timed-out attempt, the answer, an auxiliary call):
/// runs start at least this long before the end of their region so they never cross it.
const RUN_MARGIN_S: i64 = 150;

fn alnum(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n).map(|_| A[rng.index(A.len())] as char).collect()
}

/// Dify: `tokens × unit_price × price_unit`, HALF_UP to 7 places (kept at scale 7, as
/// `Decimal.quantize` leaves it).
pub fn dify_price(tokens: i64, unit_per_1m: Decimal) -> Decimal {
    let mut d = (Decimal::from(tokens) * unit_per_1m * Decimal::new(1, 6))
        .round_dp_with_strategy(7, RoundingStrategy::MidpointAwayFromZero);
    d.rescale(7);
    d
}

fn model_list(cfg: &Config, at: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<Model>, String> {
    let book = PriceBook::bundled().map_err(|e| format!("bundled price tables: {e}"))?;
    let specs: &[(&str, &str, &str, &str)] = match cfg.provider {
        Provider::Openai => &[
            (
                "gpt-4.1-mini",
                "gpt-4.1-mini-2025-04-14",
                "",
                "b9854a5c92dc496b997d99d21",
            ),
            (
                "gpt-4.1",
                "gpt-4.1-2025-04-14",
                "",
                "b9854a5c92dc496b997d99d20",
            ),
            (
                "text-embedding-3-small",
                "text-embedding-3-small",
                "",
                "b9854a5c92dc496b997d99d22",
            ),
        ],
        Provider::Anthropic => &[
            (
                "claude-haiku-4-5-20251001",
                "claude-haiku-4-5-20251001",
                "Claude Haiku 4.5",
                "c1d2e3f4a5b6c7d8e9f0a1b21",
            ),
            (
                "claude-sonnet-4-5-20250929",
                "claude-sonnet-4-5-20250929",
                "Claude Sonnet 4.5",
                "c1d2e3f4a5b6c7d8e9f0a1b20",
            ),
        ],
    };
    // The reasoning model only where it is planted, so other worlds keep their model list.
    let reasoning: &[(&str, &str, &str, &str)] =
        if cfg.provider == Provider::Openai && cfg.amount(reasoning_tokens::NAME) > 0.0 {
            &[(
                "o4-mini",
                "o4-mini-2025-04-16",
                "",
                "b9854a5c92dc496b997d99d23",
            )]
        } else {
            &[]
        };
    let factor = Decimal::try_from(1.0 + cfg.amount(price_mismatch::NAME))
        .map_err(|e| format!("--cause price_mismatch: {e}"))?
        .round_dp(6);
    let mut out = Vec::new();
    for &(dify_name, bill_name, display, langfuse_id) in specs.iter().chain(reasoning) {
        let c = catalog::canonicalize(Some(cfg.provider.name()), bill_name);
        let e = book
            .lookup(&c.provider, bill_name, &c.model, at)
            .ok_or_else(|| format!("{bill_name}: no price entry in force at {at}"))?;
        let e_end = book.lookup(
            &c.provider,
            bill_name,
            &c.model,
            end - Duration::microseconds(1),
        );
        if e_end.map(|x| &x.id) != Some(&e.id) {
            return Err(format!(
                "{bill_name}: its price changes inside the simulated span; pick another --start"
            ));
        }
        let mut price = [Decimal::ZERO; 7];
        let mut priority = Some([Decimal::ZERO; 7]);
        for (k, class) in CLASSES.iter().enumerate() {
            price[k] = e.unit_price(*class).unwrap_or(Decimal::ZERO);
            // One token of the class at the priority tier: its unit price there, as the
            // reconcile prices a priority line (the tier reprices class by class).
            let one = Usage::of(&[(*class, 1)]);
            let p = e
                .quote(&one, &Conditions::call(at, Some("priority")), &[])
                .ok()
                .map(|q| q.cost);
            priority = priority.zip(p).map(|(mut a, p)| {
                a[k] = p;
                a
            });
        }
        let m = Decimal::from(1_000_000);
        out.push(Model {
            dify_name,
            bill_name,
            display,
            provider: c.provider,
            canonical: c.model,
            price,
            priority,
            dify_in: (price[IN] * m * factor).round_dp(4).normalize(),
            dify_out: (price[OUT] * m * factor).round_dp(4).normalize(),
            langfuse_id,
        });
    }
    Ok(out)
}

/// Hours of the span with their message weight, split by region (in the window or not).
struct Hours {
    starts: Vec<DateTime<Utc>>,
    cum: Vec<f64>,
}

impl Hours {
    fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }
    fn sample(&self, rng: &mut Rng, ok: impl Fn(DateTime<Utc>) -> bool) -> DateTime<Utc> {
        loop {
            let r = rng.f64() * self.total();
            let i = self
                .cum
                .partition_point(|c| *c <= r)
                .min(self.starts.len() - 1);
            let t = self.starts[i] + rng.secs(0.0, 3_599.999_999);
            if ok(t) {
                return t;
            }
        }
    }
}

impl World {
    pub fn build(cfg: &Config) -> Result<World, String> {
        let (ws, we) = super::window(cfg)?;
        let utc_day = Calendar {
            tz: chrono_tz::UTC,
            bucket: BucketSize::Day,
        };
        let span_start = utc_day.floor(ws);
        let span_end = {
            let f = utc_day.floor(we);
            if f == we { we } else { f + Duration::days(1) }
        };
        let models = model_list(cfg, span_start, span_end)?;
        let amt = |c: &str| cfg.amount(c);
        let mut rng = Rng::new(cfg.seed);

        let openai = cfg.provider == Provider::Openai;
        let (app_key, app_project, other_key, other_project) = if openai {
            (
                format!("key_{}", alnum(&mut rng, 16)),
                format!("proj_{}", alnum(&mut rng, 24)),
                format!("key_{}", alnum(&mut rng, 16)),
                format!("proj_{}", alnum(&mut rng, 24)),
            )
        } else {
            (
                format!("apikey_01{}", alnum(&mut rng, 22)),
                format!("wrkspc_01{}", alnum(&mut rng, 22)),
                format!("apikey_01{}", alnum(&mut rng, 22)),
                format!("wrkspc_01{}", alnum(&mut rng, 22)),
            )
        };
        let n_users = (cfg.calls / 11).clamp(10, 5000);
        let ids = Ids {
            tenant: rng.u128(),
            app: rng.u128(),
            workflow: rng.u128(),
            app_key,
            app_project,
            other_key,
            other_project,
            langfuse_project: format!("cm{}", alnum(&mut rng, 23).to_ascii_lowercase()),
            users: (0..n_users).map(|_| rng.u128()).collect(),
        };

        // ---- when messages happen
        let in_win = |t: DateTime<Utc>| ws <= t && t < we;
        let in_span = |t: DateTime<Utc>| span_start <= t && t < span_end;
        let margin = Duration::seconds(RUN_MARGIN_S);
        let mut win_hours = Hours {
            starts: vec![],
            cum: vec![],
        };
        let mut edge_hours = Hours {
            starts: vec![],
            cum: vec![],
        };
        let (mut w_win, mut w_edge) = (0.0, 0.0);
        let mut h = span_start;
        while h < span_end {
            let local = h.with_timezone(&cfg.tz);
            let mut w = HOUR_WEIGHT[local.hour() as usize];
            if local.weekday().number_from_monday() >= 6 {
                w *= 0.5;
            }
            let hend = h + Duration::hours(1);
            if in_win(h) || in_win(hend - Duration::microseconds(1)) {
                w_win += w;
                win_hours.starts.push(h);
                win_hours.cum.push(w_win);
            }
            if !in_win(h) || !in_win(hend - Duration::microseconds(1)) {
                w_edge += w;
                edge_hours.starts.push(h);
                edge_hours.cum.push(w_edge);
            }
            h = hend;
        }
        let mut starts: Vec<DateTime<Utc>> = (0..cfg.calls)
            .map(|_| win_hours.sample(&mut rng, |t| in_win(t) && in_win(t + margin)))
            .collect();
        let edge_runs = if w_edge > 0.0 {
            (amt(window_misalignment::NAME) * cfg.calls as f64 * w_edge / w_win).round() as usize
        } else {
            0
        };
        for _ in 0..edge_runs {
            starts.push(edge_hours.sample(&mut rng, |t| {
                !in_win(t) && !in_win(t + margin) && in_span(t + margin)
            }));
        }
        starts.sort();

        // ---- the runs and their calls
        let mut calls: Vec<Call> = Vec::new();
        let mut runs: Vec<Run> = Vec::with_capacity(starts.len());
        // Per user: (conversation, last message, its time, dialogue count).
        type Conv = Option<(u128, u128, DateTime<Utc>, u32)>;
        let mut last_conv: Vec<Conv> = vec![None; n_users];
        let small_price =
            |m: &Model, p: i64, c: i64| (dify_price(p, m.dify_in), dify_price(c, m.dify_out));
        for t0 in starts {
            let ri = runs.len();
            let user = rng.index(n_users);
            let (conv, parent, dialogue) = match last_conv[user] {
                Some((c, last, at, n)) if t0 - at < Duration::hours(3) && rng.chance(0.6) => {
                    (c, Some(last), n + 1)
                }
                _ => (rng.u128(), None, 1),
            };
            let msg_id = rng.u128();
            last_conv[user] = Some((conv, msg_id, t0, dialogue));
            let run_id = rng.u128();
            let web = !rng.chance(0.8);
            let query = rng.index(QUERIES.len());
            let mut steps = Vec::new();

            if amt(embeddings::NAME) > 0.0 {
                calls.push(Call {
                    t: t0,
                    elapsed: 0.1,
                    model: EMBED,
                    role: Role::Embedding,
                    u: [rng.int(15, 60), 0, 0, 0, 0, 0, 0],
                    dify: None,
                    id: 0,
                    run: ri,
                    prompts: None,
                    priority: false,
                });
            }
            let mut clock = t0 + rng.secs(0.01, 0.05);

            // question classifier
            let (p, c) = (rng.int(300, 900), rng.int(1, 10));
            let m = &models[SMALL];
            let mut rec = DifyRec {
                prompt: p,
                completion: c,
                pp: Decimal::ZERO,
                cp: Decimal::ZERO,
                drift: false,
            };
            if openai && rng.chance(amt(tokenizer_drift::NAME)) {
                rec.drift = true;
                rec.prompt = (p as f64 * rng.uniform(0.30, 0.60)).round() as i64;
                rec.completion = (c + rng.int(-3, 3)).max(1);
            }
            (rec.pp, rec.cp) = small_price(m, rec.prompt, rec.completion);
            let elapsed = rng.uniform(0.4, 1.5);
            calls.push(Call {
                t: clock,
                elapsed,
                model: SMALL,
                role: Role::Classifier,
                u: [p, 0, 0, 0, c, 0, 0],
                dify: Some(rec),
                id: rng.u128(),
                run: ri,
                prompts: None,
                priority: false,
            });
            steps.push(Step::Classifier(calls.len() - 1));
            clock = clock + secs_f(elapsed) + rng.secs(0.005, 0.03);

            // iteration over 2-3 chunks: the container row repeats its children's sum
            if rng.chance(amt(double_counting::NAME)) {
                let start = clock;
                let id = rng.u128();
                clock += rng.secs(0.005, 0.02);
                let mut children = Vec::new();
                for i in 0..rng.int(2, 3) {
                    let (p, c) = (rng.int(400, 1500), rng.int(50, 400));
                    let (pp, cp) = small_price(m, p, c);
                    let elapsed = rng.uniform(0.8, 4.0);
                    calls.push(Call {
                        t: clock,
                        elapsed,
                        model: SMALL,
                        role: Role::Child(i as u8),
                        u: [p, 0, 0, 0, c, 0, 0],
                        dify: Some(DifyRec {
                            prompt: p,
                            completion: c,
                            pp,
                            cp,
                            drift: false,
                        }),
                        id: rng.u128(),
                        run: ri,
                        prompts: None,
                        priority: false,
                    });
                    children.push(calls.len() - 1);
                    clock = clock + secs_f(elapsed) + rng.secs(0.005, 0.02);
                }
                steps.push(Step::Iteration {
                    start,
                    end: clock,
                    children,
                    id,
                });
            }

            // the answer, maybe after a billed gateway timeout, maybe rejected outright
            let big = &models[BIG];
            let prompt = rng.int(1200, 6000);
            if rng.chance(amt(retries::NAME)) {
                let elapsed = rng.uniform(60.0, 60.4);
                calls.push(Call {
                    t: clock,
                    elapsed,
                    model: BIG,
                    role: Role::Retry,
                    u: [prompt, 0, 0, 0, rng.int(80, 900), 0, 0],
                    dify: None,
                    id: rng.u128(),
                    run: ri,
                    prompts: None,
                    priority: false,
                });
                steps.push(Step::Retry {
                    call: calls.len() - 1,
                    row_id: rng.u128(),
                });
                clock = clock + secs_f(elapsed) + rng.secs(1.0, 1.1);
            }
            let mut failed = false;
            let mut stopped = false;
            if rng.chance(0.006) {
                // a content-policy 400: nothing generated, nothing billed, no usage anywhere
                steps.push(Step::Rejected {
                    t: clock,
                    elapsed: rng.uniform(0.2, 0.6),
                    id: rng.u128(),
                });
                failed = true;
            } else {
                let mut u: Tokens = [0; 7];
                if openai {
                    if rng.chance(amt(cache_hits::NAME)) {
                        u[CR] = 1024 + 128 * rng.int(0, (prompt - 1024) / 128);
                    }
                } else {
                    if rng.chance(amt(cache_hits::NAME)) {
                        u[CR] = rng.int(prompt / 4, prompt / 2);
                    }
                    if rng.chance(amt(cache_write_folding::NAME)) {
                        let w = rng.int(256, prompt - u[CR] - 100);
                        u[if rng.chance(0.25) { W1 } else { W5 }] = w;
                    }
                }
                u[IN] = prompt - u[CR] - u[W5] - u[W1];
                u[OUT] = rng.int(80, 900);
                let mut elapsed = rng.uniform(1.5, 12.0);
                let mut role = Role::Answer;
                let rec = if rng.chance(amt(streaming_interruption::NAME)) {
                    // the user stopped the stream: the provider reports what it generated
                    let full = u[OUT];
                    u[OUT] = rng.int(1, full);
                    elapsed = (elapsed * u[OUT] as f64 / full as f64).max(0.3);
                    role = Role::Stopped;
                    stopped = true;
                    DifyRec {
                        prompt: 0,
                        completion: 0,
                        pp: Decimal::ZERO,
                        cp: Decimal::ZERO,
                        drift: false,
                    }
                } else {
                    // OpenAI plugin: prompt_tokens include cached tokens. Anthropic plugin:
                    // cache folded with weights, as Python's int(x * w).
                    let p = if openai {
                        prompt
                    } else {
                        u[IN]
                            + (u[W5] as f64 * 1.25) as i64
                            + (u[W1] as f64 * 2.0) as i64
                            + (u[CR] as f64 * 0.1) as i64
                    };
                    let (pp, cp) = small_price(big, p, u[OUT]);
                    DifyRec {
                        prompt: p,
                        completion: u[OUT],
                        pp,
                        cp,
                        drift: false,
                    }
                };
                // An image attached to the question (`multimodal_tokens`): 765 tokens, a
                // 1024 × 1024 image at high detail (85 + 4 tiles × 170). OpenAI counts it in
                // `prompt_tokens`, which Dify records and Langfuse keeps as input; the usage
                // pages count it apart, as `input_image_tokens`.
                if openai
                    && role == Role::Answer
                    && amt(multimodal_tokens::NAME) > 0.0
                    && rng.chance(amt(multimodal_tokens::NAME))
                {
                    u[IMG] = IMAGE_TOKENS.min(u[IN]);
                    u[IN] -= u[IMG];
                }
                // A reasoning model answers (`reasoning_tokens`): o4-mini thinks
                // REASONING_TOKENS tokens before the visible answer. OpenAI counts them in
                // `completion_tokens` (and `completion_tokens_details.reasoning_tokens`), which
                // Dify records as the answer's tokens and the usage pages as `output_tokens`;
                // Langfuse keeps them apart as `output_reasoning`.
                let mut model = BIG;
                let mut rec = rec;
                if openai
                    && role == Role::Answer
                    && amt(reasoning_tokens::NAME) > 0.0
                    && rng.chance(amt(reasoning_tokens::NAME))
                {
                    model = REASON;
                    u[RSN] = REASONING_TOKENS;
                    rec.completion += u[RSN];
                    (rec.pp, rec.cp) = small_price(&models[REASON], rec.prompt, rec.completion);
                }
                calls.push(Call {
                    t: clock,
                    elapsed,
                    model,
                    role,
                    u,
                    dify: Some(rec),
                    id: rng.u128(),
                    run: ri,
                    prompts: None,
                    priority: false,
                });
                steps.push(Step::Answer(calls.len() - 1));
                clock = clock + secs_f(elapsed) + rng.secs(0.004, 0.012);
            }

            // conversation naming / suggested questions: Langfuse and the bill only
            let mut aux = None;
            if !failed && !stopped && rng.chance(amt(auxiliary_calls::NAME)) {
                let kind = if dialogue == 1 {
                    AuxKind::Name
                } else {
                    AuxKind::Suggest
                };
                let (p, c) = match kind {
                    AuxKind::Name => (rng.int(100, 400), rng.int(5, 20)),
                    AuxKind::Suggest => (rng.int(300, 1500), rng.int(20, 60)),
                };
                calls.push(Call {
                    t: clock + rng.secs(0.05, 0.5),
                    elapsed: rng.uniform(0.3, 1.2),
                    model: SMALL,
                    role: Role::Aux(kind),
                    u: [p, 0, 0, 0, c, 0, 0],
                    dify: None,
                    id: rng.u128(),
                    run: ri,
                    prompts: None,
                    priority: false,
                });
                aux = Some(calls.len() - 1);
            }

            // an app-key call nothing but the bill sees
            if rng.chance(amt(unexplained::NAME)) {
                let t = t0 + rng.secs(1.0, 1800.0);
                let u = [rng.int(1200, 6000), 0, 0, 0, rng.int(80, 900), 0, 0];
                if t < span_end {
                    calls.push(Call {
                        t,
                        elapsed: 3.0,
                        model: BIG,
                        role: Role::Unexplained,
                        u,
                        dify: None,
                        id: 0,
                        run: ri,
                        prompts: None,
                        priority: false,
                    });
                }
            }
            runs.push(Run {
                t0,
                user,
                conv,
                parent,
                dialogue,
                msg_id,
                run_id,
                web,
                query,
                steps,
                aux,
                failed,
                stopped,
            });
        }

        // ---- bill-only traffic over the whole span
        let span_us = (span_end - span_start).num_microseconds().unwrap_or(0);
        let app_tokens: i64 = calls
            .iter()
            .filter(|c| c.role != Role::Embedding)
            .map(|c| c.u.iter().sum::<i64>())
            .sum();
        let target = (amt(unattributed_traffic::NAME) * app_tokens as f64) as i64;
        let mut other = 0i64;
        while other < target {
            let t = span_start + Duration::microseconds(rng.int(0, span_us - 1));
            let p = rng.int(600, 2500);
            let mut u: Tokens = [0; 7];
            if p >= 1024 && rng.chance(0.35) {
                u[CR] = 1024 + 128 * rng.int(0, (p - 1024) / 128);
            }
            u[IN] = p - u[CR];
            u[OUT] = rng.int(50, 500);
            other += p + u[OUT];
            calls.push(Call {
                t,
                elapsed: 1.0,
                model: SMALL,
                role: Role::Other,
                u,
                dify: None,
                id: 0,
                run: usize::MAX,
                prompts: None,
                priority: false,
            });
        }
        // knowledge-base indexing on the app's key, in batches of at most 8,000 tokens
        let target = (amt(embeddings::NAME) * app_tokens as f64) as i64;
        let mut emb: i64 = calls
            .iter()
            .filter(|c| c.role == Role::Embedding)
            .map(|c| c.u[IN])
            .sum();
        while emb < target {
            let mut t = span_start + Duration::microseconds(rng.int(0, span_us - 1));
            let mut left = rng.int(20_000, 200_000).min(target - emb + 7_999);
            while left > 0 && t < span_end {
                let n = left.min(8000);
                calls.push(Call {
                    t,
                    elapsed: 0.3,
                    model: EMBED,
                    role: Role::Embedding,
                    u: [n, 0, 0, 0, 0, 0, 0],
                    dify: None,
                    id: 0,
                    run: usize::MAX,
                    prompts: None,
                    priority: false,
                });
                emb += n;
                left -= n;
                t += rng.secs(0.2, 0.8);
            }
        }

        // The app's project served at priority (its chat calls only: the tier is for
        // Responses and Chat Completions, not embeddings; another key is another project).
        if amt(service_tier::NAME) > 0.0 {
            for c in calls.iter_mut() {
                if c.role.app_key() && c.role != Role::Embedding {
                    c.priority = rng.chance(amt(service_tier::NAME));
                    if c.priority && models[c.model].priority.is_none() {
                        return Err(format!(
                            "--cause service_tier: {} has no priority price in the tables",
                            models[c.model].bill_name
                        ));
                    }
                }
            }
        }

        let node_cut = (amt(double_counting::NAME) > 0.0 && !cfg.one_node_export).then(|| {
            let n = (span_end - span_start).num_days();
            let k = ((amt(double_counting::NAME) * cfg.days as f64).round() as i64).clamp(1, n);
            let h = (n - k) / 2;
            (
                span_start + Duration::days(h + k),
                span_start + Duration::days(h),
            )
        });
        let mut w = World {
            cfg: cfg.clone(),
            models,
            calls,
            runs,
            ids,
            win: (ws, we),
            span: (span_start, span_end),
            node_cut,
        };
        w.write_drift_prompts()?;
        Ok(w)
    }

    pub fn in_window(&self, t: DateTime<Utc>) -> bool {
        self.win.0 <= t && t < self.win.1
    }
    pub fn in_span(&self, t: DateTime<Utc>) -> bool {
        self.span.0 <= t && t < self.span.1
    }

    /// Each drift classifier call gets its real prompt: a system prompt, a worked example and
    /// the query, sized so OpenAI's count (o200k_base with chat framing) is the call's true
    /// prompt and Dify's estimate (GPT-2 count of the first message only) is what Dify recorded.
    fn write_drift_prompts(&mut self) -> Result<(), String> {
        if !self
            .calls
            .iter()
            .any(|c| c.dify.as_ref().is_some_and(|d| d.drift))
        {
            return Ok(());
        }
        let o200k = Tokenizer::new(Encoding::O200kBase);
        let framing = Framing::for_encoding(Encoding::O200kBase, Some("gpt-4.1-mini"))?;
        for w in CLS_WORDS {
            let s = format!(" {w}");
            if gpt2_estimate(&s) != 1 || o200k.count(&s) != 1 {
                return Err(format!(
                    "drift prompt word '{w}' is not one token in both vocabularies"
                ));
            }
        }
        let g_head = gpt2_estimate(CLS_HEADER) as i64;
        let fixed =
            o200k.count(CLS_HEADER) + o200k.count(CLS_EXAMPLE_Q) + o200k.count(CLS_EXAMPLE_A);
        for c in self.calls.iter_mut() {
            let Some(d) = c.dify.as_ref().filter(|d| d.drift) else {
                continue;
            };
            let query = QUERIES[self.runs[c.run].query].0;
            let n = d.prompt - g_head;
            // Framing: 3 + role (1 token) per message, + 3 reply priming = 4 × 4 + 3 = 19.
            let m = c.u[IN] - 19 - (fixed + o200k.count(query)) as i64 - n;
            if n < 0 || m < 0 {
                return Err(format!(
                    "drift call of {} prompt tokens cannot carry a prompt Dify counts as {}",
                    c.u[IN], d.prompt
                ));
            }
            let msgs = vec![
                ("system", format!("{CLS_HEADER}{}", words(n as usize, 0))),
                ("user", format!("{CLS_EXAMPLE_Q}{}", words(m as usize, 7))),
                ("assistant", CLS_EXAMPLE_A.to_string()),
                ("user", query.to_string()),
            ];
            // Check with the tokenizers the recount uses: the planted counts must hold.
            let json: Vec<serde_json::Value> = msgs
                .iter()
                .map(|(r, t)| serde_json::json!({"role": r, "content": t}))
                .collect();
            let framed = count_chat(&o200k, &framing, &json, &[])?.tokens as i64;
            if framed != c.u[IN] || gpt2_estimate(&msgs[0].1) as i64 != d.prompt {
                return Err(format!(
                    "drift prompt counts {framed}/{} instead of {}/{}",
                    gpt2_estimate(&msgs[0].1),
                    c.u[IN],
                    d.prompt
                ));
            }
            c.prompts = Some(msgs);
        }
        Ok(())
    }
}

pub fn secs_f(s: f64) -> Duration {
    Duration::microseconds((s * 1e6) as i64)
}

const CLS_HEADER: &str = "You classify customer support questions into exactly one category: Account, Billing, Technical, Documents or Sales. Reply with JSON only. Notes on the categories follow.";
const CLS_EXAMPLE_Q: &str = "Example question:";
const CLS_EXAMPLE_A: &str = "{\"category_name\": \"Billing\"}";
/// Lower-case words that are one token (with their leading space) in both GPT-2 and o200k_base.
const CLS_WORDS: [&str; 41] = [
    "the", "customer", "asks", "about", "their", "account", "billing", "invoice", "payment",
    "refund", "plan", "team", "report", "export", "password", "login", "access", "error",
    "contract", "policy", "support", "question", "request", "issue", "order", "price", "and", "or",
    "for", "with", "new", "old", "change", "update", "help", "is", "to", "in", "on", "at", "by",
];

fn words(n: usize, offset: usize) -> String {
    let mut s = String::with_capacity(n * 8);
    for i in 0..n {
        s.push(' ');
        s.push_str(CLS_WORDS[(offset + i) % CLS_WORDS.len()]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The priority prices come from the tables' priority tier (gpt-4.1 since 2025-04-14:
    /// $3.50 input, $0.875 cached input, $14.00 output per 1M against $2.00 / $0.50 / $8.00),
    /// and a priority call is billed at them.
    #[test]
    fn a_priority_call_is_billed_at_the_tables_priority_tier() {
        let cfg = Config {
            seed: 1,
            calls: 1,
            days: 1,
            start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            tz: chrono_tz::UTC,
            provider: Provider::Openai,
            amounts: [0.0; super::super::STEPS],
            one_node_export: false,
        };
        let (s, e) = super::super::window(&cfg).unwrap();
        let models = model_list(&cfg, s, e).unwrap();
        let big = &models[BIG];
        let per_1m = |x: i64| Decimal::new(x, 9);
        // Cache writes and image input are priced as input (OpenAI bills no writes; images at
        // the text price; the fallback of both tiers).
        assert_eq!(
            big.priority,
            Some([
                per_1m(3500),
                per_1m(875),
                per_1m(3500),
                per_1m(3500),
                per_1m(14000),
                per_1m(3500),
                per_1m(14000)
            ])
        );
        assert_eq!(big.price[IMG], big.price[IN]);
        // The embedding model offers no priority tier.
        assert_eq!(models[EMBED].priority, None);
        let mut call = Call {
            t: s,
            elapsed: 1.0,
            model: BIG,
            role: Role::Answer,
            u: [976, 1024, 0, 0, 500, 0, 0],
            dify: None,
            id: 0,
            run: 0,
            prompts: None,
            priority: false,
        };
        // Standard: 976 × 2 + 1024 × 0.50 + 500 × 8 = 6,464 per 1M = $0.006464.
        assert_eq!(big.billed(&call), Decimal::new(6464, 6));
        // Priority: 976 × 3.50 + 1024 × 0.875 + 500 × 14 = 11,312 per 1M = $0.011312.
        call.priority = true;
        assert_eq!(big.billed(&call), Decimal::new(11312, 6));
    }
}
