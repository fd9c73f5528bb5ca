//! The Python literals a pandas round trip leaves in a CSV: a BigQuery result read into a
//! DataFrame keeps repeated and nested columns (`labels`, `credits`) as Python lists of dicts, and
//! `to_csv` writes their `repr` — `[{'key': 'env', 'value': 'prod'}]`, `[]`, `None`.
//!
//! Only that subset is read, strictly: strings in single or double quotes with Python's escapes,
//! integers and floats, `True`/`False`/`None`, lists and dicts (tuples the same as lists). A
//! number keeps its text (a JSON string), so an amount such as `-5e-06` reaches the decimal
//! parser exactly as written, never through a float.

use serde_json::{Map, Value};

/// Nesting deeper than this is refused (a billing column is two levels deep).
const MAX_DEPTH: usize = 32;

/// Parses one Python literal; the error says where and what was expected.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.error("end of the literal"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &str) -> String {
        format!(
            "expected {expected} at character {}",
            self.text[..self.pos.min(self.text.len())].chars().count() + 1
        )
    }

    fn ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("at most {MAX_DEPTH} levels of nesting")));
        }
        match self.peek() {
            Some(b'[') => self.sequence(b']', depth),
            Some(b'(') => self.sequence(b')', depth),
            Some(b'{') => self.dict(depth),
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Value::String),
            Some(b'-' | b'+' | b'0'..=b'9' | b'.') => self.number(),
            Some(b'A'..=b'Z' | b'a'..=b'z') => self.word(),
            _ => Err(self.error("a string, number, True, False, None, list or dict")),
        }
    }

    fn word(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            "True" => Ok(Value::Bool(true)),
            "False" => Ok(Value::Bool(false)),
            "None" => Ok(Value::Null),
            _ => {
                self.pos = start;
                Err(self.error("True, False or None"))
            }
        }
    }

    /// `-12`, `0.05`, `1.2e-05`, `1E+20`: the text as written (no `inf`, `nan`, `0x…`).
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - s
        };
        let mut n = digits(self);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            n += digits(self);
        }
        if n == 0 {
            self.pos = start;
            return Err(self.error("a number"));
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'-' | b'+')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("the exponent's digits"));
            }
        }
        if self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(self.error("a number"));
        }
        Ok(Value::String(self.text[start..self.pos].to_string()))
    }

    /// A string in `quote`, with Python's escapes (`\\`, `\'`, `\"`, `\n`, `\t`, `\r`, `\xhh`,
    /// `\uXXXX`, `\UXXXXXXXX`, …); an unknown escape is refused.
    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(i) = rest.find([quote as char, '\\']) else {
                self.pos = self.s.len();
                return Err(self.error("the closing quote"));
            };
            out.push_str(&rest[..i]);
            self.pos += i;
            if self.s[self.pos] == quote {
                self.pos += 1;
                return Ok(out);
            }
            self.pos += 1;
            let Some(e) = self.peek() else {
                return Err(self.error("an escaped character"));
            };
            self.pos += 1;
            let c = match e {
                b'\\' => '\\',
                b'\'' => '\'',
                b'"' => '"',
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                b'a' => '\u{7}',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'v' => '\u{b}',
                b'0' => '\0',
                b'\n' => continue,
                b'x' => self.hex(2)?,
                b'u' => self.hex(4)?,
                b'U' => self.hex(8)?,
                _ => {
                    self.pos -= 2;
                    return Err(self.error("a Python string escape"));
                }
            };
            out.push(c);
        }
    }

    fn hex(&mut self, n: usize) -> Result<char, String> {
        let digits = self
            .text
            .get(self.pos..self.pos + n)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error(&format!("{n} hex digits")))?;
        let c = u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error("a valid character code"))?;
        self.pos += n;
        Ok(c)
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Value, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => return Err(self.error(&format!("',' or '{}'", close as char))),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(q @ (b'\'' | b'"')) => {
                    let key = self.string(q)?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("':' after a key"));
                    }
                    self.pos += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                }
                _ => return Err(self.error("a quoted key or '}'")),
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.error("',' or '}'")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_pandas_writes_for_labels_and_credits() {
        assert_eq!(parse("[]"), Ok(json!([])));
        assert_eq!(
            parse("[{'key': 'goog-resource-type', 'value': 'bigquery_dataset'}]"),
            Ok(json!([{"key": "goog-resource-type", "value": "bigquery_dataset"}]))
        );
        // A credit as project-koku/koku's GCP test data has it: None, a float in exponent form.
        assert_eq!(
            parse(
                "[{'name': 'FreeTrial:Credit-1', 'amount': -5e-06, 'full_name': None, 'id': 'x', 'type': 'PROMOTION'}]"
            ),
            Ok(
                json!([{"name": "FreeTrial:Credit-1", "amount": "-5e-06", "full_name": null, "id": "x", "type": "PROMOTION"}])
            )
        );
        // repr picks double quotes for a string with an apostrophe, escapes it when both occur.
        assert_eq!(
            parse(
                r#"["Partner's credit", 'Bob\'s "launch"', 'a\\b\x41\u00e9\n', True, False, 12, (1, 2.5)]"#
            ),
            Ok(json!([
                "Partner's credit",
                "Bob's \"launch\"",
                "a\\bAé\n",
                true,
                false,
                "12",
                ["1", "2.5"]
            ]))
        );
    }

    #[test]
    fn anything_outside_the_subset_is_refused_with_its_place() {
        for (text, expected) in [
            ("[{'amount': -0.01", "expected ',' or '}' at character 18"),
            (
                "[{'a': 1}] x",
                "expected end of the literal at character 12",
            ),
            ("{'a': nan}", "expected True, False or None at character 7"),
            (
                "[Decimal('1.5')]",
                "expected True, False or None at character 2",
            ),
            ("['a\\q']", "expected a Python string escape at character 4"),
            ("['open", "expected the closing quote at character 7"),
            ("[1e]", "expected the exponent's digits at character 4"),
            ("[0x10]", "expected a number at character 3"),
            ("{1: 2}", "expected a quoted key or '}' at character 2"),
            (
                "",
                "expected a string, number, True, False, None, list or dict at character 1",
            ),
        ] {
            assert_eq!(parse(text), Err(expected.to_string()), "{text}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().contains("levels of nesting"));
    }
}
