//! Model names as sources write them → canonical provider and model.
//!
//! The canonical model is the name a price table and a report group by: vendor prefixes
//! (`openai/`, `langgenius/openai/openai`), fine-tune wrappers (`ft:…:org::id`), dated snapshot
//! suffixes (`-2024-08-06`, `-0613`, `-20241022`, `@20241022`) and Azure spellings
//! (`gpt-35-turbo`) are removed, so the app's `gpt-4o` and the bill's `gpt-4o-2024-08-06` land in
//! one group. The raw name is kept on the record for pricing snapshots that differ in price.

/// A canonical (provider, model) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonical {
    pub provider: String,
    pub model: String,
}

/// Canonical provider from a provider string as Dify or Langfuse writes it
/// (`openai`, `langgenius/openai/openai`, `azure_openai`, `tongyi`, …).
pub fn canonical_provider(hint: &str) -> Option<&'static str> {
    let h = hint.trim().to_ascii_lowercase();
    // Dify plugin ids are `org/plugin/provider`: the last segment names the provider.
    let last = h.rsplit('/').next().unwrap_or(&h);
    let p = match last {
        // LiteLLM's `custom_llm_provider` names too (`azure_ai`, `vertex_ai_beta`,
        // `text-completion-openai`).
        "openai" | "openai_api_compatible" | "text-completion-openai" => "openai",
        "azure_openai" | "azure" | "azure_ai" => "azure",
        "anthropic" => "anthropic",
        "bedrock" | "aws" => "bedrock",
        "vertex_ai" | "vertex_ai_beta" | "vertex" | "google" | "gemini" => "google",
        "tongyi" | "dashscope" | "alibaba" | "qwen" | "bailian" => "alibaba",
        "deepseek" => "deepseek",
        "hunyuan" | "tencent" => "tencent",
        "mistralai" | "mistral" => "mistral",
        _ => return None,
    };
    Some(p)
}

/// The bill that served a call: the name of the bill source (`openai`, `azure`, `anthropic`,
/// `aws`, `gcp`, `alibaba`, `deepseek`) or the vendor's name when no bill format is known for it
/// (`mistral`); empty when neither the source nor the catalog says.
///
/// What the app recorded wins: Dify's `model_provider` / plugin id
/// (`langgenius/bedrock/bedrock` → `aws`, `…/azure_openai/…` → `azure`, `…/vertex_ai/…` →
/// `gcp`), so Claude through Bedrock belongs to the AWS bill and gpt-4o through Azure to the
/// Azure bill. An OpenAI-compatible endpoint (`openai_api_compatible`) says nothing about who
/// bills it; there, and without a hint, the model's vendor from the catalog decides.
pub fn serving_provider(hint: Option<&str>, model: &str) -> &'static str {
    let recorded = hint
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.ends_with("openai_api_compatible"))
        .and_then(|h| canonical_provider(&h));
    let vendor = recorded.or_else(|| provider_of_model(&canonical_model(model)));
    match vendor {
        Some("bedrock") => "aws",
        Some("google") => "gcp",
        Some(p) => p,
        None => "",
    }
}

/// The bill of a cloud as a FOCUS export names it in `ProviderName` (`Microsoft`, `AWS`,
/// `Amazon Web Services`, `Google Cloud`), if it is one of those.
pub fn serving_cloud(provider_name: &str) -> Option<&'static str> {
    let p = provider_name.trim().to_ascii_lowercase();
    if p.contains("microsoft") || p.contains("azure") {
        Some("azure")
    } else if p.contains("amazon") || p == "aws" {
        Some("aws")
    } else if p.contains("google") {
        Some("gcp")
    } else {
        None
    }
}

/// Provider implied by a model name alone.
pub fn provider_of_model(model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    let starts = |p: &str| m.starts_with(p);
    if starts("gpt-")
        || starts("o1")
        || starts("o3")
        || starts("o4")
        || starts("chatgpt-")
        || starts("text-embedding-")
        || starts("text-moderation")
        || starts("omni-moderation")
        || starts("davinci")
        || starts("babbage")
        || starts("codex-")
        || starts("computer-use-")
        || starts("whisper")
        || starts("tts-")
        || starts("dall-e")
    {
        Some("openai")
    } else if starts("claude") {
        Some("anthropic")
    } else if starts("qwen") || starts("qwq") || starts("text-embedding-v") || starts("gte-rerank")
    {
        Some("alibaba")
    } else if starts("deepseek") {
        Some("deepseek")
    } else if starts("hunyuan") {
        Some("tencent")
    } else if starts("gemini") || starts("text-embedding-00") || starts("gemma") {
        Some("google")
    } else if starts("mistral")
        || starts("codestral")
        || starts("ministral")
        || starts("pixtral")
        || starts("magistral")
        || starts("devstral")
    {
        Some("mistral")
    } else {
        None
    }
}

