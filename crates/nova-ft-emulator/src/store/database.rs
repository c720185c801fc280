//! The SQLite side of the store: the schema, one row per entity ([`Touched`] names what a
//! change wrote), loading the state at start, and the one-time import of `state.json`.
//!
//! SQLite rather than a key-value crate: it is already shipped (bundled) for text-to-SQL
//! execution accuracy, it is crash-safe in WAL mode, and a user can open the file to look.

use super::LEGACY_STATE_FILE;
use crate::state::{Bucket, State};
use nova_ft_data::error::{NovaError, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

pub(super) const DB_FILE: &str = "emulator.db";

const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS objects (
        bucket TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (bucket, key)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS records (
        kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
";

/// What a change touched; [`Store::commit`] writes its current value, or deletes its row
/// when it is gone from the state.
#[derive(Debug, Clone, Copy)]
pub enum Touched<'a> {
    /// A bucket's own settings (a deleted bucket takes its object rows with it).
    Bucket(&'a str),
    Object(&'a str, &'a str),
    Upload(&'a str),
    Role(&'a str),
    Policy(&'a str),
    Job(&'a str),
    CustomModel(&'a str),
    Deployment(&'a str),
    Provisioned(&'a str),
    Function(&'a str),
    BatchJob(&'a str),
    EvaluationJob(&'a str),
}

/// One row to write: `None` deletes it.
pub(super) enum Row {
    Bucket(String, Option<String>),
    Object(String, String, Option<String>),
    Record(&'static str, String, Option<String>),
}

const RECORD_KINDS: [&str; 10] = [
    "upload",
    "role",
    "policy",
    "job",
    "custom_model",
    "deployment",
    "provisioned",
    "function",
    "batch_job",
    "evaluation_job",
];

fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| NovaError::emulator(format!("a state entry does not serialize: {e}"), e))
}

fn record<T: Serialize>(kind: &'static str, id: &str, value: Option<&T>) -> Result<Row> {
    Ok(Row::Record(
        kind,
        id.to_string(),
        value.map(to_json).transpose()?,
    ))
}

impl Touched<'_> {
    pub(super) fn row(self, state: &State) -> Result<Row> {
        Ok(match self {
            Touched::Bucket(name) => Row::Bucket(
                name.to_string(),
                state.buckets.get(name).map(to_json).transpose()?,
            ),
            Touched::Object(bucket, key) => Row::Object(
                bucket.to_string(),
                key.to_string(),
                state
                    .buckets
                    .get(bucket)
                    .and_then(|b| b.objects.get(key))
                    .map(to_json)
                    .transpose()?,
            ),
            Touched::Upload(id) => record("upload", id, state.uploads.get(id))?,
            Touched::Role(name) => record("role", name, state.roles.get(name))?,
            Touched::Policy(arn) => record("policy", arn, state.policies.get(arn))?,
            Touched::Job(arn) => record("job", arn, state.jobs.get(arn))?,
            Touched::CustomModel(arn) => record("custom_model", arn, state.custom_models.get(arn))?,
            Touched::Deployment(arn) => record("deployment", arn, state.deployments.get(arn))?,
            Touched::Provisioned(arn) => record("provisioned", arn, state.provisioned.get(arn))?,
            Touched::Function(name) => record("function", name, state.functions.get(name))?,
            Touched::BatchJob(arn) => record("batch_job", arn, state.batch_jobs.get(arn))?,
            Touched::EvaluationJob(arn) => {
                record("evaluation_job", arn, state.evaluation_jobs.get(arn))?
            }
        })
    }
}

/// Every row of a state, for the import of a legacy state file.
fn all_rows(state: &State) -> Result<Vec<Row>> {
    let mut touched = Vec::new();
    for (name, bucket) in &state.buckets {
        touched.push(Touched::Bucket(name));
        touched.extend(bucket.objects.keys().map(|k| Touched::Object(name, k)));
    }
    touched.extend(state.uploads.keys().map(|id| Touched::Upload(id)));
    touched.extend(state.roles.keys().map(|n| Touched::Role(n)));
    touched.extend(state.policies.keys().map(|a| Touched::Policy(a)));
    touched.extend(state.jobs.keys().map(|a| Touched::Job(a)));
    touched.extend(state.custom_models.keys().map(|a| Touched::CustomModel(a)));
    touched.extend(state.deployments.keys().map(|a| Touched::Deployment(a)));
    touched.extend(state.provisioned.keys().map(|a| Touched::Provisioned(a)));
    touched.extend(state.functions.keys().map(|n| Touched::Function(n)));
    touched.extend(state.batch_jobs.keys().map(|a| Touched::BatchJob(a)));
    touched.extend(
        state
            .evaluation_jobs
            .keys()
            .map(|a| Touched::EvaluationJob(a)),
    );
    touched.into_iter().map(|t| t.row(state)).collect()
}

pub(super) fn write_rows(tx: &rusqlite::Transaction<'_>, rows: &[Row]) -> rusqlite::Result<()> {
    for row in rows {
        match row {
            Row::Bucket(name, Some(value)) => {
                tx.prepare_cached("INSERT OR REPLACE INTO buckets VALUES (?1, ?2)")?
                    .execute(params![name, value])?;
            }
            Row::Bucket(name, None) => {
                tx.prepare_cached("DELETE FROM buckets WHERE name = ?1")?
                    .execute(params![name])?;
                tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1")?
                    .execute(params![name])?;
            }
            Row::Object(bucket, key, Some(value)) => {
                tx.prepare_cached("INSERT OR REPLACE INTO objects VALUES (?1, ?2, ?3)")?
                    .execute(params![bucket, key, value])?;
            }
            Row::Object(bucket, key, None) => {
                tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
                    .execute(params![bucket, key])?;
            }
            Row::Record(kind, id, Some(value)) => {
                tx.prepare_cached("INSERT OR REPLACE INTO records VALUES (?1, ?2, ?3)")?
                    .execute(params![kind, id, value])?;
            }
            Row::Record(kind, id, None) => {
                tx.prepare_cached("DELETE FROM records WHERE kind = ?1 AND id = ?2")?
                    .execute(params![kind, id])?;
            }
        }
    }
    Ok(())
}

/// A database error, naming the file and what to do.
pub(super) fn db_error(path: &Path, e: rusqlite::Error) -> NovaError {
    NovaError::emulator(
        format!(
            "{}: the emulator's database cannot be used ({e}); move the data directory aside to start fresh",
            path.display()
        ),
        e,
    )
}

pub(super) fn open_db(path: &Path) -> Result<Connection> {
    let fail = |e| db_error(path, e);
    let conn = Connection::open(path).map_err(fail)?;
    // WAL with synchronous=NORMAL: a commit survives the process being killed; a power loss
    // may take back the last commits but never corrupts the database. Blobs are synced
    // before the rows that name them are written.
    // Only this emulator writes (the data directory is locked); a reader from outside (a
    // user's sqlite3 shell) should delay a write briefly, not fail it.
    conn.busy_timeout(std::time::Duration::from_secs(1))
        .map_err(fail)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(fail)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(fail)?;
    conn.execute_batch(SCHEMA).map_err(fail)?;
    let version: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(fail)?;
    match version.as_deref() {
        None => {
            conn.execute(
                "INSERT INTO meta VALUES ('schema', ?1)",
                params![SCHEMA_VERSION],
            )
            .map_err(fail)?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(NovaError::Emulator {
                message: format!(
                    "{}: written by a newer nova_ft (schema {other}, this one reads {SCHEMA_VERSION}); upgrade nova_ft or use another --data-dir",
                    path.display()
                ),
                source: None,
            })
        }
    }
    Ok(conn)
}

/// Read a row's JSON, naming the row when it cannot be read.
fn parse<T: DeserializeOwned>(path: &Path, row: &str, value: &str) -> Result<T> {
    serde_json::from_str(value).map_err(|e| {
        NovaError::emulator(
            format!(
                "{}: row {row} is unreadable ({e}); move the data directory aside to start fresh",
                path.display()
            ),
            e,
        )
    })
}

/// The rows of a two-key table: (key, key, JSON value).
fn keyed_rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

pub(super) fn load(conn: &Connection, path: &Path) -> Result<State> {
    let fail = |e| db_error(path, e);
    let mut state = State::default();
    let mut rows = conn
        .prepare("SELECT name, value FROM buckets")
        .map_err(fail)?;
    let buckets = rows
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(fail)?;
    for bucket in buckets {
        let (name, value) = bucket.map_err(fail)?;
        let bucket: Bucket = parse(path, &format!("buckets({name})"), &value)?;
        state.buckets.insert(name, bucket);
    }
    for (bucket, key, value) in
        keyed_rows(conn, "SELECT bucket, key, value FROM objects").map_err(fail)?
    {
        let object = parse(path, &format!("objects({bucket}, {key})"), &value)?;
        if let Some(b) = state.buckets.get_mut(&bucket) {
            b.objects.insert(key, object);
        }
    }
    for (kind, id, value) in
        keyed_rows(conn, "SELECT kind, id, value FROM records").map_err(fail)?
    {
        let name = format!("records({kind}, {id})");
        match kind.as_str() {
            "upload" => drop(state.uploads.insert(id, parse(path, &name, &value)?)),
            "role" => drop(state.roles.insert(id, parse(path, &name, &value)?)),
            "policy" => drop(state.policies.insert(id, parse(path, &name, &value)?)),
            "job" => drop(state.jobs.insert(id, parse(path, &name, &value)?)),
            "custom_model" => drop(state.custom_models.insert(id, parse(path, &name, &value)?)),
            "deployment" => drop(state.deployments.insert(id, parse(path, &name, &value)?)),
            "provisioned" => drop(state.provisioned.insert(id, parse(path, &name, &value)?)),
            "function" => drop(state.functions.insert(id, parse(path, &name, &value)?)),
            "batch_job" => drop(state.batch_jobs.insert(id, parse(path, &name, &value)?)),
            "evaluation_job" => drop(
                state
                    .evaluation_jobs
                    .insert(id, parse(path, &name, &value)?),
            ),
            // A kind a newer version wrote: left in place, not ours to read.
            _ => debug_assert!(!RECORD_KINDS.contains(&kind.as_str())),
        }
    }
    Ok(state)
}

/// Import the JSON state file of an earlier version (once), then rename it `.migrated` so it
/// stays as a backup and is not imported again.
pub(super) fn migrate_legacy_state(
    dir: &Path,
    conn: &mut Connection,
    db_path: &Path,
) -> Result<()> {
    let legacy = dir.join(LEGACY_STATE_FILE);
    let bytes = match std::fs::read(&legacy) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(NovaError::io(&legacy, e)),
    };
    let fail = |e| db_error(db_path, e);
    let imported: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = 'imported'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(fail)?;
    if imported.is_none() {
        let state: State = serde_json::from_slice(&bytes).map_err(|e| {
            NovaError::emulator(
                format!(
                    "{}: the emulator's state file is unreadable ({e}); move it aside to start fresh",
                    legacy.display()
                ),
                e,
            )
        })?;
        let rows = all_rows(&state)?;
        let tx = conn.transaction().map_err(fail)?;
        write_rows(&tx, &rows).map_err(fail)?;
        tx.execute(
            "INSERT INTO meta VALUES ('imported', ?1)",
            params![LEGACY_STATE_FILE],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        log::info!(
            "imported {} into {} ({} buckets, {} jobs)",
            legacy.display(),
            db_path.display(),
            state.buckets.len(),
            state.jobs.len()
        );
    }
    let backup = dir.join(format!("{LEGACY_STATE_FILE}.migrated"));
    std::fs::rename(&legacy, &backup).map_err(|e| NovaError::io(&legacy, e))
}
