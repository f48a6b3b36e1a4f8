// SPDX-License-Identifier: GPL-2.0

//! `p99-vs-cpu.svg`: a scatter plot of the module's histogram p99 latency (what the latency
//! targets judge) against CPU busy, one point per policy per latency profile, to show which
//! policy buys its latency with how much CPU; and per profile the adaptive targets' corner:
//! the p99 limit and the CPU limit at the medians, adaptive's point belonging below and left
//! of it.

use crate::cells::Cell;
use crate::ratios::Metric;
use crate::record::{Kind, Variant};
use crate::sim::Sim;
use crate::targets::{Outcome, Target};

/// The image's width.
pub const WIDTH: f64 = 800.0;
/// The image's height.
pub const HEIGHT: f64 = 520.0;
/// The plot area's left edge (x = 0).
pub const LEFT: f64 = 80.0;
/// The plot area's right edge (x = 1).
pub const RIGHT: f64 = 600.0;
/// The plot area's top edge (the highest decade).
pub const TOP: f64 = 60.0;
/// The plot area's bottom edge (the lowest decade).
pub const BOTTOM: f64 = 450.0;

/// The plot's title.
pub const TITLE: &str =
    "histogram p99 latency vs CPU busy, median and min–max per policy per profile";

/// How far beyond the data the y axis reaches before rounding out to whole decades.
const PAD: f64 = 1.5;

/// The lowest decade the y axis shows: 1 ns.
const LOWEST: i32 = -3;

/// The highest decade the y axis shows: 1000 s.
const HIGHEST: i32 = 9;

/// One point: a variant's run of a latency profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The profile.
    pub profile: String,
    /// The variant.
    pub variant: Variant,
    /// The mean busy fraction of the stage CPUs.
    pub cpu_busy: f64,
    /// The module's histogram p99 latency in microseconds.
    pub p99_us: f64,
    /// The min–max of the p99 over the runs, in microseconds.
    pub p99_range: (f64, f64),
    /// The min–max of the CPU busy over the runs.
    pub cpu_range: (f64, f64),
    /// Why the point is not measurable, if it is not.
    pub not_measurable: Option<String>,
}

/// The points of `cells`: latency cells with a known CPU busy and a positive histogram p99 (a
/// log axis has no place for zero; the plain stack has no histogram), at their medians.
pub fn points(cells: &[Cell]) -> Vec<Point> {
    cells
        .iter()
        .filter(|c| c.kind() == Kind::Latency)
        .filter_map(|c| {
            let cpu = c.spread(Metric::CpuBusy)?;
            let p99 = c.spread(Metric::HistP99)?;
            (p99.min > 0.0).then(|| Point {
                profile: c.profile().to_string(),
                variant: c.variant(),
                cpu_busy: cpu.median,
                p99_us: p99.median / 1000.0,
                p99_range: (p99.min / 1000.0, p99.max / 1000.0),
                cpu_range: (cpu.min, cpu.max),
                not_measurable: c.not_measurable.clone(),
            })
        })
        .collect()
}

/// The y axis: whole decades of microseconds, `10^low` at the bottom to `10^high` at the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// The exponent of the bottom decade.
    pub low: i32,
    /// The exponent of the top decade; always above `low`.
    pub high: i32,
}

impl Scale {
    /// The decades that hold `points` with some room; 1 µs to 1 ms without points.
    pub fn of(points: &[Point]) -> Scale {
        Scale::holding(points, &[])
    }

    /// The decades that hold `points` and the latencies `also` (µs) with some room.
    pub fn holding(points: &[Point], also: &[f64]) -> Scale {
        let values = points
            .iter()
            .flat_map(|p| [p.p99_range.0, p.p99_us, p.p99_range.1])
            .chain(also.iter().copied().filter(|v| *v > 0.0));
        let min = values.clone().fold(f64::INFINITY, f64::min);
        let max = values.fold(0.0, f64::max);
        if points.is_empty() {
            return Scale { low: 0, high: 3 };
        }
        // Padding by a factor on both sides keeps high > low even for a single point; the
        // bounds keep an absurd value from asking for millions of decades.
        let low = ((min / PAD).log10().floor() as i32).clamp(LOWEST, HIGHEST - 1);
        let high = ((max * PAD).log10().ceil() as i32).clamp(low + 1, HIGHEST);
        Scale { low, high }
    }

