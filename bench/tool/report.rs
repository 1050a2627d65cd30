//! The report: one row per load run, each row's anchor and ratio, the goals
//! of the performance issue with their verdicts, then the setup and the
//! sections (peak RSS, SQLite). A run that saw errors is marked in the row
//! (bold error count, `ERRORS:` note), invalidates every goal it takes part
//! in, and puts a warning under the title.

use std::fmt::Write;

/// One load run.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable name the goals refer to (`grpc_rrs`, `pg_sel_c8`, ...).
    pub id: String,
    pub operation: String,
    pub transport: String,
    pub backend: String,
    pub concurrency: String,
    pub rps: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// gen/srv/pg/other, see `cpu`.
    pub cpu: String,
    pub errors: u64,
    /// False when nothing could tell whether the calls under load succeeded.
    pub verified: bool,
    pub notes: Vec<String>,
}

impl Row {
    /// Whether the row's figures are not a measurement of working calls.
    pub fn invalid(&self) -> bool {
        self.errors > 0 || !self.verified
    }

    fn errors_cell(&self) -> String {
        if self.errors > 0 {
            format!("**{}**", self.errors)
        } else if !self.verified {
            "**unverified**".to_owned()
        } else {
            "0".to_owned()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// ratio = req/s / the anchor's req/s, the goal is a minimum.
    Throughput,
    /// ratio = p50 / the anchor's p50, the goal is a maximum.
    MedianLatency,
}

struct Goal {
    row: &'static str,
    /// The best of these rows is the anchor.
    anchors: &'static [&'static str],
    measure: Measure,
    target: f64,
    label: &'static str,
}

const SELECT: &[&str] = &["pg_sel_c1", "pg_sel_c8"];

/// The bare tonic echo's row: every gRPC row's second ratio.
const ECHO: &str = "grpc_echo";

const GOALS: [Goal; 16] = [
    Goal {
        row: "grpc_cts",
        anchors: SELECT,
        measure: Measure::Throughput,
        target: 1.0,
        label: "GetChangeTokenStatus (gRPC) >= 1.0x best pgbench -S",
    },
    Goal {
        row: "grpc_rrs",
        anchors: SELECT,
        measure: Measure::Throughput,
        target: 1.0,
        label: "GetResourceRequestStatus (gRPC) >= 1.0x best pgbench -S",
    },
    Goal {
        row: "grpc_cts",
        anchors: &[ECHO],
        measure: Measure::Throughput,
        target: 0.6,
        label: "GetChangeTokenStatus (gRPC) >= 0.6x the bare tonic echo",
    },
    Goal {
        row: "grpc_rrs",
        anchors: &[ECHO],
        measure: Measure::Throughput,
        target: 0.6,
        label: "GetResourceRequestStatus (gRPC) >= 0.6x the bare tonic echo",
    },
    Goal {
        row: "grpc_gct",
        anchors: &["pg_upsert"],
        measure: Measure::Throughput,
        target: 1.0,
        label: "GetChangeToken (gRPC) >= 1.0x pgbench upsert",
    },
    Goal {
        row: "http_gct",
        anchors: &["pg_upsert"],
        measure: Measure::Throughput,
        target: 1.0,
        label: "GetChangeToken (facade) >= 1.0x pgbench upsert",
    },
    Goal {
        row: "grpc_crr",
        anchors: &["pg_insert"],
        measure: Measure::Throughput,
        target: 1.0,
        label: "CreateResourceRequest (gRPC) >= 1.0x pgbench insert",
    },
    Goal {
        row: "http_cr",
        anchors: &["pg_insert"],
        measure: Measure::Throughput,
        target: 1.0,
        label: "CreateResource (facade) >= 1.0x pgbench insert",
    },
    Goal {
        row: "http_cts",
        anchors: &["grpc_cts"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "facade GetChangeTokenStatus >= 0.9x gRPC",
    },
    Goal {
        row: "http_rrs",
        anchors: &["grpc_rrs"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "facade GetResourceRequestStatus >= 0.9x gRPC",
    },
    Goal {
        row: "http_gct",
        anchors: &["grpc_gct"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "facade GetChangeToken >= 0.9x gRPC",
    },
    Goal {
        row: "http_cr",
        anchors: &["grpc_crr"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "facade CreateResource >= 0.9x gRPC CreateResourceRequest",
    },
    Goal {
        row: "grpc_rrs_c1",
        anchors: &["pg_sel_c1"],
        measure: Measure::MedianLatency,
        target: 2.0,
        label: "unloaded status read p50 <= 2.0x pgbench -S 1-client p50",
    },
    Goal {
        row: "large_grpc_rrs",
        anchors: &["grpc_rrs"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "GetResourceRequestStatus (gRPC, PENDING keys) at large >= 0.9x small",
    },
    Goal {
        row: "large_http_rrs_rand",
        anchors: &["http_rrs_rand"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "GetResourceRequestStatus (facade, random keys) at large >= 0.9x small",
    },
    Goal {
        row: "large_grpc_list",
        anchors: &["grpc_list"],
        measure: Measure::Throughput,
        target: 0.9,
        label: "ListResourceRequests page (gRPC) at large >= 0.9x small",
    },
];

impl Goal {
    fn value(&self, row: &Row) -> Option<f64> {
        match self.measure {
            Measure::Throughput => row.rps,
            Measure::MedianLatency => row.p50,
        }
    }

    /// The best anchor row that was measured.
    fn anchor<'a>(&self, rows: &'a [Row]) -> Option<&'a Row> {
        let candidates = rows
            .iter()
            .filter(|row| self.anchors.contains(&row.id.as_str()))
            .filter_map(|row| Some((self.value(row)?, row)));
        let best = match self.measure {
            Measure::Throughput => candidates.max_by(|a, b| a.0.total_cmp(&b.0)),
            Measure::MedianLatency => candidates.min_by(|a, b| a.0.total_cmp(&b.0)),
        };
        best.map(|(_, row)| row)
    }

    /// (ratio, met) when both the row and an anchor were measured.
    fn evaluate<'a>(&self, rows: &'a [Row]) -> Option<Evaluation<'a>> {
        let row = rows.iter().find(|row| row.id == self.row)?;
        let anchor = self.anchor(rows)?;
        let value = self.value(row)?;
        let anchor_value = self.value(anchor).filter(|value| *value != 0.0)?;
        let ratio = value / anchor_value;
        let met = match self.measure {
            Measure::Throughput => ratio >= self.target,
            Measure::MedianLatency => ratio <= self.target,
        };
        Some(Evaluation {
            row,
            anchor,
            ratio,
            met,
        })
    }

    /// The goal shown in a row's own anchor column: the first goal naming
    /// the row, except that a facade row shows its gRPC counterpart.
    fn of_row(id: &str) -> Option<&'static Goal> {
        let mut naming = GOALS.iter().filter(|goal| goal.row == id);
        let first = naming.clone().next()?;
        if id.starts_with("http_") {
            let transport_goal =
                naming.find(|goal| goal.anchors.iter().all(|a| a.starts_with("grpc_")));
            return Some(transport_goal.unwrap_or(first));
        }
        Some(first)
    }
}

struct Evaluation<'a> {
    row: &'a Row,
    anchor: &'a Row,
    ratio: f64,
    met: bool,
}

impl Evaluation<'_> {
    /// Errors in the row or in its anchor make the ratio meaningless.
    fn invalid_because(&self) -> Option<&str> {
        [self.row, self.anchor]
            .into_iter()
            .find(|row| row.invalid())
            .map(|row| row.id.as_str())
    }
}

