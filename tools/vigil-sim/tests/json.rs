// SPDX-License-Identifier: GPL-2.0

//! `vigil-sim --json`: what it writes reads back as the same rows, and so do the committed
//! files `make bench` wrote with it.

use std::path::Path;

use vigil_sim::report::{self, JsonRow, Row};
use vigil_sim::{run, Config, Policy, Profile, Summary};

#[test]
fn rows_read_back_as_written_one_per_line() {
    let config = Config::new(1, 3, 3);
    let arrivals = Profile::Steady(100_000).arrivals(500, 1).unwrap();
    let rows: Vec<Row> = Policy::ALL
        .iter()
        .map(|&p| Row::new(&config, Summary::of(&run(&config, p, &arrivals).unwrap())))
        .collect();
    let text = report::json(&rows).unwrap();
    // An opening bracket, a row per line, a closing bracket.
    assert_eq!(text.lines().count(), rows.len() + 2, "{text}");
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("  {\"lanes\": 1, \"stages\": 3"));
    let back: Vec<JsonRow> = serde_json::from_str(&text).unwrap();
    let written: Vec<JsonRow> = rows.iter().map(JsonRow::new).collect();
    assert_eq!(back, written);
    assert_eq!(back[3].policy, Policy::Adaptive);
    assert_eq!(back[0].delivered, 500);
}

#[test]
fn the_committed_results_read_back() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Documentation/bench");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("sim-") && name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<JsonRow> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let policies: Vec<Policy> = rows.iter().map(|r| r.policy).collect();
        assert_eq!(policies, Policy::ALL, "{name}");
        for r in &rows {
            assert_eq!(
                r.reschedules_by_reason.iter().sum::<u64>(),
                r.reschedules,
                "{name}"
            );
        }
        files += 1;
    }
    assert!(files >= 1, "no sim-*.json in {}", dir.display());
}

#[test]
fn names_that_are_not_the_simulators_are_refused() {
    let row = |policy: &str, reasons: &str| {
        format!(
            "{{\"lanes\": 1, \"stages\": 3, \"cpus\": 3, \"policy\": \"{policy}\", \"p50_ns\": 1, \
             \"p99_ns\": 2, \"p999_ns\": 3, \"hist_p50_ns\": 1, \"hist_p99_ns\": 3, \
             \"hist_p999_ns\": 3, \"cpu_busy\": 0.5, \"wakeups_per_1k\": 4, \"wakeups\": 8, \
             \"reschedules\": 5, \"reschedules_by_reason\": {{{reasons}}}, \"completions\": 6, \
             \"delivered\": 2000, \"duration_ns\": 9}}"
        )
    };
    let all = "\"head_ahead\": 1, \"upstream_backlog\": 2, \"window\": 1, \"head_active\": 1";
    let ok: JsonRow = serde_json::from_str(&row("poll", all)).unwrap();
    assert_eq!(ok.reschedules_by_reason, [1, 2, 1, 1]);
    let err = |text: String| {
        serde_json::from_str::<JsonRow>(&text)
            .unwrap_err()
            .to_string()
    };
    assert!(err(row("plain", all)).contains("unknown policy `plain`"));
    assert!(err(row("poll", "\"window\": 1")).contains("no reason `head_ahead`"));
    assert!(err(row("poll", &format!("{all}, \"spin\": 1"))).contains("unknown reason `spin`"));
    assert!(err(row("poll", all).replace("\"wakeups\": 8, ", "")).contains("missing field"));
}