    /// The horizontal position of a CPU busy fraction (clamped to the axis, 0 to 1).
    pub fn x(cpu_busy: f64) -> f64 {
        LEFT + cpu_busy.clamp(0.0, 1.0) * (RIGHT - LEFT)
    }

    /// The vertical position of a latency in microseconds (clamped to the axis).
    pub fn y(&self, p99_us: f64) -> f64 {
        let span = f64::from(self.high - self.low);
        let y = BOTTOM - (p99_us.log10() - f64::from(self.low)) / span * (BOTTOM - TOP);
        y.clamp(TOP, BOTTOM)
    }
}

/// The fill colour of a variant: a fixed palette so plots compare across runs.
pub fn colour(variant: Variant) -> &'static str {
    match variant {
        Variant::Plain => "#7f7f7f",
        Variant::Idle => "#1f77b4",
        Variant::Poll => "#d62728",
        Variant::Timeout => "#ff7f0e",
        Variant::Adaptive => "#2ca02c",
    }
}

/// The marker shapes, given to profiles in order and reused past the last.
const SHAPES: [&str; 6] = [
    "circle",
    "square",
    "triangle",
    "diamond",
    "cross",
    "triangle-down",
];

/// The marker of shape `index` centred on the origin, filled with `fill` and outlined in
/// `outline` (a cross, which has no inside, is drawn in `fill`).
fn drawn_marker(index: usize, fill: &str, outline: &str, width: f64) -> String {
    let style = format!("fill=\"{fill}\" stroke=\"{outline}\" stroke-width=\"{width}\"");
    match SHAPES[index % SHAPES.len()] {
        "circle" => format!("<circle r=\"5.5\" {style}/>"),
        "square" => format!("<rect x=\"-5\" y=\"-5\" width=\"10\" height=\"10\" {style}/>"),
        "triangle" => format!("<polygon points=\"0,-6.5 6,4 -6,4\" {style}/>"),
        "diamond" => format!("<polygon points=\"0,-6.5 6.5,0 0,6.5 -6.5,0\" {style}/>"),
        "cross" => format!(
            "<path d=\"M-5,-5L5,5M-5,5L5,-5\" fill=\"none\" stroke=\"{fill}\" stroke-width=\"3\"/>"
        ),
        _ => format!("<polygon points=\"0,6.5 6,-4 -6,-4\" {style}/>"),
    }
}

/// The marker of shape `index` filled with `fill`: a measured point.
fn marker(index: usize, fill: &str) -> String {
    drawn_marker(index, fill, "#222", 0.8)
}

/// The marker of shape `index` drawn as an outline in `stroke`: a simulated point. (Its cross
/// is drawn in `stroke` too.)
fn hollow_marker(index: usize, stroke: &str) -> String {
    match SHAPES[index % SHAPES.len()] {
        "cross" => drawn_marker(index, stroke, stroke, 1.5),
        _ => drawn_marker(index, "none", stroke, 1.5),
    }
}

/// `s` with XML's special characters escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A decade's label, e.g. `0.1`, `1`, `1000`, written out so no float noise shows.
fn decade_label(exponent: i32) -> String {
    if exponent >= 0 {
        format!("1{}", "0".repeat(exponent.unsigned_abs() as usize))
    } else {
        format!("0.{}1", "0".repeat(exponent.unsigned_abs() as usize - 1))
    }
}

/// The adaptive targets of one latency profile, at the medians: the histogram p99 limit and
/// the CPU busy limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Corner {
    /// The profile.
    pub profile: String,
    /// The p99 limit in microseconds, if known.
    pub p99_us: Option<f64>,
    /// The CPU busy limit, if known.
    pub cpu_busy: Option<f64>,
    /// Whether a target it draws is not measurable.
    pub not_measurable: bool,
}

/// The corners of `targets`: one per latency profile with a known p99 or CPU busy limit.
pub fn corners(targets: &[Target]) -> Vec<Corner> {
    let mut out: Vec<Corner> = Vec::new();
    for t in targets.iter().filter(|t| t.ratio.kind == Kind::Latency) {
        let Some(threshold) = t.threshold else {
            continue;
        };
        let corner = match out.iter_mut().position(|c| c.profile == t.ratio.profile) {
            Some(i) => &mut out[i],
            None => {
                out.push(Corner {
                    profile: t.ratio.profile.clone(),
                    p99_us: None,
                    cpu_busy: None,
                    not_measurable: false,
                });
                out.last_mut().expect("just pushed")
            }
        };
        match t.ratio.metric {
            Metric::HistP99 => corner.p99_us = Some(threshold / 1000.0),
            Metric::CpuBusy => corner.cpu_busy = Some(threshold),
            _ => continue,
        }
        corner.not_measurable |= matches!(t.outcome(), Outcome::NotMeasurable(_));
    }
    out.retain(|c| c.p99_us.is_some() || c.cpu_busy.is_some());
    out
}

