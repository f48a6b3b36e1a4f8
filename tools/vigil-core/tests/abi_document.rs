// SPDX-License-Identifier: GPL-2.0

//! `Documentation/ABI/testing/sysfs-kernel-vigil` against the ABI table: every setting and
//! counter has its entry, with the table's range and default.

use vigil_core::abi::{Default, Kind, Scope, COUNTERS, SETTINGS};
use vigil_core::config::MAX_STAGES;

/// The document's entries: the files each names, and its description on one line.
fn entries() -> Vec<(Vec<String>, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../Documentation/ABI/testing/sysfs-kernel-vigil"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    let mut in_what = false;
    for line in text.lines() {
        if let Some(what) = line.strip_prefix("What:") {
            if !in_what {
                out.push((Vec::new(), String::new()));
            }
            in_what = true;
            out.last_mut().unwrap().0.push(what.trim().to_string());
            continue;
        }
        in_what = false;
        if line.starts_with('\t') && !line.contains(":\t") {
            if let Some(e) = out.last_mut() {
                e.1 += " ";
                e.1 += line.trim();
            }
        }
    }
    out
}

fn entry_of<'a>(entries: &'a [(Vec<String>, String)], path: &str) -> &'a str {
    let e = entries.iter().find(|(w, _)| w.iter().any(|p| p == path));
    &e.unwrap_or_else(|| panic!("{path} is not documented")).1
}

#[test]
fn every_setting_is_documented_with_its_range_and_default() {
    let entries = entries();
    for s in &SETTINGS {
        let name = s.name();
        let paths: Vec<String> = match s.scope {
            Scope::Global => vec![format!("/sys/kernel/vigil/{name}")],
            Scope::Pipeline => vec![
                format!("/sys/kernel/vigil/{name}"),
                format!("/sys/kernel/vigil/pipeline/<name>/{name}"),
            ],
            Scope::Stage => (0..MAX_STAGES)
                .flat_map(|k| {
                    [
                        format!("/sys/kernel/vigil/stage{k}/{name}"),
                        format!("/sys/kernel/vigil/pipeline/<name>/stage{k}/{name}"),
                    ]
                })
                .collect(),
        };
        for path in paths {
            let text = entry_of(&entries, &path);
            let access = match s.scope {
                Scope::Global => "(RW, global:",
                _ => "(RW)",
            };
            assert!(text.contains(access), "{path} lacks {access:?}: {text}");
            let default = format!("Default: {}.", s.default);
            assert!(text.contains(&default), "{path} lacks {default:?}: {text}");
            if let Kind::Number { .. } = s.kind {
                let range = format!("Range: {}.", s.kind);
                assert!(text.contains(&range), "{path} lacks {range:?}: {text}");
            }
        }
    }
}

#[test]
fn every_counter_is_documented_read_only() {
    let entries = entries();
    for c in &COUNTERS {
        let dirs: &[&str] = match c.scope {
            Scope::Pipeline => &["", "pipeline/<name>/"],
            _ => &[""],
        };
        for dir in dirs {
            let path = format!("/sys/kernel/vigil/{dir}stats/{}", c.name());
            let text = entry_of(&entries, &path);
            assert!(text.contains("(RO)"), "{path}: {text}");
        }
    }
}

#[test]
fn the_knob_table_of_vigil_rst_has_the_table_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Documentation/vigil.rst");
    let text = std::fs::read_to_string(path).unwrap();
    for s in SETTINGS.iter().filter(|s| s.scope.at_top()) {
        let row = format!("``{}`` ", s.name());
        let line = text
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("vigil.rst's knob table lacks {}", s.name()));
        let column = line[row.len()..].trim_start();
        let want = match s.default {
            Default::Is("") => "empty".to_string(),
            Default::Is(d) => format!("``{d}`` "),
            other => other.to_string(),
        };
        assert!(
            column.starts_with(&want),
            "{}: {column:?}, not {want:?}",
            s.name()
        );
    }
}
