// SPDX-License-Identifier: GPL-2.0

//! `vigil set KEY=VALUE...`: every value is checked with the module's own parsers before any
//! is written; then they are written in order, stopping at the first the kernel refuses.

use crate::sysfs::Sysfs;
use vigil_core::abi::{Setting as AbiSetting, SETTINGS};
use vigil_core::config::{MAX_CPUS, MAX_STAGES};
use vigil_core::parse::ParseError;

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
fn check(top: bool, key: &str, value: &[u8], nr_cpus: u32) -> Result<(), String> {
    let setting = AbiSetting::find(top, key).ok_or_else(|| match top {
        true => format!("unknown setting {key}"),
        false => format!("unknown stage setting {key}"),
    })?;
    setting
        .kind
        .parse(value, nr_cpus)
        .map(drop)
        .map_err(|e| format!("{key}: {}", why(e)))
}

/// Every setting's default, in the table's order (`enabled` first, so that the pipeline
/// stops before anything else changes), then every stage's.
pub fn defaults(nr_cpus: u32) -> Vec<Setting> {
    let mut out = Vec::new();
    for top in [true, false] {
        let stages = if top { 1 } else { MAX_STAGES };
        for stage in 0..stages {
            for s in SETTINGS.iter().filter(|s| s.scope.at_top() == top) {
                let mut value = String::new();
                // Writing to a String cannot fail.
                let _ = s.default.text(stage, nr_cpus, &mut value);
                let file = match top {
                    true => s.name().to_string(),
                    false => format!("stage{stage}/{}", s.name()),
                };
                out.push(Setting { file, value });
            }
        }
    }
    out
}

/// Parses and checks `KEY=VALUE` arguments. Stage settings are `stageN.KEY` or
/// `stageN/KEY`.
pub fn parse(args: &[String], nr_cpus: u32) -> Result<Vec<Setting>, String> {
    if args.is_empty() {
        return Err("set: nothing to set (usage: vigil set KEY=VALUE...)".into());
    }
    let mut out = Vec::new();
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("set: {arg:?} is not KEY=VALUE"))?;
        let file = match key.split_once(['.', '/']) {
            Some((stage, sub)) => {
                let n: usize = stage
                    .strip_prefix("stage")
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n < MAX_STAGES)
                    .ok_or_else(|| format!("set: unknown setting {key}"))?;
                check(false, sub, value.as_bytes(), nr_cpus)
                    .map_err(|e| format!("set: stage{n}.{e}"))?;
                format!("stage{n}/{sub}")
            }
            None => {
                check(true, key, value.as_bytes(), nr_cpus).map_err(|e| format!("set: {e}"))?;
                key.to_string()
            }
        };
        out.push(Setting {
            file,
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
pub fn run(sysfs: &Sysfs, args: &[String]) -> Result<(), String> {
    write(sysfs, &parse(args, possible_cpus())?)
}

/// Puts every setting back to its default.
pub fn run_defaults(sysfs: &Sysfs) -> Result<(), String> {
    write(sysfs, &defaults(possible_cpus()))
}

fn write(sysfs: &Sysfs, settings: &[Setting]) -> Result<(), String> {
    sysfs.check_loaded()?;
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
            assert!(parse(&args(bad), 4).is_err(), "{bad:?}");
        }
        assert!(parse(&[], 4).is_err());
        // Range errors read as the kernel's errno.
        let err = parse(&args(&["burst_gap_ns=1000000001"]), 4).unwrap_err();
        assert_eq!(err, "set: burst_gap_ns: out of range (ERANGE)");
    }

    #[test]
    fn defaults_come_from_the_table_and_pass_the_checks() {
        let d = defaults(2);
        let top = SETTINGS.iter().filter(|s| s.scope.at_top()).count();
        assert_eq!(d.len(), top + (SETTINGS.len() - top) * MAX_STAGES);
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
        assert_eq!(parse(&args, 2).unwrap(), d);
    }

    #[test]
    fn writes_in_order_to_a_fake_sysfs_and_reports_errno() {
        let dir = std::env::temp_dir().join(format!("vigil-set-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("stage1")).unwrap();
        std::fs::write(dir.join("policy"), "").unwrap();
        std::fs::write(dir.join("stage1/cpus"), "").unwrap();
        let sysfs = Sysfs::at(&dir);
        run(&sysfs, &args(&["policy=timeout", "stage1.cpus=0"])).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("policy")).unwrap(),
            "timeout\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("stage1/cpus")).unwrap(),
            "0\n"
        );
        // A stage directory that does not exist: the error names the file and the errno.
        let err = run(&sysfs, &args(&["stage3.cpus=0"])).unwrap_err();
        assert!(err.contains("ENOENT"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