/// The SVG text of the plot of `cells`, with the limits of `targets`.
/// One simulated point: a policy on a profile, from the simulator's results.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPoint {
    /// The profile.
    pub profile: String,
    /// The policy.
    pub variant: Variant,
    /// The simulated stage CPUs' busy fraction.
    pub cpu_busy: f64,
    /// The simulated p99, hook to delivery, in microseconds.
    pub p99_us: f64,
}

/// The points of `sims` with a positive p99.
pub fn sim_points(sims: &[Sim]) -> Vec<SimPoint> {
    sims.iter()
        .flat_map(|s| {
            s.rows.iter().filter_map(|r| {
                let p99 = r.metric(Metric::P99)?;
                (p99 > 0.0).then(|| SimPoint {
                    profile: s.profile.clone(),
                    variant: r.policy,
                    cpu_busy: r.metric(Metric::CpuBusy).unwrap_or(0.0),
                    p99_us: p99 / 1000.0,
                })
            })
        })
        .collect()
}

/// The SVG text of the plot of `cells`, with the targets' limits and the simulator's points
/// (hollow markers) for the same profiles.
pub fn render(cells: &[Cell], targets: &[Target], sims: &[Sim]) -> String {
    let points = points(cells);
    let sim = sim_points(sims);
    let corners = corners(targets);
    let limits: Vec<f64> = corners
        .iter()
        .filter_map(|c| c.p99_us)
        .chain(sim.iter().map(|p| p.p99_us))
        .collect();
    let scale = Scale::holding(&points, &limits);
    let mut profiles: Vec<&str> = Vec::new();
    for c in cells.iter().filter(|c| c.kind() == Kind::Latency) {
        if !profiles.contains(&c.profile()) {
            profiles.push(c.profile());
        }
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <title>{title}</title>\n\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>\n\
         <text x=\"{x:.1}\" y=\"32\" text-anchor=\"middle\" font-size=\"16\">{title}</text>\n",
        title = escape(TITLE),
        x = WIDTH / 2.0,
    );
    axes(&mut out, &scale);
    if points.is_empty() {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">no runs with \
             both a histogram p99 and a CPU busy figure</text>\n",
            (LEFT + RIGHT) / 2.0,
            (TOP + BOTTOM) / 2.0
        ));
    }
    let unmeasurable = points.iter().filter(|p| p.not_measurable.is_some()).count();
    if unmeasurable > 0 {
        out.push_str(&format!(
            "<text class=\"not-measurable\" x=\"{:.1}\" y=\"50\" text-anchor=\"middle\" \
             fill=\"#c00\">{unmeasurable} of {} points not measurable (oversubscribed or \
             contended runs): drawn faded, marked ×</text>\n",
            WIDTH / 2.0,
            points.len()
        ));
    }
    target_lines(&mut out, &scale, &corners, &profiles);
    out.push_str("<g class=\"points\">\n");
    for p in &points {
        let shape = profiles.iter().position(|q| *q == p.profile).unwrap_or(0);
        let tip = format!(
            "{} {}: hist p99 {:.1} µs ({:.1}–{:.1}), CPU {:.1}% ({:.1}–{:.1}){}",
            p.profile,
            p.variant.name(),
            p.p99_us,
            p.p99_range.0,
            p.p99_range.1,
            p.cpu_busy * 100.0,
            p.cpu_range.0 * 100.0,
            p.cpu_range.1 * 100.0,
            p.not_measurable
                .as_ref()
                .map_or(String::new(), |why| format!(", NOT MEASURABLE: {why}"))
        );
        let (x, y) = (Scale::x(p.cpu_busy), scale.y(p.p99_us));
        // Error bars: the min–max of the runs on both axes.
        out.push_str(&format!(
            "<g class=\"range\" stroke=\"{c}\" stroke-width=\"1\">\
             <line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/></g>\n",
            scale.y(p.p99_range.0),
            scale.y(p.p99_range.1),
            Scale::x(p.cpu_range.0),
            Scale::x(p.cpu_range.1),
            c = colour(p.variant),
        ));
        let (opacity, cross) = if p.not_measurable.is_some() {
            (
                " opacity=\"0.35\"",
                "<path d=\"M-7,-7L7,7M-7,7L7,-7\" stroke=\"#c00\" stroke-width=\"2\"/>",
            )
        } else {
            ("", "")
        };
        out.push_str(&format!(
            "<g class=\"point\" transform=\"translate({x:.1},{y:.1})\"><title>{}</title>\
             <g{opacity}>{}</g>{cross}</g>\n",
            escape(&tip),
            marker(shape, colour(p.variant))
        ));
    }
    out.push_str("</g>\n");
    out.push_str("<g class=\"sim-points\">\n");
    for p in &sim {
        let shape = profiles.iter().position(|q| *q == p.profile).unwrap_or(0);
        let tip = format!(
            "{} {} (simulator): p99 {:.1} µs, CPU {:.1}%",
            p.profile,
            p.variant.name(),
            p.p99_us,
            p.cpu_busy * 100.0
        );
        out.push_str(&format!(
            "<g class=\"sim-point\" transform=\"translate({:.1},{:.1})\"><title>{}</title>{}</g>\n",
            Scale::x(p.cpu_busy),
            scale.y(p.p99_us),
            escape(&tip),
            hollow_marker(shape, colour(p.variant)),
        ));
    }
    out.push_str("</g>\n");
    legend(&mut out, &profiles);
    out.push_str("</svg>\n");
    out
}

