//! Token recounts with the tokenizer that matches each model, offline.
//!
//! Vocabularies come from the `tiktoken` crate (goliajp, pinned `=4.1.2` because its token ids
//! changed in 3.6 and 3.8), compiled into the binary: nothing is downloaded at run time. See
//! `tokenizers/README.md` for the source and licence of each vocabulary.
//!
//! Bulk o200k/cl100k counting (the pipeline's recount of many records) runs on `toktok-rs`
//! (pinned `=0.3.0`), several times faster; see [`Engine`] for when each engine counts and why
//! both give the same ids.
//!
//! Counting is "as billed": text that looks like a special token (`<|endoftext|>`,
//! `<|im_start|>`) is counted as ordinary text, the way the APIs tokenize user content.
//!
//! - [`models`]: model name → tokenizer (or an explicit "no public tokenizer").
//! - [`chat`]: message framing (OpenAI, ChatML for Qwen, Llama 3 headers).
//! - [`dify`]: Dify's own GPT-2 estimators, to explain a Dify count.
//! - [`file`]: a user's HuggingFace `tokenizer.json` (`count --tokenizer-file`).
//! - [`cli`]: the `count` command.

pub mod chat;
pub mod cli;
pub mod dify;
pub mod file;
pub mod models;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};

/// A bundled vocabulary (BPE ranks + split pattern).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GPT-4o, GPT-4.1, GPT-5, o-series.
    O200kBase,
    /// gpt-oss (o200k ranks plus the harmony special tokens; plain text counts as o200k).
    O200kHarmony,
    /// GPT-4, GPT-3.5, text-embedding-3/ada-002, davinci-002/babbage-002.
    Cl100kBase,
    /// text-davinci-002/003, code-davinci/cushman (Codex).
    P50kBase,
    /// GPT-3 (davinci, curie, babbage, ada) and GPT-2; `gpt2` is the same vocabulary.
    R50kBase,
    /// Qwen 2 / 2.5 / 3 (151,643 ranks).
    Qwen2,
    /// Llama 3.x (128,000 ranks).
    Llama3,
    /// DeepSeek V3 / R1 (128,000 ranks).
    DeepseekV3,
    /// Mistral Tekken `tekken_240718` (131,072 ranks).
    MistralV3,
}

impl Encoding {
    pub const ALL: [Encoding; 9] = [
        Encoding::O200kBase,
        Encoding::O200kHarmony,
        Encoding::Cl100kBase,
        Encoding::P50kBase,
        Encoding::R50kBase,
        Encoding::Qwen2,
        Encoding::Llama3,
        Encoding::DeepseekV3,
        Encoding::MistralV3,
    ];

    /// The name used on the command line and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::R50kBase => "r50k_base",
            Encoding::Qwen2 => "qwen2",
            Encoding::Llama3 => "llama3",
            Encoding::DeepseekV3 => "deepseek_v3",
            Encoding::MistralV3 => "mistral_v3",
        }
    }

    /// Parses an encoding name; `gpt2` is accepted as the r50k_base vocabulary it is.
    pub fn from_name(name: &str) -> Option<Encoding> {
        let n = name.trim().to_ascii_lowercase();
        if n == "gpt2" || n == "gpt-2" {
            return Some(Encoding::R50kBase);
        }
        Encoding::ALL.into_iter().find(|e| e.name() == n)
    }

    /// True for the four OpenAI encodings (and harmony): OpenAI chat framing applies.
    pub fn is_openai(self) -> bool {
        matches!(
            self,
            Encoding::O200kBase
                | Encoding::O200kHarmony
                | Encoding::Cl100kBase
                | Encoding::P50kBase
                | Encoding::R50kBase
        )
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a model cannot be recounted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenizeError {
    /// The vendor publishes no tokenizer (Claude 3 and later, Gemini): only the provider's own
    /// reported counts are valid; a local count would be a guess.
    #[error("{model} has no public tokenizer; use provider-reported counts")]
    NoPublicTokenizer { model: String },
    /// A public tokenizer exists but its vocabulary is not bundled with this build.
    #[error("{model}: {reason}")]
    NotBundled { model: String, reason: String },
    /// The model name is not one we know a tokenizer for.
    #[error(
        "unknown model '{model}': no tokenizer mapping; pass --encoding (one of: {})",
        encoding_names()
    )]
    UnknownModel { model: String },
    #[error("unknown encoding '{name}' (one of: {})", encoding_names())]
    UnknownEncoding { name: String },
}

