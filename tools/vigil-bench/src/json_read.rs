// SPDX-License-Identifier: GPL-2.0

//! Reading JSON: just enough for the simulator's output (objects, arrays, numbers, strings,
//! `true`, `false`, `null`, nested).

use crate::json_value::{is_number, Value};
use crate::Error;

/// How deep arrays and objects may nest; keeps a hostile file from overflowing the stack.
const MAX_DEPTH: usize = 128;

/// The value `text` holds; errors give the line and column.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = p.value(0).map_err(|e| p.error(&e))?;
    p.skip_space();
    if p.pos != p.bytes.len() {
        return Err(p.error("trailing characters after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> Error {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        Error(format!("line {line}, column {column}: {message}"))
    }

    fn skip_space(&mut self) {
        while self.pos < self.bytes.len()
            && matches!(self.bytes[self.pos], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}`", c as char))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        self.skip_space();
        match self.peek() {
            None => Err("unexpected end of input".to_string()),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => Err("expected a value".to_string()),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err("expected a value".to_string())
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self.pos < self.bytes.len()
            && matches!(
                self.bytes[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        // Only ASCII bytes were taken, so the slice is on character boundaries.
        let s = &self.text[start..self.pos];
        if !is_number(s) {
            self.pos = start;
            return Err(format!("`{s}` is not a number"));
        }
        match s.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => {
                self.pos = start;
                Err(format!("`{s}` is out of range"))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            // Copy the run of plain characters at once; `"` and `\` are ASCII, so the slice
            // ends on a character boundary.
            while self.pos < self.bytes.len() && !matches!(self.bytes[self.pos], b'"' | b'\\') {
                if self.bytes[self.pos] < 0x20 {
                    return Err("control character in a string".to_string());
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                None => return Err("unterminated string".to_string()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or("unterminated string")?;
        self.pos += 1;
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xd800..0xdc00).contains(&high) {
                    // A UTF-16 surrogate pair: the low half must follow as another \u escape.
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err("unpaired surrogate in a string".to_string());
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err("unpaired surrogate in a string".to_string());
                    }
                    let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                    char::from_u32(code).ok_or("invalid escape in a string")?
                } else {
                    char::from_u32(high).ok_or("unpaired surrogate in a string")?
                }
            }
            _ => return Err("invalid escape in a string".to_string()),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or("truncated \\u escape")?;
        let mut code = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or("invalid \\u escape")?;
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err("expected `,` or `]`".to_string()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.expect(b'{')?;
        let mut members: Vec<(String, Value)> = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err("expected a member name".to_string());
            }
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                return Err(format!("member `{key}` appears twice"));
            }
            self.skip_space();
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err("expected `,` or `}`".to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_values() {
        let v = parse(
            " [ {\"policy\": \"poll\", \"p99_ns\": 1500, \"cpu_busy\": 0.875, \
             \"by\": {\"window\": 3, \"x\": [true, false, null]}, \"s\": \"a\\\"\\u00b5\\ud83d\\ude00\"}, [] ] ",
        )
        .unwrap();
        let Value::Array(items) = &v else {
            panic!("not an array: {v:?}")
        };
        assert_eq!(items.len(), 2);
        let row = &items[0];
        assert_eq!(row.get("policy").and_then(Value::as_str), Some("poll"));
        assert_eq!(row.get("p99_ns").and_then(Value::as_f64), Some(1500.0));
        assert_eq!(row.get("cpu_busy").and_then(Value::as_f64), Some(0.875));
        assert_eq!(
            row.get("by").and_then(|b| b.get("window")),
            Some(&Value::Number(3.0))
        );
        assert_eq!(
            row.get("by").and_then(|b| b.get("x")),
            Some(&Value::Array(vec![
                Value::Bool(true),
                Value::Bool(false),
                Value::Null
            ]))
        );
        assert_eq!(row.get("s").and_then(Value::as_str), Some("a\"µ😀"));
        assert_eq!(items[1], Value::Array(vec![]));
    }

    #[test]
    fn round_trips_through_the_writer() {
        let text = "{\"a\": [1, 2.5, -3e-2], \"b\": {\"c\": \"x\\ny\"}, \"d\": null}";
        let v = parse(text).unwrap();
        assert_eq!(parse(&v.to_pretty()).unwrap(), v);
    }

    #[test]
    fn reports_where_the_error_is() {
        assert_eq!(
            parse("[1,\n 2,,3]").unwrap_err().0,
            "line 2, column 4: expected a value"
        );
        assert_eq!(
            parse("{\"a\": 01}").unwrap_err().0,
            "line 1, column 7: `01` is not a number"
        );
        assert!(parse("[1] x").unwrap_err().0.contains("trailing"));
        assert!(parse("\"abc").unwrap_err().0.contains("unterminated"));
        assert!(parse("{\"a\":1,\"a\":2}").unwrap_err().0.contains("twice"));
        assert!(parse(&"[".repeat(1000))
            .unwrap_err()
            .0
            .contains("nested deeper"));
    }
}
