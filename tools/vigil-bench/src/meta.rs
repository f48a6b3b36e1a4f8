// SPDX-License-Identifier: GPL-2.0

//! Parsing `meta.txt`: how, where and when the benchmark ran, one `key=value` per line.

use crate::Error;

/// The contents of `meta.txt`, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// The `(key, value)` pairs.
    pub entries: Vec<(String, String)>,
}

impl Meta {
    /// The value of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The entries of `text`, the contents of `meta.txt`.
///
/// A line is `key=value`: the key up to the first `=`, the value the rest of the line (free
/// text, surrounding whitespace removed). Blank lines and lines starting with `#` are skipped.
pub fn parse(text: &str) -> Result<Meta, Error> {
    let mut meta = Meta::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error(format!("line {}: `{line}` is not key=value", i + 1)));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(Error(format!("line {}: `{line}` has no key", i + 1)));
        }
        // JSON objects with a repeated key are ambiguous, so refuse them here.
        if meta.get(key).is_some() {
            return Err(Error(format!("line {}: `{key}` appears twice", i + 1)));
        }
        meta.entries
            .push((key.to_string(), value.trim().to_string()));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_free_text_values_in_file_order() {
        let meta = parse("date=2026-11-23\n# note\n\nkernel=7.3.4 bench\ncommand=make bench x=1\n")
            .unwrap();
        assert_eq!(
            meta.entries,
            vec![
                ("date".to_string(), "2026-11-23".to_string()),
                ("kernel".to_string(), "7.3.4 bench".to_string()),
                ("command".to_string(), "make bench x=1".to_string()),
            ]
        );
        assert_eq!(meta.get("kernel"), Some("7.3.4 bench"));
    }

    #[test]
    fn rejects_lines_without_a_key() {
        assert_eq!(
            parse("a=1\nnonsense\n").unwrap_err().0,
            "line 2: `nonsense` is not key=value"
        );
        assert_eq!(parse("=1\n").unwrap_err().0, "line 1: `=1` has no key");
        assert_eq!(
            parse("a=1\na=2\n").unwrap_err().0,
            "line 2: `a` appears twice"
        );
    }
}
