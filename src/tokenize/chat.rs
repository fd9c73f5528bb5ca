//! Chat framing: the tokens a chat request is billed for beyond its message text.
//!
//! - OpenAI (every o200k/cl100k chat model): the OpenAI cookbook "How to count tokens with
//!   tiktoken" (openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb):
//!   3 tokens per message, +1 per `name`, +3 to prime the reply; the values of `role`,
//!   `content` and `name` are counted as text. `gpt-3.5-turbo-0301` used 4 per message and -1
//!   per name. Tool definitions follow the cookbook's `num_tokens_for_tools`: per function 7
//!   (o200k models) or 10 (gpt-3.5/gpt-4) + "name:description"; per non-empty property list 3;
//!   per property 3 + "key:type:description"; per enum -3 + (3 + item) per item; 12 at the end.
//!   A trailing "." of a description is dropped. The cookbook's published results: 129 prompt
//!   tokens (gpt-3.5-turbo, gpt-4), 124 (gpt-4o, gpt-4o-mini), 127 (gpt-3.5-turbo-0301); with the
//!   weather tool 105 (gpt-3.5-turbo, gpt-4) and 101 (gpt-4o, gpt-4o-mini).
//!   A legacy assistant `function_call` adds 3 tokens plus its name and arguments as text, and
//!   a `function` result message 2 fewer than other messages (hmarr/openai-chat-tokens, whose
//!   cases were checked against the API's `prompt_tokens`: 26 for an assistant call of
//!   `do_stuff` with `{"foo": "bar", "baz": 1.5}`, 15 for "hello world" and a `function`
//!   result `{}`). Assistant `tool_calls` have no published rule: their function name and
//!   arguments are counted as text, and the result is marked approximate.
//! - Qwen (ChatML): `<|im_start|>{role}\n{content}<|im_end|>\n` per message and
//!   `<|im_start|>assistant\n` to prime the reply, as in the Qwen chat templates; Qwen2 and
//!   Qwen2.5 templates insert a default system message when the first message is not one.
//! - Llama 3: `<|begin_of_text|>`, then `<|start_header_id|>{role}<|end_header_id|>\n\n
//!   {content.strip()}<|eot_id|>` per message, then the assistant header, as Meta's reference
//!   `ChatFormat` (meta-llama/llama3, llama/tokenizer.py; its test_tokenizer.py dialog encodes
//!   to 26 ids). The HF template of Llama 3.1+ adds a dated default system message; not here.
//!
//! Framing special tokens are counted as 1 each; text between them is tokenized as one run, as
//! a rendered template is. Special-token-looking text inside messages stays plain text.

use super::dify::content_text;
use super::{Encoding, Tokenizer};
use crate::catalog::canonical_model;
use serde_json::Value;

/// Anything that counts the tokens of a text: a bundled [`Tokenizer`] or a user's
/// `tokenizer.json` ([`super::file::FileTokenizer`]).
pub trait TextCounter {
    /// Tokens in `text`, special-token-looking text counted as plain text.
    fn count_text(&self, text: &str) -> Result<usize, String>;
}

impl TextCounter for Tokenizer {
    fn count_text(&self, text: &str) -> Result<usize, String> {
        Ok(self.count(text))
    }
}

/// How a model family frames a chat request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    OpenAi {
        per_message: i64,
        per_name: i64,
        /// `func_init` of the cookbook's tool formula: 7 (o200k) or 10 (cl100k).
        func_init: i64,
    },
    ChatMl {
        default_system: Option<&'static str>,
    },
    Llama3,
    /// No template is known (a `tokenizer.json` with neither ChatML nor Llama 3 markers): only
    /// the message text is counted, and the caller says so.
    TextOnly,
}

/// Qwen2-Instruct chat template's default system message.
pub const QWEN2_DEFAULT_SYSTEM: &str = "You are a helpful assistant.";
/// Qwen2.5-Instruct chat template's default system message.
pub const QWEN25_DEFAULT_SYSTEM: &str =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