/// Each profile's adaptive target corner: a dashed line at the p99 limit from CPU 0 to the
/// CPU limit, and one at the CPU limit from the bottom up to the p99 limit (either across the
/// whole plot when the other limit is unknown), in adaptive's colour, labelled with the
/// profile's marker.
fn target_lines(out: &mut String, scale: &Scale, corners: &[Corner], profiles: &[&str]) {
    out.push_str("<g class=\"targets\" fill=\"none\" stroke-dasharray=\"5,3\">\n");
    for c in corners {
        let x = c.cpu_busy.map_or(RIGHT, Scale::x);
        let y = c.p99_us.map_or(TOP, |p| scale.y(p));
        let mut d = String::new();
        if c.p99_us.is_some() {
            d.push_str(&format!("M{LEFT:.1},{y:.1}L{x:.1},{y:.1}"));
        }
        if c.cpu_busy.is_some() {
            d.push_str(&format!("M{x:.1},{y:.1}L{x:.1},{BOTTOM:.1}"));
        }
        let tip = format!(
            "{}: adaptive targets at the medians: hist p99 ≤ {}, CPU busy ≤ {}{}",
            c.profile,
            c.p99_us.map_or("–".to_string(), |p| format!("{p:.1} µs")),
            c.cpu_busy
                .map_or("–".to_string(), |b| format!("{:.1}%", b * 100.0)),
            if c.not_measurable {
                ", NOT MEASURABLE"
            } else {
                ""
            }
        );
        let opacity = if c.not_measurable { "0.35" } else { "0.9" };
        let shape = profiles.iter().position(|q| *q == c.profile).unwrap_or(0);
        out.push_str(&format!(
            "<g class=\"target\" opacity=\"{opacity}\"><title>{}</title><path d=\"{d}\" \
             stroke=\"{}\" stroke-width=\"1.5\"/><g transform=\"translate({x:.1},{y:.1}) \
             scale(0.6)\">{}</g></g>\n",
            escape(&tip),
            colour(Variant::Adaptive),
            marker(shape, colour(Variant::Adaptive)),
        ));
    }
    out.push_str("</g>\n");
}

fn axes(out: &mut String, scale: &Scale) {
    out.push_str("<g stroke=\"#e4e4e4\">\n");
    for tick in 0..=5 {
        let x = Scale::x(f64::from(tick) * 0.2);
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{BOTTOM}\"/>\n"
        ));
    }
    for decade in scale.low..=scale.high {
        // Faint lines at 2..9 times each decade show the axis is logarithmic.
        let subdivisions = if decade < scale.high { 9 } else { 1 };
        for m in 1..=subdivisions {
            let y = scale.y(f64::from(m) * 10f64.powi(decade));
            let colour = if m == 1 { "#e4e4e4" } else { "#f4f4f4" };
            out.push_str(&format!(
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"{colour}\"/>\n"
            ));
        }
    }
    out.push_str("</g>\n");
    out.push_str(&format!(
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
        RIGHT - LEFT,
        BOTTOM - TOP
    ));
    for tick in 0..=5 {
        let fraction = f64::from(tick) * 0.2;
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{fraction:.1}</text>\n",
            Scale::x(fraction),
            BOTTOM + 18.0
        ));
    }
    for decade in scale.low..=scale.high {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            LEFT - 8.0,
            scale.y(10f64.powi(decade)) + 4.0,
            decade_label(decade)
        ));
    }
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">CPU busy (mean busy fraction of the \
         stage CPUs)</text>\n",
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 42.0
    ));
    let middle = (TOP + BOTTOM) / 2.0;
    out.push_str(&format!(
        "<text x=\"24\" y=\"{middle:.1}\" text-anchor=\"middle\" \
         transform=\"rotate(-90 24 {middle:.1})\">histogram p99, hook to delivery (µs, log scale)</text>\n"
    ));
}

