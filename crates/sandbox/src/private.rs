//! The data directory holds patient data (uploaded objects, imported resources, job outputs) and the sandbox's
//! keys and credentials, so only its owner may read it: the directory and every folder in it are 0700 and every
//! file the sandbox writes is 0600. Files are created with that mode rather than tightened afterwards, so there is
//! no moment when another local user could open them; directories made by older versions, whose files were 0644,
//! are tightened when they are opened. On systems without Unix modes these are plain file operations.

use std::fs::{self, File};
use std::io;
use std::path::Path;

#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) and makes it 0700.
pub(crate) fn make_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    set_mode(dir, true)
}

/// Creates a new file only its owner can read or write; fails if it exists.
pub(crate) fn create_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// Makes an SQLite database at `path` private before SQLite opens it. SQLite creates its `-wal` and `-shm` files
/// with the database file's mode, so creating the database 0600 covers them; ones left by older versions are
/// tightened here.
pub(crate) fn prepare_database(path: &Path) -> io::Result<()> {
    match create_file(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => set_mode(path, false)?,
        Err(e) => return Err(e),
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        tighten_file(Path::new(&name))?;
    }
    Ok(())
}

/// Makes a file private if it exists.
pub(crate) fn tighten_file(path: &Path) -> io::Result<()> {
    match set_mode(path, false) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Makes `dir` and everything under it private: folders 0700, files 0600. Symbolic links are left alone (their
/// targets are not the sandbox's to change).
pub(crate) fn tighten(dir: &Path) -> io::Result<()> {
    set_mode(dir, true)?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tighten(&entry.path())?;
        } else if kind.is_file() {
            set_mode(&entry.path(), false)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, dir: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let wanted = if dir { DIR_MODE } else { FILE_MODE };
    // Only what differs is changed: a data directory holds many objects and most are already private.
    if fs::metadata(path)?.permissions().mode() & 0o777 != wanted {
        fs::set_permissions(path, fs::Permissions::from_mode(wanted))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(path: &Path, _dir: bool) -> io::Result<()> {
    fs::metadata(path).map(|_| ())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn an_old_data_directory_is_tightened_throughout() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("sandbox");
        fs::create_dir_all(dir.join("s3/data")).expect("dirs");
        fs::write(dir.join("s3/data/object"), b"patient").expect("object");
        fs::write(dir.join("sandbox.db-wal"), b"").expect("wal");
        for (path, old) in [("", 0o755), ("s3", 0o755), ("s3/data", 0o755)] {
            fs::set_permissions(dir.join(path), fs::Permissions::from_mode(old)).expect("chmod");
        }
        fs::set_permissions(dir.join("s3/data/object"), fs::Permissions::from_mode(0o644)).expect("chmod");
        tighten(&dir).expect("tighten");
        prepare_database(&dir.join("sandbox.db")).expect("database");
        for path in ["", "s3", "s3/data"] {
            assert_eq!(mode(&dir.join(path)), 0o700, "{path}");
        }
        for path in ["s3/data/object", "sandbox.db", "sandbox.db-wal"] {
            assert_eq!(mode(&dir.join(path)), 0o600, "{path}");
        }
    }
}
