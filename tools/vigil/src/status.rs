// SPDX-License-Identifier: GPL-2.0

//! `vigil status [--json] [--pipeline NAME]`: the configuration and the headline statistics
//! of a pipeline (the default one's at the top), with the global ones.

use crate::json::object;
use crate::pipeline;
use crate::sysfs::{self, Sysfs};
use serde_json::Value;
use vigil_core::abi::{Key, Scope, COUNTERS, SETTINGS as SETTINGS_TABLE};
use vigil_core::pipelines::Name;

/// The top-level settings shown, with their scope, in the table's order, then the version
/// (`rules` is shown apart, one rule per line).
fn top_settings() -> Vec<(&'static str, Scope)> {
    SETTINGS_TABLE
        .iter()
        .filter(|s| s.scope.at_top() && s.key != Key::Rules)
        .map(|s| (s.name(), s.scope))
        .chain([("version", Scope::Global)])
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
    /// The pipeline shown.
    pub pipeline: Name,
    /// Every pipeline, in order.
    pub pipelines: Vec<String>,
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

/// Reads the status of `pipeline`.
pub fn read(sysfs: &Sysfs, pipeline: &Name) -> Result<Status, String> {
    sysfs.check_pipeline(pipeline)?;
    let file = |scope, name: &str| sysfs::file(pipeline, scope, name);
    let pipelines = pipeline::read(sysfs)?
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut settings = Vec::new();
    for (name, scope) in top_settings() {
        let mut value = sysfs.read(&file(scope, name))?;
        if name == "policy" {
            value = current_policy(&value)
                .ok_or_else(|| format!("policy: no current policy in {value:?}"))?
                .to_string();
        }
        settings.push((name.to_string(), value));
    }
    let n = sysfs.read_u64(&file(Scope::Pipeline, "stages"))?;
    let mut stages = Vec::new();
    for k in 0..n {
        let mut row = Vec::new();
        for s in stage_settings() {
            row.push(sysfs.read(&file(Scope::Stage, &format!("stage{k}/{s}")))?);
        }
        stages.push(row);
    }
    let rules = sysfs
        .read(&file(Scope::Pipeline, "rules"))?
        .lines()
        .map(String::from)
        .collect();
    let mut headline = Vec::new();
    for c in &COUNTERS {
        let value = sysfs.read_u64(&file(c.scope, &format!("stats/{}", c.name())))?;
        headline.push((c.name().to_string(), value));
    }
    Ok(Status {
        pipeline: *pipeline,
        pipelines,
        settings,
        stages,
        rules,
        headline,
    })
}

/// The readable table; the pipeline is named unless it is the default one.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    if !s.pipeline.is_default() {
        out += &format!("{:<18} {}\n", "pipeline", s.pipeline);
    }
    for (k, v) in &s.settings {
        out += &format!("{k:<18} {v}\n");
    }
    out += &format!("{:<18} {}\n", "pipelines", s.pipelines.join(" "));
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
        ("pipeline", Value::from(s.pipeline.as_str())),
        ("pipelines", Value::from(s.pipelines.clone())),
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