/// Canonical provider and model for a raw model name, with an optional provider hint from the
/// source. Unknown names stay as written (lower-cased, trimmed); they are grouped and shown as
/// unpriced later, never dropped.
pub fn canonicalize(provider_hint: Option<&str>, raw: &str) -> Canonical {
    let model = canonical_model(raw);
    let provider = provider_hint
        .and_then(canonical_provider)
        .or_else(|| provider_of_model(&model))
        .unwrap_or("");
    // Azure and OpenAI-compatible endpoints serve vendor models; group by the model's vendor.
    // Claude on Bedrock too: the AWS bill's Claude lines group (and price) as Anthropic's, so
    // an app that records its Bedrock provider (`langgenius/bedrock/bedrock`) must as well.
    let provider = match (provider, provider_of_model(&model)) {
        ("azure", Some("openai")) => "openai",
        ("bedrock", Some("anthropic")) => "anthropic",
        (p, _) => p,
    };
    Canonical {
        provider: provider.to_string(),
        model,
    }
}

/// Canonical model name (see module docs).
pub fn canonical_model(raw: &str) -> String {
    let mut m = raw.trim().to_ascii_lowercase();
    // `ft:gpt-4o-mini-2024-07-18:org:name:id` → base model.
    if let Some(rest) = m.strip_prefix("ft:") {
        m = rest.split(':').next().unwrap_or(rest).to_string();
    }
    // Vendor path prefixes: `openai/gpt-4o`, `anthropic/claude-…`, `models/gemini-…`.
    if let Some(pos) = m.rfind('/') {
        m = m[pos + 1..].to_string();
    }
    // Bedrock ids: `anthropic.claude-3-5-sonnet-20241022-v2:0`, `us.anthropic.…`.
    if let Some(pos) = m.find("anthropic.") {
        m = m[pos + "anthropic.".len()..].to_string();
        if let Some(v) = m.rfind("-v")
            && m[v + 2..].chars().all(|c| c.is_ascii_digit() || c == ':')
        {
            m.truncate(v);
        }
    }
    // Vertex: `claude-3-5-sonnet-v2@20241022`.
    if let Some(pos) = m.find('@') {
        m.truncate(pos);
    }
    m = strip_snapshot_suffix(&m);
    // Azure deployment-style spellings.
    if let Some(rest) = m.strip_prefix("gpt-35-") {
        m = format!("gpt-3.5-{rest}");
    }
    m
}

/// Removes a trailing dated snapshot: `-YYYY-MM-DD`, `-YYYYMMDD`, or OpenAI's `-MMDD`
/// (`gpt-4-0613`, `gpt-3.5-turbo-0125`). `-latest` is kept off too.
fn strip_snapshot_suffix(m: &str) -> String {
    let bytes = m.as_bytes();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(base) = m.strip_suffix("-latest") {
        return base.to_string();
    }
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let tail = &m[m.len() - 11..];
        if tail.as_bytes()[0] == b'-'
            && digits(&tail[1..5])
            && tail.as_bytes()[5] == b'-'
            && digits(&tail[6..8])
            && tail.as_bytes()[8] == b'-'
            && digits(&tail[9..11])
        {
            return m[..m.len() - 11].to_string();
        }
    }
    if let Some(pos) = m.rfind('-') {
        let tail = &m[pos + 1..];
        // -YYYYMMDD (Anthropic) or -MMDD (OpenAI 2023–2024 snapshots).
        let dated = (tail.len() == 8 && digits(tail) && tail.starts_with("20"))
            || (tail.len() == 4 && digits(tail) && is_mmdd(tail) && m.starts_with("gpt-"));
        if dated && pos > 0 {
            return m[..pos].to_string();
        }
    }
    m.to_string()
}

fn is_mmdd(s: &str) -> bool {
    let mm: u32 = s[..2].parse().unwrap_or(0);
    let dd: u32 = s[2..].parse().unwrap_or(0);
    (1..=12).contains(&mm) && (1..=31).contains(&dd)
}

/// True for embedding models, by name (used when a source does not say the operation).
pub fn is_embedding_model(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.contains("embedding")
        || m.contains("embed-")
        || m.ends_with("-embed")
        || m.starts_with("bge-")
}

/// True for rerank models, by name (used when a source does not say the operation): Alibaba's
/// `gte-rerank`, `gte-rerank-v2` and `qwen3-rerank`, Cohere's `rerank-v3.5` (on Bedrock
/// `cohere.rerank-v3-5:0`), Amazon's `amazon.rerank-v1:0`, Jina's `jina-reranker-v2-base-multilingual`,
/// Voyage's `rerank-2`.
pub fn is_rerank_model(model: &str) -> bool {
    model.to_ascii_lowercase().contains("rerank")
}