fn encoding_names() -> String {
    Encoding::ALL
        .iter()
        .map(|e| e.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which implementation counts o200k/cl100k text (every other encoding always uses the
/// `tiktoken` crate). Both give identical ids; they differ in start-up and throughput.
///
/// - `tiktoken` 4.1.2 loads in 20-60 ms: a `count` of one text stays fast to start.
/// - `toktok-rs` 0.3.0 counts 2-5x faster than that once loaded, but loading takes 90 ms
///   (cl100k) to 240 ms (o200k).
///
/// [`Engine::Auto`] (the default) therefore counts with `tiktoken` until the process has
/// counted [`BULK_AFTER_BYTES`] with that vocabulary, then loads `toktok-rs` and keeps it.
///
/// One exception keeps the two exact: `toktok-rs` classifies characters with Unicode 17.0
/// tables, the reference tokenizers (OpenAI's Python `tiktoken` 0.14.0 and `tiktoken-rs`, both on
/// Rust `regex`) with Unicode 16.0. An exhaustive check of every code point, each in a string of 17 contexts, found
/// that they disagree only on code points Unicode 16 leaves unassigned (4,699 for o200k, 4,657
/// for cl100k, e.g. U+088F, which Unicode 17 makes a letter). Text containing any code point that
/// is unassigned in the reference's tables (`\p{Cn}` of the same `regex` crate) is therefore
/// counted by `tiktoken`, whatever the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    #[default]
    Auto,
    /// Always the `tiktoken` crate.
    Tiktoken,
    /// `toktok-rs` from the first text (load it now; for the benchmark and tests).
    Bulk,
}

/// Bytes of o200k (or cl100k) text a process counts with `tiktoken` before [`Engine::Auto`]
/// switches to `toktok-rs`: about where the faster counting has paid for the longer load.
pub const BULK_AFTER_BYTES: usize = 8 << 20;

/// A process's bulk engine for one vocabulary, loaded on demand, and the bytes counted so far.
struct BulkSlot {
    name: &'static str,
    counted: AtomicUsize,
    engine: OnceLock<toktok::Tokenizer>,
}

static BULK_O200K: BulkSlot = BulkSlot {
    name: "o200k_base",
    counted: AtomicUsize::new(0),
    engine: OnceLock::new(),
};
static BULK_CL100K: BulkSlot = BulkSlot {
    name: "cl100k_base",
    counted: AtomicUsize::new(0),
    engine: OnceLock::new(),
};

impl BulkSlot {
    /// The slot for `encoding`; `o200k_harmony` shares o200k's ranks and split pattern.
    fn for_encoding(encoding: Encoding) -> Option<&'static BulkSlot> {
        match encoding {
            Encoding::O200kBase | Encoding::O200kHarmony => Some(&BULK_O200K),
            Encoding::Cl100kBase => Some(&BULK_CL100K),
            _ => None,
        }
    }

    fn engine(&self) -> &toktok::Tokenizer {
        // The vocabularies are compiled into the crate; a test loads both.
        self.engine.get_or_init(|| {
            toktok::Tokenizer::builtin(self.name)
                .expect("toktok-rs embeds o200k_base and cl100k_base")
        })
    }
}

/// Code points the reference tokenizers' Unicode tables leave unassigned (see [`Engine`]): a
/// bitmap for the Basic Multilingual Plane (CJK text looks up every character) and the ranges
/// above it.
struct Unassigned {
    bmp: Vec<u64>,
    astral: Vec<(char, char)>,
}

static UNASSIGNED: LazyLock<Unassigned> = LazyLock::new(|| {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::parse(r"\p{Cn}").expect("valid Unicode class");
    let ranges: Vec<(char, char)> = match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        // `\p{Cn}` always parses to a Unicode class; an empty table would only disable the check
        // (a test asserts it is not empty).
        _ => Vec::new(),
    };
    let mut bmp = vec![0u64; 0x10000 / 64];
    let mut astral = Vec::new();
    for (lo, hi) in ranges {
        for c in lo as u32..=(hi as u32).min(0xFFFF) {
            bmp[c as usize / 64] |= 1 << (c % 64);
        }
        if hi as u32 > 0xFFFF {
            astral.push((lo.max('\u{10000}'), hi));
        }
    }
    Unassigned { bmp, astral }
});

