//! Files are written whole or not at all: data goes to a temporary file beside the target and
//! is renamed over it only once complete, so an interrupted run never leaves half a JSONL file.

use crate::error::{NovaError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write several files so that each appears complete: all temporaries are written and synced
/// first, then renamed into place. A failure before the renames leaves every target untouched.
pub fn write_files_atomically(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir).map_err(|e| NovaError::io(dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".nova-ft-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| NovaError::io(dir, e))?;
        tmp.write_all(bytes).map_err(|e| NovaError::io(path, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| NovaError::io(path, e))?;
        staged.push((tmp, path));
    }
    for (tmp, path) in staged {
        tmp.persist(path)
            .map_err(|e| NovaError::io(path, e.error))?;
    }
    Ok(())
}

/// Write one file atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_files_atomically(&[(path.to_path_buf(), bytes.to_vec())])
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_all_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("sub/a.jsonl");
        let b = dir.path().join("b.jsonl");
        write_files_atomically(&[(a.clone(), b"1\n".to_vec()), (b.clone(), b"2\n".to_vec())])
            .unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"1\n");
        assert_eq!(std::fs::read(&b).unwrap(), b"2\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn failure_leaves_existing_target_intact() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("keep.jsonl");
        std::fs::write(&target, b"old\n").unwrap();
        // A target inside a path that is a file cannot be created, so the set fails first.
        let blocked = target.join("child.jsonl");
        let result = write_files_atomically(&[
            (blocked, b"x".to_vec()),
            (target.clone(), b"new\n".to_vec()),
        ]);
        assert!(result.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old\n");
    }
}