/// A number with thousands separators and no decimals, or with `digits`
/// decimals; `-` when absent.
fn number(value: Option<f64>, digits: usize) -> String {
    let Some(value) = value else {
        return "-".to_owned();
    };
    if digits > 0 {
        return format!("{value:.digits$}");
    }
    let whole = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 && whole != "0" {
        grouped.insert(0, '-');
    }
    grouped
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Lines of the Setup section.
    pub setup: Vec<String>,
    /// Lines after it (Peak RSS, SQLite).
    pub sections: Vec<String>,
}

const CONCURRENCY: &str = "Concurrency: `Nc` connections (pgbench clients, wrk connections); \
`Nc x Ms` h2load connections x concurrent streams each; `K x (...)` K h2load processes, one per \
body. cpu: CPU used over the run (warm-up included) in % of one core (the machine has 2, so 200 \
is everything): the load generator, statusgate, the Postgres cluster, and everything else on the \
machine. A run whose gen is near 100 is held back by the load generator's single thread; a large \
'other' means something outside the benchmark competed for the cores.";

impl Report {
    pub fn render(&self, title: &str) -> String {
        let mut out = String::new();
        let mut line = |text: &str| {
            out.push_str(text);
            out.push('\n');
        };
        line(&format!("# {title}"));
        line("");
        let invalid: Vec<&str> = self
            .rows
            .iter()
            .filter(|row| row.invalid())
            .map(|row| row.id.as_str())
            .collect();
        if !invalid.is_empty() {
            line(&format!(
                "**ERRORS in {} run(s) ({}): their figures are not measurements of working calls, \
                 and no goal is judged on them. See the errors column and the notes.**",
                invalid.len(),
                invalid.join(", ")
            ));
            line("");
        }
        line(
            "| operation | transport | backend | concurrency | req/s | p50 ms | p99 ms | anchor | ratio | goal | ÷ echo | cpu % gen/srv/pg/other | errors | note |",
        );
        line("|---|---|---|---|---:|---:|---:|---|---:|---|---:|---|---:|---|");
        let echo = self.rows.iter().find(|row| row.id == ECHO);
        for row in &self.rows {
            let (mut anchor_text, mut ratio_text, mut goal_text) =
                ("-".to_owned(), "-".to_owned(), "-".to_owned());
            if let Some(goal) = Goal::of_row(&row.id) {
                if let Some(anchor) = goal.anchor(&self.rows) {
                    match goal.measure {
                        Measure::Throughput => {
                            anchor_text = format!(
                                "{}, {}, {}, {}: {}/s",
                                anchor.operation,
                                anchor.transport,
                                anchor.backend,
                                anchor.concurrency,
                                number(anchor.rps, 0)
                            );
                            goal_text = format!(">= {:.2}x req/s", goal.target);
                        }
                        Measure::MedianLatency => {
                            anchor_text = format!(
                                "{}, {}: p50 {} ms",
                                anchor.operation,
                                anchor.concurrency,
                                number(anchor.p50, 3)
                            );
                            goal_text = format!("<= {:.1}x p50", goal.target);
                        }
                    }
                }
                if let Some(evaluation) = goal.evaluate(&self.rows) {
                    ratio_text = format!("{:.2}", evaluation.ratio);
                    if let Some(culprit) = evaluation.invalid_because() {
                        let _ = write!(ratio_text, " (invalid: errors in {culprit})");
                    } else if !evaluation.met {
                        ratio_text.push_str(" (miss)");
                    }
                }
            }
            let echo_text = match (echo, row.rps) {
                (Some(echo), Some(rps)) if row.transport == "gRPC" && !row.id.starts_with(ECHO) => {
                    number(echo.rps.map(|echo_rps| rps / echo_rps), 2)
                }
                _ => "-".to_owned(),
            };
            let note = row.notes.join("; ").replace('|', "/");
            line(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {anchor_text} | {ratio_text} | {goal_text} | {echo_text} | {} | {} | {note} |",
                row.operation,
                row.transport,
                row.backend,
                row.concurrency,
                number(row.rps, 0),
                number(row.p50, 3),
                number(row.p99, 3),
                row.cpu,
                row.errors_cell(),
            ));
        }
        line("");
        line(CONCURRENCY);
        line("");
        line("## Goals");
        line("");
        line("| goal | measured | ratio | verdict |");
        line("|---|---|---:|---|");
        for goal in &GOALS {
            let Some(evaluation) = goal.evaluate(&self.rows) else {
                line(&format!("| {} | not measured | - | - |", goal.label));
                continue;
            };
            let measured = match goal.measure {
                Measure::Throughput => format!(
                    "{}/s vs {}/s",
                    number(evaluation.row.rps, 0),
                    number(evaluation.anchor.rps, 0)
                ),
                Measure::MedianLatency => format!(
                    "p50 {} ms vs {} ms",
                    number(evaluation.row.p50, 3),
                    number(evaluation.anchor.p50, 3)
                ),
            };
            let verdict = match (evaluation.invalid_because(), evaluation.met) {
                (Some(culprit), _) => format!("**INVALID** (errors in {culprit})"),
                (None, true) => "met".to_owned(),
                (None, false) => "MISSED".to_owned(),
            };
            line(&format!(
                "| {} | {measured} | {:.2} | {verdict} |",
                goal.label, evaluation.ratio
            ));
        }
        line("");
        line("## Setup");
        line("");
        for text in self.setup.iter().chain(&self.sections) {
            line(text);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, rps: f64, errors: u64) -> Row {
        Row {
            id: id.to_owned(),
            operation: id.to_owned(),
            transport: "gRPC".to_owned(),
            backend: "postgres".to_owned(),
            concurrency: "32c x 16s".to_owned(),
            rps: Some(rps),
            p50: Some(1.0),
            p99: Some(2.0),
            cpu: "1/2/3/4".to_owned(),
            errors,
            verified: true,
            notes: Vec::new(),
        }
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(number(Some(77_677.4), 0), "77,677");
        assert_eq!(number(Some(1_000_000.0), 0), "1,000,000");
        assert_eq!(number(Some(999.5), 0), "1,000");
        assert_eq!(number(Some(0.0831), 3), "0.083");
        assert_eq!(number(None, 0), "-");
    }

