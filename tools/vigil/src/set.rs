// SPDX-License-Identifier: GPL-2.0

//! `vigil set KEY=VALUE...`: every value is checked with the module's own parsers before any
//! is written; then they are written in order, stopping at the first the kernel refuses.
//! With `--pipeline NAME`, to that pipeline's files; the global settings only without it.

use crate::sysfs::{self, Sysfs};
use vigil_core::abi::{Scope, Setting as AbiSetting, SETTINGS};
use vigil_core::config::{MAX_CPUS, MAX_STAGES};
use vigil_core::parse::ParseError;
use vigil_core::pipelines::Name;

/// One checked write.
#[derive(Debug, PartialEq, Eq)]
pub struct Setting {
    /// The sysfs file, relative to `/sys/kernel/vigil`.
    pub file: String,
    /// What to write.
    pub value: String,
}

fn why(e: ParseError) -> &'static str {
    match e {
        ParseError::Invalid => "invalid value (EINVAL)",
        ParseError::OutOfRange => "out of range (ERANGE)",
    }
}

/// Checks `value` for the file `key` at the top of a pipeline's directory (`top`) or in a
/// stage directory, with the module's own parser.
fn check(top: bool, key: &str, value: &[u8], nr_cpus: u32) -> Result<&'static AbiSetting, String> {
    let setting = AbiSetting::find(top, key).ok_or_else(|| match top {
        true => format!("unknown setting {key}"),
        false => format!("unknown stage setting {key}"),
    })?;
    setting
        .kind
        .parse(value, nr_cpus)
        .map(|_| setting)
        .map_err(|e| format!("{key}: {}", why(e)))
}

/// Whether `pipeline` has its own `setting`: the global settings are the default pipeline's
/// alone, at the top.
fn has(pipeline: &Name, setting: &AbiSetting) -> bool {
    setting.scope != Scope::Global || pipeline.is_default()
}

/// Every setting's default, in the table's order (`enabled` first, so that the pipeline
/// stops before anything else changes), then every stage's; for a pipeline other than the
/// default one, without the global settings.
pub fn defaults(pipeline: &Name, nr_cpus: u32) -> Vec<Setting> {
    let mut out = Vec::new();
    for top in [true, false] {
        let stages = if top { 1 } else { MAX_STAGES };
        for stage in 0..stages {
            for s in SETTINGS
                .iter()
                .filter(|s| s.scope.at_top() == top && has(pipeline, s))
            {
                let mut value = String::new();
                // Writing to a String cannot fail.
                let _ = s.default.text(stage, nr_cpus, &mut value);
                let file = match top {
                    true => s.name().to_string(),
                    false => format!("stage{stage}/{}", s.name()),
                };
                out.push(Setting {
                    file: sysfs::file(pipeline, s.scope, &file),
                    value,
                });
            }
        }
    }
    out
}

/// Parses and checks `KEY=VALUE` arguments for `pipeline`. Stage settings are `stageN.KEY`
/// or `stageN/KEY`.
pub fn parse(args: &[String], pipeline: &Name, nr_cpus: u32) -> Result<Vec<Setting>, String> {
    if args.is_empty() {
        return Err("set: nothing to set (usage: vigil set KEY=VALUE...)".into());
    }
    let mut out = Vec::new();
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("set: {arg:?} is not KEY=VALUE"))?;
        let (setting, file) = match key.split_once(['.', '/']) {
            Some((stage, sub)) => {
                let n: usize = stage
                    .strip_prefix("stage")
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n < MAX_STAGES)
                    .ok_or_else(|| format!("set: unknown setting {key}"))?;
                let setting = check(false, sub, value.as_bytes(), nr_cpus)
                    .map_err(|e| format!("set: stage{n}.{e}"))?;
                (setting, format!("stage{n}/{sub}"))
            }
            None => {
                let setting =
                    check(true, key, value.as_bytes(), nr_cpus).map_err(|e| format!("set: {e}"))?;
                (setting, key.to_string())
            }
        };
        if !has(pipeline, setting) {
            return Err(format!(
                "set: {key} is global, one value for every pipeline: set it without --pipeline"
            ));
        }
        out.push(Setting {
            file: sysfs::file(pipeline, setting.scope, &file),
            value: value.to_string(),
        });
    }
    Ok(out)
}

