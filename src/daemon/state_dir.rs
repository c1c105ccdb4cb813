//! The state directory holds the journal (with the cached access token), the daemon lock
//! and the trash of files deleted in Zoho: it is private to the service user whatever the
//! umask, 0700 for directories and 0600 for files.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the state dir and every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the daemon's files in the state dir.
pub const FILE_MODE: u32 = 0o600;

/// The daemon's own files in the state dir: the journal as SQLite lays it out, the lock.
fn own_files() -> [String; 4] {
    let journal = crate::journal::FILE_NAME;
    [
        journal.to_owned(),
        format!("{journal}-wal"),
        format!("{journal}-shm"),
        super::lock::FILE_NAME.to_owned(),
    ]
}
/// The trash's folder in the state dir (see `Executor::new`).
const TRASH: &str = "trash";

/// Creates the state dir with mode 0700, or makes an existing one private: the dir, the
/// daemon's files in it and the trash's folders (`trash/<Module>/<record>`). A file or
/// folder that was readable by others (left by an older version or a permissive umask)
/// is tightened, and that is logged once. Only failing to create the dir is an error: a
/// mode that cannot be changed (not our file) is logged, and the daemon still starts.
pub fn prepare(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // The configured path itself may be a link (systemd's DynamicUser= links
    // /var/lib/<name> to /var/lib/private/<name>); what is inside it is not followed.
    let dir = std::fs::canonicalize(dir)?;
    let mut paths = vec![(dir.clone(), DIR_MODE)];
    paths.extend(own_files().into_iter().map(|f| (dir.join(f), FILE_MODE)));
    match trash_dirs(&dir.join(TRASH)) {
        Ok(dirs) => paths.extend(dirs.into_iter().map(|d| (d, DIR_MODE))),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the trash folders to check their modes")
        }
    }
    let mut loosened = Vec::new();
    for (path, want) in paths {
        match restrict(&path, want) {
            Ok(Some(old)) => loosened.push(format!("{} was {old:o}", path.display())),
            Ok(None) => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not make private"),
        }
    }
    if !loosened.is_empty() {
        tracing::warn!(
            state_dir = %dir.display(),
            "tightened permissions in the state dir, which holds the access token: {}",
            loosened.join(", ")
        );
    }
    Ok(())
}

/// Sets `path`'s mode to `want` when it differs (a missing path is fine); returns the old
/// mode when it granted more than `want`.
fn restrict(path: &Path, want: u32) -> io::Result<Option<u32>> {
    // Not following links: a link here is not the daemon's, and chmod would act on its target.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() || m.is_file() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode == want {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))?;
    Ok((mode & !want != 0).then_some(mode))
}

/// The trash folder and its `<Module>` and `<Module>/<record>` folders that exist.
fn trash_dirs(trash: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut level = vec![trash.to_path_buf()];
    for depth in 0..3 {
        let mut next = Vec::new();
        for d in level {
            if !std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            if depth < 2 {
                for e in std::fs::read_dir(&d)? {
                    let e = e?;
                    if e.file_type()?.is_dir() {
                        next.push(e.path());
                    }
                }
            }
            out.push(d);
        }
        level = next;
    }
    Ok(out)
}
