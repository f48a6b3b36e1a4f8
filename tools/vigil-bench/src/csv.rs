// SPDX-License-Identifier: GPL-2.0

//! `results.csv`: one row per run, the known figures only, and in the last column why the
//! run is not measurable (empty when it is).

use crate::format;
use crate::record::{self, Run, Value, WAKEUPS_PER_1K};

/// The CSV text: a header, then one row per run in file order; unknown values are empty.
pub fn render(runs: &[Run]) -> String {
    let mut columns = record::columns();
    columns.push(crate::cells::NOT_MEASURABLE);
    let mut out = columns.join(",");
    out.push('\n');
    for run in runs {
        let cells: Vec<String> = columns.iter().map(|c| cell(run, c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn cell(run: &Run, column: &str) -> String {
    match column {
        "profile" => quote(&run.profile),
        "kind" => run.kind.name().to_string(),
        "variant" => run.variant.name().to_string(),
        WAKEUPS_PER_1K => run
            .wakeups_per_1k()
            .map_or_else(String::new, |v| format::round6(v).to_string()),
        key => match run.get(key) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Text(t)) => quote(t),
            Some(Value::Null) | None => String::new(),
        },
    }
}

/// `s` as a CSV field: quoted, with quotes doubled, when it holds a comma, quote or newline.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record;

    #[test]
    fn one_row_per_run_with_empty_unknowns() {
        let runs = record::parse(
            "profile=a kind=latency variant=idle sent=3 received=3 wakeups=1 cpu_busy=0.5 \
             hist_p99_ns=- lanes=2\n",
        )
        .unwrap();
        let text = render(&runs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "profile,kind,variant,rep,gap_ns,sent,received,out_of_order,app_p50_ns,app_p99_ns,\
             app_p999_ns,hist_p50_ns,hist_p99_ns,hist_p999_ns,cpu_busy,stage_host_cpu_ns,\
             stage_cpu_ns_per_pkt,wakeups,wakeups_per_1k,cpuidle_exits,vcpu_wakeups,stage_irqs,\
             ipis_sent,\
             reschedules,resched_head_ahead,resched_upstream_backlog,resched_window,\
             resched_head_active,completions,polls,empty_polls,dropped,duration_ns,throughput_pps,\
             host_wall_ns,host_wait_frac,host_emulation_frac,not_measurable"
        );
        assert_eq!(
            lines[1],
            "a,latency,idle,,,3,3,,,,,,,,0.5,,,1,333.333333,,,,,,,,,,,,,,,,,,,"
        );
    }

    #[test]
    fn quotes_fields_that_need_it() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