impl Framing {
    /// The framing for `encoding`, refined by the model name where the model matters.
    pub fn for_encoding(encoding: Encoding, model: Option<&str>) -> Result<Framing, String> {
        let raw = model.unwrap_or("").to_ascii_lowercase();
        let canon = model.map(canonical_model).unwrap_or_default();
        match encoding {
            e if e.is_openai() => {
                let legacy =
                    raw.contains("gpt-3.5-turbo-0301") || raw.contains("gpt-35-turbo-0301");
                let func_init = if matches!(e, Encoding::O200kBase | Encoding::O200kHarmony) {
                    7
                } else {
                    10
                };
                Ok(Framing::OpenAi {
                    per_message: if legacy { 4 } else { 3 },
                    per_name: if legacy { -1 } else { 1 },
                    func_init,
                })
            }
            Encoding::Qwen2 => {
                let default_system = if canon.starts_with("qwen2.5") {
                    Some(QWEN25_DEFAULT_SYSTEM)
                } else if canon.starts_with("qwen2-") || canon == "qwen2" {
                    Some(QWEN2_DEFAULT_SYSTEM)
                } else {
                    None
                };
                Ok(Framing::ChatMl { default_system })
            }
            Encoding::Llama3 => Ok(Framing::Llama3),
            other => Err(format!(
                "no chat framing is known for {other}; count the message text without --chat"
            )),
        }
    }
}

/// A chat request's count, split so a caller can tell framing from text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatCount {
    /// Everything: text, framing and tool definitions.
    pub tokens: usize,
    /// Message text alone (each message's content counted on its own).
    pub content_tokens: usize,
    /// Tool/function definitions.
    pub tool_tokens: usize,
    pub messages: usize,
    /// Image parts present but not counted (their cost depends on size and detail).
    pub images_not_counted: usize,
    /// True where no published rule exists for part of the request (assistant tool calls).
    pub approximate: bool,
}

impl ChatCount {
    /// Tokens that are neither message text nor tool definitions.
    pub fn framing_tokens(&self) -> i64 {
        self.tokens as i64 - self.content_tokens as i64 - self.tool_tokens as i64
    }
}

/// Splits a chat payload into (messages, tools): either `{"messages": [...], "tools": [...]}`
/// (or legacy `"functions"`) or a bare messages array.
pub fn parse_payload(v: &Value) -> Result<(Vec<Value>, Vec<Value>), String> {
    match v {
        Value::Array(msgs) => Ok((msgs.clone(), Vec::new())),
        Value::Object(o) => {
            let msgs = o
                .get("messages")
                .and_then(Value::as_array)
                .ok_or(
                    "expected a JSON object with a \"messages\" array, or a bare messages array",
                )?
                .clone();
            let tools = match o.get("tools").or_else(|| o.get("functions")) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(t)) => t.clone(),
                Some(_) => return Err("\"tools\": expected an array".into()),
            };
            Ok((msgs, tools))
        }
        _ => {
            Err("expected a JSON object with a \"messages\" array, or a bare messages array".into())
        }
    }
}

