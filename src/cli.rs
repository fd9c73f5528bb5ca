//! Command line: parse arguments, call the library, choose the exit code.
//!
//! Exit codes: 0 within thresholds, 1 a threshold exceeded, 2 bad input or usage error
//! (clap's own usage errors exit 2 as well), 130 interrupted (the default SIGINT action).

use crate::pricing::PriceBook;
use crate::reconcile::bridge::AttributionRule;
use crate::reconcile::window::BucketSize;
use crate::reconcile::{self, Options, RunError};
use crate::record::Currency;
use crate::report::{self, OutputFormat};
use crate::source::Format;
use clap::{Args, Parser, Subcommand};
use rust_decimal::Decimal;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Parser, Debug)]
#[command(
    name = "llm-recon",
    version,
    about = "Reconcile LLM token usage and spend across the app (Dify), the trace store (Langfuse) and the provider's bill",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar on stderr (it is shown only on a terminal, for reads over a second).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Reconcile app, trace and bill exports into a variance bridge (the main job).
    Reconcile(Box<ReconcileArgs>),
    /// Run `reconcile` on the bundled demo month (fixtures/demo).
    Demo(DemoArgs),
    /// Print the normalized records of the inputs (one per call or bill line).
    Normalize(NormalizeArgs),
    /// Count tokens with the tokenizer that matches a model (offline).
    Count(crate::tokenize::cli::CountArgs),
    /// Price one call: the entry in force at its time, each class's tokens × price, the total.
    Price(crate::pricing::cli::PriceArgs),
    /// Price tables: `list` the entries, `check` the tables, `import` a public price list, `fx` the
    /// exchange rates.
    Pricing(crate::pricing::cli::PricingArgs),
    /// Write a simulated month (Dify, Langfuse and bill exports) with known planted causes.
    #[command(after_long_help = simulate_causes_help())]
    Simulate(SimulateArgs),
    /// Fetch usage and cost pages from a provider's admin API (or Langfuse, or Dify's database)
    /// into a directory that `reconcile DIR/*` reads.
    Pull(Box<crate::pull::PullArgs>),
}

/// `--cause` names and what each AMOUNT means, for `simulate --help`.
fn simulate_causes_help() -> String {
    let mut s = String::from(
        "Causes (--cause NAME=AMOUNT, repeatable; none = plant nothing; no --cause = the default mix):\n",
    );
    for (name, what) in crate::simulate::cause_help() {
        s.push_str(&format!("  {name}: {what}\n"));
    }
    s.push_str(
        "\nWith --cause none the app, trace and bill agree exactly: every bridge step is zero.\n\
         Anthropic: cache_hits and cache_write_folding come from the same cached calls, so either\n\
         one alone also moves the other step (Dify folds every cache token into prompt_tokens).\n",
    );
    s
}

