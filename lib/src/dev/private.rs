//! `docflow dev`'s data directory stays its user's: every file in it 0600, every
//! directory 0700. It holds every dev secret (`dev-secrets.json`, the settings file with
//! the NATS password), the database and every uploaded file.
//!
//! `docflow dev` runs with umask 077 ([`restrict_new_files`]): whatever its process
//! creates is private from the start, the S3 endpoint's objects and bookkeeping included.
//! Files docflow writes itself are also created 0600 ([`write`]); the database is created
//! 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files the database's
//! mode); the child nats-server runs with umask 077 ([`super::nats_server`]); the S3
//! endpoint checks each stored object and its folders ([`fix_path`], not the whole tree:
//! that grew with every object stored). [`fix`] walks the whole directory at start (files
//! left by an earlier docflow, or copied in) and at stop.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (0700) when missing, then makes everything under it private. Symbolic
/// links are left alone (not followed).
pub fn fix(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    fix_tree(dir)
}

/// From now on, files and directories this process creates are readable by its user only
/// (umask 077; the process's threads and children share it).
pub fn restrict_new_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Makes `path` and each directory between `root` and it private, and nothing else.
pub fn fix_path(root: &Path, path: &Path) -> io::Result<()> {
    let Ok(relative) = path.strip_prefix(root) else { return Ok(()) };
    if relative.components().any(|part| !matches!(part, std::path::Component::Normal(_))) {
        return Ok(());
    }
    let mut at = root.to_path_buf();
    for part in relative.components() {
        at.push(part);
        fix_one(&at)?;
    }
    Ok(())
}

fn fix_tree(path: &Path) -> io::Result<()> {
    if fix_one(path)? {
        for entry in std::fs::read_dir(path)? {
            fix_tree(&entry?.path())?;
        }
    }
    Ok(())
}

/// Makes `path` private (not what a directory holds); true when it is a directory.
fn fix_one(path: &Path) -> io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        // Removed meanwhile (a temporary file): nothing to protect.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(false);
    }
    let mode = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(meta.is_dir())
}

/// Writes `bytes` to `path`, 0600 whether it is new or was there with another mode.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
    std::fs::write(path, bytes)
}

/// Creates `path` empty and 0600 when missing (SQLite then keeps that mode).
pub fn create_empty(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Asserts that every directory under `dir` (itself included) is 0700 and every file
/// 0600; the number of files.
#[cfg(test)]
pub fn assert_private(dir: &Path) -> usize {
    let mut files = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, DIR_MODE, "{}", path.display());
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if meta.is_file() {
            assert_eq!(mode, FILE_MODE, "{}", path.display());
            files += 1;
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_left_readable_by_an_earlier_run_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("var");
        std::fs::create_dir_all(data.join("s3/uploads/teacher-42")).unwrap();
        for dir in ["", "s3", "s3/uploads", "s3/uploads/teacher-42"] {
            std::fs::set_permissions(data.join(dir), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for file in ["dev-secrets.json", "docflow.db", "s3/uploads/teacher-42/plan.docx"] {
            std::fs::write(data.join(file), "x").unwrap();
            std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::os::unix::fs::symlink("/etc/hostname", data.join("link")).unwrap();
        fix(&data).unwrap();
        for dir in ["", "s3", "s3/uploads", "s3/uploads/teacher-42"] {
            assert_eq!(mode(&data.join(dir)), 0o700, "{dir}");
        }
        for file in ["dev-secrets.json", "docflow.db", "s3/uploads/teacher-42/plan.docx"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
        assert_ne!(mode(Path::new("/etc/hostname")), 0o600, "a link's target is not touched");
    }

    #[test]
    fn written_and_created_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.json");
        std::fs::write(&secrets, "old").unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&secrets, b"new").unwrap();
        assert_eq!((mode(&secrets), std::fs::read_to_string(&secrets).unwrap().as_str()), (0o600, "new"));
        let db = dir.path().join("docflow.db");
        create_empty(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        create_empty(&db).unwrap();
    }
}
