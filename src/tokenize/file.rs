//! `count --tokenizer-file`: counts with any HuggingFace `tokenizer.json`, through the
//! `tokenizers` crate (the engine behind the Python `tokenizers` package and most servers that
//! run open-weight models).
//!
//! Counting is "as billed", the same rules as the bundled vocabularies:
//! - plain text is the text alone: what the file's post-processor would add around it (a
//!   `<|begin_of_text|>` or `<s>`) is framing, not text. Those tokens belong to a chat request's
//!   template, which `--chat` counts; the number the post-processor adds is reported, not
//!   counted;
//! - text that looks like one of the file's *special* tokens (`<|im_start|>`, `<|eot_id|>`) is
//!   plain text (the file's `encode_special_tokens` mode), as the APIs tokenize user content.
//!   Added tokens that are not special (Qwen's `<think>`) are real vocabulary and stay single
//!   tokens, as in the reference tokenizer.

use super::chat::{Framing, TextCounter};
use std::path::Path;

/// A user-supplied `tokenizer.json`, loaded once.
pub struct FileTokenizer {
    inner: tokenizers::Tokenizer,
    name: String,
}

impl std::fmt::Debug for FileTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTokenizer")
            .field("name", &self.name)
            .finish()
    }
}

/// The chat template a `tokenizer.json` can be recognised by: every marker must be one of its
/// special tokens, so each counts as exactly one token.
const CHATML_MARKERS: [&str; 2] = ["<|im_start|>", "<|im_end|>"];
const LLAMA3_MARKERS: [&str; 4] = [
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
];

impl FileTokenizer {
    /// Reads and parses `path`. Errors name the file and say what was expected.
    pub fn load(path: &Path) -> Result<FileTokenizer, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("{}: cannot read tokenizer file: {e}", path.display()))?;
        FileTokenizer::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses a `tokenizer.json` held in memory; `name` is how output and errors name it.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<FileTokenizer, String> {
        // A pattern the regex engine cannot compile panics inside it: the file's error too.
        let parsed = crate::panic_guard::catch(|| tokenizers::Tokenizer::from_bytes(bytes))
            .map_err(|p| format!("{name}: cannot load the tokenizer's patterns ({p})"))?;
        let mut inner = parsed.map_err(|e| {
            format!(
                "{name}: not a HuggingFace tokenizer.json ({e}); pass the model's tokenizer.json, \
                 not tokenizer_config.json, a SentencePiece .model or a tiktoken file"
            )
        })?;
        // A count must cover the whole text and nothing else.
        inner
            .with_truncation(None)
            .map_err(|e| format!("{name}: {e}"))?;
        inner.with_padding(None);
        inner.set_encode_special_tokens(true);
        Ok(FileTokenizer {
            inner,
            name: name.to_string(),
        })
    }

    /// Tokens in `text`, without the post-processor's additions.
    pub fn count(&self, text: &str) -> Result<usize, String> {
        // The regex engine gives up on a pattern that backtracks without end (`(a+)+$`) and
        // the tokenizer panics on that: it is this file's error, not a crash.
        crate::panic_guard::catch(|| self.inner.encode_fast(text, false))
            .map_err(|p| {
                format!(
                    "{}: the file's pre-tokenizer pattern cannot be matched on this text                      (the regex engine gave up: {p}); a pattern that backtracks without bound,                      like (a+)+$, cannot be used",
                    self.name
                )
            })?
            .map(|e| e.len())
            .map_err(|e| format!("{}: cannot tokenize: {e}", self.name))
    }

    /// Tokens the file's post-processor adds around a single text (BOS/EOS and the like); they
    /// are not part of [`FileTokenizer::count`].
    pub fn post_processor_tokens(&self) -> usize {
        self.inner
            .get_post_processor()
            .map_or(0, |p| tokenizers::PostProcessor::added_tokens(p, false))
    }

    /// The chat framing this file's special tokens identify, or `None` when neither ChatML nor
    /// Llama 3 markers are all present as special tokens.
    pub fn framing(&self) -> Option<Framing> {
        if self.has_specials(&LLAMA3_MARKERS) {
            Some(Framing::Llama3)
        } else if self.has_specials(&CHATML_MARKERS) {
            // The model is unknown, so is any default system message its template inserts.
            Some(Framing::ChatMl {
                default_system: None,
            })
        } else {
            None
        }
    }

    fn has_specials(&self, markers: &[&str]) -> bool {
        let added = self.inner.get_added_tokens_decoder();
        markers
            .iter()
            .all(|m| added.values().any(|t| t.special && t.content == *m))
    }

    /// The file as named on the command line.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl TextCounter for FileTokenizer {
    fn count_text(&self, text: &str) -> Result<usize, String> {
        self.count(text)
    }
}
