// SPDX-License-Identifier: GPL-2.0

//! End to end: the example raw directory in `tests/data/raw` through parsing, computing and
//! rendering, checked against numbers worked out by hand from the example's inputs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
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

    // CSV: a header and the 20 runs in file order, nulls as empty cells, the derived rate
    // next to the wake-ups (600 * 1000 / 2000 = 300).
    let csv = read("results.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 21);
    assert!(lines[0].starts_with("profile,kind,variant,rep,gap_ns,sent,received,"));
    assert!(lines[0].ends_with(",host_wall_ns,host_wait_frac,host_emulation_frac,not_measurable"));
    // The example ran 4 vCPUs on 2 host cores: every run is oversubscribed.
    let over = "oversubscribed: 4 vCPUs on 2 host cores";
    assert_eq!(
        lines[5],
        format!(
            "burst-32x2ms,latency,adaptive,,1900000,2000,2000,0,21000,50000,70000,32768,65536,131072,\
             0.2,,,600,300,,,,,900,100,200,500,100,700,9000,4000,,2000000000,,,,,{over}"
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "burst-32x2ms,latency,plain,,1900000,2000,2000,0,18000,30000,45000,,,,,,,,,,,,,,,,,,,,,,\
             2000000000,,,,,{over}"
        )
    );
    // 40 wake-ups over 900000 packets: 0.0444... per 1000, rounded to six decimals.
    assert!(lines[18].contains(",1,,,40,0.044444,"), "{}", lines[18]);
    // Passed-through keys stay out of the CSV.
    assert!(!csv.contains("first_try"));

    // Markdown.
    let md = read("results.md");
    let nm = "not measurable (adaptive: oversubscribed: 4 vCPUs on 2 host cores)";
    for want in [
        "- **kernel**: 7.3.4 bench\n",
        "- **host\\_cores**: 2\n",
        "32 packets every 2 ms\n",
        "Each cell (profile × variant) ran 1 time,",
        "more than 2% of the run",
        "**20 of 20 cells are not measurable**",
        "- burst-8x40us poll (latency): oversubscribed: 4 vCPUs on 2 host cores\n",
        "| adaptive | 1 | 21.0 | 50.0 | 70.0 | 65.5 | 20.0% | – | 300.0 | – | 900 | 2000/2000 | – \
         | **not measurable**: oversubscribed: 4 vCPUs on 2 host cores |\n",
        "| adaptive | 1 | 22.0 | 54.1 | 90.0 | 65.5 | 45.0% | – | 100.0 | – | 30000 | 1500/2000 \
         | – | **not measurable**",
        "| plain | 1 | 18.0 | 30.0 | 45.0 | – | – | – | – | – | – | 2000/2000 | – | **not",
        "| timeout/poll CPU busy | not measurable (timeout: oversubscribed: 4 vCPUs on 2 host \
         cores); 0.60 |\n",
        "| timeout/poll CPU busy | not measurable (timeout: oversubscribed: 4 vCPUs on 2 host \
         cores); n/a (timeout CPU busy unknown) |\n",
        "| timeout/poll p99 | n/a (no timeout run) |\n",
        "| adaptive/idle wake-ups | not measurable (adaptive: oversubscribed: 4 vCPUs on 2 host \
         cores); n/a (idle wake-ups is 0) |\n",
        "| adaptive/poll histogram p99 | not measurable (adaptive: oversubscribed: 4 vCPUs on 2 \
         host cores); 0.50 |\n",
        // The classes come from gap_ns against the 200 µs window; the long-gap p99 target
        // allows poll's 131.1 µs plus 1.2 idle exits of 65.5 - 32.8 µs: 65.5 / 170.4 = 0.38.
        "**short-gap** when the median quiet time",
        "as idle's histogram p50 minus poll's",
        "at least 95% of what it was sent",
        &format!(
            "| burst-32x2ms | long gap (1900 µs ≥ 200 µs window) | adaptive hist p99 ≤ poll hist \
             p99 + 1.2× idle exit (exit 33 µs) | 0.38 | {nm} |\n"
        ),
        &format!(
            "| burst-32x2ms | long gap (1900 µs ≥ 200 µs window) | adaptive CPU ≤ 0.05× poll | \
             0.25 | {nm} |\n"
        ),
        &format!(
            "| burst-8x40us | short gap (33 µs < 200 µs window) | adaptive hist p99 ≤ 1.10× poll \
             | 1.00 | {nm} |\n"
        ),
        &format!(
            "| burst-8x40us | short gap (33 µs < 200 µs window) | adaptive host stage \
             CPU/packet ≤ 0.25× poll | – | {nm} |\n"
        ),
        "| steady-2000pps | unknown | adaptive targets (short- or long-gap class unknown) | – \
         | n/a (no gap\\_ns in the runs) |\n",
        "| flood | knee (plain 100000 packets/s) | timeout throughput at the knee ≥ 0.7× plain \
         | 0.60 | not measurable (timeout: oversubscribed: 4 vCPUs on 2 host cores) |\n",
        "### rate-150kpps\n",
        "| timeout | 1 | 1000000 | 60000 | – | not measurable (timeout: oversubscribed: 4 vCPUs on 2 \
         host cores); 0.60 | **not measurable**",
        "### burst-32x2ms (`sim-burst-32x2ms.json`)\n",
        "| adaptive | 65.5 | 60.0 | 0.92 | 20.0% | 19.0% | 300.0 | 200.0 |\n",
        &format!("| adaptive/poll histogram p99 | {nm}; 0.50 | 0.60 |\n"),
        "![p99 latency against CPU busy](p99-vs-cpu.svg)\n",
    ] {
        assert!(md.contains(want), "results.md lacks {want:?}:\n{md}");
    }
    // No target is judged past the knee, where plain delivered 80%.
    assert!(!md.contains("| rate-150kpps | knee"));
    // Wake-ups are a long-gap target only.
    assert!(!md.contains("| burst-8x40us | short gap (33 µs < 200 µs window) | adaptive wake-ups"));
    // Sections come in the promised order.
    let at = |s: &str| md.find(s).unwrap();
    assert!(at("## Latency") < at("## Targets"));
    assert!(at("## Targets") < at("## Throughput"));
    assert!(at("## Throughput") < at("## Simulator vs VM"));
    assert!(at("## Simulator vs VM") < at("![p99 latency"));

    // The JSON reads back, and holds every run with every key.
    let text = read("results.json");
    let json: Value = serde_json::from_str(&text).unwrap();
    let meta = json.get("meta").unwrap();
    assert_eq!(
        meta.get("command").and_then(Value::as_str),
        Some("make bench")
    );
    let Some(Value::Array(runs)) = json.get("runs") else {
        panic!("no runs array")
    };
    assert_eq!(runs.len(), 20);
    let plain = &runs[10];
    assert_eq!(
        plain.get("profile").and_then(Value::as_str),
        Some("steady-2000pps")
    );
    assert_eq!(plain.get("lanes"), Some(&json!(2)));
    assert_eq!(plain.get("note").and_then(Value::as_str), Some("first_try"));
    assert_eq!(plain.get("hist_p99_ns"), Some(&Value::Null));
    assert_eq!(runs[11].get("note"), Some(&Value::Null));
    assert_eq!(runs[4].get("wakeups_per_1k"), Some(&json!(300)));
    let Some(Value::Array(targets)) = json.get("targets") else {
        panic!("no targets array")
    };
    let voided = &targets[4];
    assert_eq!(
        voided.get("status").and_then(Value::as_str),
        Some("not measurable")
    );
    // The histogram p99s are equal (65536); the application's 54120 / 40000 is not judged.
    assert_eq!(voided.get("ratio"), Some(&json!(1)));
    assert_eq!(voided.get("metric"), Some(&json!("hist_p99_ns")));
    assert_eq!(voided.get("class"), Some(&json!("short")));
    assert_eq!(voided.get("gap_ns"), Some(&json!(33000)));
    assert_eq!(voided.get("window_ns"), Some(&json!(200000)));
    assert_eq!(voided.get("threshold"), Some(&json!(72089.6)));
    assert_eq!(voided.get("margin"), Some(&Value::Null));
    assert_eq!(voided.get("exit"), Some(&Value::Null));
    // The long-gap p99 target: 65536 / (131072 + 1.2 * 32768) = 1 / 2.6.
    let long = &targets[0];
    assert_eq!(long.get("class"), Some(&json!("long")));
    assert_eq!(long.get("ratio"), Some(&json!(0.384615)));
    assert_eq!(long.get("limit"), Some(&json!(1)));
    assert_eq!(long.get("threshold"), Some(&json!(170393.6)));
    assert_eq!(
        long.get("exit"),
        Some(&json!({
            "estimate": vigil_bench::targets::EXIT_ESTIMATE,
            "factor": 1.2,
            "median_ns": 32768,
            "min_ns": 32768,
            "max_ns": 32768,
            "reason": null
        }))
    );
    let unknown = &targets[7];
    assert_eq!(unknown.get("class"), Some(&Value::Null));
    assert_eq!(unknown.get("limit"), Some(&Value::Null));
    assert_eq!(unknown.get("status"), Some(&json!("unknown")));
    assert_eq!(unknown.get("reason"), Some(&json!("no gap_ns in the runs")));
    assert_eq!(targets[8].get("class"), Some(&json!("knee")));
    assert_eq!(targets[8].get("knee_plain_pps"), Some(&json!(100000)));
    assert_eq!(targets.len(), 12);
    assert_eq!(runs[4].get("measurable"), Some(&Value::Bool(false)));
    let Some(Value::Array(cells)) = json.get("cells") else {
        panic!("no cells array")
    };
    assert_eq!(cells.len(), 20);
    assert_eq!(
        cells[4]
            .get("figures")
            .and_then(|f| f.get("app_p99_ns"))
            .and_then(|f| f.get("median")),
        Some(&json!(50000))
    );
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
        Some(&json!(210))
    );
    // A record per line: the runs, cells, ratios and targets, and each simulator row.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0] == "{" && text.ends_with("}\n"));
    let line_of = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(line_of("{\"profile\": \"steady-2000pps\", \"kind\": \"latency\", \"variant\": \"plain\", \"rep\""), 1);
    assert_eq!(line_of("\"policy\": \"adaptive\""), 1);
    assert!(lines.len() > 20 + 20 + 4, "{} lines", lines.len());

    let _ = fs::remove_dir_all(out.parent().unwrap());
}