#[derive(Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Seed of the world (same arguments, byte-identical files).
    #[arg(long)]
    pub seed: u64,
    /// Dify messages (workflow runs) inside the report window.
    #[arg(long)]
    pub calls: usize,
    /// Days in the report window.
    #[arg(long)]
    pub days: u32,
    /// First day of the report window (local date in --tz).
    #[arg(long, default_value = "2026-10-01")]
    pub start: chrono::NaiveDate,
    /// The account's time zone: where the app's days begin (the bill's are UTC days).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Which provider's bill: openai (usage + costs pages) or anthropic (usage + cost report), or
    /// both (`openai,anthropic`): one app per provider in the same exports, --calls split
    /// evenly between them (the first takes the odd one), one bill each.
    #[arg(long, default_value = "openai")]
    pub provider: String,
    /// Plant a cause: NAME=AMOUNT (see below), or `none`.
    #[arg(long = "cause", value_name = "NAME=AMOUNT")]
    pub causes: Vec<String>,
    /// With double counting planted, still write one node-executions export (only iteration
    /// containers repeat usage; no overlapping second export).
    #[arg(long)]
    pub one_node_export: bool,
    /// Output directory (created if missing; files of the same names are replaced).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct WindowArgs {
    /// Start of the report window: YYYY-MM-DD (midnight in --tz) or an RFC 3339 instant.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the report window (exclusive), same forms as --from.
    #[arg(long)]
    pub to: Option<String>,
    /// Time zone that decides where days and months begin (IANA name, e.g. Asia/Shanghai;
    /// default UTC, or with --dify-db the workspace owner's).
    #[arg(long)]
    pub tz: Option<String>,
    /// Display bucket: 1h, 1d or 1mo (never finer than the bill's own buckets).
    #[arg(long, default_value = "1d")]
    pub bucket: String,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Report format [default: from --output's extension (.json, .md, .csv, .txt, .xlsx,
    /// .html), else table].
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail (exit 1) when |variance| exceeds this percent of the reference, in any comparison
    /// (`5` or `5%`).
    #[arg(long, value_name = "PCT", value_parser = parse_pct)]
    pub max_variance: Option<f64>,
    /// Fail (exit 1) when |unexplained| exceeds this percent of the reference, in any comparison
    /// (`0.5` or `0.5%`).
    #[arg(long, value_name = "PCT", value_parser = parse_pct)]
    pub max_unexplained: Option<f64>,
    /// With a threshold, pass (exit 0) a run that compares nothing or finds no usage in the
    /// window, instead of failing it.
    #[arg(long)]
    pub allow_empty: bool,
    /// Fail (exit 1) when more than N app days are flagged as anomalies (tokens or cost per
    /// call far from their trailing week; the rule is in the README).
    #[arg(long, value_name = "N")]
    pub max_anomalies: Option<u64>,
}

/// A threshold in percent as people write it: `5`, `5%`, `0.5 %`; finite and not negative.
pub fn parse_pct(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim_end();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("expected a percentage like 5 or 5%, got '{text}'"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!(
            "expected a finite percentage of at least 0, got '{text}'"
        ));
    }
    Ok(v)
}