/// The number of possible CPUs, from sysfs (`0-N`), or the most a cpulist may name.
pub fn possible_cpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            let last = s.trim().rsplit(['-', ',']).next()?.parse::<u32>().ok()?;
            Some(last + 1)
        })
        .unwrap_or(MAX_CPUS)
}

/// Checks every setting, then writes them in order.
pub fn run(sysfs: &Sysfs, pipeline: &Name, args: &[String]) -> Result<(), String> {
    write(sysfs, pipeline, &parse(args, pipeline, possible_cpus())?)
}

/// Puts every setting of `pipeline` back to its default.
pub fn run_defaults(sysfs: &Sysfs, pipeline: &Name) -> Result<(), String> {
    write(sysfs, pipeline, &defaults(pipeline, possible_cpus()))
}

fn write(sysfs: &Sysfs, pipeline: &Name, settings: &[Setting]) -> Result<(), String> {
    sysfs.check_pipeline(pipeline)?;
    for s in settings {
        sysfs
            .write(&s.file, &s.value)
            .map_err(|e| format!("set {}={}: {e}", s.file, s.value))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn top() -> Name {
        Name::default_pipeline()
    }

    fn web() -> Name {
        Name::parse(b"web").unwrap()
    }

    #[test]
    fn maps_keys_to_files() {
        let s = parse(
            &args(&[
                "policy=poll",
                "stage2.cpus=0-1",
                "stage0/ops=parse,rules",
                "match=udp dport 9000",
                "burst_gap_ns=0",
                "burst_gap_ns=1000000000",
                "netns=all",
                "max_held_bytes=4294967296",
            ]),
            &top(),
            4,
        )
        .unwrap();
        let files: Vec<_> = s
            .iter()
            .map(|s| (s.file.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            files,
            [
                ("policy", "poll"),
                ("stage2/cpus", "0-1"),
                ("stage0/ops", "parse,rules"),
                ("match", "udp dport 9000"),
                ("burst_gap_ns", "0"),
                ("burst_gap_ns", "1000000000"),
                ("netns", "all"),
                ("max_held_bytes", "4294967296"),
            ]
        );
    }

    #[test]
    fn refuses_bad_values_before_writing_any() {
        for bad in [
            &["policy=busy"][..],
            &["stages=9"],
            &["stages=0"],
            &["enabled=yes"],
            &["queue_len=0"],
            &["netns=host"],
            &["netns_quota=0"],
            &["max_held_packets=1048577"],
            &["max_held_bytes=4294967297"],
            &["poll_window_ns=-1"],
            &["burst_gap_ns=-1"],
            &["burst_gap_ns=1000000001"],
            &["burst_gap_ns=20us"],
            &["burst_gap_ns="],
            &["hook=forward"],
            &["match=udp dport 2-1"],
            &["rules=all explode"],
            &["stage8.cpus=0"],
            &["stage1.cpus=4"],
            &["stage1.ops=frob"],
            &["stage1.work_ns=1000001"],
            &["stage1.color=red"],
            &["bogus=1"],
            &["policy"],
            &["policy=idle", "stages=99"],
        ] {
            assert!(parse(&args(bad), &top(), 4).is_err(), "{bad:?}");
        }
        assert!(parse(&[], &top(), 4).is_err());
        // Range errors read as the kernel's errno.
        let err = parse(&args(&["burst_gap_ns=1000000001"]), &top(), 4).unwrap_err();
        assert_eq!(err, "set: burst_gap_ns: out of range (ERANGE)");
    }

    #[test]
    fn defaults_come_from_the_table_and_pass_the_checks() {
        let d = defaults(&top(), 2);
        let at_top = SETTINGS.iter().filter(|s| s.scope.at_top()).count();
        assert_eq!(d.len(), at_top + (SETTINGS.len() - at_top) * MAX_STAGES);
        assert_eq!((d[0].file.as_str(), d[0].value.as_str()), ("enabled", "0"));
        let find = |f: &str| d.iter().find(|s| s.file == f).unwrap().value.as_str();
        assert_eq!(find("policy"), "adaptive");
        assert_eq!(find("rules"), "");
        assert_eq!(find("stage3/cpus"), "1");
        assert_eq!(find("stage0/ops"), "parse");
        assert_eq!(find("stage5/ops"), "none");
        let args: Vec<String> = d
            .iter()
            .map(|s| format!("{}={}", s.file, s.value))
            .collect();
        assert_eq!(parse(&args, &top(), 2).unwrap(), d);
    }

    #[test]
    fn writes_in_order_to_a_fake_sysfs_and_reports_errno() {
        let dir = std::env::temp_dir().join(format!("vigil-set-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("stage1")).unwrap();
        std::fs::write(dir.join("policy"), "").unwrap();
        std::fs::write(dir.join("stage1/cpus"), "").unwrap();
        let sysfs = Sysfs::at(&dir);
        run(&sysfs, &top(), &args(&["policy=timeout", "stage1.cpus=0"])).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("policy")).unwrap(),
            "timeout\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("stage1/cpus")).unwrap(),
            "0\n"
        );
        // A stage directory that does not exist: the error names the file and the errno.
        let err = run(&sysfs, &top(), &args(&["stage3.cpus=0"])).unwrap_err();
        assert!(err.contains("ENOENT"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_pipeline_s_settings_go_to_its_directory_and_globals_are_refused() {
        let s = parse(
            &args(&["policy=poll", "stage1.cpus=0", "stage0/ops=parse", "rules="]),
            &web(),
            4,
        )
        .unwrap();
        let files: Vec<_> = s.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "pipeline/web/policy",
                "pipeline/web/stage1/cpus",
                "pipeline/web/stage0/ops",
                "pipeline/web/rules",
            ]
        );
        for global in [
            "netns=all",
            "netns_quota=256",
            "max_held_packets=1",
            "max_held_bytes=1",
        ] {
            let err = parse(&args(&["policy=poll", global]), &web(), 4).unwrap_err();
            let key = global.split_once('=').unwrap().0;
            assert_eq!(
                err,
                format!(
                    "set: {key} is global, one value for every pipeline: set it without --pipeline"
                )
            );
            // The default pipeline's are the global ones, at the top.
            assert_eq!(parse(&args(&[global]), &top(), 4).unwrap()[0].file, key);
        }
        // Values are still checked first.
        assert!(parse(&args(&["policy=busy"]), &web(), 4)
            .unwrap_err()
            .contains("EINVAL"));
    }

    #[test]
    fn a_pipeline_s_defaults_leave_the_globals_alone() {
        let d = defaults(&web(), 2);
        let default = defaults(&top(), 2);
        let globals = SETTINGS.iter().filter(|s| s.scope == Scope::Global).count();
        assert!(globals >= 4);
        assert_eq!(d.len(), default.len() - globals);
        assert_eq!(d[0].file, "pipeline/web/enabled");
        assert!(d.iter().all(|s| s.file.starts_with("pipeline/web/")));
        assert!(!d.iter().any(|s| s.file.ends_with("netns")));
        // The same values as the default pipeline's, setting for setting.
        for s in &d {
            let at_top = s.file.strip_prefix("pipeline/web/").unwrap();
            let same = default.iter().find(|t| t.file == at_top).unwrap();
            assert_eq!(s.value, same.value, "{}", s.file);
        }
    }

    #[test]
    fn writes_to_a_pipeline_s_directory_if_it_exists() {
        let dir = std::env::temp_dir().join(format!("vigil-set-p-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pipeline/web/stage1")).unwrap();
        for f in ["policy", "pipeline/web/policy", "pipeline/web/stage1/cpus"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let sysfs = Sysfs::at(&dir);
        run(&sysfs, &web(), &args(&["policy=poll", "stage1.cpus=1"])).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("pipeline/web/policy"), "poll\n");
        assert_eq!(read("pipeline/web/stage1/cpus"), "1\n");
        assert_eq!(read("policy"), "", "the default pipeline's is untouched");
        let dns = Name::parse(b"dns").unwrap();
        let err = run(&sysfs, &dns, &args(&["policy=poll"])).unwrap_err();
        assert_eq!(err, "no pipeline dns (vigil pipeline list)");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