#[test]
fn the_plot_has_one_point_per_run_where_it_belongs() {
    let report = Report::load(&raw()).unwrap();
    let svg = vigil_bench::svg::render(&report.cells, &report.targets, &report.sims);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\""));
    assert!(svg
        .contains("histogram p99 latency vs CPU busy, median and min–max per policy per profile"));
    assert!(svg.contains("7 of 7 points not measurable"));
    // (tooltip, CPU busy, histogram p99 µs) of every latency run with both figures; plain has
    // no histogram, burst-8x40us's timeout no CPU busy, steady-2000pps no histogram, and flood
    // is a throughput profile.
    let want = [
        (
            "burst-32x2ms idle: hist p99 262.1 µs, CPU 10.0%",
            0.1,
            262.144,
        ),
        (
            "burst-32x2ms poll: hist p99 131.1 µs, CPU 80.0%",
            0.8,
            131.072,
        ),
        (
            "burst-32x2ms timeout: hist p99 262.1 µs, CPU 48.0%",
            0.48,
            262.144,
        ),
        (
            "burst-32x2ms adaptive: hist p99 65.5 µs, CPU 20.0%",
            0.2,
            65.536,
        ),
        (
            "burst-8x40us idle: hist p99 131.1 µs, CPU 15.0%",
            0.15,
            131.072,
        ),
        (
            "burst-8x40us poll: hist p99 65.5 µs, CPU 90.0%",
            0.9,
            65.536,
        ),
        (
            "burst-8x40us adaptive: hist p99 65.5 µs, CPU 45.0%",
            0.45,
            65.536,
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
    // The data and limits run from 65.5 to 262.1 µs, so the axis spans the decades 10 µs to
    // 1 ms: the plot area's 390 pixels hold two decades, from y = 450 (10 µs) up to y = 60
    // (1000 µs); x runs from 80 (0) to 600 (1).
    let at = |cpu: f64, p99_us: f64| {
        let x = 80.0 + cpu * 520.0;
        let y = 450.0 - (f64::log10(p99_us) - 1.0) / 2.0 * 390.0;
        format!("{x:.1},{y:.1}")
    };
    for ((title, xy), (want_title, cpu, p99_us)) in points.iter().zip(want) {
        // The tooltip gives the median, then the range, then why it is not measurable.
        let (head, cpu_text) = want_title.split_once(", CPU").unwrap();
        assert!(title.starts_with(head), "{title}");
        assert!(title.contains(&format!("CPU{cpu_text}")), "{title}");
        assert!(title.ends_with("NOT MEASURABLE: oversubscribed: 4 vCPUs on 2 host cores"));
        assert_eq!(xy, &at(cpu, p99_us), "{title}");
    }
    // Adaptive's burst-32x2ms point: x = 80 + 0.2 * 520, y = 450 - (log10(65.536) - 1) / 2 * 390.
    assert!(svg.contains("translate(184.0,290.8)"));
    assert!(svg.contains(">10</text>") && svg.contains(">1000</text>"));
    assert!(!svg.contains(">10000</text>"));
    // Each burst's adaptive target corner, at the medians: burst-32x2ms (long) at CPU
    // 0.05 × 0.8 and p99 131.072 + 1.2 × 32.768 µs; burst-8x40us (short) at CPU 0.25 × 0.9
    // and p99 1.10 × 65.536 µs. Faded: their cells are not measurable.
    let corners: Vec<&str> = svg
        .match_indices("<g class=\"target\"")
        .map(|(i, _)| &svg[i..i + svg[i..].find("</g></g>").unwrap()])
        .collect();
    assert_eq!(corners.len(), 2);
    for (corner, (profile, cpu, p99_us)) in corners.iter().zip([
        ("burst-32x2ms", 0.04, 170.3936),
        ("burst-8x40us", 0.225, 72.0896),
    ]) {
        let (x, y) = at(cpu, p99_us)
            .split_once(',')
            .map(|(x, y)| (x.to_string(), y.to_string()))
            .unwrap();
        assert!(
            corner.contains(&format!("<title>{profile}: adaptive targets")),
            "{corner}"
        );
        assert!(corner.contains(" opacity=\"0.35\""), "{corner}");
        assert!(
            corner.contains(&format!("d=\"M80.0,{y}L{x},{y}M{x},{y}L{x},450.0\"")),
            "{corner}"
        );
    }
    // A marker per profile in the legend; profiles cycle through the shapes in order, and
    // each corner carries its profile's.
    assert!(svg.contains(">steady-2000pps</text>"));
    assert!(svg.contains(">adaptive target</text>"));
    assert!(!svg.contains(">flood</text>"));
    // The simulator's four policies on burst-32x2ms (the first profile: circles), hollow, and
    // the legend's hollow marker.
    assert_eq!(svg.matches("class=\"sim-point\"").count(), 4);
    assert!(svg.contains("burst-32x2ms adaptive (simulator): p99 "));
    assert!(svg.contains(">hollow: simulator</text>"));
    assert_eq!(svg.matches("<circle").count(), 4 + 5 + 1 + 1 + 4 + 1);
    assert_eq!(svg.matches("<rect x=\"-5\"").count(), 3 + 1 + 1);
}

#[test]
fn the_computed_ratios_and_targets_are_exact() {
    let loaded = Report::load(&raw()).unwrap();
    // As loaded, the example is oversubscribed (4 vCPUs on 2 host cores): no target holds,
    // and steady-2000pps, without gap_ns, has no class to judge.
    let names: Vec<(&str, &str)> = loaded
        .targets
        .iter()
        .map(|t| (t.ratio.profile.as_str(), t.outcome().name()))
        .collect();
    assert!(names.iter().all(|(p, o)| if *p == "steady-2000pps" {
        *o == "unknown"
    } else {
        *o == "not measurable"
    }));
    // The arithmetic, on the same runs without the host's verdict.
    let text = fs::read_to_string(raw().join("runs.txt")).unwrap();
    let runs = vigil_bench::record::parse(&text).unwrap();
    let report = Report::new(loaded.meta.clone(), runs, loaded.sims.clone());
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
            (
                p.clone(),
                "adaptive/poll histogram p99".to_string(),
                Ok(0.5)
            ),
            (p.clone(), "adaptive/poll CPU busy".to_string(), Ok(0.25)),
            (
                p.clone(),
                "adaptive/poll stage CPU/packet".to_string(),
                Err("adaptive stage CPU/packet unknown".to_string())
            ),
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
            "burst-32x2ms adaptive hist p99 ≤ poll hist p99 + 1.2× idle exit (exit 33 µs): met",
            "burst-32x2ms adaptive CPU ≤ 0.05× poll: missed",
            "burst-32x2ms adaptive host stage CPU/packet ≤ 0.05× poll: unknown",
            "burst-32x2ms adaptive wake-ups ≤ 0.2× idle: met",
            "burst-8x40us adaptive hist p99 ≤ 1.10× poll: met",
            "burst-8x40us adaptive CPU ≤ 0.25× poll: missed",
            "burst-8x40us adaptive host stage CPU/packet ≤ 0.25× poll: unknown",
            "steady-2000pps adaptive targets (short- or long-gap class unknown): unknown",
            "flood idle throughput at the knee ≥ 0.7× plain: met",
            "flood poll throughput at the knee ≥ 0.7× plain: met",
            "flood timeout throughput at the knee ≥ 0.7× plain: missed",
            "flood adaptive throughput at the knee ≥ 0.7× plain: met",
        ]
    );
    // Long gap: 65536 / (131072 + 1.2 * 32768) = 1 / 2.6, 61.5% inside 1.00; CPU 0.2 / 0.8 =
    // 0.25, five times the 0.05 limit; wake-ups 300 / 2000 = 0.15, 25% inside 0.2.
    let margins: Vec<String> = report
        .targets
        .iter()
        .map(|t| match t.outcome() {
            Outcome::Met { margin } => format!("+{margin:.4}"),
            Outcome::Missed { by } => format!("-{by:.4}"),
            _ => "?".to_string(),
        })
        .collect();
    assert_eq!(
        margins,
        [
            "+0.6154", "-4.0000", "?", "+0.2500", "+0.0909", "-1.0000", "?", "?", "+0.1429",
            "+0.3571", "-0.1429", "+0.2857"
        ]
    );
    // Short gap: the histogram p99s are equal, 1.00 is 9% inside 1.10 (the application's
    // p99, 54120 / 40000 = 1.353, would have missed); CPU 0.45 / 0.9 = 0.5, twice 0.25.
    // Throughput at flood, the knee (plain delivered 100%; rate-150kpps delivered more
    // packets a second but only 80% of what it was sent): 0.8, 0.95, 0.6 and 0.9 of plain.
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
        stderr.contains("sim-p.json: missing field `lanes`"),
        "{stderr}"
    );

    let usage = run_tool(&["--raw", dir.to_str().unwrap()]);
    assert_eq!(usage.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&usage.stderr);
    assert!(
        stderr.contains("the following required arguments were not provided:\n  --out <DIR>"),
        "{stderr}"
    );
    let unknown = run_tool(&["--raw", "x", "--out", "y", "--frob"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unexpected argument '--frob'"));
    let help = run_tool(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: vigil-bench-report"));
    let _ = fs::remove_dir_all(&dir);
}