/// Counts a chat request for `tokenizer` with `framing`.
pub fn count_chat<T: TextCounter + ?Sized>(
    tokenizer: &T,
    framing: &Framing,
    messages: &[Value],
    tools: &[Value],
) -> Result<ChatCount, String> {
    for (i, m) in messages.iter().enumerate() {
        if !m.is_object() {
            return Err(format!(
                "messages[{i}]: expected an object with role and content"
            ));
        }
        if m.get("role").and_then(Value::as_str).is_none() {
            return Err(format!("messages[{i}]: expected a string \"role\""));
        }
    }
    let mut out = ChatCount {
        messages: messages.len(),
        ..ChatCount::default()
    };
    for m in messages {
        let content = m.get("content").unwrap_or(&Value::Null);
        out.content_tokens += tokenizer.count_text(&content_text(content))?;
        out.images_not_counted += image_parts(content);
    }
    let total: i64 = match framing {
        Framing::OpenAi {
            per_message,
            per_name,
            func_init,
        } => {
            let mut t = 0i64;
            for m in messages {
                t += per_message;
                if let Some(role) = m.get("role").and_then(Value::as_str) {
                    t += tokenizer.count_text(role)? as i64;
                }
                let content = m.get("content").unwrap_or(&Value::Null);
                t += tokenizer.count_text(&content_text(content))? as i64;
                if let Some(name) = m.get("name").and_then(Value::as_str) {
                    t += tokenizer.count_text(name)? as i64 + per_name;
                }
                // A legacy `function_call` is framed with 3 more tokens, and a `function`
                // result message with 2 fewer (its name stands in for the role).
                if let Some(f) = m.get("function_call").filter(|f| f.is_object()) {
                    t += 3;
                    for s in function_texts(f) {
                        t += tokenizer.count_text(&s)? as i64;
                    }
                }
                if m.get("role").and_then(Value::as_str) == Some("function") {
                    t -= 2;
                }
                let calls = tool_call_texts(m);
                if !calls.is_empty() {
                    out.approximate = true;
                    for s in calls {
                        t += tokenizer.count_text(&s)? as i64;
                    }
                }
            }
            t += 3; // every reply is primed with <|start|>assistant<|message|>
            let tool_tokens = openai_tools(tokenizer, *func_init, tools)?;
            out.tool_tokens = tool_tokens.max(0) as usize;
            t + tool_tokens
        }
        Framing::ChatMl { default_system } => {
            reject_tools_and_calls("ChatML (Qwen)", messages, tools)?;
            let mut t = 0usize;
            let first_is_system = messages
                .first()
                .and_then(|m| m.get("role"))
                .and_then(Value::as_str)
                == Some("system");
            let newline = tokenizer.count_text("\n")?;
            let turn = |role: &str, content: &str| -> Result<usize, String> {
                // <|im_start|> + "role\ncontent" + <|im_end|> + "\n"
                Ok(2 + tokenizer.count_text(&format!("{role}\n{content}"))? + newline)
            };
            if let (Some(sys), false) = (default_system, first_is_system) {
                t += turn("system", sys)?;
            }
            for m in messages {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                let content = content_text(m.get("content").unwrap_or(&Value::Null));
                t += turn(role, &content)?;
            }
            t += 1 + tokenizer.count_text("assistant\n")?; // <|im_start|>assistant\n
            t as i64
        }
        Framing::Llama3 => {
            reject_tools_and_calls("Llama 3", messages, tools)?;
            let mut t = 1usize; // <|begin_of_text|>
            for m in messages {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                let content = content_text(m.get("content").unwrap_or(&Value::Null));
                // <|start_header_id|> role <|end_header_id|> "\n\n"+content <|eot_id|>
                t += 3
                    + tokenizer.count_text(role)?
                    + tokenizer.count_text(&format!("\n\n{}", content.trim()))?;
            }
            // <|start_header_id|>assistant<|end_header_id|>\n\n
            t += 2 + tokenizer.count_text("assistant")? + tokenizer.count_text("\n\n")?;
            t as i64
        }
        Framing::TextOnly => {
            reject_tools_and_calls("an unknown chat template", messages, tools)?;
            out.content_tokens as i64
        }
    };
    out.tokens = total.max(0) as usize;
    Ok(out)
}

fn image_parts(content: &Value) -> usize {
    content.as_array().map_or(0, |parts| {
        parts
            .iter()
            .filter(|p| {
                matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("image_url" | "input_image" | "image")
                )
            })
            .count()
    })
}