impl Unassigned {
    fn contains(&self, c: char) -> bool {
        let c32 = c as u32;
        if c32 <= 0xFFFF {
            self.bmp[c32 as usize / 64] & (1 << (c32 % 64)) != 0
        } else {
            let i = self.astral.partition_point(|&(_, hi)| hi < c);
            self.astral.get(i).is_some_and(|&(lo, _)| lo <= c)
        }
    }
}

/// True when `text` has a code point the reference's tables leave unassigned. ASCII is skipped
/// 16 bytes at a time (a vectorized test), so mostly-ASCII text costs little more than a scan.
pub fn has_unassigned(text: &str) -> bool {
    let bytes = text.as_bytes();
    let table = &*UNASSIGNED;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 16)
            && chunk.is_ascii()
        {
            i += 16;
            continue;
        }
        // `i` only ever advances by whole characters, so it is a char boundary.
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            return false;
        };
        if !c.is_ascii() && table.contains(c) {
            return true;
        }
        i += c.len_utf8();
    }
    false
}

/// A loaded tokenizer. Cheap to copy; the vocabulary is loaded once per process and shared.
#[derive(Clone, Copy)]
pub struct Tokenizer {
    encoding: Encoding,
    bpe: &'static tiktoken::CoreBpe,
    engine: Engine,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("encoding", &self.encoding)
            .finish()
    }
}

impl Tokenizer {
    /// Loads (first use) or reuses the vocabulary of `encoding`.
    pub fn new(encoding: Encoding) -> Tokenizer {
        // Every `Encoding` variant's vocabulary feature is enabled in Cargo.toml; a test loads
        // each one, so this cannot fail at run time.
        let bpe = tiktoken::get_encoding(encoding.name())
            .expect("tokenizer vocabulary feature enabled in Cargo.toml");
        Tokenizer {
            encoding,
            bpe,
            engine: Engine::Auto,
        }
    }

    /// The same tokenizer counting with `engine` (see [`Engine`]); [`Engine::Bulk`] loads the
    /// bulk engine now.
    pub fn with_engine(self, engine: Engine) -> Tokenizer {
        if let (Engine::Bulk, Some(slot)) = (engine, BulkSlot::for_encoding(self.encoding)) {
            slot.engine();
        }
        Tokenizer { engine, ..self }
    }