    #[test]
    fn goals_are_judged_on_the_best_anchor() {
        let report = Report {
            rows: vec![
                row("pg_sel_c1", 10_000.0, 0),
                row("pg_sel_c8", 80_000.0, 0),
                row("grpc_rrs", 40_000.0, 0),
            ],
            ..Report::default()
        };
        let text = report.render("t");
        assert!(text.contains("| GetResourceRequestStatus (gRPC) >= 1.0x best pgbench -S | 40,000/s vs 80,000/s | 0.50 | MISSED |"), "{text}");
        assert!(text.contains("| 0.50 (miss) | >= 1.00x req/s |"), "{text}");
        assert!(!text.contains("ERRORS"), "{text}");
    }

    #[test]
    fn grpc_rows_are_also_a_ratio_to_the_echo() {
        let mut facade = row("http_rrs", 30_000.0, 0);
        facade.transport = "awsJson 1.0".to_owned();
        let report = Report {
            rows: vec![
                row("grpc_echo", 100_000.0, 0),
                row("grpc_rrs", 65_000.0, 0),
                facade,
            ],
            ..Report::default()
        };
        let text = report.render("t");
        assert!(
            text.contains("| GetResourceRequestStatus (gRPC) >= 0.6x the bare tonic echo | 65,000/s vs 100,000/s | 0.65 | met |"),
            "{text}"
        );
        assert!(
            text.contains("| 65,000 | 1.000 | 2.000 | - | - | - | 0.65 |"),
            "{text}"
        );
        assert!(text.contains("| >= 0.90x req/s | - |"), "{text}");
    }

    #[test]
    fn errors_invalidate_the_row_and_every_goal_it_is_part_of() {
        let report = Report {
            rows: vec![
                row("pg_sel_c8", 80_000.0, 0),
                row("grpc_rrs", 90_000.0, 12),
                row("http_rrs", 80_000.0, 0),
            ],
            ..Report::default()
        };
        let text = report.render("t");
        assert!(text.contains("**ERRORS in 1 run(s) (grpc_rrs)"), "{text}");
        assert!(text.contains("| **12** |"), "{text}");
        assert!(
            text.contains("| 1.12 | **INVALID** (errors in grpc_rrs) |"),
            "{text}"
        );
        assert!(
            text.contains("| 0.89 | **INVALID** (errors in grpc_rrs) |"),
            "{text}"
        );
        assert!(!text.contains("| met |"), "{text}");
    }
}
