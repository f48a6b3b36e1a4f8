// SPDX-License-Identifier: GPL-2.0

//! The line layout of the JSON files the tools write (`vigil-sim --json`, and `vigil-bench`'s
//! `results.json`): a record per line, so that a committed file diffs record by record.
//!
//! serde_json writes the text; this only chooses where lines break. An array of scalars, and
//! an object whose members are scalars or such flat containers, stay on one line (`{"policy":
//! "poll", "by": {"window": 3}}`); any other container puts each member on its own line,
//! indented by two spaces a level.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};
use serde_json::Value;

/// `value` as JSON text in the line layout, with a final newline.
pub fn to_string(value: &impl Serialize) -> serde_json::Result<String> {
    let value = serde_json::to_value(value)?;
    let mut inline = Vec::new();
    plan(&value, &mut inline);
    inline.reverse();
    let mut out = Vec::new();
    let mut serializer = Serializer::with_formatter(
        &mut out,
        Lines {
            inline,
            open: Vec::new(),
        },
    );
    value.serialize(&mut serializer)?;
    out.push(b'\n');
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Whether `v` is a scalar or a container of scalars.
fn is_flat(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(is_scalar),
        Value::Object(members) => members.values().all(is_scalar),
        _ => true,
    }
}

/// Whether each container of `v` goes on one line, in the order serde_json opens them.
fn plan(v: &Value, inline: &mut Vec<bool>) {
    match v {
        Value::Array(items) => {
            inline.push(items.iter().all(is_scalar));
            items.iter().for_each(|item| plan(item, inline));
        }
        Value::Object(members) => {
            inline.push(members.values().all(is_flat));
            members.values().for_each(|member| plan(member, inline));
        }
        _ => {}
    }
}

/// A [`Formatter`] that follows a [`plan`].
struct Lines {
    /// What is left of the plan, the next container last.
    inline: Vec<bool>,
    /// The containers being written, innermost last: (on one line, has members).
    open: Vec<(bool, bool)>,
}

impl Lines {
    fn begin(&mut self, w: &mut (impl ?Sized + Write), bracket: &[u8]) -> io::Result<()> {
        let inline = self.inline.pop().unwrap_or(true);
        self.open.push((inline, false));
        w.write_all(bracket)
    }

    fn member(&mut self, w: &mut (impl ?Sized + Write), first: bool) -> io::Result<()> {
        let depth = self.open.len();
        let Some((inline, has_members)) = self.open.last_mut() else {
            return Ok(());
        };
        *has_members = true;
        if !first {
            w.write_all(b",")?;
        }
        if !*inline {
            w.write_all(b"\n")?;
            w.write_all("  ".repeat(depth).as_bytes())?;
        } else if !first {
            w.write_all(b" ")?;
        }
        Ok(())
    }

    fn end(&mut self, w: &mut (impl ?Sized + Write), bracket: &[u8]) -> io::Result<()> {
        if let Some((false, true)) = self.open.pop() {
            w.write_all(b"\n")?;
            w.write_all("  ".repeat(self.open.len()).as_bytes())?;
        }
        w.write_all(bracket)
    }
}

impl Formatter for Lines {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.member(w, first)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.member(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn puts_a_record_per_line() {
        let v = json!({
            "meta": {"a": "x\"y", "b": 1},
            "runs": [
                {"p": 1, "by": {"w": null}, "range": [0.5, 2]},
                {"p": 2.5, "by": {}, "range": []}
            ],
            "nested": [{"deep": {"deeper": {"x": 1}}}],
            "empty": [],
            "n": 0.02
        });
        assert_eq!(
            to_string(&v).unwrap(),
            "{\n  \"meta\": {\"a\": \"x\\\"y\", \"b\": 1},\n  \"runs\": [\n    \
             {\"p\": 1, \"by\": {\"w\": null}, \"range\": [0.5, 2]},\n    \
             {\"p\": 2.5, \"by\": {}, \"range\": []}\n  ],\n  \"nested\": [\n    {\n      \
             \"deep\": {\"deeper\": {\"x\": 1}}\n    }\n  ],\n  \"empty\": [],\n  \
             \"n\": 0.02\n}\n"
        );
        // It reads back as what was written.
        assert_eq!(
            serde_json::from_str::<Value>(&to_string(&v).unwrap()).unwrap(),
            v
        );
    }
}