impl OutputArgs {
    /// `--format`, else the one `--output`'s extension names, else the table.
    pub fn format(&self) -> Result<OutputFormat, RunError> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        match &self.output {
            None => Ok(OutputFormat::Table),
            Some(p) => OutputFormat::from_path(p).ok_or_else(|| {
                RunError::Usage(format!(
                    "--output {}: cannot tell the format from the extension (.json, .md, .csv, .txt, .xlsx, .html); give --format",
                    p.display()
                ))
            }),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ReconcileArgs {
    /// Export files of the app (Dify), the trace store (Langfuse) and the bills, in any order;
    /// each is sniffed (see README, Input formats).
    #[arg(required_unless_present = "dify_db", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// API key id(s) in the bill that belong to the app (repeatable). Without it the key
    /// closest in volume is taken and the step is marked estimated.
    #[arg(long = "key", value_name = "API_KEY_ID")]
    pub keys: Vec<String>,
    /// Bill project id(s) that belong to the app (repeatable).
    #[arg(long = "project", value_name = "PROJECT_ID")]
    pub projects: Vec<String>,
    /// Read every file as this format instead of sniffing it.
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<String>,
    /// Read the app's rows from Dify's PostgreSQL (messages and node executions of the window,
    /// needs --from/--to) instead of, or beside, exported files.
    #[arg(long, value_name = "URL")]
    pub dify_db: Option<String>,
    /// The Dify database password, from this file's first line (else PGPASSWORD).
    #[arg(long, value_name = "PATH")]
    pub dify_db_password_file: Option<PathBuf>,
    /// Directory of extra price tables (*.toml) that override the bundled ones.
    #[arg(long, value_name = "DIR")]
    pub pricing: Option<PathBuf>,
    /// Currency of the report; money in other currencies is converted at the rate in force on
    /// each record's day (bundled ECB reference rates, or --fx-rates).
    #[arg(long, value_name = "CUR", default_value = "USD")]
    pub currency: String,
    /// Exchange-rate file(s) consulted before the bundled rates (format: `pricing fx --help`).
    #[arg(long = "fx-rates", value_name = "FILE")]
    pub fx_rates: Vec<PathBuf>,
    /// The rate your books convert a bill currency at, e.g. CNY=0.1405 (report currency per
    /// unit; repeatable). Bills in that currency are valued at it, and the `fx` step shows
    /// how far it is from the dated rates.
    #[arg(long = "book-rate", value_name = "CUR=RATE")]
    pub book_rates: Vec<String>,
    /// Instead of the bridge, match the app's calls one to one with the trace's and print each
    /// with both sides' tokens, the table price and the cause of any difference.
    #[arg(long)]
    pub spot_check: bool,
    /// Spot-check one call: its rows across sources (a record id or a trace/message id).
    #[arg(long, value_name = "ID")]
    pub call: Option<String>,
    /// Rows shown by the spot check's table (largest token differences first).
    #[arg(long, default_value_t = 40)]
    pub limit: usize,
    /// Chargeback rules (TOML `[[rule]]` tables or CSV `match,value,team,cost_center`): which
    /// team and cost center each app, workspace, API key, project, trace tag or user belongs
    /// to. Adds each team's usage per source and its share of each bill.
    #[arg(long, value_name = "FILE")]
    pub teams: Option<PathBuf>,
    /// An earlier run's JSON report (`llm-recon/report/v1`): adds the change of each headline
    /// figure and bridge step against it.
    #[arg(long, value_name = "REPORT.json")]
    pub previous: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Folder with a `demo.args` to run instead of the bundled demo month, such as the output of
    /// `simulate --out DIR`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Chargeback rules, as for `reconcile --teams` (the demo's: fixtures/demo/teams.toml).
    #[arg(long, value_name = "FILE")]
    pub teams: Option<PathBuf>,
    /// An earlier JSON report to compare with, as for `reconcile --previous`.
    #[arg(long, value_name = "REPORT.json")]
    pub previous: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct NormalizeArgs {
    /// Export files of any system, in any order; each is sniffed (see README, Input formats).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format: JSON lines, CSV, or Parquet (FOCUS-aligned columns; needs --output or a
    /// redirected stdout).
    #[arg(long, value_enum, default_value_t = crate::normalized::RecordFormat::Jsonl)]
    pub format: crate::normalized::RecordFormat,
    /// Read every file as this format instead of sniffing it.
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<String>,
    /// Write the records to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Where the bundled demo lives (the checkout this binary was built from).
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo")
}

/// Runs the command line and returns the process exit code.
pub fn main_with(cli: Cli) -> i32 {
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("llm-recon: error: {e}");
            2
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32, RunError> {
    crate::progress::set_quiet(cli.quiet);
    match cli.command {
        Command::Reconcile(args) => reconcile_cmd(&args),
        Command::Demo(args) => {
            let dir = args.dir.clone().unwrap_or_else(demo_dir);
            let argv_file = dir.join("demo.args");
            let text = std::fs::read_to_string(&argv_file).map_err(|e| {
                RunError::Usage(format!(
                    "{}: cannot read the demo settings: {e}",
                    argv_file.display()
                ))
            })?;
            let mut argv: Vec<String> = vec!["llm-recon".into(), "reconcile".into()];
            // One or more arguments per line; `#` starts a comment; bare file names are relative
            // to the demo directory.
            let tokens = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or(""))
                .flat_map(str::split_whitespace);
            for tok in tokens {
                argv.push(if tok.starts_with('-') {
                    tok.to_string()
                } else if tok.contains('.') && !tok.contains(':') {
                    dir.join(tok).display().to_string()
                } else {
                    tok.to_string()
                });
            }
            let parsed = Cli::try_parse_from(&argv)
                .map_err(|e| RunError::Usage(format!("{}: {e}", argv_file.display())))?;
            let Command::Reconcile(mut r) = parsed.command else {
                return Err(RunError::Usage(
                    "demo.args must hold reconcile arguments".into(),
                ));
            };
            r.output = args.output;
            if args.teams.is_some() {
                r.teams = args.teams;
            }
            if args.previous.is_some() {
                r.previous = args.previous;
            }
            reconcile_cmd(&r)
        }
        Command::Normalize(args) => normalize_cmd(&args),
        Command::Count(args) => crate::tokenize::cli::run_count(&args).map_err(RunError::Usage),
        Command::Price(args) => crate::pricing::cli::run_price(&args).map_err(RunError::Usage),
        Command::Pricing(args) => crate::pricing::cli::run_pricing(&args).map_err(RunError::Usage),
        Command::Simulate(args) => simulate_cmd(&args),
        Command::Pull(args) => crate::pull::run(&args).map_err(|e| RunError::Usage(e.to_string())),
    }
}

/// `CUR=RATE`: units of the report currency per one CUR.
fn parse_book_rate(text: &str) -> Result<(Currency, Decimal), RunError> {
    let bad = || {
        RunError::Usage(format!(
            "--book-rate {text}: expected CUR=RATE with a positive decimal rate, e.g. CNY=0.1405"
        ))
    };
    let (cur, rate) = text.split_once('=').ok_or_else(bad)?;
    let cur = Currency::parse(cur).ok_or_else(bad)?;
    let rate = Decimal::from_str(rate.trim()).map_err(|_| bad())?;
    if !crate::pricing::fx::rate_in_range(&rate) {
        return Err(bad());
    }
    Ok((cur, rate))
}

fn simulate_cmd(args: &SimulateArgs) -> Result<i32, RunError> {
    use crate::simulate::{self, Config};
    let tz: chrono_tz::Tz = args.tz.parse().map_err(|_| {
        RunError::Usage(format!(
            "--tz {}: expected an IANA time zone like UTC or Asia/Shanghai",
            args.tz
        ))
    })?;
    let providers = simulate::parse_providers(&args.provider).map_err(RunError::Usage)?;
    let base = Config {
        seed: args.seed,
        calls: args.calls,
        days: args.days,
        start: args.start,
        tz,
        provider: providers[0],
        amounts: [0.0; simulate::STEPS],
        one_node_export: args.one_node_export,
    };
    let worlds =
        simulate::split_by_provider(&base, &providers, &args.causes).map_err(RunError::Usage)?;
    let s = simulate::run_worlds(&worlds, &args.out).map_err(RunError::Usage)?;
    eprintln!(
        "{} messages, {} billed requests; truth ties out",
        s.messages, s.billed_requests
    );
    for (name, size) in &s.files {
        eprintln!("  {size:>12}  {}", args.out.join(name).display());
    }
    Ok(0)
}

fn load_prices(extra: Option<&Path>) -> Result<PriceBook, RunError> {
    let mut book =
        PriceBook::bundled().map_err(|e| RunError::Usage(format!("bundled price tables: {e}")))?;
    if let Some(dir) = extra {
        let user = PriceBook::load_dir(dir).map_err(|e| RunError::Usage(e.to_string()))?;
        book.merge(user);
    }
    Ok(book)
}

fn input_format(name: Option<&str>) -> Result<Option<Format>, RunError> {
    name.map(|n| {
        Format::from_name(n).ok_or_else(|| {
            RunError::Usage(format!(
                "--input-format {n}: known formats are {}",
                Format::known_list()
            ))
        })
    })
    .transpose()
}

fn reconcile_cmd(args: &ReconcileArgs) -> Result<i32, RunError> {
    args.output.format()?; // a bad --format or -o extension fails before any input is read
    let tz_name = args.window.tz.as_deref().unwrap_or("UTC");
    let mut tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
        RunError::Usage(format!(
            "--tz {tz_name}: expected an IANA time zone like UTC or Asia/Shanghai"
        ))
    })?;
    // Dify's tables are read into a temporary directory, removed when the run ends.
    let mut files = args.files.clone();
    let _dify_dir = match &args.dify_db {
        None => None,
        Some(url) => {
            let (Some(from), Some(to)) = (&args.window.from, &args.window.to) else {
                return Err(RunError::Usage(
                    "--dify-db needs --from and --to (the window to read)".into(),
                ));
            };
            let dir =
                crate::pull::dify_db::TempDir::new().map_err(|e| RunError::Usage(e.to_string()))?;
            let export = crate::pull::dify_db::export(
                &crate::pull::dify_db::DbRequest {
                    url,
                    password_file: args.dify_db_password_file.as_deref(),
                    from,
                    to,
                    tz: args.window.tz.as_ref().map(|_| tz),
                },
                dir.path(),
            )
            .map_err(|e| RunError::Usage(e.to_string()))?;
            tz = export.tz;
            files.extend(export.files.iter().map(|(f, _)| dir.path().join(f)));
            Some(dir)
        }
    };
    let bucket = BucketSize::parse(&args.window.bucket).ok_or_else(|| {
        RunError::Usage(format!(
            "--bucket {}: expected 1h, 1d or 1mo",
            args.window.bucket
        ))
    })?;
    let mut fx = crate::pricing::fx::FxTable::bundled()
        .map_err(|e| RunError::Usage(format!("bundled exchange rates: {e}")))?;
    for f in &args.fx_rates {
        fx.load_file(f)
            .map_err(|e| RunError::Usage(e.to_string()))?;
    }
    // A report currency no rate file quotes could only leave every amount unconverted.
    let known = fx.currencies();
    let currency = Currency::parse(&args.currency)
        .filter(|c| *c == Currency::USD || known.contains(c))
        .ok_or_else(|| {
            RunError::Usage(format!(
                "--currency {}: expected a currency code the rate tables quote ({})",
                args.currency,
                known
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let book_rates = args
        .book_rates
        .iter()
        .map(|b| parse_book_rate(b))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = Options {
        from: args.window.from.clone(),
        to: args.window.to.clone(),
        tz,
        bucket,
        attribution: AttributionRule {
            api_keys: args.keys.clone(),
            projects: args.projects.clone(),
        },
        currency,
        fx: std::sync::Arc::new(fx),
        book_rates,
        input_format: input_format(args.input_format.as_deref())?,
        max_variance_pct: args.output.max_variance,
        max_unexplained_pct: args.output.max_unexplained,
        allow_empty: args.output.allow_empty,
        teams: match &args.teams {
            None => None,
            Some(p) => Some(std::sync::Arc::new(
                crate::chargeback::teams_file::load(p).map_err(RunError::Usage)?,
            )),
        },
        max_anomalies: args.output.max_anomalies,
        ..Options::default()
    };
    if let Some(out) = &args.output.output {
        crate::output::refuse_input_as_output(out, &reconcile_inputs(args))
            .map_err(RunError::Usage)?;
    }
    let prices = load_prices(args.pricing.as_deref())?;
    crate::progress::begin(&files);
    let result = reconcile_with(args, &files, &opts, &prices);
    crate::progress::finish();
    result
}

fn reconcile_with(
    args: &ReconcileArgs,
    files: &[PathBuf],
    opts: &Options,
    prices: &PriceBook,
) -> Result<i32, RunError> {
    let format = args.output.format()?;
    if (args.spot_check || args.call.is_some())
        && (opts.max_variance_pct.is_some() || opts.max_unexplained_pct.is_some())
    {
        // The spot check matches calls one to one and builds no bridge: a threshold on it
        // would be checked against nothing.
        return Err(RunError::Usage(
            "--max-variance / --max-unexplained gate the bridge's comparisons; --spot-check and --call build none: drop the thresholds or the spot check".into(),
        ));
    }
    if (args.spot_check || args.call.is_some()) && !format.spot_check_writes() {
        return Err(RunError::Usage(
            "--spot-check and --call write table, markdown, json or csv".into(),
        ));
    }
    if format.is_binary() && args.output.output.is_none() && std::io::stdout().is_terminal() {
        return Err(RunError::Usage(
            "a workbook is a binary file: give --output FILE or redirect stdout".into(),
        ));
    }
    if args.spot_check || args.call.is_some() {
        let window = reconcile::explicit_window(opts)?;
        let s = reconcile::spotcheck::spot_check(
            files,
            opts.input_format,
            window,
            prices,
            opts.currency,
            args.call.as_deref(),
        )?;
        let text = match format {
            OutputFormat::Json => serde_json::to_string_pretty(&s).unwrap_or_default() + "\n",
            OutputFormat::Csv => reconcile::spotcheck::render_csv(&s),
            _ => reconcile::spotcheck::render_table(&s, args.limit),
        };
        emit(
            args.output.output.as_deref(),
            &reconcile_inputs(args),
            text.as_bytes(),
        )?;
        return Ok(0);
    }
    // A file that is not a report is refused before any input is read.
    let earlier = match &args.previous {
        Some(p) => Some(crate::report::previous::load(p).map_err(RunError::Usage)?),
        None => None,
    };
    let mut report = reconcile::run(files, opts, prices)?;
    if let Some(e) = &earlier {
        report.previous = Some(crate::report::previous::compare(&report, e));
    }
    // The workbook's Records sheet reads the inputs a second time, streaming, rather than
    // keeping every record of the first pass.
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut records = |sink: &mut dyn FnMut(&crate::normalized::Row)| -> Result<(), String> {
        reconcile::for_each_record(
            files,
            opts.input_format,
            prices,
            opts.currency,
            &mut |role, source, record, valuation| {
                let file = names.get(record.origin.file as usize).map_or("", |f| f);
                sink(&crate::normalized::Row {
                    source,
                    role,
                    origin: format!("{file}:{}", record.origin.line),
                    record,
                    valuation,
                });
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let bytes = report::render(&report, format, &mut records).map_err(RunError::Usage)?;
    emit(
        args.output.output.as_deref(),
        &reconcile_inputs(args),
        &bytes,
    )?;
    if report.verdict.pass {
        return Ok(0);
    }
    // Whatever --format and --output are, a failed gate says why where CI shows it.
    for f in &report.verdict.failures {
        eprintln!("llm-recon: check failed: {}", f.message);
    }
    Ok(1)
}

fn emit(path: Option<&Path>, inputs: &[PathBuf], bytes: &[u8]) -> Result<(), RunError> {
    // The bar goes before the report reaches the terminal, or clearing it would erase report lines.
    crate::progress::finish();
    crate::output::emit(path, inputs, bytes).map_err(RunError::Usage)
}

/// Every file a reconcile run reads: the exports, the rate files and the extra price tables.
fn reconcile_inputs(args: &ReconcileArgs) -> Vec<PathBuf> {
    let mut inputs = args.files.clone();
    inputs.extend(args.fx_rates.iter().cloned());
    inputs.extend(args.teams.iter().cloned());
    inputs.extend(args.previous.iter().cloned());
    if let Some(Ok(entries)) = args.pricing.as_ref().map(std::fs::read_dir) {
        inputs.extend(entries.flatten().map(|e| e.path()));
    }
    inputs
}

fn normalize_cmd(args: &NormalizeArgs) -> Result<i32, RunError> {
    use crate::normalized::{self, RecordFormat, Row};
    if let Some(out) = &args.output {
        crate::output::refuse_input_as_output(out, &args.files).map_err(RunError::Usage)?;
    }
    let prices = load_prices(None)?;
    let forced = input_format(args.input_format.as_deref())?;
    let files: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    let out = Output::open(args.output.as_deref());
    if out.is_terminal() && args.format == RecordFormat::Parquet {
        return Err(RunError::Usage(
            "--format parquet writes a binary file: give --output FILE or redirect stdout".into(),
        ));
    }
    let target = out.describe();
    let mut writer = normalized::writer(args.format, out.writer())
        .map_err(|e| RunError::Usage(format!("{target}: cannot write: {e}")))?;
    let mut failed: Option<std::io::Error> = None;
    crate::progress::begin(&args.files);
    let rejected = reconcile::for_each_record(
        &args.files,
        forced,
        &prices,
        Currency::USD,
        &mut |role, source, record, valuation| {
            if failed.is_some() {
                return;
            }
            let file = files.get(record.origin.file as usize).map_or("", |f| f);
            let row = Row {
                source,
                role,
                origin: format!("{file}:{}", record.origin.line),
                record,
                valuation,
            };
            if let Err(e) = writer.write(&row) {
                failed = Some(e);
            }
        },
    );
    crate::progress::finish();
    let rejected = rejected?;
    let finished = match failed {
        Some(e) => Err(e),
        None => writer.finish(),
    };
    out.commit(finished)?;
    for r in rejected.listed.iter().take(20) {
        eprintln!("rejected {} {}: {}", r.source, r.origin, r.reason);
    }
    // Only the first rows are listed; the count is of every rejected row.
    let shown = rejected.listed.len().min(20) as u64;
    if rejected.total > shown {
        eprintln!("… {} more rejected rows", rejected.total - shown);
    }
    Ok(0)
}

/// Where `normalize` writes: stdout, or a file written beside its final name and renamed into
/// place once complete (a failed run leaves no half-written file).
enum Output {
    Stdout,
    File { path: PathBuf, partial: PathBuf },
}

impl Output {
    fn open(path: Option<&Path>) -> Output {
        let Some(path) = path else {
            return Output::Stdout;
        };
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        Output::File {
            path: path.to_path_buf(),
            partial: PathBuf::from(partial),
        }
    }

    fn is_terminal(&self) -> bool {
        use std::io::IsTerminal;
        matches!(self, Output::Stdout) && std::io::stdout().is_terminal()
    }

    fn describe(&self) -> String {
        match self {
            Output::Stdout => "stdout".into(),
            Output::File { path, .. } => path.display().to_string(),
        }
    }

    fn writer(&self) -> Box<dyn std::io::Write + Send> {
        match self {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::File { partial, .. } => match std::fs::File::create(partial) {
                Ok(f) => Box::new(f),
                Err(e) => Box::new(FailingWriter(e.to_string())),
            },
        }
    }

    /// Moves the finished file into place, or reports why it could not be written.
    fn commit(self, finished: std::io::Result<()>) -> Result<(), RunError> {
        match (self, finished) {
            // A closed pipe (`| head`) is not an error worth reporting; a full disk is.
            (Output::Stdout, Ok(())) => Ok(()),
            (Output::Stdout, Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            (Output::Stdout, Err(e)) => Err(RunError::Usage(format!(
                "cannot write to standard output: {e}"
            ))),
            (Output::File { path, partial }, Ok(())) => std::fs::rename(&partial, &path)
                .map_err(|e| RunError::Usage(format!("{}: cannot write: {e}", path.display()))),
            (Output::File { path, partial }, Err(e)) => {
                let _ = std::fs::remove_file(&partial);
                Err(RunError::Usage(format!(
                    "{}: cannot write: {e}",
                    path.display()
                )))
            }
        }
    }
}

/// A file that could not be created: the first write says why.
struct FailingWriter(String);

impl std::io::Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(self.0.clone()))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
