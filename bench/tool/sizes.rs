//! What the stored rows cost on disk: the heap and every index of the tables
//! a request writes (resource_requests, progress_events, change_tokens), as
//! Postgres reports them (`pg_relation_size`, `pg_indexes_size`), so the
//! index space N requests need can be read off the report.

use crate::process::{Stop, fail, output};
use crate::{Bench, log};

/// The tables whose sizes are reported.
const TABLES: [&str; 3] = ["resource_requests", "progress_events", "change_tokens"];

const MIB: f64 = 1024.0 * 1024.0;

/// One index, as `pg_index` lists it.
const INDEX_SIZES: &str = "SELECT t.relname, i.relname, pg_relation_size(i.oid) \
     FROM pg_index x \
     JOIN pg_class t ON t.oid = x.indrelid \
     JOIN pg_class i ON i.oid = x.indexrelid \
     WHERE t.relname IN ('resource_requests', 'progress_events', 'change_tokens') \
     ORDER BY t.relname, i.relname";

impl Bench {
    /// psql's unaligned output of `sql` on the statusgate database, one row a
    /// line, columns split on `|`.
    fn size_query(&self, sql: &str) -> Result<Vec<Vec<String>>, Stop> {
        let cluster = self
            .cluster
            .as_ref()
            .ok_or_else(|| fail("the throwaway Postgres cluster is not running"))?;
        let text = output(
            cluster
                .psql("statusgate")
                .args(["-tA", "-F", "|", "-c", sql]),
            "reading table and index sizes",
        )?;
        Ok(text
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.split('|').map(str::to_owned).collect())
            .collect())
    }

    /// A report section with the sizes of the three tables and their
    /// indexes as they stand, under `title` (which phase, how many rows).
    pub fn index_sizes(&mut self, title: &str) -> Result<(), Stop> {
        log(&format!("index sizes: {title}"));
        let mut lines = vec![
            String::new(),
            format!("## Index sizes: {title}"),
            String::new(),
            "| table | rows | heap MiB | all indexes MiB (pg_indexes_size) | index bytes per row |"
                .to_owned(),
            "|---|---:|---:|---:|---:|".to_owned(),
        ];
        for table in TABLES {
            let sql = format!(
                "SELECT count(*), pg_relation_size('{table}'), pg_indexes_size('{table}') FROM {table}"
            );
            let rows = self.size_query(&sql)?;
            let [count, heap, indexes] = numbers(rows.first(), [0, 1, 2])?;
            let per_row = if count > 0.0 {
                format!("{:.0}", indexes / count)
            } else {
                "-".to_owned()
            };
            lines.push(format!(
                "| {table} | {count:.0} | {:.1} | {:.1} | {per_row} |",
                heap / MIB,
                indexes / MIB
            ));
        }
        lines.extend([
            String::new(),
            "| table | index | MiB |".to_owned(),
            "|---|---|---:|".to_owned(),
        ]);
        for row in self.size_query(INDEX_SIZES)? {
            let [bytes] = numbers(Some(&row), [2])?;
            lines.push(format!("| {} | {} | {:.2} |", row[0], row[1], bytes / MIB));
        }
        self.report.sections.extend(lines);
        Ok(())
    }
}

/// The columns `columns` of `row` as numbers.
fn numbers<const N: usize>(
    row: Option<&Vec<String>>,
    columns: [usize; N],
) -> Result<[f64; N], Stop> {
    let row = row.ok_or_else(|| fail("no answer to a size query"))?;
    let mut values = [0.0; N];
    for (value, column) in values.iter_mut().zip(columns) {
        *value = row
            .get(column)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| fail(format!("a size query answered {row:?}")))?;
    }
    Ok(values)
}
