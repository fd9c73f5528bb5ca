//! A minimal JSON scanner: finds element boundaries (and line numbers) so a large array is parsed
//! one element at a time, and reads the keys of a head cut anywhere. It only tracks strings and
//! nesting; each element is then validated by serde_json.

use std::io::{self, BufRead};

pub enum ScanError {
    Io(io::Error),
    Syntax { line: u64, msg: String },
}

pub struct Scanner<'a> {
    r: &'a mut dyn BufRead,
    /// 1-based line of the next byte.
    pub line: u64,
}

impl<'a> Scanner<'a> {
    pub fn new(r: &'a mut dyn BufRead) -> Scanner<'a> {
        Scanner { r, line: 1 }
    }

    fn peek(&mut self) -> Result<Option<u8>, ScanError> {
        let buf = self.r.fill_buf().map_err(ScanError::Io)?;
        Ok(buf.first().copied())
    }

    pub fn bump(&mut self) -> Result<Option<u8>, ScanError> {
        let c = self.peek()?;
        if let Some(c) = c {
            self.r.consume(1);
            if c == b'\n' {
                self.line += 1;
            }
        }
        Ok(c)
    }

    fn syntax(&self, msg: String) -> ScanError {
        ScanError::Syntax {
            line: self.line,
            msg,
        }
    }

    fn eof(&self, expected: &str) -> ScanError {
        self.syntax(format!("file ends early: expected {expected}"))
    }

    /// Skips whitespace and returns the next byte without consuming it.
    pub fn skip_ws(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump()?;
                }
                other => return Ok(other),
            }
        }
    }

    /// Copies a string (quotes included); the scanner is at its opening quote.
    fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), ScanError> {
        self.bump()?;
        if let Some(o) = out.as_deref_mut() {
            o.push(b'"');
        }
        loop {
            let c = self
                .bump()?
                .ok_or_else(|| self.eof("the end of a string"))?;
            if let Some(o) = out.as_deref_mut() {
                o.push(c);
            }
            match c {
                b'\\' => {
                    let e = self
                        .bump()?
                        .ok_or_else(|| self.eof("the end of a string"))?;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(e);
                    }
                }
                b'"' => return Ok(()),
                _ => {}
            }
        }
    }

    /// An object key and the colon after it.
    pub fn key(&mut self) -> Result<String, ScanError> {
        let mut raw = Vec::new();
        self.string(Some(&mut raw))?;
        let key: String = serde_json::from_slice(&raw)
            .map_err(|e| self.syntax(format!("bad object key: {e}")))?;
        match self.skip_ws()? {
            Some(b':') => {
                self.bump()?;
                Ok(key)
            }
            _ => Err(self.syntax(format!("expected ':' after key \"{key}\""))),
        }
    }

    /// Copies (or skips) one value.
    pub fn value(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), ScanError> {
        let first = self.skip_ws()?.ok_or_else(|| self.eof("a JSON value"))?;
        match first {
            b'"' => self.string(out),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    let c = self
                        .peek()?
                        .ok_or_else(|| self.eof("the end of an object or array"))?;
                    if c == b'"' {
                        self.string(out.as_deref_mut())?;
                        continue;
                    }
                    self.bump()?;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(c);
                    }
                    match c {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => loop {
                match self.peek()? {
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') => return Ok(()),
                    Some(c) => {
                        self.bump()?;
                        if let Some(o) = out.as_deref_mut() {
                            o.push(c);
                        }
                    }
                }
            },
        }
    }

    /// Streams the elements of the array the scanner is at (`[` next) to `f(line, index, raw)`.
    pub fn array(&mut self, f: &mut dyn FnMut(u64, usize, &[u8])) -> Result<(), ScanError> {
        self.bump()?;
        if self.skip_ws()? == Some(b']') {
            self.bump()?;
            return Ok(());
        }
        let mut buf = Vec::new();
        let mut index = 0usize;
        loop {
            self.skip_ws()?;
            let line = self.line;
            buf.clear();
            self.value(Some(&mut buf))?;
            index += 1;
            f(line, index, &buf);
            match self.skip_ws()? {
                Some(b',') => {
                    self.bump()?;
                }
                Some(b']') => {
                    self.bump()?;
                    return Ok(());
                }
                Some(c) => {
                    return Err(self.syntax(format!(
                        "expected ',' or ']' after element {index}, found '{}'",
                        c as char
                    )));
                }
                None => return Err(self.eof("',' or ']'")),
            }
        }
    }

    /// Streams the array under `rows` (`data` of a Langfuse or LiteLLM page) of the page object the
    /// scanner is at (`{` next); false if it has none.
    pub fn page(
        &mut self,
        rows: &str,
        f: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> Result<bool, ScanError> {
        self.bump()?;
        let mut found = false;
        if self.skip_ws()? == Some(b'}') {
            self.bump()?;
            return Ok(false);
        }
        loop {
            if self.skip_ws()? != Some(b'"') {
                return Err(self.syntax("expected an object key".to_string()));
            }
            let key = self.key()?;
            if key == rows && self.skip_ws()? == Some(b'[') {
                self.array(f)?;
                found = true;
            } else {
                self.value(None)?;
            }
            match self.skip_ws()? {
                Some(b',') => {
                    self.bump()?;
                }
                Some(b'}') => {
                    self.bump()?;
                    return Ok(found);
                }
                Some(c) => {
                    return Err(self.syntax(format!(
                        "expected ',' or '}}' after \"{key}\", found '{}'",
                        c as char
                    )));
                }
                None => return Err(self.eof("',' or '}'")),
            }
        }
    }
}
