//! Text as each system writes it: psql CSV fields, Python's `str(Decimal)` and float `repr`,
//! JavaScript number text, ordered JSON with each writer's separators, timestamps, UUIDs.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::fmt::Write;

/// A JSON value that keeps its key order and writes numbers verbatim (money never passes
/// through a float).
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// A preformatted JSON number.
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
    /// An object whose keys are built at run time.
    Map(Vec<(String, J)>),
}

impl J {
    pub fn s(v: impl Into<String>) -> J {
        J::Str(v.into())
    }
    pub fn opt_s(v: Option<impl Into<String>>) -> J {
        v.map_or(J::Null, |s| J::Str(s.into()))
    }

    /// One line, with the given separators: Python's `json.dumps` default is `", "`/`": "`,
    /// JavaScript's `JSON.stringify` `","`/`":"`.
    pub fn line(&self, item: &str, kv: &str) -> String {
        let mut out = String::new();
        self.write_line(&mut out, item, kv);
        out
    }

    fn write_line(&self, out: &mut String, item: &str, kv: &str) {
        let Some(members) = self.members() else {
            self.scalar(out);
            return;
        };
        let (open, close) = self.brackets();
        out.push(open);
        for (i, (k, x)) in members.iter().enumerate() {
            if i > 0 {
                out.push_str(item);
            }
            if let Some(k) = k {
                escape(out, k);
                out.push_str(kv);
            }
            x.write_line(out, item, kv);
        }
        out.push(close);
    }

    /// An array's items or an object's members in order; `None` for a scalar.
    fn members(&self) -> Option<Vec<(Option<&str>, &J)>> {
        match self {
            J::Arr(v) => Some(v.iter().map(|x| (None, x)).collect()),
            J::Obj(v) => Some(v.iter().map(|(k, x)| (Some(*k), x)).collect()),
            J::Map(v) => Some(v.iter().map(|(k, x)| (Some(k.as_str()), x)).collect()),
            _ => None,
        }
    }

    fn brackets(&self) -> (char, char) {
        if matches!(self, J::Arr(_)) {
            ('[', ']')
        } else {
            ('{', '}')
        }
    }

    /// `json.dumps(obj, indent=2)`: one member per line, `": "` between key and value.
    pub fn pretty(&self, out: &mut String, level: usize) {
        let pad = |out: &mut String, n: usize| {
            for _ in 0..n {
                out.push_str("  ");
            }
        };
        let Some(members) = self.members() else {
            self.scalar(out);
            return;
        };
        let (open, close) = self.brackets();
        out.push(open);
        if members.is_empty() {
            out.push(close);
            return;
        }
        out.push('\n');
        for (i, (k, x)) in members.iter().enumerate() {
            if i > 0 {
                out.push_str(",\n");
            }
            pad(out, level + 1);
            if let Some(k) = k {
                escape(out, k);
                out.push_str(": ");
            }
            x.pretty(out, level + 1);
        }
        out.push('\n');
        pad(out, level);
        out.push(close);
    }

    fn scalar(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(n) => {
                let _ = write!(out, "{n}");
            }
            J::Num(s) => out.push_str(s),
            J::Str(s) => escape(out, s),
            _ => {}
        }
    }
}

