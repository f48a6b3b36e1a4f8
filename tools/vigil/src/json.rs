// SPDX-License-Identifier: GPL-2.0

//! `--json` output: serde_json's compact text, one value per line, so that scripts can take a
//! field with `grep -o '"NAME":[^,}]*'` (`tools/testing/guest-bench.sh`).

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
