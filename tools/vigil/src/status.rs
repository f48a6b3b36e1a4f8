// SPDX-License-Identifier: GPL-2.0

//! `vigil status [--json]`: the configuration and the headline statistics.

use crate::json::object;
use crate::sysfs::Sysfs;
use serde_json::Value;
use vigil_core::abi::{Key, Scope, COUNTERS, SETTINGS as SETTINGS_TABLE};

/// The top-level settings shown, in the table's order, then the version (`rules` is shown
/// apart, one rule per line).
fn top_settings() -> Vec<&'static str> {
    SETTINGS_TABLE
        .iter()
        .filter(|s| s.scope.at_top() && s.key != Key::Rules)
        .map(|s| s.name())
        .chain(["version"])
        .collect()
}

/// The stage settings, in the table's order.
fn stage_settings() -> Vec<&'static str> {
    SETTINGS_TABLE
        .iter()
        .filter(|s| s.scope == Scope::Stage)
        .map(|s| s.name())
        .collect()
}

/// What `status` shows.
#[derive(Debug, PartialEq)]
pub struct Status {
    /// `(name, value)` of the top-level settings; the policy without its brackets.
    pub settings: Vec<(String, String)>,
    /// Per stage in use: its settings, in the table's order.
    pub stages: Vec<Vec<String>>,
    /// The rule table, one rule per line.
    pub rules: Vec<String>,
    /// `(name, value)` of the headline counters.
    pub headline: Vec<(String, u64)>,
}

/// The current policy from `policy`'s "a [b] c" listing.
pub fn current_policy(listing: &str) -> Option<&str> {
    let start = listing.find('[')? + 1;
    let end = listing[start..].find(']')? + start;
    Some(&listing[start..end])
}

/// Reads the status.
pub fn read(sysfs: &Sysfs) -> Result<Status, String> {
    sysfs.check_loaded()?;
    let mut settings = Vec::new();
    for name in top_settings() {
        let mut value = sysfs.read(name)?;
        if name == "policy" {
            value = current_policy(&value)
                .ok_or_else(|| format!("policy: no current policy in {value:?}"))?
                .to_string();
        }
        settings.push((name.to_string(), value));
    }
    let n = sysfs.read_u64("stages")?;
    let mut stages = Vec::new();
    for k in 0..n {
        let mut row = Vec::new();
        for s in stage_settings() {
            row.push(sysfs.read(&format!("stage{k}/{s}"))?);
        }
        stages.push(row);
    }
    let rules = sysfs.read("rules")?.lines().map(String::from).collect();
    let mut headline = Vec::new();
    for name in COUNTERS.iter().map(|c| c.name()) {
        headline.push((name.to_string(), sysfs.read_u64(&format!("stats/{name}"))?));
    }
    Ok(Status {
        settings,
        stages,
        rules,
        headline,
    })
}

/// The readable table.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    for (k, v) in &s.settings {
        out += &format!("{k:<18} {v}\n");
    }
    out += &format!(
        "{:<18} {}\n",
        "rules",
        if s.rules.is_empty() { "(none)" } else { "" }
    );
    for r in &s.rules {
        out += &format!("  {r}\n");
    }
    out += &format!("\n{:<6}", "stage");
    for name in stage_settings() {
        out += &format!(" {name:<18}");
    }
    out = out.trim_end().to_string() + "\n";
    for (k, row) in s.stages.iter().enumerate() {
        out += &format!("{k:<6}");
        for v in row {
            out += &format!(" {v:<18}");
        }
        out = out.trim_end().to_string() + "\n";
    }
    out += "\n";
    for (k, v) in &s.headline {
        out += &format!("{k:<10} {v}\n");
    }
    out
}

