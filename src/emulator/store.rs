//! The emulator's data directory: metadata in SQLite, object bodies in files.
//!
//! Handlers read the [`State`] in memory and, after a change, [`Store::commit`] writes just
//! the rows they touched, one SQLite transaction (WAL) per change, so the cost of a change
//! does not grow with the number of objects. The memory lock is handed over to the database
//! lock before the write, so readers never wait on file I/O and rows reach the database in
//! the order the changes were made. Object bodies are files named by random ids, never by
//! their keys, so no key (`../../etc`, absolute paths, odd bytes) can reach outside the
//! directory.
//!
//! SQLite rather than a key-value crate: it is already shipped (bundled) for text-to-SQL
//! execution accuracy, it is crash-safe in WAL mode, and a user can open the file to look.

use super::state::{Bucket, State};
use crate::workflow::error::{NovaError, Result};
use crate::workflow::fsio::write_atomically;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const DB_FILE: &str = "emulator.db";
/// Where versions before 0.2 kept all metadata; imported once, then renamed `.migrated`.
const LEGACY_STATE_FILE: &str = "state.json";
const BLOB_DIR: &str = "objects";
/// Held (an OS file lock) by the one emulator that uses the data directory; holds its PID.
const LOCK_FILE: &str = "emulator.lock";
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
    Job(&'a str),
    CustomModel(&'a str),
    Deployment(&'a str),
}

/// One row to write: `None` deletes it.
enum Row {
    Bucket(String, Option<String>),
    Object(String, String, Option<String>),
    Record(&'static str, String, Option<String>),
}

const RECORD_KINDS: [&str; 5] = ["upload", "role", "job", "custom_model", "deployment"];

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
    fn row(self, state: &State) -> Result<Row> {
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
            Touched::Job(arn) => record("job", arn, state.jobs.get(arn))?,
            Touched::CustomModel(arn) => record("custom_model", arn, state.custom_models.get(arn))?,
            Touched::Deployment(arn) => record("deployment", arn, state.deployments.get(arn))?,
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
    touched.extend(state.jobs.keys().map(|a| Touched::Job(a)));
    touched.extend(state.custom_models.keys().map(|a| Touched::CustomModel(a)));
    touched.extend(state.deployments.keys().map(|a| Touched::Deployment(a)));
    touched.into_iter().map(|t| t.row(state)).collect()
}

fn write_rows(tx: &rusqlite::Transaction<'_>, rows: &[Row]) -> rusqlite::Result<()> {
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

/// The store: the state in memory behind one lock, its rows in SQLite.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    state: Mutex<State>,
    db: Mutex<Connection>,
    /// The data directory's lock, released by [`Store::release`] or when the store is dropped.
    lock_file: Mutex<Option<std::fs::File>>,
    /// Keeps a temporary data directory alive (and removes it) when none was given.
    _temp: Option<tempfile::TempDir>,
}

/// Take the data directory's lock, so a second emulator cannot overwrite the first one's
/// state; the lock goes with the process, however it ends.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| NovaError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another process".to_string(),
                pid => format!("process {pid}"),
            };
            return Err(NovaError::Emulator {
                message: format!(
                    "{}: this data directory is in use by another emulator ({holder}); stop that one, or give this one another --data-dir",
                    dir.display()
                ),
                source: None,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(NovaError::io(&path, e)),
    }
    let pid = std::process::id().to_string();
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()));
    written.map_err(|e| NovaError::io(&path, e))?;
    Ok(file)
}

