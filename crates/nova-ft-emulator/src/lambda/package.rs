//! Deployment packages: zip files checked against Lambda's limits when uploaded, and
//! unpacked (once per package) where the runner imports the handler from.
//!
//! An entry whose name would land outside the unpacked folder (`../x`, `/etc/x`) refuses the
//! whole package, as does one that would unpack past Lambda's 250 MB.

use super::invalid;
use crate::wire::AwsError;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Lambda's limit for a function's unzipped code (bytes).
pub const MAX_UNZIPPED: u64 = 262_144_000;
/// Far above any grader; bounds the work a hostile archive can ask for.
const MAX_ENTRIES: usize = 20_000;

fn unreadable(why: impl std::fmt::Display) -> AwsError {
    invalid(format!(
        "Could not unzip uploaded file. Please check your file, then try to upload again. ({why})"
    ))
}

/// Check that `bytes` are a zip Lambda would accept: readable, every name inside the
/// package, within the unzipped size limit.
pub fn check(bytes: &[u8]) -> Result<(), AwsError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if archive.len() > MAX_ENTRIES {
        return Err(unreadable(format!(
            "{} entries; the emulator accepts at most {MAX_ENTRIES}",
            archive.len()
        )));
    }
    let mut total = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(unreadable)?;
        if entry.enclosed_name().is_none() {
            return Err(unreadable(format!(
                "the entry {:?} would unpack outside the function's folder",
                entry.name()
            )));
        }
        total = total.saturating_add(entry.size());
    }
    if total > MAX_UNZIPPED {
        return Err(invalid(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
        )));
    }
    Ok(())
}

/// Unpack a package into `root/<digest>` unless it is there already; returns that folder.
/// Written to a temporary folder first and renamed, so a half-unpacked package is never used.
pub fn unpack(bytes: &[u8], root: &Path, digest: &str) -> std::io::Result<PathBuf> {
    let target = root.join(digest);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(root)?;
    let staging = tempfile::Builder::new()
        .prefix(".unpack")
        .tempdir_in(root)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(std::io::Error::other)?;
    let mut written = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(std::io::Error::other)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(std::io::Error::other("entry outside the package"));
        };
        let path = staging.path().join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&path)?;
        // The declared sizes were checked at upload; the bytes actually inflated are counted
        // too, so a lying header cannot fill the disk.
        let left = MAX_UNZIPPED.saturating_sub(written);
        let copied = std::io::copy(&mut (&mut entry).take(left + 1), &mut file)?;
        written += copied;
        if written > MAX_UNZIPPED {
            return Err(std::io::Error::other("the package unzips past 250 MB"));
        }
    }
    let staged = staging.keep();
    match std::fs::rename(&staged, &target) {
        Ok(()) => Ok(target),
        // Another invocation unpacked the same package first.
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(target)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staged);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut out);
            for (name, data) in entries {
                writer
                    .start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                writer.write_all(data).unwrap();
            }
            writer.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn a_package_unpacks_once_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = zip_of(&[
            ("grader.py", b"def handler(e, c): return 1\n"),
            ("lib/x.py", b""),
        ]);
        check(&bytes).unwrap();
        let folder = unpack(&bytes, dir.path(), "abc").unwrap();
        assert!(folder.join("grader.py").is_file());
        assert!(folder.join("lib/x.py").is_file());
        assert_eq!(unpack(&bytes, dir.path(), "abc").unwrap(), folder);
    }

    #[test]
    fn entries_outside_the_package_and_garbage_are_refused() {
        let escaping = zip_of(&[("../escape.py", b"x")]);
        let error = check(&escaping).unwrap_err();
        assert_eq!(error.code, "InvalidParameterValueException");
        assert!(error.message.contains("outside"), "{}", error.message);
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(&escaping, &dir.path().join("root"), "d").is_err());
        assert!(!dir.path().join("escape.py").exists());
        assert!(check(b"not a zip at all").is_err());
    }
}