/// The name and argument string of one function call.
fn function_texts(f: &Value) -> Vec<String> {
    ["name", "arguments"]
        .iter()
        .filter_map(|k| f.get(*k).and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Function names and argument strings of an assistant message's `tool_calls` (no published
/// framing rule: counted as text).
fn tool_call_texts(m: &Value) -> Vec<String> {
    m.get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("function"))
        .flat_map(function_texts)
        .collect()
}

fn reject_tools_and_calls(family: &str, messages: &[Value], tools: &[Value]) -> Result<(), String> {
    let has_calls = messages.iter().any(|m| {
        m.get("tool_calls").is_some_and(|c| !c.is_null())
            || m.get("function_call").is_some_and(|c| !c.is_null())
            || m.get("role").and_then(Value::as_str) == Some("tool")
    });
    if !tools.is_empty() || has_calls {
        return Err(format!(
            "tool definitions and tool calls are not supported for {family} framing"
        ));
    }
    Ok(())
}

fn strip_one_period(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The cookbook's `num_tokens_for_tools` (signed: an enum subtracts 3).
fn openai_tools<T: TextCounter + ?Sized>(
    tokenizer: &T,
    func_init: i64,
    tools: &[Value],
) -> Result<i64, String> {
    const PROP_INIT: i64 = 3;
    const PROP_KEY: i64 = 3;
    const ENUM_INIT: i64 = -3;
    const ENUM_ITEM: i64 = 3;
    const FUNC_END: i64 = 12;
    if tools.is_empty() {
        return Ok(0);
    }
    let mut t = 0i64;
    for (i, tool) in tools.iter().enumerate() {
        // `tools` items wrap the function ({"type":"function","function":{…}}); legacy
        // `functions` items are the function itself.
        let f = tool.get("function").unwrap_or(tool);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("tools[{i}]: expected a function with a string \"name\""))?;
        let desc = text_of(f.get("description"));
        t += func_init;
        t += tokenizer.count_text(&format!("{name}:{}", strip_one_period(&desc)))? as i64;
        let props = f
            .get("parameters")
            .and_then(|p| p.get("properties"))
            .and_then(Value::as_object);
        if let Some(props) = props.filter(|p| !p.is_empty()) {
            t += PROP_INIT;
            for (key, p) in props {
                t += PROP_KEY;
                if let Some(items) = p.get("enum").and_then(Value::as_array) {
                    t += ENUM_INIT;
                    for item in items {
                        t += ENUM_ITEM + tokenizer.count_text(&text_of(Some(item)))? as i64;
                    }
                }
                let p_type = text_of(p.get("type"));
                let p_desc = text_of(p.get("description"));
                t += tokenizer
                    .count_text(&format!("{key}:{p_type}:{}", strip_one_period(&p_desc)))?
                    as i64;
            }
        }
    }
    Ok(t + FUNC_END)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cookbook_messages() -> Vec<Value> {
        // openai-cookbook How_to_count_tokens_with_tiktoken.ipynb, section 6.
        serde_json::from_value(json!([
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
        ]))
        .unwrap()
    }

    fn count_for(model: &str, messages: &[Value], tools: &[Value]) -> ChatCount {
        let t = Tokenizer::for_model(model).unwrap();
        let f = Framing::for_encoding(t.encoding(), Some(model)).unwrap();
        count_chat(&t, &f, messages, tools).unwrap()
    }

    #[test]
    fn cookbook_message_counts() {
        // Published API counts: 129 (gpt-3.5-turbo, gpt-4-0613, gpt-4), 124 (gpt-4o, gpt-4o-mini).
        let m = cookbook_messages();
        for model in ["gpt-3.5-turbo", "gpt-4-0613", "gpt-4"] {
            assert_eq!(count_for(model, &m, &[]).tokens, 129, "{model}");
        }
        for model in ["gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06"] {
            assert_eq!(count_for(model, &m, &[]).tokens, 124, "{model}");
        }
        // Earlier cookbook revision: gpt-3.5-turbo-0301 billed 127 (4 per message, -1 per name).
        assert_eq!(count_for("gpt-3.5-turbo-0301", &m, &[]).tokens, 127);
    }

    #[test]
    fn cookbook_tool_counts() {
        // openai-cookbook section 7: weather tool + two messages. Published API counts:
        // 105 (gpt-3.5-turbo, gpt-4), 101 (gpt-4o, gpt-4o-mini).
        let tools: Vec<Value> = serde_json::from_value(json!([{
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                        "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
                    },
                    "required": ["location"]
                }
            }
        }]))
        .unwrap();
        let messages: Vec<Value> = serde_json::from_value(json!([
            {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
            {"role": "user", "content": "What's the weather like in San Francisco?"}
        ]))
        .unwrap();
        for model in ["gpt-3.5-turbo", "gpt-4"] {
            assert_eq!(count_for(model, &messages, &tools).tokens, 105, "{model}");
        }
        for model in ["gpt-4o", "gpt-4o-mini"] {
            let c = count_for(model, &messages, &tools);
            assert_eq!(c.tokens, 101, "{model}");
            assert!(c.tool_tokens > 0 && c.tool_tokens < 101);
        }
        // Legacy `functions` (unwrapped) count the same as `tools`.
        let functions = vec![tools[0]["function"].clone()];
        assert_eq!(count_for("gpt-4o", &messages, &functions).tokens, 101);
    }

    #[test]
    fn llama3_reference_dialog() {
        // meta-llama/llama3 llama/test_tokenizer.py test_encode_dialog: the system + user dialog
        // encodes to 26 ids (1 begin + 11 system turn + 10 user turn + 4 assistant header).
        let messages: Vec<Value> = serde_json::from_value(json!([
            {"role": "system", "content": "This is a test sentence."},
            {"role": "user", "content": "This is a response."}
        ]))
        .unwrap();
        let c = count_for("llama-3.1-8b-instruct", &messages, &[]);
        assert_eq!(c.tokens, 26);
        // Content alone: "This is a test sentence." = 6 ids, "This is a response." = 5 ids.
        assert_eq!(c.content_tokens, 11);
        assert_eq!(c.framing_tokens(), 15);
    }

    #[test]
    fn chatml_framing_for_qwen() {
        // Qwen3 (no default system): <|im_start|> "user\nhello world" <|im_end|> "\n" then
        // <|im_start|> "assistant\n". "user","\n","hello"," world" = 4; "\n" = 1;
        // "assistant","\n" = 2 → 1 + 4 + 1 + 1 + 1 + 2 = 10.
        let messages: Vec<Value> =
            serde_json::from_value(json!([{"role": "user", "content": "hello world"}])).unwrap();
        assert_eq!(count_for("qwen3-32b", &messages, &[]).tokens, 10);
        // Qwen2.5 inserts its default system turn: 2 specials + "system\n" + default text + "\n".
        let t = Tokenizer::new(Encoding::Qwen2);
        let sys = 2 + t.count(&format!("system\n{QWEN25_DEFAULT_SYSTEM}")) + t.count("\n");
        assert_eq!(
            count_for("qwen2.5-72b-instruct", &messages, &[]).tokens,
            10 + sys
        );
        // Tools are refused rather than guessed.
        let t = Tokenizer::new(Encoding::Qwen2);
        let f = Framing::for_encoding(Encoding::Qwen2, Some("qwen3-32b")).unwrap();
        assert!(count_chat(&t, &f, &messages, &[json!({"name": "x"})]).is_err());
    }

    #[test]
    fn names_tool_calls_and_bad_payloads() {
        let t = Tokenizer::new(Encoding::O200kBase);
        let f = Framing::for_encoding(Encoding::O200kBase, Some("gpt-4o")).unwrap();
        let call = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]});
        let c = count_chat(&t, &f, &[call], &[]).unwrap();
        assert!(c.approximate);
        // 3 per message + "assistant" (1) + "f" (1) + "{}" (1) + 3 priming = 9.
        assert_eq!(c.tokens, 9);
        assert!(count_chat(&t, &f, &[json!("hi")], &[]).is_err());
    }

    #[test]
    fn legacy_function_call_framing_matches_the_billed_counts() {
        // Published prompt_tokens of gpt-3.5-turbo (hmarr/openai-chat-tokens test cases).
        let t = Tokenizer::new(Encoding::Cl100kBase);
        let f = Framing::for_encoding(Encoding::Cl100kBase, Some("gpt-3.5-turbo")).unwrap();
        let call = |args: &str| {
            json!({"role": "assistant", "content": "",
                   "function_call": {"name": "do_stuff", "arguments": args}})
        };
        let n = |ms: &[Value]| count_chat(&t, &f, ms, &[]).unwrap();
        assert_eq!(n(&[call(r#"{"foo": "bar", "baz": 1.5}"#)]).tokens, 26);
        assert_eq!(n(&[call("{\"foo\":\"bar\", \"baz\":\n\n 1.5}")]).tokens, 25);
        assert!(!n(&[call("{}")]).approximate);
        let result =
            |content: &str| json!({"role": "function", "name": "do_stuff", "content": content});
        let hello = json!({"role": "user", "content": "hello world"});
        assert_eq!(n(&[hello.clone(), result("{}")]).tokens, 15);
        assert_eq!(
            n(&[hello, result(r#"{"foo": "bar", "baz": 1.5}"#)]).tokens,
            28
        );
        let mut tango = result(r#"{"a": { "b" : { "c": false}}}"#);
        tango["name"] = json!("dance_the_tango");
        assert_eq!(n(&[tango]).tokens, 24);
        assert!(count_chat(&t, &f, &[json!({"content": "no role"})], &[]).is_err());
        assert!(parse_payload(&json!({"msgs": []})).is_err());
        assert!(Framing::for_encoding(Encoding::MistralV3, None).is_err());
    }
}