    /// The bulk engine, when it should count `text`.
    fn bulk_for(&self, text: &str) -> Option<&'static toktok::Tokenizer> {
        let slot = BulkSlot::for_encoding(self.encoding)?;
        let bulk = match self.engine {
            Engine::Tiktoken => false,
            Engine::Bulk => true,
            Engine::Auto => {
                slot.engine.get().is_some()
                    || slot.counted.fetch_add(text.len(), Ordering::Relaxed) + text.len()
                        >= BULK_AFTER_BYTES
            }
        };
        if !bulk || has_unassigned(text) {
            return None;
        }
        Some(slot.engine())
    }

    /// Tokenizer for an encoding name (`o200k_base`, `gpt2`, `qwen2`, …).
    pub fn by_name(name: &str) -> Result<Tokenizer, TokenizeError> {
        Encoding::from_name(name)
            .map(Tokenizer::new)
            .ok_or_else(|| TokenizeError::UnknownEncoding {
                name: name.to_string(),
            })
    }

    /// Tokenizer for a model name as any source writes it (see [`models::resolve`]).
    pub fn for_model(model: &str) -> Result<Tokenizer, TokenizeError> {
        models::resolve(model).map(Tokenizer::new)
    }

    /// Number of tokens in `text`, special-token-looking text counted as plain text.
    /// Allocates nothing per call.
    pub fn count(&self, text: &str) -> usize {
        if let Some(bulk) = self.bulk_for(text) {
            return bulk.count(text.as_bytes());
        }
        match self.normalized(text) {
            Some(nfc) => self.bpe.count(&nfc),
            None if self.splits_cjk_runs(text) => {
                cjk_segments(text).map(|seg| self.bpe.count(seg)).sum()
            }
            None => self.bpe.count(text),
        }
    }

    /// Token ids of `text` (special-token-looking text as plain text).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        if let Some(bulk) = self.bulk_for(text) {
            return bulk.encode(text.as_bytes());
        }
        match self.normalized(text) {
            Some(nfc) => self.bpe.encode(&nfc),
            None if self.splits_cjk_runs(text) => cjk_segments(text)
                .flat_map(|seg| self.bpe.encode(seg))
                .collect(),
            None => self.bpe.encode(text),
        }
    }

    /// DeepSeek V3's tokenizer.json isolates CJK runs before its main split. `tiktoken` 4.1.2
    /// folds that into one pass and gets a few boundaries wrong (U+30FB "・" after punctuation,
    /// a CJK run between a letter and a Hebrew letter: about 1 random mixed string in 300 in
    /// tests/tokenize_fuzz.rs). Cutting the text at every run boundary first and counting each
    /// piece reproduces the tokenizer.json order exactly. ASCII text has no run: no extra pass.
    fn splits_cjk_runs(&self, text: &str) -> bool {
        self.encoding == Encoding::DeepseekV3 && !text.is_ascii()
    }

    /// Qwen's tokenizer.json normalizes input to NFC before splitting (its `normalizer` is
    /// `{"type": "NFC"}`), so "e" + U+0301 counts as the single "é". The other vocabularies
    /// have no normalizer. `None` when the text is already NFC (the common, allocation-free
    /// case: ASCII and most text pass the quick check).
    fn normalized(&self, text: &str) -> Option<String> {
        use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
        if self.encoding != Encoding::Qwen2 || text.is_ascii() {
            return None;
        }
        match is_nfc_quick(text.chars()) {
            IsNormalized::Yes => None,
            _ => {
                let nfc: String = text.nfc().collect();
                (nfc != text).then_some(nfc)
            }
        }
    }

    /// Decodes ids back to bytes (for diagnostics and round-trip checks).
    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        self.bpe.decode(ids)
    }

    /// The encoding's name, e.g. `o200k_base`.
    pub fn name(&self) -> &'static str {
        self.encoding.name()
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
}

/// The character class of DeepSeek V3's CJK split: `[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]`
/// (its tokenizer.json, second `Split` pre-tokenizer, behaviour `Isolated`).
fn is_deepseek_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fa5}' | '\u{3040}'..='\u{309f}' | '\u{30a0}'..='\u{30ff}')
}

