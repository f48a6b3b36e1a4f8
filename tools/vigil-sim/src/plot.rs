// SPDX-License-Identifier: GPL-2.0

//! The allocator's trace as an SVG plot: three panels over time, the offered load, each
//! stage's busy fraction against the water marks, and each stage's CPUs with its changes.

use std::fmt::Write;

use vigil_core::allocator::{Reason, Settings};

use crate::allocation::Interval;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 760.0;
const PANEL_HEIGHT: f64 = 150.0;
/// The top of each panel.
const PANEL_TOPS: [f64; 3] = [50.0, 250.0, 450.0];
const HEIGHT: f64 = 650.0;

/// One colour per stage (`MAX_STAGES` of them).
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// A panel's vertical scale: `0..=max` from its bottom to its top.
struct Panel {
    top: f64,
    max: f64,
}

impl Panel {
    fn y(&self, value: f64) -> f64 {
        self.top + PANEL_HEIGHT * (1.0 - (value / self.max).clamp(0.0, 1.0))
    }
}

/// A round step giving at most about `count` ticks up to `max`: 1, 2 or 5 times a power of 10.
fn tick_step(max: f64, count: f64) -> f64 {
    let rough = max / count;
    let decade = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * decade)
}

/// The SVG text of the plot of `intervals`, a run on a pool of `pool` CPUs under `settings`.
pub fn render(intervals: &[Interval], settings: &Settings, pool: usize, title: &str) -> String {
    let end_ns = intervals.last().map_or(1, |i| i.end_ns.max(1));
    let x = |ns: u64| LEFT + (RIGHT - LEFT) * ns as f64 / end_ns as f64;
    let stages = intervals.first().map_or(0, |i| i.loads.len());
    let max_pps = intervals.iter().map(|i| i.offered_pps()).max().unwrap_or(0);
    let pps_step = tick_step(max_pps.max(1) as f64, 5.0);
    let panels = [
        Panel {
            top: PANEL_TOPS[0],
            max: (max_pps.max(1) as f64 / pps_step).ceil() * pps_step,
        },
        Panel {
            top: PANEL_TOPS[1],
            max: 1000.0,
        },
        Panel {
            top: PANEL_TOPS[2],
            max: pool as f64 + 0.5,
        },
    ];
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <title>{title}</title>\n<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>\n\
         <text x=\"{:.1}\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">{title}</text>\n",
        (LEFT + RIGHT) / 2.0
    );
    // Frames, y ticks and labels.
    let labels = ["offered load (kpps)", "busy per CPU (%)", "CPUs held"];
    let steps = [pps_step, 200.0, tick_step(pool as f64, 8.0).max(1.0)];
    let scales = [0.001, 0.1, 1.0];
    for (p, panel) in panels.iter().enumerate() {
        let _ = writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{}\" width=\"{}\" height=\"{PANEL_HEIGHT}\" fill=\"none\" \
             stroke=\"#444\"/>\n<text x=\"{LEFT}\" y=\"{}\" font-size=\"13\">{}</text>",
            panel.top,
            RIGHT - LEFT,
            panel.top - 8.0,
            labels[p]
        );
        let mut value = 0.0;
        while value <= panel.max {
            let y = panel.y(value);
            let _ = writeln!(
                out,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                y + 4.0,
                value * scales[p]
            );
            value += steps[p];
        }
    }
    // X ticks, seconds, on the bottom panel.
    let bottom = PANEL_TOPS[2] + PANEL_HEIGHT;
    let seconds = end_ns as f64 / 1e9;
    let step = tick_step(seconds, 10.0);
    let mut t = 0.0;
    while t <= seconds {
        let tx = x((t * 1e9) as u64);
        let _ = writeln!(
            out,
            "<line x1=\"{tx:.1}\" y1=\"{bottom}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t}</text>",
            bottom + 5.0,
            bottom + 19.0
        );
        t += step;
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time (s)</text>",
        (LEFT + RIGHT) / 2.0,
        bottom + 38.0
    );
    // The offered load.
    let points: Vec<String> = intervals
        .iter()
        .map(|i| {
            let mid = (i.start_ns + i.end_ns) / 2;
            format!("{:.1},{:.1}", x(mid), panels[0].y(i.offered_pps() as f64))
        })
        .collect();
    polyline(&mut out, &points, "#333");
    // The water marks.
    for (mark, name) in [
        (settings.high_water_permille, "high water"),
        (settings.low_water_permille, "low water"),
    ] {
        let y = panels[1].y(f64::from(mark));
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"#888\" \
             stroke-dasharray=\"6,4\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#666\">{name}</text>",
            RIGHT + 4.0,
            y + 4.0
        );
    }
    for k in 0..stages {
        let colour = COLOURS[k % COLOURS.len()];
        let busy: Vec<String> = intervals
            .iter()
            .map(|i| {
                let mid = (i.start_ns + i.end_ns) / 2;
                format!(
                    "{:.1},{:.1}",
                    x(mid),
                    panels[1].y(f64::from(i.busy_permille(k)))
                )
            })
            .collect();
        polyline(&mut out, &busy, colour);
        // CPUs as steps, each stage nudged up a little so that equal counts stay visible.
        let nudge = 0.08 * k as f64;
        let mut steps = Vec::new();
        for i in intervals {
            let y = panels[2].y(f64::from(i.loads[k].cpus) + nudge);
            steps.push(format!("{:.1},{y:.1}", x(i.start_ns)));
            steps.push(format!("{:.1},{y:.1}", x(i.end_ns)));
        }
        polyline(&mut out, &steps, colour);
        for i in intervals {
            for c in i.changes.iter().filter(|c| c.stage == k) {
                let after = i.loads[k].cpus as i64 + i64::from(c.reason.delta());
                let (cx, cy) = (x(i.end_ns), panels[2].y(after as f64 + nudge));
                let shape = match c.reason {
                    Reason::AboveHighWater => "M0,-6L5,3L-5,3Z",
                    Reason::BelowLowWater => "M0,6L5,-3L-5,-3Z",
                    Reason::PoolEmpty => "M-4,-4L4,4M-4,4L4,-4",
                };
                let _ = writeln!(
                    out,
                    "<path transform=\"translate({cx:.1},{cy:.1})\" d=\"{shape}\" \
                     fill=\"{colour}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>"
                );
            }
        }
        let ly = PANEL_TOPS[2] + 20.0 * k as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" \
             stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">stage {k}</text>",
            RIGHT + 10.0,
            RIGHT + 34.0,
            RIGHT + 40.0,
            ly + 4.0
        );
    }
    let ly = PANEL_TOPS[2] + 20.0 * stages as f64 + 10.0;
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"11\" fill=\"#444\">\
         <tspan x=\"{:.1}\">▲ above high water</tspan>\
         <tspan x=\"{:.1}\" dy=\"15\">▼ below low water</tspan>\
         <tspan x=\"{:.1}\" dy=\"15\">✕ pool empty</tspan></text>",
        RIGHT + 10.0,
        RIGHT + 10.0,
        RIGHT + 10.0,
        RIGHT + 10.0
    );
    out.push_str("</svg>\n");
    out
}

fn polyline(out: &mut String, points: &[String], colour: &str) {
    let _ = writeln!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"/>",
        points.join(" ")
    );
}
