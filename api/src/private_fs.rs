//! Files and directories that hold secrets (the SQLite database, the server
//! key, `.eml` mail): readable by the server's own user only, whatever the
//! umask and whether or not the directory already existed.
//!
//! A new directory is made 0700 and a new file 0600. An existing file is
//! narrowed to 0600 (and said so in the log) when its group or others could
//! read it; an existing directory is left as the operator made it, since it
//! may be shared (a volume, `/var/lib`), but what Custodian puts in it is not.

use std::path::Path;

/// Creates `dir` (and its parents) readable by its owner only; an existing
/// directory is left as it is.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes sure `path` exists and is the owner's only: created empty with
/// mode 0600 when absent, narrowed to 0600 when others could read it.
///
/// An existing file is never opened: closing any descriptor of a file drops
/// every POSIX lock this process holds on it, and SQLite's connections (a
/// second pool over the same database, say) would go on believing they
/// hold theirs, so another process could checkpoint and reset the
/// write-ahead log under their readers.
pub fn create_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(file) => drop(file),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            if !std::fs::metadata(path)?.is_file() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a regular file",
                ));
            }
        }
        Err(error) => return Err(error),
    }
    narrow(path)
}

/// Narrows an existing file to 0600 when its group or others have any
/// access; a missing file is fine, and anything but a regular file (a
/// directory named by mistake) is left as it is.
pub fn narrow(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let mode = metadata.permissions().mode();
        if metadata.is_file() && mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(
                path = %path.display(),
                was = format_args!("{:o}", mode & 0o777),
                "narrowed a file others could read to 0600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secrets_are_the_owners_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let nested = dir.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(
            mode(dir.path()),
            0o755,
            "an existing directory is left alone"
        );

        let fresh = dir.path().join("fresh.db");
        create_file(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);

        let loose = dir.path().join("loose.db");
        std::fs::write(&loose, b"kept").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_file(&loose).unwrap();
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(std::fs::read(&loose).unwrap(), b"kept", "never truncated");
        narrow(&dir.path().join("absent")).unwrap();

        // A directory named where a file belongs (a database path of `/`,
        // say) is refused and left as it is.
        let error = create_file(dir.path()).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        narrow(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o755);
    }
}
