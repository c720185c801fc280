//! The store across reopening, deletions, an old state file and a newer schema.

use super::database::DB_FILE;
use super::*;
use crate::state::Bucket;
use crate::state::{Object, Role};
use chrono::Utc;
use std::collections::BTreeMap;

fn bucket() -> Bucket {
    Bucket {
        created: Utc::now(),
        region: "us-east-1".into(),
        public_access_block: None,
        encryption: None,
        versioning: None,
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
            attached: Vec::new(),
            tags: Vec::new(),
        },
    );
    // The JSON of earlier versions held each bucket's objects inside it.
    let mut json = serde_json::to_value(&legacy).unwrap();
    json["buckets"]["b"]["objects"] = serde_json::to_value(&legacy.buckets["b"].objects).unwrap();
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
