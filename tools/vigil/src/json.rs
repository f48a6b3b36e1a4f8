// SPDX-License-Identifier: GPL-2.0

//! `--json` output: serde_json's compact text, one value per line; and the same flat objects
//! as one line of `KEY=VALUE` pairs, for scripts that read them with shell builtins
//! (`tools/testing/guest-bench.sh`).

use serde::Serialize;
use serde_json::Value;

/// `value` as one line of JSON (no newline).
pub fn line(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("JSON: {e}"))
}

/// An object of `(key, value)` pairs, in order (for names that are data, such as a sysfs
/// table's columns).
pub fn object<K: ToString, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect(),
    )
}

/// A flat object `value` as one line of `KEY=VALUE` pairs separated by spaces, in its fields'
/// order, `null` as `-` (no newline). Nested values and text with spaces are refused: a shell
/// splitting the line on spaces would misread them.
pub fn kv_line(value: &impl Serialize) -> Result<String, String> {
    let Value::Object(fields) = serde_json::to_value(value).map_err(|e| format!("JSON: {e}"))?
    else {
        return Err("KEY=VALUE: not an object".into());
    };
    let mut out = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        let text = match v {
            Value::Null => "-".to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::String(s) if !s.is_empty() && !s.contains(char::is_whitespace) => s,
            other => return Err(format!("KEY=VALUE: `{k}` holds {other}")),
        };
        out.push(format!("{k}={text}"));
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_lines_keep_the_order_and_show_null_as_a_dash() {
        #[derive(Serialize)]
        struct R {
            sent: u64,
            p99_ns: Option<u64>,
            mode: &'static str,
        }
        let r = R {
            sent: 5,
            p99_ns: None,
            mode: "recv",
        };
        assert_eq!(kv_line(&r).unwrap(), "sent=5 p99_ns=- mode=recv");
        assert!(kv_line(&object([("a", "x y")])).is_err());
        assert!(kv_line(&7).is_err());
    }
}