/// True for models that bill thinking (reasoning) tokens: OpenAI's o-series and GPT-5,
/// Gemini 2.5 and later, DeepSeek's reasoner, Claude 3.7 and the Claude 4 families, Qwen3/QwQ.
/// Used where a source's total exceeds its parts and the difference must be named.
pub fn thinks(model: &str) -> bool {
    let m = canonical_model(model).to_ascii_lowercase();
    let family = m.rsplit('/').next().unwrap_or(&m);
    [
        "o1",
        "o3",
        "o4",
        "gpt-5",
        "gemini-2.5",
        "gemini-3",
        "deepseek-reasoner",
        "deepseek-r1",
    ]
    .iter()
    .any(|p| family.starts_with(p))
        || family.starts_with("claude-3-7")
        || (family.starts_with("claude-")
            && ["sonnet-4", "opus-4", "haiku-4"]
                .iter()
                .any(|f| family.contains(f)))
        || family.starts_with("qwen3")
        || family.starts_with("qwq")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_prefixes_are_removed() {
        let cases = [
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("gpt-4-0613", "gpt-4"),
            ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
            ("gpt-35-turbo", "gpt-3.5-turbo"),
            ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "gpt-4o-mini"),
            ("openai/gpt-4.1", "gpt-4.1"),
            ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2"),
            (
                "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
                "claude-3-5-sonnet",
            ),
            ("text-embedding-3-small", "text-embedding-3-small"),
            ("qwen-max-latest", "qwen-max"),
            ("qwen2.5-72b-instruct", "qwen2.5-72b-instruct"),
            ("deepseek-chat", "deepseek-chat"),
            ("o1-2024-12-17", "o1"),
            ("gpt-4-1106-preview", "gpt-4-1106-preview"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_model(raw), want, "{raw}");
        }
    }

    #[test]
    fn providers_from_hints_and_names() {
        assert_eq!(
            canonicalize(Some("langgenius/openai/openai"), "gpt-4o").provider,
            "openai"
        );
        assert_eq!(canonicalize(Some("tongyi"), "qwen-max").provider, "alibaba");
        assert_eq!(
            canonicalize(None, "claude-3-haiku-20240307").provider,
            "anthropic"
        );
        assert_eq!(
            canonicalize(Some("azure_openai"), "gpt-35-turbo").provider,
            "openai"
        );
        // Dify's Bedrock plugin with a Bedrock model id: Claude groups as Anthropic's, other
        // Bedrock models keep the bedrock provider.
        let c = canonicalize(
            Some("langgenius/bedrock/bedrock"),
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
        );
        assert_eq!(
            (c.provider.as_str(), c.model.as_str()),
            ("anthropic", "claude-3-7-sonnet")
        );
        assert_eq!(
            canonicalize(Some("bedrock"), "meta.llama3-1-70b-instruct-v1:0").provider,
            "bedrock"
        );
        assert_eq!(canonicalize(None, "my-finetune").provider, "");
        assert!(is_embedding_model("text-embedding-3-large"));
        assert!(!is_embedding_model("gpt-4o"));
        for m in [
            "gte-rerank-v2",
            "qwen3-rerank",
            "cohere.rerank-v3-5:0",
            "amazon.rerank-v1:0",
            "jina-reranker-v2-base-multilingual",
            "rerank-2",
        ] {
            assert!(is_rerank_model(m), "{m}");
            assert!(!is_embedding_model(m), "{m}");
        }
        assert!(!is_rerank_model("qwen-plus"));
        assert_eq!(provider_of_model("gte-rerank-v2"), Some("alibaba"));
    }

    #[test]
    fn serving_bill_from_what_the_app_recorded() {
        let cases = [
            (Some("langgenius/openai/openai"), "gpt-4o", "openai"),
            (
                Some("langgenius/azure_openai/azure_openai"),
                "gpt-4o",
                "azure",
            ),
            (
                Some("langgenius/anthropic/anthropic"),
                "claude-3-5-haiku",
                "anthropic",
            ),
            (
                Some("langgenius/bedrock/bedrock"),
                "anthropic.claude-3-7-sonnet-20250219-v1:0",
                "aws",
            ),
            (
                Some("langgenius/vertex_ai/vertex_ai"),
                "gemini-2.0-flash",
                "gcp",
            ),
            (Some("langgenius/tongyi/tongyi"), "qwen-max", "alibaba"),
            (
                Some("langgenius/hunyuan/hunyuan"),
                "hunyuan-turbos-latest",
                "tencent",
            ),
            (
                Some("langgenius/deepseek/deepseek"),
                "deepseek-chat",
                "deepseek",
            ),
            // An OpenAI-compatible endpoint names no bill: the model's vendor decides.
            (
                Some("langgenius/openai_api_compatible/openai_api_compatible"),
                "gpt-4o-mini",
                "openai",
            ),
            (None, "claude-sonnet-4-5-20250929", "anthropic"),
            (None, "gemini-2.5-pro", "gcp"),
            (Some("mistralai"), "mistral-large", "mistral"),
            (None, "my-finetune", ""),
        ];
        for (hint, model, want) in cases {
            assert_eq!(serving_provider(hint, model), want, "{hint:?} {model}");
        }
        assert_eq!(serving_cloud("Microsoft"), Some("azure"));
        assert_eq!(serving_cloud("Amazon Web Services"), Some("aws"));
        assert_eq!(serving_cloud("Google Cloud"), Some("gcp"));
        assert_eq!(serving_cloud("Oracle"), None);
    }
}
