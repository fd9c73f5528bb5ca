//! `llm-recon count`: recount the tokens of a text or a chat request, offline.

use super::chat::{self, Framing, TextCounter};
use super::file::FileTokenizer;
use super::{Tokenizer, models};
use std::io::Read;
use std::path::PathBuf;

/// Arguments of the `count` subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct CountArgs {
    /// Model whose tokenizer to use (any spelling: snapshots, `ft:` ids, Azure names, vendor
    /// prefixes).
    #[arg(
        long,
        short = 'm',
        value_name = "MODEL",
        conflicts_with_all = ["encoding", "tokenizer_file"],
        required_unless_present_any = ["encoding", "tokenizer_file"]
    )]
    pub model: Option<String>,
    /// Encoding to use directly: o200k_base, o200k_harmony, cl100k_base, p50k_base, r50k_base
    /// (= gpt2), qwen2, llama3, deepseek_v3, mistral_v3.
    #[arg(
        long,
        short = 'e',
        value_name = "ENCODING",
        conflicts_with = "tokenizer_file"
    )]
    pub encoding: Option<String>,
    /// Any HuggingFace `tokenizer.json` (the text alone is counted, without the BOS/EOS its
    /// post-processor adds; with --chat, ChatML or Llama 3 framing when the file's special
    /// tokens identify it, else the message text only).
    #[arg(long, value_name = "FILE")]
    pub tokenizer_file: Option<PathBuf>,
    /// Input is a chat request: {"messages": [...], "tools": [...]} or a bare messages array;
    /// the count includes the model family's message framing and tool definitions.
    #[arg(long)]
    pub chat: bool,
    /// Print a JSON object instead of the bare count.
    #[arg(long)]
    pub json: bool,
    /// Input file, or `-` for standard input (the default). Counted exactly as read (a trailing
    /// newline counts); a leading UTF-8 byte-order mark is not text and is dropped.
    #[arg(value_name = "FILE", default_value = "-")]
    pub file: PathBuf,
}

/// Runs `count`, writing to stdout (and a note to stderr when the count needs one). Returns the
/// exit code (0), or an error message (exit 2).
pub fn run_count(args: &CountArgs) -> Result<i32, String> {
    let out = count_output(args, &mut std::io::stdin().lock())?;
    if let Some(note) = &out.note {
        eprintln!("note: {note}");
    }
    crate::output::write_stdout(out.stdout.as_bytes())?;
    Ok(0)
}

/// What `count` prints: the count (or JSON object) for stdout, and a note for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountOutput {
    pub stdout: String,
    /// Says what was and was not counted where that is not the obvious (`--chat` with a
    /// tokenizer file whose chat template is not recognised).
    pub note: Option<String>,
}

/// The output `count` prints, reading `-` from `stdin`. Separate from [`run_count`] for tests.
pub fn count_to_string(args: &CountArgs, stdin: &mut dyn Read) -> Result<String, String> {
    count_output(args, stdin).map(|o| o.stdout)
}

/// The tokenizer `count` was asked for.
enum Counter {
    Bundled(Tokenizer),
    File(Box<FileTokenizer>),
}

impl Counter {
    fn counter(&self) -> &dyn TextCounter {
        match self {
            Counter::Bundled(t) => t,
            Counter::File(f) => f.as_ref(),
        }
    }

    fn name(&self) -> &str {
        match self {
            Counter::Bundled(t) => t.name(),
            Counter::File(f) => f.name(),
        }
    }
}

/// [`count_to_string`] with the note.
pub fn count_output(args: &CountArgs, stdin: &mut dyn Read) -> Result<CountOutput, String> {
    let counter = match (&args.model, &args.encoding, &args.tokenizer_file) {
        (_, _, Some(f)) => Counter::File(Box::new(FileTokenizer::load(f)?)),
        (Some(m), _, _) => Counter::Bundled(
            models::resolve(m)
                .map(Tokenizer::new)
                .map_err(|e| e.to_string())?,
        ),
        (None, Some(e), _) => Counter::Bundled(Tokenizer::by_name(e).map_err(|e| e.to_string())?),
        (None, None, None) => {
            return Err("count: pass --model, --encoding or --tokenizer-file".into());
        }
    };

    let bytes = read_input(args, stdin)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            input_name(args),
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut obj = serde_json::Map::new();
    let mut note = None;
    let tokens = if args.chat {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("{}: --chat expects JSON: {e}", input_name(args)))?;
        let (messages, tools) =
            chat::parse_payload(&v).map_err(|e| format!("{}: {e}", input_name(args)))?;
        let framing = match &counter {
            Counter::Bundled(t) => Framing::for_encoding(t.encoding(), args.model.as_deref())?,
            Counter::File(f) => f.framing().unwrap_or(Framing::TextOnly),
        };
        if let Counter::File(f) = &counter {
            obj.insert("framing".into(), framing_name(&framing).into());
            if framing == Framing::TextOnly {
                note = Some(format!(
                    "{}: no ChatML or Llama 3 special tokens, so the chat template is unknown: \
                     counted only the content text of {} message(s) (no roles, no framing)",
                    f.name(),
                    messages.len()
                ));
            }
        }
        let c = chat::count_chat(counter.counter(), &framing, &messages, &tools)
            .map_err(|e| format!("{}: {e}", input_name(args)))?;
        obj.insert("messages".into(), c.messages.into());
        obj.insert("content_tokens".into(), c.content_tokens.into());
        obj.insert("framing_tokens".into(), c.framing_tokens().into());
        obj.insert("tool_tokens".into(), c.tool_tokens.into());
        obj.insert("images_not_counted".into(), c.images_not_counted.into());
        obj.insert("approximate".into(), c.approximate.into());
        c.tokens
    } else {
        if let Counter::File(f) = &counter {
            obj.insert(
                "post_processor_tokens_not_counted".into(),
                f.post_processor_tokens().into(),
            );
        }
        counter.counter().count_text(text)?
    };

    if !args.json {
        return Ok(CountOutput {
            stdout: format!("{tokens}\n"),
            note,
        });
    }
    let mut head = serde_json::Map::new();
    head.insert("tokens".into(), tokens.into());
    head.insert("tokenizer".into(), counter.name().into());
    if let Counter::File(f) = &counter {
        head.insert("tokenizer_file".into(), f.name().into());
    }
    head.insert(
        "model".into(),
        args.model
            .clone()
            .map_or(serde_json::Value::Null, Into::into),
    );
    head.insert("chat".into(), args.chat.into());
    head.extend(obj);
    if let Some(n) = &note {
        head.insert("note".into(), n.clone().into());
    }
    let s = serde_json::to_string(&serde_json::Value::Object(head))
        .map_err(|e| format!("cannot render JSON: {e}"))?;
    Ok(CountOutput {
        stdout: format!("{s}\n"),
        note,
    })
}

fn framing_name(f: &Framing) -> &'static str {
    match f {
        Framing::OpenAi { .. } => "openai",
        Framing::ChatMl { .. } => "chatml",
        Framing::Llama3 => "llama3",
        Framing::TextOnly => "none",
    }
}

fn input_name(args: &CountArgs) -> String {
    if args.file.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        args.file.display().to_string()
    }
}

fn read_input(args: &CountArgs, stdin: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    if args.file.as_os_str() == "-" {
        stdin
            .read_to_end(&mut buf)
            .map_err(|e| format!("<stdin>: cannot read: {e}"))?;
    } else {
        buf = std::fs::read(&args.file)
            .map_err(|e| format!("{}: cannot read: {e}", args.file.display()))?;
    }
    Ok(buf)
}