/// Prints the status of `pipeline`.
pub fn run(sysfs: &Sysfs, pipeline: &Name, json: bool) -> Result<(), String> {
    let s = read(sysfs, pipeline)?;
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
        w("pipelines", "default web\n");
        // web: other values, and only its own files (no global settings or counters).
        for (name, scope) in top_settings() {
            if scope == Scope::Pipeline {
                let value = std::fs::read_to_string(dir.join(name)).unwrap();
                w(&format!("pipeline/web/{name}"), &value);
            }
        }
        w("pipeline/web/policy", "idle [poll] timeout adaptive\n");
        w("pipeline/web/stages", "1\n");
        w("pipeline/web/match", "udp dport 9050\n");
        w("pipeline/web/rules", "");
        w("pipeline/web/stage0/cpus", "1\n");
        w("pipeline/web/stage0/ops", "parse,work\n");
        w("pipeline/web/stage0/work_ns", "500\n");
        for (i, c) in COUNTERS.iter().enumerate() {
            if c.scope == Scope::Pipeline {
                let value = format!("{}\n", 1000 + i);
                w(&format!("pipeline/web/stats/{}", c.name()), &value);
            }
        }
        dir
    }

    fn top() -> Name {
        Name::default_pipeline()
    }

    #[test]
    fn reads_and_renders_a_fake_sysfs() {
        let dir = fake_sysfs("ok");
        let s = read(&Sysfs::at(&dir), &top()).unwrap();
        assert_eq!(
            s.settings[1],
            ("policy".to_string(), "adaptive".to_string())
        );
        assert_eq!(s.stages.len(), 2);
        assert_eq!(s.stages[1], ["1".to_string(), "parse".into(), "0".into()]);
        let names: Vec<&str> = s.settings.iter().map(|(k, _)| k.as_str()).collect();
        let want: Vec<&str> = top_settings().iter().map(|(name, _)| *name).collect();
        assert_eq!(names, want);
        // The table's top-level settings but rules (shown apart), then the version.
        let top = SETTINGS_TABLE.iter().filter(|s| s.scope.at_top()).count();
        assert_eq!(names.len(), top);
        assert_eq!(names.last(), Some(&"version"));
        let text = render(&s);
        // The pipelines, after the version; the default one is not named.
        assert!(
            text.contains("version            0.2.0\npipelines          default web\nrules"),
            "{text}"
        );
        assert!(!text.contains("pipeline "), "{text}");
        assert!(
            text.contains("match              udp dport 9000-9100\n"),
            "{text}"
        );
        // The adaptive knobs together, in the order the module lists them.
        assert!(
            text.contains(
                "poll_window_ns     200000\nbacklog_threshold  1\nburst_gap_ns       20000\n"
            ),
            "{text}"
        );
        assert!(text.contains("  udp dport 9 drop\n"));
        assert!(text.contains("in_flight  40\n"));
        let json = to_json(&s).to_string();
        assert!(json.contains(r#""policy":"adaptive""#), "{json}");
        assert!(
            json.starts_with(r#"{"pipeline":"default","pipelines":["default","web"],"#),
            "{json}"
        );
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
        let err = read(&Sysfs::at(&dir), &top()).unwrap_err();
        assert!(err.contains("burst_gap_ns"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reports_garbage_and_absence() {
        let dir = fake_sysfs("bad");
        std::fs::write(dir.join("stats/entered"), "x\n").unwrap();
        assert!(read(&Sysfs::at(&dir), &top())
            .unwrap_err()
            .contains("not a number"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read(&Sysfs::at(&dir), &top())
            .unwrap_err()
            .contains("is vigil.ko loaded?"));
        assert_eq!(current_policy("a [b] c"), Some("b"));
        assert_eq!(current_policy("a b"), None);
    }

    #[test]
    fn a_pipeline_shows_its_own_files_and_the_global_ones() {
        let dir = fake_sysfs("web");
        let web = Name::parse(b"web").unwrap();
        let s = read(&Sysfs::at(&dir), &web).unwrap();
        let setting = |k: &str| s.settings.iter().find(|(n, _)| n == k).unwrap().1.as_str();
        assert_eq!(setting("policy"), "poll");
        assert_eq!(setting("stages"), "1");
        assert_eq!(setting("match"), "udp dport 9050");
        // Global settings and the version from the top.
        assert_eq!(setting("netns_quota"), "256");
        assert_eq!(setting("version"), "0.2.0");
        assert_eq!(s.stages, [["1", "parse,work", "500"]]);
        assert!(s.rules.is_empty());
        // Its own counters, and the global ones from the top's stats/.
        for ((name, value), (i, c)) in s.headline.iter().zip(COUNTERS.iter().enumerate()) {
            assert_eq!(name, c.name());
            let want = match c.scope {
                Scope::Global => i as u64 * 10,
                _ => 1000 + i as u64,
            };
            assert_eq!(*value, want, "{name}");
        }
        let text = render(&s);
        assert!(
            text.starts_with("pipeline           web\nenabled "),
            "{text}"
        );
        assert!(
            text.contains("\npipelines          default web\n"),
            "{text}"
        );
        assert!(text.contains("policy             poll\n"), "{text}");
        assert!(text.contains("seen       0\n"), "{text}");
        assert!(text.contains("entered    1001\n"), "{text}");
        let json = to_json(&s).to_string();
        assert!(json.starts_with(r#"{"pipeline":"web","#), "{json}");
        assert!(json.contains(r#""policy":"poll""#), "{json}");
        // A pipeline that is not there.
        let dns = Name::parse(b"dns").unwrap();
        let err = read(&Sysfs::at(&dir), &dns).unwrap_err();
        assert_eq!(err, "no pipeline dns (vigil pipeline list)");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
