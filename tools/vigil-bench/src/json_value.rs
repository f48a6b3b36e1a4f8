// SPDX-License-Identifier: GPL-2.0

//! A JSON value and its text: what `json_read` produces and `json` writes.

/// A JSON value. Objects keep their keys in order, so the output follows the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number; a non-finite one is written as `null`.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object, if this is one and has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// `n`, or `null` when unknown.
    pub fn number_or_null(n: Option<f64>) -> Value {
        n.map_or(Value::Null, Value::Number)
    }

    /// The text of the value, indented by two spaces a level.
    ///
    /// An array of scalars, and an object of scalars and such flat containers, stay on one
    /// line, so a run or a simulator row reads as one line and the file diffs line by line.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&number(*n)),
            Value::String(s) => out.push_str(&quote(s)),
            Value::Array(items) => {
                let items: Vec<(Option<&str>, &Value)> = items.iter().map(|v| (None, v)).collect();
                write_container(out, depth, '[', ']', &items, self.is_flat());
            }
            Value::Object(members) => {
                let members: Vec<(Option<&str>, &Value)> =
                    members.iter().map(|(k, v)| (Some(k.as_str()), v)).collect();
                let inline = members.iter().all(|(_, v)| v.is_flat());
                write_container(out, depth, '{', '}', &members, inline);
            }
        }
    }

    /// Whether this is a scalar, or a container of scalars only.
    fn is_flat(&self) -> bool {
        match self {
            Value::Array(items) => items.iter().all(Value::is_scalar),
            Value::Object(members) => members.iter().all(|(_, v)| v.is_scalar()),
            _ => true,
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Value::Array(_) | Value::Object(_))
    }
}

fn write_container(
    out: &mut String,
    depth: usize,
    open: char,
    close: char,
    items: &[(Option<&str>, &Value)],
    inline: bool,
) {
    out.push(open);
    for (i, (key, value)) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
            if inline {
                out.push(' ');
            }
        }
        if !inline {
            out.push('\n');
            out.push_str(&"  ".repeat(depth + 1));
        }
        if let Some(key) = key {
            out.push_str(&quote(key));
            out.push_str(": ");
        }
        value.write(out, depth + 1);
    }
    if !inline && !items.is_empty() {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
    out.push(close);
}

/// `n` as JSON: the shortest text that reads back as `n`, or `null` if it is not finite.
pub fn number(n: f64) -> String {
    if n.is_finite() {
        // Display never uses exponents and drops a zero fraction: valid JSON either way.
        format!("{n}")
    } else {
        "null".to_string()
    }
}

/// `s` as a JSON string, quoted and escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` is a number as JSON writes them: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_scalars_containers_and_escapes() {
        let v = Value::Object(vec![
            ("a".to_string(), Value::Number(2000.0)),
            ("b".to_string(), Value::Number(0.25)),
            ("c".to_string(), Value::Number(f64::NAN)),
            ("d".to_string(), Value::string("q\"\\\n\u{1}µ")),
            (
                "e".to_string(),
                Value::Array(vec![Value::Object(vec![(
                    "x".to_string(),
                    Value::Bool(true),
                )])]),
            ),
            ("f".to_string(), Value::Array(vec![])),
        ]);
        let row = Value::Object(vec![
            ("p".to_string(), Value::Number(1.0)),
            (
                "by".to_string(),
                Value::Object(vec![("w".to_string(), Value::Null)]),
            ),
        ]);
        assert_eq!(row.to_pretty(), "{\"p\": 1, \"by\": {\"w\": null}}");
        assert_eq!(
            v.to_pretty(),
            "{\n  \"a\": 2000,\n  \"b\": 0.25,\n  \"c\": null,\n  \"d\": \"q\\\"\\\\\\n\\u0001µ\",\n  \
             \"e\": [\n    {\"x\": true}\n  ],\n  \"f\": []\n}"
        );
    }

    #[test]
    fn recognises_json_numbers_only() {
        for ok in ["0", "-0", "12", "0.5", "1e3", "1.5E-7", "-3.25e+2"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", ".5", "5.", "+1", "1e", "inf", "NaN", "0x10", "1_000",
        ] {
            assert!(!is_number(bad), "{bad}");
        }
    }
}