/// What a crash can leave behind: temporary files of writes that never finished, and blobs
/// that no object or open upload refers to. Run with the data directory locked.
fn remove_leftovers(dir: &Path, state: &State) {
    let referenced: std::collections::HashSet<&str> = state
        .buckets
        .values()
        .flat_map(|b| b.objects.values().map(|o| o.blob.as_str()))
        .chain(
            state
                .uploads
                .values()
                .flat_map(|u| u.parts.values().map(|(blob, _, _)| blob.as_str())),
        )
        .collect();
    for folder in [dir.to_path_buf(), dir.join(BLOB_DIR)] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            let orphan = folder != dir && !referenced.contains(name.as_ref());
            if is_file && (name.ends_with(".tmp") || orphan) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// A database error, naming the file and what to do.
fn db_error(path: &Path, e: rusqlite::Error) -> NovaError {
    NovaError::emulator(
        format!(
            "{}: the emulator's database cannot be used ({e}); move the data directory aside to start fresh",
            path.display()
        ),
        e,
    )
}

fn open_db(path: &Path) -> Result<Connection> {
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

fn load(conn: &Connection, path: &Path) -> Result<State> {
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
    let mut rows = conn
        .prepare("SELECT bucket, key, value FROM objects")
        .map_err(fail)?;
    let objects = rows
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(fail)?;
    for object in objects {
        let (bucket, key, value) = object.map_err(fail)?;
        let object = parse(path, &format!("objects({bucket}, {key})"), &value)?;
        if let Some(b) = state.buckets.get_mut(&bucket) {
            b.objects.insert(key, object);
        }
    }
    let mut rows = conn
        .prepare("SELECT kind, id, value FROM records")
        .map_err(fail)?;
    let records = rows
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(fail)?;
    for record in records {
        let (kind, id, value) = record.map_err(fail)?;
        let name = format!("records({kind}, {id})");
        match kind.as_str() {
            "upload" => drop(state.uploads.insert(id, parse(path, &name, &value)?)),
            "role" => drop(state.roles.insert(id, parse(path, &name, &value)?)),
            "job" => drop(state.jobs.insert(id, parse(path, &name, &value)?)),
            "custom_model" => drop(state.custom_models.insert(id, parse(path, &name, &value)?)),
            "deployment" => drop(state.deployments.insert(id, parse(path, &name, &value)?)),
            // A kind a newer version wrote: left in place, not ours to read.
            _ => debug_assert!(!RECORD_KINDS.contains(&kind.as_str())),
        }
    }
    Ok(state)
}

/// Import the JSON state file of an earlier version (once), then rename it `.migrated` so it
/// stays as a backup and is not imported again.
fn migrate_legacy_state(dir: &Path, conn: &mut Connection, db_path: &Path) -> Result<()> {
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

impl Store {
    /// Open (or create) the store in `dir`, or in a fresh temporary directory.
    pub fn open(dir: Option<&Path>) -> Result<Store> {
        let (dir, temp) = match dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("nova-ft-emulator-")
                    .tempdir()
                    .map_err(|e| NovaError::io(std::env::temp_dir(), e))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        std::fs::create_dir_all(dir.join(BLOB_DIR)).map_err(|e| NovaError::io(&dir, e))?;
        let lock_file = lock_data_dir(&dir)?;
        let db_path = dir.join(DB_FILE);
        let mut conn = open_db(&db_path)?;
        migrate_legacy_state(&dir, &mut conn, &db_path)?;
        let state = load(&conn, &db_path)?;
        remove_leftovers(&dir, &state);
        Ok(Store {
            dir,
            state: Mutex::new(state),
            db: Mutex::new(conn),
            lock_file: Mutex::new(Some(lock_file)),
            _temp: temp,
        })
    }

    /// Let another emulator use the data directory (after this one stopped writing).
    pub fn release(&self) {
        let file = self
            .lock_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(file);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Lock the state for reading or changing it; hand a change to [`Store::commit`].
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Persist what a change touched, in one transaction. The state lock is released once
    /// the rows are taken and the database lock is held, so the write blocks no reader.
    pub fn commit(&self, state: MutexGuard<'_, State>, touched: &[Touched<'_>]) -> Result<()> {
        let rows = touched
            .iter()
            .map(|t| t.row(&state))
            .collect::<Result<Vec<_>>>()?;
        let mut db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        drop(state);
        let path = self.dir.join(DB_FILE);
        let tx = db.transaction().map_err(|e| db_error(&path, e))?;
        write_rows(&tx, &rows).map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))
    }

    /// Path of a blob by its id (ids are generated here, never taken from requests).
    pub fn blob_path(&self, blob: &str) -> PathBuf {
        debug_assert!(blob.chars().all(|c| c.is_ascii_alphanumeric()));
        self.dir.join(BLOB_DIR).join(blob)
    }

    /// Store bytes as a new blob; returns its id.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let blob = crate::emulator::wire::random_id(24);
        write_atomically(&self.blob_path(&blob), bytes)?;
        Ok(blob)
    }

    /// Join blobs, in order, into a new blob (a multipart upload's parts into its object),
    /// copying through a small buffer; returns the new blob's id and size.
    pub fn join_blobs(&self, blobs: &[&str]) -> Result<(String, u64)> {
        let blob = crate::emulator::wire::random_id(24);
        let path = self.blob_path(&blob);
        let dir = self.dir.join(BLOB_DIR);
        let mut out = tempfile::Builder::new()
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| NovaError::io(&dir, e))?;
        let mut size = 0;
        for part in blobs {
            let part_path = self.blob_path(part);
            let mut file =
                std::fs::File::open(&part_path).map_err(|e| NovaError::io(&part_path, e))?;
            size +=
                std::io::copy(&mut file, out.as_file_mut()).map_err(|e| NovaError::io(&path, e))?;
        }
        out.as_file()
            .sync_all()
            .map_err(|e| NovaError::io(&path, e))?;
        out.persist(&path)
            .map_err(|e| NovaError::io(&path, e.error))?;
        Ok((blob, size))
    }

    pub fn read_blob(&self, blob: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(blob);
        std::fs::read(&path).map_err(|e| NovaError::io(path, e))
    }

    pub fn delete_blob(&self, blob: &str) {
        // A missing blob is already gone; nothing else to do.
        let _ = std::fs::remove_file(self.blob_path(blob));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::state::{Object, Role};
    use chrono::Utc;
    use std::collections::BTreeMap;

    fn bucket() -> Bucket {
        Bucket {
            created: Utc::now(),
            region: "us-east-1".into(),
            public_access_block: None,
            encryption: None,
            objects: BTreeMap::new(),
        }
    }

    fn object(blob: &str) -> Object {
        Object {
            blob: blob.into(),
            size: 5,
            etag: "\"e\"".into(),
            last_modified: Utc::now(),
            content_type: None,
            checksum_crc32: None,
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn committed_changes_survive_reopening_and_deletions_stay_deleted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(Some(dir.path())).unwrap();
            let mut state = store.lock();
            state.buckets.insert("b".into(), bucket());
            let blob = store.put_blob(b"hello").unwrap();
            let objects = &mut state.buckets.get_mut("b").unwrap().objects;
            objects.insert("keep".into(), object(&blob));
            objects.insert("gone".into(), object(&blob));
            store
                .commit(
                    state,
                    &[
                        Touched::Bucket("b"),
                        Touched::Object("b", "keep"),
                        Touched::Object("b", "gone"),
                    ],
                )
                .unwrap();
            let mut state = store.lock();
            state.buckets.get_mut("b").unwrap().objects.remove("gone");
            store
                .commit(state, &[Touched::Object("b", "gone")])
                .unwrap();
        }
        let store = Store::open(Some(dir.path())).unwrap();
        let state = store.lock();
        let keys: Vec<_> = state.buckets["b"].objects.keys().cloned().collect();
        assert_eq!(keys, ["keep"]);
    }

    #[test]
    fn a_legacy_state_file_is_imported_once_and_kept_as_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(BLOB_DIR)).unwrap();
        std::fs::write(dir.path().join(BLOB_DIR).join("abc"), b"hello").unwrap();
        let mut legacy = State::default();
        let mut b = bucket();
        b.objects.insert("k".into(), object("abc"));
        legacy.buckets.insert("b".into(), b);
        legacy.roles.insert(
            "r".into(),
            Role {
                name: "r".into(),
                id: "AROA".into(),
                arn: "arn:aws:iam::123456789012:role/r".into(),
                path: "/".into(),
                created: Utc::now(),
                assume_role_policy: "{}".into(),
                description: None,
                max_session_duration: 3600,
                policies: BTreeMap::new(),
            },
        );
        // The JSON of earlier versions held each bucket's objects inside it.
        let mut json = serde_json::to_value(&legacy).unwrap();
        json["buckets"]["b"]["objects"] =
            serde_json::to_value(&legacy.buckets["b"].objects).unwrap();
        std::fs::write(dir.path().join(LEGACY_STATE_FILE), json.to_string()).unwrap();
        for _ in 0..2 {
            let store = Store::open(Some(dir.path())).unwrap();
            let state = store.lock();
            assert_eq!(state.buckets["b"].objects["k"].blob, "abc");
            assert!(state.roles.contains_key("r"));
            assert_eq!(store.read_blob("abc").unwrap(), b"hello");
        }
        assert!(!dir.path().join(LEGACY_STATE_FILE).exists());
        assert!(dir.path().join("state.json.migrated").exists());
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(Some(dir.path())).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema'", [])
            .unwrap();
        drop(conn);
        let message = Store::open(Some(dir.path())).unwrap_err().to_string();
        assert!(message.contains("newer nova_ft"), "{message}");
    }

    #[test]
    fn blobs_live_under_the_data_directory() {
        let store = Store::open(None).unwrap();
        let blob = store.put_blob(b"hello").unwrap();
        assert!(store.blob_path(&blob).starts_with(store.dir()));
        assert_eq!(store.read_blob(&blob).unwrap(), b"hello");
        store.delete_blob(&blob);
        assert!(store.read_blob(&blob).is_err());
    }
}
