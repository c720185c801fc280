//! The emulator's data directory: metadata in SQLite, object bodies in files.
//!
//! Handlers read the [`State`] in memory and, after a change, [`Store::commit`] writes just
//! the rows they touched, one SQLite transaction (WAL) per change, so the cost of a change
//! does not grow with the number of objects. The memory lock is handed over to the database
//! lock before the write, so readers never wait on file I/O and rows reach the database in
//! the order the changes were made. Object bodies are files named by random ids, never by
//! their keys, so no key (`../../etc`, absolute paths, odd bytes) can reach outside the
//! directory.

mod database;
#[cfg(test)]
mod tests;

pub use database::Touched;
use database::{db_error, load, migrate_legacy_state, open_db, write_rows, DB_FILE};

use super::state::State;
use nova_ft_data::error::{NovaError, Result};
use rusqlite::Connection;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Where versions before 0.2 kept all metadata; imported once, then renamed `.migrated`.
const LEGACY_STATE_FILE: &str = "state.json";
const BLOB_DIR: &str = "objects";
/// Held (an OS file lock) by the one emulator that uses the data directory; holds its PID.
const LOCK_FILE: &str = "emulator.lock";

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
/// that no object, open upload or Lambda function refers to. Run with the data directory locked.
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
        .chain(state.functions.values().map(|f| f.code_blob.as_str()))
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

    /// A temporary file beside the blobs, for a body being written; see [`Store::keep_blob`].
    /// A crash leaves it as a `.tmp` file, removed at the next start.
    pub fn new_blob_file(&self) -> Result<tempfile::NamedTempFile> {
        let dir = self.dir.join(BLOB_DIR);
        tempfile::Builder::new()
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| NovaError::io(&dir, e))
    }

    /// Make a written (and synced) temporary file a blob; returns its id.
    pub fn keep_blob(&self, file: tempfile::NamedTempFile) -> Result<String> {
        let blob = crate::wire::random_id(24);
        let path = self.blob_path(&blob);
        file.persist(&path)
            .map_err(|e| NovaError::io(&path, e.error))?;
        Ok(blob)
    }

    /// Store bytes as a new blob; returns its id.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let mut file = self.new_blob_file()?;
        let written = file
            .as_file_mut()
            .write_all(bytes)
            .and_then(|()| file.as_file().sync_data());
        written.map_err(|e| NovaError::io(file.path(), e))?;
        self.keep_blob(file)
    }

    /// Join blobs, in order, into a new blob (a multipart upload's parts into its object),
    /// copying file to file; returns the new blob's id and size.
    pub fn join_blobs(&self, blobs: &[&str]) -> Result<(String, u64)> {
        let mut out = self.new_blob_file()?;
        let mut size = 0;
        for part in blobs {
            let part_path = self.blob_path(part);
            let mut file =
                std::fs::File::open(&part_path).map_err(|e| NovaError::io(&part_path, e))?;
            size += std::io::copy(&mut file, out.as_file_mut())
                .map_err(|e| NovaError::io(&part_path, e))?;
        }
        out.as_file()
            .sync_data()
            .map_err(|e| NovaError::io(out.path(), e))?;
        Ok((self.keep_blob(out)?, size))
    }

    /// Open a blob for reading.
    pub fn open_blob(&self, blob: &str) -> Result<std::fs::File> {
        let path = self.blob_path(blob);
        std::fs::File::open(&path).map_err(|e| NovaError::io(path, e))
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
