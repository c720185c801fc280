//! Text-to-SQL judging: exact match, whether a prediction runs, execution accuracy.
//!
//! On SQLite: run the predicted and the gold query, compare what they
//! return. Connections are read-only (a prediction can never change the database) and every
//! query has a time limit (a runaway join cannot stall the benchmark).

use crate::benchmark::BenchRow;
use nova_ft_data::error::Result;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) struct SqlJudge {
    pub(super) db: Option<rusqlite::Connection>,
    pub(super) limit: Duration,
}

impl SqlJudge {
    /// (correct, exact, executes) for one prediction.
    pub(super) fn judge(
        &mut self,
        row: Option<&BenchRow>,
        predicted: &str,
        gold: &str,
    ) -> (bool, bool, bool) {
        let exact = normalize_sql(predicted) == normalize_sql(gold);
        let has_data = self.db.is_some();
        let limit = self.limit;
        let mut schema_db;
        let conn = match &mut self.db {
            Some(conn) => conn,
            None => {
                let schema = row.map(|r| schema_from_prompt(&r.text)).unwrap_or_default();
                match schema_database(&schema) {
                    Ok(conn) => {
                        schema_db = conn;
                        &mut schema_db
                    }
                    Err(_) => return (exact, exact, false),
                }
            }
        };
        let got = execute(conn, predicted, limit);
        let executes = got.is_ok();
        let correct = match (has_data, got) {
            (true, Ok(rows)) => execute(conn, gold, limit)
                .map(|want| same_result(gold, &want, &rows))
                .unwrap_or(false),
            (true, Err(_)) => false,
            (false, _) => exact,
        };
        (correct, exact, executes)
    }
}

/// Rows as canonical strings, so `3`, `3.0` and `'3'`-free integers compare equal.
pub type Rows = Vec<Vec<String>>;

/// Open a database file read-only.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// An empty in-memory database with the tables a prompt's `CREATE TABLE` statements define.
pub fn schema_database(schema: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(schema)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// The `CREATE TABLE ...(...)` statements in a prompt, each up to its closing parenthesis.
pub fn schema_from_prompt(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut statements = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find("create table") {
        let start = from + found;
        let mut depth = 0usize;
        let mut end = None;
        for (i, ch) in text[start..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = Some(start + i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        statements.push(format!("{};", &text[start..end]));
        from = end;
    }
    statements.join("\n")
}

fn canonical(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).to_string(),
        ValueRef::Real(f) => format!("{f:.6}"),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

/// Run a query with a time limit; the rows or SQLite's error message.
pub fn execute(conn: &mut Connection, sql: &str, limit: Duration) -> Result<Rows, String> {
    let started = Instant::now();
    // SQLite calls this every 1,000 VM steps; returning true interrupts the query.
    conn.progress_handler(1000, Some(move || started.elapsed() > limit))
        .map_err(|e| e.to_string())?;
    let result = (|| {
        let mut statement = conn.prepare(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(canonical(row.get_ref(i)?));
            }
            out.push(values);
        }
        Ok::<_, rusqlite::Error>(out)
    })();
    let _ = conn.progress_handler(0, None::<fn() -> bool>);
    result.map_err(|e| {
        if started.elapsed() > limit {
            format!("timed out after {} ms", limit.as_millis())
        } else {
            e.to_string()
        }
    })
}

/// Whether two results are the same answer: as multisets of rows, or as sequences when the
/// gold query orders its rows.
pub fn same_result(gold_sql: &str, gold: &Rows, predicted: &Rows) -> bool {
    if gold_sql.to_ascii_lowercase().contains("order by") {
        return gold == predicted;
    }
    let mut a = gold.clone();
    let mut b = predicted.clone();
    a.sort();
    b.sort();
    a == b
}

/// Lower-case, single-spaced, without a trailing semicolon: for exact-match scoring.
pub fn normalize_sql(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(';')
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_compare_as_sets_unless_ordered() {
        let conn = schema_database("CREATE TABLE t (a INTEGER, b TEXT); ").unwrap();
        drop(conn);
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a INTEGER, b REAL); INSERT INTO t VALUES (1, 2.0), (2, 3.5);",
        )
        .unwrap();
        let limit = Duration::from_secs(1);
        let asc = execute(&mut conn, "SELECT a, b FROM t ORDER BY a", limit).unwrap();
        let desc = execute(&mut conn, "SELECT a, b FROM t ORDER BY a DESC", limit).unwrap();
        assert_eq!(asc[0], vec!["1".to_string(), "2".to_string()]);
        assert!(same_result("SELECT a, b FROM t", &asc, &desc));
        assert!(!same_result("SELECT a, b FROM t ORDER BY a", &asc, &desc));
        assert!(execute(&mut conn, "SELEC nonsense", limit).is_err());
    }

    #[test]
    fn runaway_queries_are_interrupted() {
        let mut conn = Connection::open_in_memory().unwrap();
        let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        let err = execute(&mut conn, sql, Duration::from_millis(50)).unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }

    #[test]
    fn read_only_connections_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (a INTEGER)")
            .unwrap();
        let mut conn = open_read_only(&path).unwrap();
        assert!(execute(&mut conn, "DELETE FROM t", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn schemas_are_cut_from_prompts() {
        let prompt = "### Input:\nhow many?\n\n### Context:\nCREATE TABLE head (age INTEGER, name VARCHAR(20)), CREATE TABLE x (y TEXT)\n";
        let schema = schema_from_prompt(prompt);
        assert_eq!(
            schema,
            "CREATE TABLE head (age INTEGER, name VARCHAR(20));\nCREATE TABLE x (y TEXT);"
        );
        assert!(schema_database(&schema).is_ok());
        assert_eq!(normalize_sql("SELECT  a\nFROM t;"), "select a from t");
    }
}
