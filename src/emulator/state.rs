//! Everything the emulator knows, kept under its data directory so a restart loses nothing.
//!
//! Metadata (buckets, roles, jobs, models, deployments) is one JSON document rewritten
//! atomically after each change. Object bodies are files named by random ids, never by their
//! keys, so no key (`../../etc`, absolute paths, odd bytes) can reach outside the directory.

use crate::workflow::error::{NovaError, Result};
use crate::workflow::fsio::write_atomically;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const STATE_FILE: &str = "state.json";
const BLOB_DIR: &str = "objects";
/// Held (an OS file lock) by the one emulator that uses the data directory; holds its PID.
const LOCK_FILE: &str = "emulator.lock";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub buckets: BTreeMap<String, Bucket>,
    pub roles: BTreeMap<String, Role>,
    /// Keyed by job ARN.
    pub jobs: BTreeMap<String, Job>,
    /// Keyed by custom-model ARN.
    pub custom_models: BTreeMap<String, CustomModel>,
    /// Keyed by deployment ARN.
    pub deployments: BTreeMap<String, Deployment>,
    /// Keyed by upload id.
    pub uploads: BTreeMap<String, Upload>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub created: DateTime<Utc>,
    pub region: String,
    pub public_access_block: Option<PublicAccessBlock>,
    /// The `ServerSideEncryptionConfiguration` XML as put, returned as is.
    pub encryption: Option<String>,
    pub objects: BTreeMap<String, Object>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Object {
    /// Name of the file under `objects/` that holds the body.
    pub blob: String,
    pub size: u64,
    /// Quoted, as S3 sends it: `"<md5 hex>"` or `"<md5 of part md5s>-N"`.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub content_type: Option<String>,
    pub checksum_crc32: Option<String>,
    /// User metadata (`x-amz-meta-*` headers, names lower-cased without the prefix).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub created: DateTime<Utc>,
    pub content_type: Option<String>,
    /// Part number -> (blob, etag, size).
    pub parts: BTreeMap<u32, (String, String, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: DateTime<Utc>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    /// Inline policies: name -> JSON document.
    pub policies: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "InProgress",
            JobStatus::Completed => "Completed",
            JobStatus::Failed => "Failed",
            JobStatus::Stopping => "Stopping",
            JobStatus::Stopped => "Stopped",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped
        )
    }
}

/// A model customization job, as CreateModelCustomizationJob received it plus its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub arn: String,
    pub name: String,
    pub custom_model_name: String,
    pub custom_model_arn: Option<String>,
    pub role_arn: String,
    pub client_request_token: Option<String>,
    pub base_model_id: String,
    pub base_model_arn: String,
    pub customization_type: String,
    pub training_uri: String,
    pub validation_uris: Vec<String>,
    pub output_uri: String,
    pub hyperparameters: BTreeMap<String, String>,
    /// The `customizationConfig` as sent (distillation teacher).
    pub customization_config: Option<serde_json::Value>,
    pub status: JobStatus,
    /// (validation, data processing, training) sub-step statuses, as Bedrock reports them.
    pub steps: [String; 3],
    pub failure_message: Option<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub training_loss: Option<f64>,
    pub validation_losses: Vec<f64>,
    pub job_tags: Vec<(String, String)>,
    /// The create request without its token, to tell a retry from a different request.
    #[serde(default)]
    pub request_fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomModel {
    pub arn: String,
    pub name: String,
    pub job_arn: String,
    pub created: DateTime<Utc>,
    /// Name of the model artifact under the data directory (written by the trainer).
    pub artifact: Option<String>,
    /// What the local stand-in model is (shown to users so nobody mistakes it for Nova).
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub arn: String,
    pub name: String,
    pub model_arn: String,
    pub description: Option<String>,
    pub client_request_token: Option<String>,
    pub created: DateTime<Utc>,
    /// When the deployment becomes Active (created + the configured delay).
    pub active_at: DateTime<Utc>,
    pub tags: Vec<(String, String)>,
}

/// The store: state behind one lock, persisted after every change.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    state: Mutex<State>,
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
        let state_path = dir.join(STATE_FILE);
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                NovaError::emulator(
                    format!(
                        "{}: the emulator's state file is unreadable ({e}); move the data directory aside to start fresh",
                        state_path.display()
                    ),
                    e,
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(NovaError::io(&state_path, e)),
        };
        remove_leftovers(&dir, &state);
        Ok(Store {
            dir,
            state: Mutex::new(state),
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

    /// Lock the state for reading or changing it; call [`Store::save`] after a change.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Persist the state (atomically: a crash leaves the previous or the new version).
    pub fn save(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec(state).expect("state serializes");
        write_atomically(&self.dir.join(STATE_FILE), &bytes)
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

    #[test]
    fn state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(Some(dir.path())).unwrap();
            let mut state = store.lock();
            state.buckets.insert(
                "b".into(),
                Bucket {
                    created: Utc::now(),
                    region: "us-east-1".into(),
                    public_access_block: None,
                    encryption: None,
                    objects: BTreeMap::new(),
                },
            );
            store.save(&state).unwrap();
        }
        let store = Store::open(Some(dir.path())).unwrap();
        assert!(store.lock().buckets.contains_key("b"));
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
