// SPDX-License-Identifier: GPL-2.0

//! Parsing `runs.txt`: one benchmark run per line, as whitespace-separated `key=value` pairs.

use crate::Error;

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One-way latency of paced traffic.
    Latency,
    /// Packets per second delivered at an offered rate.
    Throughput,
}

impl Kind {
    /// The name used in `runs.txt` and in the outputs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Latency => "latency",
            Kind::Throughput => "throughput",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "latency" => Some(Kind::Latency),
            "throughput" => Some(Kind::Throughput),
            _ => None,
        }
    }
}

/// How the traffic was carried: the plain network stack, or the pipeline under a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The pipeline disabled.
    Plain,
    /// The pipeline under the `idle` policy.
    Idle,
    /// The pipeline under the `poll` policy.
    Poll,
    /// The pipeline under the `timeout` policy.
    Timeout,
    /// The pipeline under the `adaptive` policy.
    Adaptive,
}

impl Variant {
    /// Every variant, in the order the tables list them.
    pub const ALL: [Variant; 5] = [
        Variant::Plain,
        Variant::Idle,
        Variant::Poll,
        Variant::Timeout,
        Variant::Adaptive,
    ];

    /// The variants that run the pipeline (the policies).
    pub const POLICIES: [Variant; 4] = [
        Variant::Idle,
        Variant::Poll,
        Variant::Timeout,
        Variant::Adaptive,
    ];

    /// The name used in `runs.txt` and in the outputs.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Idle => "idle",
            Variant::Poll => "poll",
            Variant::Timeout => "timeout",
            Variant::Adaptive => "adaptive",
        }
    }

    /// The variant named `s`, if any.
    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// A value of `runs.txt`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `-`: unknown.
    Null,
    /// A finite number.
    Number(f64),
    /// Anything else (only for keys this tool does not know).
    Text(String),
}

/// The keys whose value must be a number or `-`, in the order of the CSV columns.
pub const NUMERIC_KEYS: [&str; 33] = [
    "rep",
    "gap_ns",
    "sent",
    "received",
    "out_of_order",
    "app_p50_ns",
    "app_p99_ns",
    "app_p999_ns",
    "hist_p50_ns",
    "hist_p99_ns",
    "hist_p999_ns",
    "cpu_busy",
    "stage_host_cpu_ns",
    "stage_cpu_ns_per_pkt",
    "wakeups",
    "cpuidle_exits",
    "vcpu_wakeups",
    "stage_irqs",
    "ipis_sent",
    "reschedules",
    "resched_head_ahead",
    "resched_upstream_backlog",
    "resched_window",
    "resched_head_active",
    "completions",
    "polls",
    "empty_polls",
    "dropped",
    "duration_ns",
    "throughput_pps",
    "host_wall_ns",
    "host_wait_frac",
    "host_emulation_frac",
];

/// The key of the value this tool derives; the guest must not write it.
pub const WAKEUPS_PER_1K: &str = "wakeups_per_1k";

/// The columns of `results.csv`, also the order of a run's known keys in `results.json`.
pub fn columns() -> Vec<&'static str> {
    let mut out = vec!["profile", "kind", "variant"];
    for key in NUMERIC_KEYS {
        out.push(key);
        // The derived rate sits next to the count it comes from.
        if key == "wakeups" {
            out.push(WAKEUPS_PER_1K);
        }
    }
    out
}

/// One line of `runs.txt`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The line it came from (1-based), for messages.
    pub line: usize,
    /// The traffic profile, e.g. `burst-32x2ms`.
    pub profile: String,
    /// What the run measures.
    pub kind: Kind,
    /// How the traffic was carried.
    pub variant: Variant,
    /// The profile's description, with `_` turned back into spaces.
    pub profile_desc: Option<String>,
    /// Every other pair, in file order: the known numeric keys and the passed-through ones.
    pub fields: Vec<(String, Value)>,
}

impl Run {
    /// The value of `key`, or `None` if the line does not have it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The number `key` holds, or `None` if it is absent, `-` or not a number.
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }

    /// Wake-ups (IPIs) per 1000 received packets; unknown without wake-ups or packets.
    pub fn wakeups_per_1k(&self) -> Option<f64> {
        let wakeups = self.number("wakeups")?;
        let received = self.number("received")?;
        (received > 0.0).then(|| wakeups * 1000.0 / received)
    }

    /// The pairs whose key this tool does not know, in file order.
    pub fn passthrough(&self) -> impl Iterator<Item = &(String, Value)> {
        self.fields
            .iter()
            .filter(|(k, _)| !NUMERIC_KEYS.contains(&k.as_str()))
    }
}