/// A JSON string literal; non-ASCII as `\uXXXX` (Python's default `ensure_ascii`; the simulated
/// text is ASCII, so JavaScript's output is the same).
fn escape(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 || !c.is_ascii() => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{:04x}", u);
            }
        } else {
            out.push_str(esc);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// One CSV field. `psql` (`\copy … csv`): NULL is an empty field, an empty string is `""`.
/// Python's `csv` module (minimal quoting): an empty field either way.
pub fn csv_field(out: &mut String, v: Option<&str>, psql: bool) {
    let Some(s) = v else { return };
    let quote = (psql && (s.is_empty() || s == "\\."))
        || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if quote {
        out.push('"');
        let mut rest = s;
        while let Some(i) = rest.find('"') {
            out.push_str(&rest[..=i]);
            out.push('"');
            rest = &rest[i + 1..];
        }
        out.push_str(rest);
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Coefficient digits and exponent of a decimal (`d = digits × 10^exp`), trailing zeros kept.
fn parts(d: Decimal) -> (bool, String, i64) {
    let neg = d.is_sign_negative() && !d.is_zero();
    let digits = d.mantissa().unsigned_abs().to_string();
    (neg, digits, -(d.scale() as i64))
}

/// Python's `str(Decimal)`: plain when the exponent is ≤ 0 and the adjusted exponent ≥ -6,
/// else scientific (`6E-7`, `0E-7`); trailing zeros are kept (`0.0036000`).
pub fn py_decimal(d: Decimal) -> String {
    let (neg, digits, exp) = parts(d);
    let adjusted = exp + digits.len() as i64 - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp <= 0 && adjusted >= -6 {
        let scale = (-exp) as usize;
        if scale == 0 {
            out.push_str(&digits);
        } else if digits.len() > scale {
            let (i, f) = digits.split_at(digits.len() - scale);
            let _ = write!(out, "{i}.{f}");
        } else {
            let _ = write!(out, "0.{}{}", "0".repeat(scale - digits.len()), digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            let _ = write!(out, ".{}", &digits[1..]);
        }
        let _ = write!(
            out,
            "E{}{}",
            if adjusted < 0 { "-" } else { "+" },
            adjusted.abs()
        );
    }
    out
}

/// Significant digits (no trailing zeros) and adjusted exponent of a non-zero decimal.
fn significant(d: Decimal) -> (bool, String, i64) {
    let (neg, digits, exp) = parts(d.normalize());
    let adjusted = exp + digits.len() as i64 - 1;
    (neg, digits, adjusted)
}

/// Plain positional text of `digits × 10^(adjusted - len + 1)`.
fn positional(digits: &str, adjusted: i64) -> String {
    let n = digits.len() as i64;
    if adjusted < 0 {
        format!("0.{}{}", "0".repeat((-adjusted - 1) as usize), digits)
    } else if adjusted + 1 >= n {
        format!("{}{}", digits, "0".repeat((adjusted + 1 - n) as usize))
    } else {
        let (i, f) = digits.split_at((adjusted + 1) as usize);
        format!("{i}.{f}")
    }
}

/// `repr(float(d))` in Python for a decimal of at most 15 significant digits (its shortest
/// round-trip form is its own digits): `0.021955`, `8.64e-05`, `2.0`, `0.0`.
pub fn py_float(d: Decimal) -> String {
    if d.is_zero() {
        return "0.0".into();
    }
    let (neg, digits, adj) = significant(d);
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&adj) {
        let p = positional(&digits, adj);
        if p.contains('.') {
            format!("{sign}{p}")
        } else {
            format!("{sign}{p}.0")
        }
    } else {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        let e = if adj < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{e}{:02}", adj.abs())
    }
}

/// How JavaScript prints a number: exponent form below 1e-6 (`6e-7`), plain otherwise.
pub fn js_number(d: Decimal) -> String {
    if d.is_zero() {
        return "0".into();
    }
    let (neg, digits, adj) = significant(d);
    let sign = if neg { "-" } else { "" };
    if adj < -6 {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        format!("{sign}{mant}e{adj}")
    } else {
        format!("{sign}{}", positional(&digits, adj))
    }
}

/// Exact decimal text without exponent or trailing zeros (`0` for zero).
pub fn plain(d: Decimal) -> String {
    if d.is_zero() {
        "0".into()
    } else {
        d.normalize().to_string()
    }
}

/// Python `repr(round(x, 3))` for a non-negative duration in seconds (`1.5`, `60.0`).
pub fn f3(x: f64) -> String {
    let s = format!("{x:.3}");
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_string()
    }
}

/// `YYYY-MM-DD?HH:MM:SS` with `sep` between date and time (formatted by hand: this runs
/// millions of times).
fn date_time(t: DateTime<Utc>, sep: char) -> String {
    use chrono::{Datelike, Timelike};
    let mut s = String::with_capacity(32);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    s
}

/// Postgres `timestamp without time zone` output: naive UTC, trailing fraction zeros trimmed.
pub fn pg_ts(t: DateTime<Utc>) -> String {
    let mut s = date_time(t, ' ');
    let us = t.timestamp_subsec_micros();
    if us != 0 {
        let f = format!("{us:06}");
        let _ = write!(s, ".{}", f.trim_end_matches('0'));
    }
    s
}

/// JavaScript `Date.toISOString()`: UTC with milliseconds (truncated).
pub fn iso_ms(t: DateTime<Utc>) -> String {
    let mut s = date_time(t, 'T');
    let _ = write!(s, ".{:03}Z", t.timestamp_subsec_millis());
    s
}

/// RFC 3339 seconds, `Z` (Anthropic bucket bounds, truth).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    let mut s = date_time(t, 'T');
    s.push('Z');
    s
}

/// A version-4 UUID from 128 random bits.
pub fn uuid(bits: u128) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let u = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let mut s = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            s.push('-');
        }
        s.push(HEX[((u >> (124 - 4 * i)) & 0xF) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn python_decimal_text() {
        // Python: str(Decimal("0.0036000")) == "0.0036000"; str(Decimal("6E-7")) == "6E-7";
        // str(Decimal("0.0000060")) == "0.0000060" (adjusted -6); str(Decimal("0E-7")) == "0E-7".
        assert_eq!(py_decimal(dec!(0.0036000)), "0.0036000");
        assert_eq!(py_decimal(dec!(0.0000006)), "6E-7");
        assert_eq!(py_decimal(dec!(0.0000060)), "0.0000060");
        assert_eq!(py_decimal(dec!(0.0000000)), "0E-7");
        assert_eq!(py_decimal(dec!(0.000001)), "0.000001");
        assert_eq!(py_decimal(dec!(5.00)), "5.00");
        assert_eq!(py_decimal(dec!(0.0)), "0.0");
        assert_eq!(py_decimal(dec!(0.0000123)), "0.0000123");
    }

    #[test]
    fn python_float_repr() {
        // Python: repr(0.021955) == '0.021955'; repr(8.64e-05) == '8.64e-05'; repr(2.0) == '2.0';
        // repr(0.0001) == '0.0001'; repr(1.5e-06) == '1.5e-06'.
        assert_eq!(py_float(dec!(0.0219550)), "0.021955");
        assert_eq!(py_float(dec!(0.0000864)), "8.64e-05");
        assert_eq!(py_float(dec!(2)), "2.0");
        assert_eq!(py_float(dec!(0.0001)), "0.0001");
        assert_eq!(py_float(dec!(0.0000015)), "1.5e-06");
        assert_eq!(py_float(dec!(12.5)), "12.5");
        assert_eq!(py_float(Decimal::ZERO), "0.0");
    }

    #[test]
    fn javascript_numbers() {
        // JavaScript: String(6e-7) == "6e-7"; String(0.000001) == "0.000001";
        // String(1.25e-7) == "1.25e-7"; String(0.0123) == "0.0123"; String(25) == "25".
        assert_eq!(js_number(dec!(0.0000006)), "6e-7");
        assert_eq!(js_number(dec!(0.000001)), "0.000001");
        assert_eq!(js_number(dec!(0.000000125)), "1.25e-7");
        assert_eq!(js_number(dec!(0.01230)), "0.0123");
        assert_eq!(js_number(dec!(25.0)), "25");
    }

    #[test]
    fn fields_times_ids() {
        let mut s = String::new();
        csv_field(&mut s, Some(""), true);
        csv_field(&mut s, None, true);
        csv_field(&mut s, Some("a,\"b\""), false);
        assert_eq!(s, "\"\"\"a,\"\"b\"\"\"");
        let t = DateTime::from_timestamp_micros(1_791_158_400_120_000).unwrap();
        // 1791158400 = 2026-10-05T00:00:00Z.
        assert_eq!(pg_ts(t), "2026-10-05 00:00:00.12");
        assert_eq!(iso_ms(t), "2026-10-05T00:00:00.120Z");
        assert_eq!(f3(1.5), "1.5");
        assert_eq!(f3(60.0), "60.0");
        assert_eq!(uuid(0), "00000000-0000-4000-8000-000000000000");
        let mut o = String::new();
        J::Obj(vec![("a", J::Arr(vec![])), ("b", J::Num("1.50".into()))]).pretty(&mut o, 0);
        assert_eq!(o, "{\n  \"a\": [],\n  \"b\": 1.50\n}");
    }
}