/// `text` cut at every boundary between a CJK run and other text (no allocation).
fn cjk_segments(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let in_run = is_deepseek_cjk(first);
        let end = rest
            .char_indices()
            .find(|&(_, c)| is_deepseek_cjk(c) != in_run)
            .map_or(rest.len(), |(i, _)| i);
        let (seg, tail) = rest.split_at(end);
        rest = tail;
        Some(seg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unassigned_table_matches_unicode_16() {
        // Unassigned in Unicode 16.0 (assigned in 17.0): U+088F, U+1ACF, U+10940. Unassigned in
        // both: U+0378; U+10FFFF is a noncharacter, general category Cn.
        for c in ['\u{88f}', '\u{1acf}', '\u{10940}', '\u{378}', '\u{10ffff}'] {
            assert!(has_unassigned(&format!("ab{c}")), "{c:?}");
        }
        // Assigned: ASCII, Latin-1, CJK, an emoji, a supplementary ideograph (U+20000).
        for s in [
            "plain text",
            "café Zürich",
            "日本語のテキスト",
            "👍🏽",
            "\u{20000}",
        ] {
            assert!(!has_unassigned(s), "{s:?}");
        }
        assert!(UNASSIGNED.astral.len() > 10);
    }

    #[test]
    fn encoding_names_round_trip() {
        // Loading every vocabulary is covered by tests/tokenize.rs; names need no vocabulary.
        for e in Encoding::ALL {
            assert_eq!(Encoding::from_name(e.name()), Some(e));
        }
        assert_eq!(Encoding::from_name("GPT2"), Some(Encoding::R50kBase));
        assert_eq!(
            Encoding::from_name(" o200k_base "),
            Some(Encoding::O200kBase)
        );
        assert!(Tokenizer::by_name("cl200k").is_err());
    }

    #[test]
    fn special_looking_text_is_plain_text() {
        // tiktoken test vector: cl100k "hello <|endoftext|>" with specials allowed is
        // [15339, 220, 100257]; as plain text the marker must split into ordinary tokens.
        let t = Tokenizer::new(Encoding::Cl100kBase);
        let ids = t.encode("hello <|endoftext|>");
        assert!(!ids.contains(&100257));
        assert!(ids.len() > 3);
        assert_eq!(t.count("hello <|endoftext|>"), ids.len());
    }

    #[test]
    fn deepseek_cuts_cjk_runs_like_its_tokenizer_json() {
        // Run boundaries: "a" | "日本語" | "ש", "$" | "・" | "$x"; ASCII is one piece.
        let segs: Vec<&str> = cjk_segments("a日本語ש").collect();
        assert_eq!(segs, ["a", "日本語", "ש"]);
        let segs: Vec<&str> = cjk_segments("$・$x").collect();
        assert_eq!(segs, ["$", "・", "$x"]);
        assert_eq!(cjk_segments("").count(), 0);
        assert_eq!(cjk_segments("plain").collect::<Vec<_>>(), ["plain"]);
        // Expected ids: DeepSeek-V3 tokenizer.json run by HuggingFace tokenizers 0.23.3
        // (tiktoken 4.1.2 alone gives [6, 4825, 6, 90] and [67, 6392, 2064, 40497]).
        let d = Tokenizer::new(Encoding::DeepseekV3);
        assert_eq!(d.encode("$・$x"), [6, 4825, 120754]);
        assert_eq!(d.count("$・$x"), 3);
        assert_eq!(d.encode("a日本語ש"), [67, 88768, 8793]);
        assert_eq!(d.count("a日本語ש"), 3);
    }

    #[test]
    fn qwen_normalizes_to_nfc_like_its_tokenizer_json() {
        // "e" + U+0301 is NFC "é": Qwen counts both spellings alike, Llama 3 does not normalize
        // (reference ids for both in tests/tokenize_families.rs).
        let q = Tokenizer::new(Encoding::Qwen2);
        assert_eq!(q.encode("cafe\u{301}"), q.encode("caf\u{e9}"));
        let l = Tokenizer::new(Encoding::Llama3);
        assert_ne!(l.count("cafe\u{301}"), l.count("caf\u{e9}"));
    }
}