/// The runs of `text`, the contents of `runs.txt`.
///
/// Errors name the line; a second run of the same profile, kind and variant is an error, as
/// the report could only pick one of them silently.
pub fn parse(text: &str) -> Result<Vec<Run>, Error> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let run =
            parse_line(trimmed, line_no).map_err(|e| Error(format!("line {line_no}: {e}")))?;
        if let Some(first) = runs.iter().find(|r| {
            r.profile == run.profile
                && r.kind == run.kind
                && r.variant == run.variant
                && r.number("rep") == run.number("rep")
        }) {
            return Err(Error(format!(
                "line {line_no}: a second {} run of profile `{}` with variant `{}` and the same \
                 `rep` (the first is on line {})",
                run.kind.name(),
                run.profile,
                run.variant.name(),
                first.line
            )));
        }
        runs.push(run);
    }
    if runs.is_empty() {
        return Err(Error::new("no runs"));
    }
    Ok(runs)
}

fn parse_line(line: &str, line_no: usize) -> Result<Run, String> {
    let mut profile = None;
    let mut kind = None;
    let mut variant = None;
    let mut profile_desc = None;
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for pair in line.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("`{pair}` is not key=value"));
        };
        if key.is_empty() {
            return Err(format!("`{pair}` has no key"));
        }
        if value.is_empty() {
            return Err(format!("`{key}` has no value (write `-` for unknown)"));
        }
        if seen.contains(&key) {
            return Err(format!("`{key}` appears twice"));
        }
        seen.push(key);
        let unknown = value == "-";
        match key {
            "profile" => profile = Some(required(key, value)?),
            "kind" => {
                let name = required(key, value)?;
                kind = Some(Kind::parse(&name).ok_or_else(|| {
                    format!("unknown kind `{name}` (expected latency or throughput)")
                })?);
            }
            "variant" => {
                let name = required(key, value)?;
                variant = Some(Variant::parse(&name).ok_or_else(|| {
                    format!(
                        "unknown variant `{name}` (expected plain, idle, poll, timeout or \
                         adaptive)"
                    )
                })?);
            }
            "profile_desc" => profile_desc = (!unknown).then(|| value.replace('_', " ")),
            WAKEUPS_PER_1K => {
                return Err(format!(
                    "`{WAKEUPS_PER_1K}` is derived from wakeups and received; do not write it"
                ))
            }
            _ if unknown => fields.push((key.to_string(), Value::Null)),
            _ if NUMERIC_KEYS.contains(&key) => match number(value) {
                Some(n) => fields.push((key.to_string(), Value::Number(n))),
                None => return Err(format!("`{key}={value}`: not a number (or `-`)")),
            },
            // Keys this tool does not know pass through, as numbers when they look like one.
            _ => match number(value) {
                Some(n) => fields.push((key.to_string(), Value::Number(n))),
                None => fields.push((key.to_string(), Value::Text(value.to_string()))),
            },
        }
    }
    let missing = |what: &str| format!("no `{what}`");
    let profile = profile.ok_or_else(|| missing("profile"))?;
    if !profile
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        // The name becomes part of a file name (`sim-<profile>.json`).
        return Err(format!(
            "profile `{profile}`: only letters, digits, `-`, `_` and `.` are allowed"
        ));
    }
    Ok(Run {
        line: line_no,
        profile,
        kind: kind.ok_or_else(|| missing("kind"))?,
        variant: variant.ok_or_else(|| missing("variant"))?,
        profile_desc,
        fields,
    })
}

fn required(key: &str, value: &str) -> Result<String, String> {
    if value == "-" {
        Err(format!("`{key}` cannot be unknown"))
    } else {
        Ok(value.to_string())
    }
}

/// Whether `s` is a number as JSON writes them: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `s` as a number, if it is a finite number written as JSON writes numbers.
fn number(s: &str) -> Option<f64> {
    if !is_number(s) {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The run of `profile`, `kind` and `variant`, if any.
pub fn find<'a>(runs: &'a [Run], profile: &str, kind: Kind, variant: Variant) -> Option<&'a Run> {
    runs.iter()
        .find(|r| r.profile == profile && r.kind == kind && r.variant == variant)
}