/// The `--json` form.
pub fn to_json(s: &Status) -> Value {
    object([
        (
            "settings",
            object(s.settings.iter().map(|(k, v)| (k, v.as_str()))),
        ),
        (
            "stages",
            Value::Array(
                s.stages
                    .iter()
                    .map(|row| object(stage_settings().iter().zip(row.iter().map(String::as_str))))
                    .collect(),
            ),
        ),
        ("rules", Value::from(s.rules.clone())),
        ("stats", object(s.headline.iter().map(|(k, v)| (k, *v)))),
    ])
}

/// Prints the status.
pub fn run(sysfs: &Sysfs, json: bool) -> Result<(), String> {
    let s = read(sysfs)?;
    if json {
        println!("{}", to_json(&s));
    } else {
        print!("{}", render(&s));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fake_sysfs(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigil-status-{}-{tag}", std::process::id()));
        let w = |f: &str, v: &str| {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        };
        // Every top-level setting at its default (from the table), then a few set apart.
        for setting in SETTINGS_TABLE.iter().filter(|s| s.scope.at_top()) {
            let mut v = String::new();
            setting.default.text(0, 2, &mut v).unwrap();
            w(setting.name(), &format!("{v}\n"));
        }
        w("enabled", "1\n");
        w("policy", "idle poll timeout [adaptive]\n");
        w("stages", "2\n");
        w("match", "udp dport 9000-9100\n");
        w("version", "0.2.0\n");
        w("rules", "udp dport 9 drop\n");
        for k in 0..2 {
            w(&format!("stage{k}/cpus"), &format!("{k}\n"));
            w(&format!("stage{k}/ops"), "parse\n");
            w(&format!("stage{k}/work_ns"), "0\n");
        }
        for (i, c) in COUNTERS.iter().enumerate() {
            w(&format!("stats/{}", c.name()), &format!("{}\n", i * 10));
        }
        dir
    }

    #[test]
    fn reads_and_renders_a_fake_sysfs() {
        let dir = fake_sysfs("ok");
        let s = read(&Sysfs::at(&dir)).unwrap();
        assert_eq!(
            s.settings[1],
            ("policy".to_string(), "adaptive".to_string())
        );
        assert_eq!(s.stages.len(), 2);
        assert_eq!(s.stages[1], ["1".to_string(), "parse".into(), "0".into()]);
        let names: Vec<&str> = s.settings.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, top_settings());
        // The table's top-level settings but rules (shown apart), then the version.
        let top = SETTINGS_TABLE.iter().filter(|s| s.scope.at_top()).count();
        assert_eq!(names.len(), top);
        assert_eq!(names.last(), Some(&"version"));
        let text = render(&s);
        assert!(
            text.contains("match              udp dport 9000-9100\n"),
            "{text}"
        );
        // The adaptive knobs together, in the order the module lists them.
        assert!(
            text.contains(
                "poll_window_ns     50000\nbacklog_threshold  1\nburst_gap_ns       20000\n"
            ),
            "{text}"
        );
        assert!(text.contains("  udp dport 9 drop\n"));
        assert!(text.contains("in_flight  40\n"));
        let json = to_json(&s).to_string();
        assert!(json.contains(r#""policy":"adaptive""#), "{json}");
        assert!(json.contains(r#""in_flight":40"#));
        assert!(
            json.contains(r#""backlog_threshold":"1","burst_gap_ns":"20000""#),
            "{json}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_module_without_burst_gap_ns_is_reported() {
        let dir = fake_sysfs("nogap");
        std::fs::remove_file(dir.join("burst_gap_ns")).unwrap();
        let err = read(&Sysfs::at(&dir)).unwrap_err();
        assert!(err.contains("burst_gap_ns"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reports_garbage_and_absence() {
        let dir = fake_sysfs("bad");
        std::fs::write(dir.join("stats/entered"), "x\n").unwrap();
        assert!(read(&Sysfs::at(&dir)).unwrap_err().contains("not a number"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read(&Sysfs::at(&dir))
            .unwrap_err()
            .contains("is vigil.ko loaded?"));
        assert_eq!(current_policy("a [b] c"), Some("b"));
        assert_eq!(current_policy("a b"), None);
    }
}