fn legend(out: &mut String, profiles: &[&str]) {
    let x = RIGHT + 24.0;
    let mut y = TOP + 6.0;
    out.push_str(&format!(
        "<g class=\"legend\">\n<text x=\"{x}\" y=\"{y}\" font-weight=\"bold\">variant</text>\n"
    ));
    for variant in Variant::ALL {
        y += 20.0;
        out.push_str(&format!(
            "<g transform=\"translate({:.1},{:.1})\">{}</g><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            x + 6.0,
            y - 4.0,
            marker(0, colour(variant)),
            x + 18.0,
            y,
            variant.name()
        ));
    }
    y += 20.0;
    out.push_str(&format!(
        "<path d=\"M{x:.1},{:.1}h14\" stroke=\"{}\" stroke-width=\"1.5\" \
         stroke-dasharray=\"5,3\"/><text x=\"{:.1}\" y=\"{y:.1}\">adaptive target</text>\n",
        y - 4.0,
        colour(Variant::Adaptive),
        x + 18.0,
    ));
    y += 20.0;
    out.push_str(&format!(
        "<g transform=\"translate({:.1},{:.1})\">{}</g><text x=\"{:.1}\" y=\"{y:.1}\">hollow: \
         simulator</text>\n",
        x + 6.0,
        y - 4.0,
        hollow_marker(0, "#555"),
        x + 18.0,
    ));
    y += 34.0;
    out.push_str(&format!(
        "<text x=\"{x}\" y=\"{y}\" font-weight=\"bold\">profile</text>\n"
    ));
    for (i, profile) in profiles.iter().enumerate() {
        y += 20.0;
        out.push_str(&format!(
            "<g transform=\"translate({:.1},{:.1})\">{}</g><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            x + 6.0,
            y - 4.0,
            marker(i, "#bbbbbb"),
            x + 18.0,
            y,
            escape(profile)
        ));
    }
    out.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_decades_and_fractions() {
        let pts = |v: &[f64]| -> Vec<Point> {
            v.iter()
                .map(|&p99_us| Point {
                    profile: "p".to_string(),
                    variant: Variant::Poll,
                    cpu_busy: 0.5,
                    p99_us,
                    p99_range: (p99_us, p99_us),
                    cpu_range: (0.5, 0.5),
                    not_measurable: None,
                })
                .collect()
        };
        assert_eq!(Scale::of(&pts(&[40.0, 200.0])), Scale { low: 1, high: 3 });
        assert_eq!(Scale::of(&pts(&[100.0])), Scale { low: 1, high: 3 });
        assert_eq!(Scale::of(&pts(&[0.5])), Scale { low: -1, high: 0 });
        assert_eq!(Scale::of(&[]), Scale { low: 0, high: 3 });
        assert_eq!(Scale::of(&pts(&[1e-9, 1e300])), Scale { low: -3, high: 9 });
        let s = Scale { low: 1, high: 3 };
        assert_eq!(s.y(10.0), BOTTOM);
        assert_eq!(s.y(1000.0), TOP);
        assert_eq!(s.y(100.0), (TOP + BOTTOM) / 2.0);
        assert_eq!(Scale::x(0.0), LEFT);
        assert_eq!(Scale::x(0.5), (LEFT + RIGHT) / 2.0);
        assert_eq!(Scale::x(1.2), RIGHT);
        assert_eq!(s.y(1e6), TOP);
    }

    #[test]
    fn labels_decades_exactly() {
        assert_eq!(decade_label(-2), "0.01");
        assert_eq!(decade_label(0), "1");
        assert_eq!(decade_label(3), "1000");
    }

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
    }
}