/// The profiles that have runs of `kind`, in the order they first appear.
pub fn profiles(runs: &[Run], kind: Kind) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for run in runs.iter().filter(|r| r.kind == kind) {
        if !out.contains(&run.profile.as_str()) {
            out.push(&run.profile);
        }
    }
    out
}

/// The description of `profile`: the first one a run of it gives.
pub fn description<'a>(runs: &'a [Run], profile: &str) -> Option<&'a str> {
    runs.iter()
        .filter(|r| r.profile == profile)
        .find_map(|r| r.profile_desc.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_nulls_and_passthrough() {
        let runs = parse(
            "# comment\n\n profile=p kind=latency variant=poll sent=10 received=8 \
             cpu_busy=0.25 hist_p99_ns=- lanes=2 note=abc profile_desc=two_words\n",
        )
        .unwrap();
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.line, 3);
        assert_eq!(r.variant, Variant::Poll);
        assert_eq!(r.kind, Kind::Latency);
        assert_eq!(r.profile_desc.as_deref(), Some("two words"));
        assert_eq!(r.number("cpu_busy"), Some(0.25));
        assert_eq!(r.get("hist_p99_ns"), Some(&Value::Null));
        assert_eq!(r.number("hist_p99_ns"), None);
        let extra: Vec<_> = r.passthrough().cloned().collect();
        assert_eq!(
            extra,
            vec![
                ("lanes".to_string(), Value::Number(2.0)),
                ("note".to_string(), Value::Text("abc".to_string())),
            ]
        );
    }

    #[test]
    fn derives_wakeups_per_1k() {
        let runs = parse(
            "profile=p kind=latency variant=idle wakeups=300 received=1500\n\
             profile=p kind=latency variant=poll wakeups=3 received=0\n\
             profile=p kind=latency variant=plain wakeups=- received=10\n",
        )
        .unwrap();
        assert_eq!(runs[0].wakeups_per_1k(), Some(200.0));
        assert_eq!(runs[1].wakeups_per_1k(), None);
        assert_eq!(runs[2].wakeups_per_1k(), None);
    }

    #[test]
    fn rejects_bad_lines_with_their_number() {
        let bad = [
            (
                "profile=p kind=latency variant=poll sent=ten",
                "line 1: `sent=ten`",
            ),
            (
                "profile=p kind=latency variant=turbo",
                "line 1: unknown variant",
            ),
            ("profile=p kind=fast variant=poll", "line 1: unknown kind"),
            ("profile=p variant=poll", "line 1: no `kind`"),
            (
                "profile=p kind=latency variant=poll x",
                "line 1: `x` is not",
            ),
            (
                "profile=p kind=latency variant=poll sent=1 sent=2",
                "appears twice",
            ),
            ("profile=- kind=latency variant=poll", "cannot be unknown"),
            ("profile=a/b kind=latency variant=poll", "only letters"),
            (
                "profile=p kind=latency variant=poll sent=inf",
                "not a number",
            ),
            (
                "profile=p kind=latency variant=poll wakeups_per_1k=3",
                "derived",
            ),
            ("# nothing", "no runs"),
        ];
        for (text, message) in bad {
            let err = parse(text).unwrap_err();
            assert!(err.0.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn rejects_a_second_run_of_the_same_variant() {
        let err = parse(
            "profile=p kind=latency variant=poll\n\
             profile=p kind=throughput variant=poll\n\
             profile=p kind=latency variant=poll\n",
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "line 3: a second latency run of profile `p` with variant `poll` and the same `rep` \
             (the first is on line 1)"
        );
    }

    #[test]
    fn lists_profiles_in_order_of_appearance() {
        let runs = parse(
            "profile=b kind=latency variant=poll\n\
             profile=a kind=latency variant=poll\n\
             profile=b kind=latency variant=idle\n\
             profile=f kind=throughput variant=idle\n",
        )
        .unwrap();
        assert_eq!(profiles(&runs, Kind::Latency), vec!["b", "a"]);
        assert_eq!(profiles(&runs, Kind::Throughput), vec!["f"]);
    }

    #[test]
    fn recognises_json_numbers_only() {
        for ok in ["0", "-0", "12", "0.5", "1e3", "1.5E-7", "-3.25e+2"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", ".5", "5.", "+1", "1e", "inf", "NaN", "0x10", "1_000",
        ] {
            assert!(!is_number(bad), "{bad}");
        }
    }
}
