// SPDX-License-Identifier: GPL-2.0

//! End to end: the example raw directory in `tests/data/raw` through parsing, computing and
//! rendering, checked against numbers worked out by hand from the example's inputs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_bench::json_read;
use vigil_bench::json_value::Value;
use vigil_bench::report::Report;
use vigil_bench::targets::Outcome;

fn raw() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/raw")
}

/// A fresh output directory for one test, so tests running in parallel do not collide.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-bench-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn run_tool(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil-bench-report"))
        .args(args)
        .output()
        .expect("run vigil-bench-report")
}

#[test]
fn the_binary_writes_all_four_files() {
    let out = scratch("binary");
    let raw = raw();
    let result = run_tool(&[
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        out.join("nested").to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let out = out.join("nested");
    let read = |name: &str| fs::read_to_string(out.join(name)).unwrap();

    // CSV: a header and the 18 runs in file order, nulls as empty cells, the derived rate
    // next to the wake-ups (600 * 1000 / 2000 = 300).
    let csv = read("results.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 19);
    assert!(lines[0].starts_with("profile,kind,variant,sent,received,"));
    assert_eq!(
        lines[5],
        "burst-32x2ms,latency,adaptive,2000,2000,0,21000,50000,70000,32768,65536,131072,0.2,\
         600,300,900,100,200,500,100,700,9000,4000,2000000000,"
    );
    assert_eq!(
        lines[1],
        "burst-32x2ms,latency,plain,2000,2000,0,18000,30000,45000,,,,,,,,,,,,,,,2000000000,"
    );
    // 40 wake-ups over 900000 packets: 0.0444... per 1000, rounded to six decimals.
    assert!(lines[18].contains(",1,40,0.044444,"), "{}", lines[18]);
    // Passed-through keys stay out of the CSV.
    assert!(!csv.contains("first_try"));

    // Markdown.
    let md = read("results.md");
    for want in [
        "- **kernel**: 7.3.4 bench\n",
        "- **host\\_cores**: 2\n",
        "32 packets every 2 ms\n",
        "| adaptive | 21.0 | 50.0 | 70.0 | 65.5 | 20.0% | 300.0 | 900 | 700 | 2000/2000 | 0 |\n",
        "| adaptive | 22.0 | 54.1 | 90.0 | 65.5 | 45.0% | 100.0 | 30000 | 160 | 1500/2000 | 3 |\n",
        "| plain | 18.0 | 30.0 | 45.0 | – | – | – | – | – | 2000/2000 | 0 |\n",
        "| adaptive/poll p99 | 0.50 |\n",
        "| timeout/poll CPU busy | 0.60 |\n",
        "| timeout/poll CPU busy | n/a (timeout CPU busy unknown) |\n",
        "| adaptive/poll p99 | n/a (no poll run) |\n",
        "| adaptive/idle wake-ups | n/a (idle wake-ups is 0) |\n",
        "| burst-32x2ms | adaptive p99 ≤ 1.10× poll | 0.50 | met by 55% |\n",
        "| burst-32x2ms | adaptive CPU ≤ 0.25× poll | 0.25 | met, at the limit |\n",
        "| burst-8x40us | adaptive p99 ≤ 1.10× poll | 1.35 | missed by 23% |\n",
        "| burst-8x40us | adaptive CPU ≤ 0.25× poll | 0.50 | missed by 100% |\n",
        "| burst-8x40us | adaptive wake-ups ≤ 0.2× idle | 0.07 | met by 67% |\n",
        "| steady-2000pps | adaptive wake-ups ≤ 0.2× idle | – | n/a (idle wake-ups is 0) |\n",
        "| flood | timeout throughput ≥ 0.7× plain | 0.60 | missed by 14% |\n",
        "| flood | adaptive throughput ≥ 0.7× plain | 0.90 | met by 29% |\n",
        "| plain | 100000 | 1.00 |\n",
        "| timeout | 60000 | 0.60 |\n",
        "### burst-32x2ms (`sim-burst-32x2ms.json`)\n",
        "| adaptive | 50.0 | 60.0 | 20.0% | 19.0% | 300.0 | 200.0 |\n",
        "| adaptive/poll p99 | 0.50 | 0.60 |\n",
        "| adaptive/poll CPU busy | 0.25 | 0.20 |\n",
        "| adaptive/idle wake-ups | 0.15 | 0.10 |\n",
        "![p99 latency against CPU busy](p99-vs-cpu.svg)\n",
    ] {
        assert!(md.contains(want), "results.md lacks {want:?}:\n{md}");
    }
    // No targets on a profile that is not a burst, besides wake-ups.
    assert!(!md.contains("| steady-2000pps | adaptive p99"));
    // Sections come in the promised order.
    let at = |s: &str| md.find(s).unwrap();
    assert!(at("## Latency") < at("## Targets"));
    assert!(at("## Targets") < at("## Throughput"));
    assert!(at("## Throughput") < at("## Simulator vs VM"));
    assert!(at("## Simulator vs VM") < at("![p99 latency"));

    // The JSON reads back, and holds every run with every key.
    let json = json_read::parse(&read("results.json")).unwrap();
    let meta = json.get("meta").unwrap();
    assert_eq!(
        meta.get("command").and_then(Value::as_str),
        Some("make bench")
    );
    let Some(Value::Array(runs)) = json.get("runs") else {
        panic!("no runs array")
    };
    assert_eq!(runs.len(), 18);
    let plain = &runs[10];
    assert_eq!(
        plain.get("profile").and_then(Value::as_str),
        Some("steady-2000pps")
    );
    assert_eq!(plain.get("lanes"), Some(&Value::Number(2.0)));
    assert_eq!(plain.get("note").and_then(Value::as_str), Some("first_try"));
    assert_eq!(plain.get("hist_p99_ns"), Some(&Value::Null));
    assert_eq!(runs[11].get("note"), Some(&Value::Null));
    assert_eq!(runs[4].get("wakeups_per_1k"), Some(&Value::Number(300.0)));
    let Some(Value::Array(targets)) = json.get("targets") else {
        panic!("no targets array")
    };
    let missed = &targets[3];
    assert_eq!(missed.get("status").and_then(Value::as_str), Some("missed"));
    assert_eq!(missed.get("ratio"), Some(&Value::Number(1.353)));
    assert_eq!(missed.get("margin"), Some(&Value::Number(-0.23)));
    let Some(Value::Array(sims)) = json.get("simulator") else {
        panic!("no simulator array")
    };
    assert_eq!(sims.len(), 1);
    let Some(Value::Array(rows)) = sims[0].get("rows") else {
        panic!("no simulator rows")
    };
    // The nested member of the simulator's row passes through.
    assert_eq!(
        rows[3]
            .get("reschedules_by_reason")
            .and_then(|r| r.get("upstream_backlog")),
        Some(&Value::Number(210.0))
    );

    let _ = fs::remove_dir_all(out.parent().unwrap());
}

#[test]
fn the_plot_has_one_point_per_run_where_it_belongs() {
    let report = Report::load(&raw()).unwrap();
    let svg = vigil_bench::svg::render(&report.runs);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\""));
    assert!(svg.contains("p99 latency vs CPU busy, one point per policy per profile"));
    // (tooltip, CPU busy, p99 µs) of every latency run with both figures; the plain burst
    // runs and burst-8x40us's timeout have no CPU busy, and flood is a throughput profile.
    let want = [
        ("burst-32x2ms idle: p99 200.0 µs, CPU 10.0%", 0.1, 200.0),
        ("burst-32x2ms poll: p99 100.0 µs, CPU 80.0%", 0.8, 100.0),
        ("burst-32x2ms timeout: p99 150.0 µs, CPU 48.0%", 0.48, 150.0),
        ("burst-32x2ms adaptive: p99 50.0 µs, CPU 20.0%", 0.2, 50.0),
        ("burst-8x40us idle: p99 90.0 µs, CPU 15.0%", 0.15, 90.0),
        ("burst-8x40us poll: p99 40.0 µs, CPU 90.0%", 0.9, 40.0),
        ("burst-8x40us adaptive: p99 54.1 µs, CPU 45.0%", 0.45, 54.12),
        ("steady-2000pps plain: p99 20.0 µs, CPU 5.0%", 0.05, 20.0),
        ("steady-2000pps idle: p99 300.0 µs, CPU 10.0%", 0.1, 300.0),
        (
            "steady-2000pps adaptive: p99 80.0 µs, CPU 12.0%",
            0.12,
            80.0,
        ),
    ];
    let points: Vec<(String, String)> = svg
        .match_indices("<g class=\"point\" transform=\"translate(")
        .map(|(i, m)| {
            let rest = &svg[i + m.len()..];
            let (xy, rest) = rest.split_once(")\"><title>").unwrap();
            let (title, _) = rest.split_once("</title>").unwrap();
            (title.to_string(), xy.to_string())
        })
        .collect();
    assert_eq!(points.len(), want.len());
    // The data run from 20 to 300 µs, so the axis spans the decades 10 µs to 1 ms: the plot
    // area's 390 pixels hold two decades, from y = 450 (10 µs) up to y = 60 (1000 µs); x runs
    // from 80 (0) to 600 (1).
    for ((title, xy), (want_title, cpu, p99_us)) in points.iter().zip(want) {
        assert_eq!(title, want_title);
        let x = 80.0 + cpu * 520.0;
        let y = 450.0 - (f64::log10(p99_us) - 1.0) / 2.0 * 390.0;
        assert_eq!(xy, &format!("{x:.1},{y:.1}"), "{title}");
    }
    assert!(svg.contains("translate(184.0,313.7)"));
    assert!(svg.contains(">10</text>") && svg.contains(">1000</text>"));
    assert!(!svg.contains(">10000</text>"));
    // A marker per profile in the legend; profiles cycle through the shapes in order.
    assert!(svg.contains(">steady-2000pps</text>"));
    assert!(!svg.contains(">flood</text>"));
    assert_eq!(svg.matches("<circle").count(), 4 + 5 + 1);
    assert_eq!(svg.matches("<rect x=\"-5\"").count(), 3 + 1);
}

#[test]
fn the_computed_ratios_and_targets_are_exact() {
    let report = Report::load(&raw()).unwrap();
    let ratios: Vec<(String, String, Result<f64, String>)> = report
        .ratios
        .iter()
        .filter(|r| r.profile == "burst-32x2ms")
        .map(|r| (r.profile.clone(), r.name(), r.value.clone()))
        .collect();
    let p = "burst-32x2ms".to_string();
    assert_eq!(
        ratios,
        vec![
            (p.clone(), "adaptive/poll p99".to_string(), Ok(0.5)),
            (p.clone(), "adaptive/poll CPU busy".to_string(), Ok(0.25)),
            (p.clone(), "adaptive/idle wake-ups".to_string(), Ok(0.15)),
            (p.clone(), "timeout/poll p99".to_string(), Ok(1.5)),
            (p, "timeout/poll CPU busy".to_string(), Ok(0.6)),
        ]
    );
    let outcomes: Vec<String> = report
        .targets
        .iter()
        .map(|t| {
            format!(
                "{} {}: {}",
                t.ratio.profile,
                t.describe(),
                t.outcome().name()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            "burst-32x2ms adaptive p99 ≤ 1.10× poll: met",
            "burst-32x2ms adaptive CPU ≤ 0.25× poll: met",
            "burst-32x2ms adaptive wake-ups ≤ 0.2× idle: met",
            "burst-8x40us adaptive p99 ≤ 1.10× poll: missed",
            "burst-8x40us adaptive CPU ≤ 0.25× poll: missed",
            "burst-8x40us adaptive wake-ups ≤ 0.2× idle: met",
            "steady-2000pps adaptive wake-ups ≤ 0.2× idle: unknown",
            "flood idle throughput ≥ 0.7× plain: met",
            "flood poll throughput ≥ 0.7× plain: met",
            "flood timeout throughput ≥ 0.7× plain: missed",
            "flood adaptive throughput ≥ 0.7× plain: met",
        ]
    );
    // 54120 / 40000 = 1.353, 23% over the 1.10 limit.
    let Outcome::Missed { by } = report.targets[3].outcome() else {
        panic!("burst-8x40us p99 target met")
    };
    assert!((by - 0.23).abs() < 1e-9, "{by}");
    assert_eq!(report.sims.len(), 1);
    assert_eq!(report.sims[0].rows.len(), 4);
}

#[test]
fn bad_input_fails_with_the_file_and_line() {
    let dir = scratch("bad");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("meta.txt"), "date=2026-11-23\n").unwrap();
    fs::write(
        dir.join("runs.txt"),
        "profile=p kind=latency variant=poll sent=1\nprofile=p kind=latency variant=idle sent=x\n",
    )
    .unwrap();
    let out = dir.join("out");
    let result = run_tool(&[
        "--raw",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("runs.txt: line 2: `sent=x`: not a number (or `-`)"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written from bad input");

    fs::write(
        dir.join("runs.txt"),
        "profile=p kind=latency variant=idle\n",
    )
    .unwrap();
    fs::write(dir.join("sim-p.json"), "[{\"policy\": \"idle\"}]").unwrap();
    let result = run_tool(&[
        "--raw",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("sim-p.json: row 0: no number \"p50_ns\""),
        "{stderr}"
    );

    let usage = run_tool(&["--raw", dir.to_str().unwrap()]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--out is required"));
    let _ = fs::remove_dir_all(&dir);
}
