//! Directory handles: every read and write under the sync root goes through one.
//!
//! The synced tree is untrusted input. A user (or a program) can swap a record folder or
//! a file for a symlink between the moment it was scanned and the moment it is read or
//! written; a path-based `open` would then follow the link out of the tree (the refresh
//! token uploaded as an attachment, a download written into `/etc`). So:
//! - a record folder is reached from the root one component at a time with
//!   `openat(O_NOFOLLOW | O_DIRECTORY)`: a symlink anywhere below the root fails with
//!   `ELOOP` ([`is_link`]), never followed;
//! - every file is opened relative to that handle with `O_NOFOLLOW | O_NONBLOCK` (a FIFO
//!   swapped in cannot block a worker) and checked to be a regular file before a byte is
//!   read;
//! - creating, renaming and removing happen relative to the handle too, so an operation
//!   planned for the folder that was scanned acts on that folder (the same inode) even if
//!   its path now names something else.
//!
//! The root itself comes from the config (trusted) and may be a symlink.

use crate::model::Stat;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open directory, reached without following any symlink below the root. Cheap to
/// clone (the descriptor is shared).
#[derive(Clone, Debug)]
pub struct DirHandle {
    fd: Arc<OwnedFd>,
    /// Where the directory was when it was opened: for messages, and for the few callers
    /// that need a path (the watcher's self-write notes). Never used to reach a file.
    path: PathBuf,
}

/// What kind of thing a directory entry is, without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A block or character device.
    Device,
    /// The file system did not say (some do not fill `d_type`): stat it.
    Unknown,
}

impl EntryKind {
    fn of(t: FileType) -> EntryKind {
        match t {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Symlink,
            FileType::Fifo => EntryKind::Fifo,
            FileType::Socket => EntryKind::Socket,
            FileType::CharacterDevice | FileType::BlockDevice => EntryKind::Device,
            FileType::Unknown => EntryKind::Unknown,
        }
    }
}

/// The stat of one entry, as [`DirHandle::stat`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryStat {
    /// What the entry is (links not followed).
    pub kind: EntryKind,
    /// Size, times and inode, saturated into range.
    pub stat: Stat,
    /// The device the entry is on.
    pub dev: u64,
}

impl EntryStat {
    fn of(s: &rustix::fs::Stat) -> EntryStat {
        EntryStat {
            kind: EntryKind::of(FileType::from_raw_mode(s.st_mode)),
            stat: Stat::from_parts(
                s.st_size.max(0) as u64,
                (s.st_mtime, s.st_mtime_nsec as i64),
                s.st_ino,
                (s.st_ctime, s.st_ctime_nsec as i64),
            ),
            dev: s.st_dev,
        }
    }
}

/// A file opened for reading through [`DirHandle::open_regular`]: known to be a regular
/// file, with the stat taken from the open descriptor (not from the path).
#[derive(Debug)]
pub struct OpenedFile {
    /// The file, in blocking mode.
    pub file: File,
    /// Its stat, from `fstat` on the descriptor.
    pub stat: EntryStat,
}

/// Flags every open under the root carries: no link is followed, no descriptor leaks into
/// a child process, no terminal becomes ours.
fn base_flags() -> OFlags {
    OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY
}

/// Error of an entry that is not a regular file where one was expected.
fn not_regular(name: &str, kind: EntryKind) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{name} is not a regular file ({kind:?}); not read"),
    )
}

impl DirHandle {
    /// Opens a trusted directory (the root or the state dir, from the config); it may be
    /// a symlink.
    pub fn open(path: &Path) -> io::Result<DirHandle> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(DirHandle {
            fd: Arc::new(fd),
            path: path.to_path_buf(),
        })
    }

    /// Opens `root`, then each of `components` below it without following any link. A
    /// component that is a symlink fails with `ELOOP` ([`is_link`]); one that is not a
    /// folder with `ENOTDIR`; one that is missing with `NotFound`.
    pub fn open_beneath(root: &Path, components: &[&str]) -> io::Result<DirHandle> {
        let mut dir = DirHandle::open(root)?;
        for c in components {
            dir = dir.open_dir(c)?;
        }
        Ok(dir)
    }

    /// Opens the sub-folder `name` without following a link.
    pub fn open_dir(&self, name: &str) -> io::Result<DirHandle> {
        check_name(name)?;
        self.open_dir_raw(OsStr::new(name))
    }

    /// The directory's path when it was opened (messages only).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path()/name`, for messages only.
    pub fn display_path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The descriptor.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The directory's own stat (through the descriptor).
    pub fn own_stat(&self) -> io::Result<EntryStat> {
        Ok(EntryStat::of(&rustix::fs::fstat(&*self.fd)?))
    }

    /// Every entry but `.` and `..`: raw name and kind (links not followed). Where the
    /// file system does not say the kind (no `d_type`: some NFS, FUSE and CIFS mounts,
    /// XFS without ftype) the entry is stat-ed, so callers can trust the kind; it stays
    /// [`EntryKind::Unknown`] only when that stat fails.
    pub fn entries(&self) -> io::Result<Vec<(OsString, EntryKind)>> {
        let mut dir = rustix::fs::Dir::read_from(&*self.fd)?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            let mut kind = EntryKind::of(entry.file_type());
            if kind == EntryKind::Unknown
                && let Ok(s) = rustix::fs::statat(&*self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            {
                kind = EntryKind::of(FileType::from_raw_mode(s.st_mode));
            }
            out.push((OsString::from_vec(name.to_bytes().to_vec()), kind));
        }
        Ok(out)
    }

    /// Stats `name` without following a link.
    pub fn stat(&self, name: &str) -> io::Result<EntryStat> {
        check_name(name)?;
        let s = rustix::fs::statat(&*self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(EntryStat::of(&s))
    }

    /// Whether anything (a file, a link, a folder) is at `name`.
    pub fn exists(&self, name: &str) -> io::Result<bool> {
        match self.stat(name) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens `name` for reading: never through a link, never blocking on a FIFO, and only
    /// when it is a regular file (checked on the open descriptor, so nothing can be
    /// swapped in between the check and the read).
    pub fn open_regular(&self, name: &str) -> io::Result<OpenedFile> {
        check_name(name)?;
        let fd = rustix::fs::openat(
            &*self.fd,
            name,
            OFlags::RDONLY | OFlags::NONBLOCK | base_flags(),
            Mode::empty(),
        )?;
        let stat = EntryStat::of(&rustix::fs::fstat(&fd)?);
        if stat.kind != EntryKind::File {
            return Err(not_regular(name, stat.kind));
        }
        // Regular files ignore O_NONBLOCK, but the rest of the program expects a plain
        // blocking descriptor.
        rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
        Ok(OpenedFile {
            file: File::from(fd),
            stat,
        })
    }

    /// Opens `name` for reading only when it is still the file that was scanned: a
    /// regular file on this folder's device with the scanned inode, size and mtime.
    /// Anything else is [`io::ErrorKind::InvalidData`] (`changed since it was scanned`),
    /// which callers treat as "re-scan", never as a reason to send what they found.
    pub fn open_scanned(&self, name: &str, scanned: &Stat) -> io::Result<OpenedFile> {
        let opened = match self.open_regular(name) {
            Ok(o) => o,
            // A link, a FIFO, a folder where the scanned file was: it changed.
            Err(e) if is_swapped(&e) => return Err(changed(name)),
            Err(e) => return Err(e),
        };
        let dir_dev = self.own_stat()?.dev;
        if opened.stat.dev != dir_dev || !opened.stat.stat.same_file_version(scanned) {
            return Err(changed(name));
        }
        Ok(opened)
    }

    /// Creates `name` (which must not exist), for writing, with the usual mode (0666 less
    /// the umask), never through a link.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        check_name(name)?;
        let fd = rustix::fs::openat(
            &*self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | base_flags(),
            Mode::from_raw_mode(0o666),
        )?;
        Ok(File::from(fd))
    }

    /// Renames `from` in this folder to `to` in `dest`, failing with `AlreadyExists`
    /// instead of replacing anything (`renameat2(RENAME_NOREPLACE)`, or link + unlink on
    /// file systems without it).
    pub fn rename_noreplace(&self, from: &str, dest: &DirHandle, to: &str) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        match rustix::fs::renameat_with(&*self.fd, from, &*dest.fd, to, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::EXIST => Err(e.into()),
            Err(e)
                if e == rustix::io::Errno::INVAL
                    || e == rustix::io::Errno::NOSYS
                    || e == rustix::io::Errno::OPNOTSUPP =>
            {
                // No RENAME_NOREPLACE here: a hard link refuses to replace just the same
                // (a crash between link and unlink leaves both names on one file: never a
                // loss).
                match rustix::fs::linkat(&*self.fd, from, &*dest.fd, to, AtFlags::empty()) {
                    Ok(()) => Ok(rustix::fs::unlinkat(&*self.fd, from, AtFlags::empty())?),
                    Err(e) if e == rustix::io::Errno::EXIST => Err(e.into()),
                    // No hard links either (FAT, some FUSE mounts): look, then rename. A
                    // file created in between would be replaced; that window is tiny.
                    Err(_) => {
                        if dest.exists(to)? {
                            return Err(rustix::io::Errno::EXIST.into());
                        }
                        Ok(rustix::fs::renameat(&*self.fd, from, &*dest.fd, to)?)
                    }
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the folder `name` (mode 0777 less the umask); `AlreadyExists` when anything
    /// is there already, a link included (`mkdirat` never follows one).
    pub fn create_dir(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        Ok(rustix::fs::mkdirat(
            &*self.fd,
            name,
            Mode::from_raw_mode(0o777),
        )?)
    }

    /// Opens the sub-folder `name`, making it first when it is missing. A link there fails
    /// as in [`DirHandle::open_dir`].
    pub fn open_or_create_dir(&self, name: &str) -> io::Result<DirHandle> {
        match self.create_dir(name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        self.open_dir(name)
    }

    /// Removes the file `name` (a link is removed, never followed).
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        Ok(rustix::fs::unlinkat(&*self.fd, name, AtFlags::empty())?)
    }

    /// Removes the empty folder `name` (a link is not followed: it fails with `ENOTDIR`).
    pub fn remove_empty_dir(&self, name: &OsStr) -> io::Result<()> {
        check_raw_name(name)?;
        Ok(rustix::fs::unlinkat(&*self.fd, name, AtFlags::REMOVEDIR)?)
    }

    /// Removes `name` whatever it is: a file or a link is unlinked (a link never
    /// followed), a folder is emptied through its own handle, depth first, then removed.
    /// A tree deeper than [`MAX_TREE_DEPTH`] is refused rather than risking the stack.
    pub fn remove_tree(&self, name: &OsStr) -> io::Result<()> {
        self.remove_tree_at(name, 0)
    }

    fn remove_tree_at(&self, name: &OsStr, depth: usize) -> io::Result<()> {
        match self.open_dir_raw(name) {
            Ok(sub) => {
                if depth >= MAX_TREE_DEPTH {
                    return Err(too_deep(&self.path.join(name)));
                }
                for (entry, _) in sub.entries()? {
                    sub.remove_tree_at(&entry, depth + 1)?;
                }
                drop(sub);
                self.remove_empty_dir(name)
            }
            Err(e) if is_link(&e) || e.raw_os_error() == Some(libc::ENOTDIR) => {
                Ok(rustix::fs::unlinkat(&*self.fd, name, AtFlags::empty())?)
            }
            Err(e) => Err(e),
        }
    }

    /// Bytes under `name`: a file's or a link's own size, a folder's contents summed
    /// (links not followed; deeper than [`MAX_TREE_DEPTH`] is not counted).
    pub fn tree_size(&self, name: &OsStr) -> io::Result<u64> {
        self.tree_size_at(name, 0)
    }

    fn tree_size_at(&self, name: &OsStr, depth: usize) -> io::Result<u64> {
        check_raw_name(name)?;
        let s = rustix::fs::statat(&*self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(s.st_mode) != FileType::Directory || depth >= MAX_TREE_DEPTH {
            return Ok(s.st_size.max(0) as u64);
        }
        let sub = self.open_dir_raw(name)?;
        let mut total = 0u64;
        for (entry, _) in sub.entries()? {
            total = total.saturating_add(sub.tree_size_at(&entry, depth + 1).unwrap_or(0));
        }
        Ok(total)
    }

    /// [`DirHandle::open_dir`] for a name read back from [`DirHandle::entries`] (any
    /// bytes, not only UTF-8).
    fn open_dir_raw(&self, name: &OsStr) -> io::Result<DirHandle> {
        check_raw_name(name)?;
        let fd = rustix::fs::openat(
            &*self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | base_flags(),
            Mode::empty(),
        )?;
        Ok(DirHandle {
            fd: Arc::new(fd),
            path: self.path.join(name),
        })
    }

    /// Makes renames and creations in this folder durable.
    pub fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&*self.fd)?)
    }

    /// Flushes the whole file system this folder is on (`syncfs`).
    pub fn sync_file_system(&self) -> io::Result<()> {
        Ok(rustix::fs::syncfs(&*self.fd)?)
    }
}

/// How deep [`DirHandle::remove_tree`] and [`DirHandle::tree_size`] go: far deeper than
/// any folder the daemon makes, shallow enough for the stack and the descriptor limit.
pub const MAX_TREE_DEPTH: usize = 64;

fn too_deep(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is nested deeper than {MAX_TREE_DEPTH} folders; not removed",
        path.display()
    ))
}

/// [`check_name`] for a raw name read from a directory.
fn check_raw_name(name: &OsStr) -> io::Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty()
        || bytes == b"."
        || bytes == b".."
        || bytes.contains(&b'/')
        || bytes.contains(&0)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single file name"),
        ));
    }
    Ok(())
}

/// Whether an open error means "something other than a regular file is there now".
fn is_swapped(e: &io::Error) -> bool {
    is_link(e)
        || e.kind() == io::ErrorKind::InvalidInput
        || matches!(
            e.raw_os_error(),
            Some(libc::ENOTDIR | libc::EISDIR | libc::ENXIO)
        )
}

/// Whether an open with `O_NOFOLLOW` failed because the name is a symlink.
pub fn is_link(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// The error [`DirHandle::open_scanned`] returns for a file that is not the one scanned.
fn changed(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{name} changed since it was scanned"),
    )
}

/// Whether `e` is [`DirHandle::open_scanned`]'s "changed since it was scanned".
pub fn is_changed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidData
}

/// Only a single path component may be named: no separator, not `.` or `..`, not empty.
/// Names come from the planner (already safe); this is the last line, not the first.
fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single file name"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let rec = tmp.path().join("root/Contacts/55555 x");
        std::fs::create_dir_all(&rec).unwrap();
        (tmp, rec)
    }

    #[test]
    fn a_record_folder_swapped_for_a_symlink_is_not_followed() {
        let (tmp, rec) = tree();
        let secrets = tmp.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::write(secrets.join("refresh_token"), b"1000.secret").unwrap();
        std::fs::remove_dir(&rec).unwrap();
        symlink(&secrets, &rec).unwrap();
        let err = DirHandle::open_beneath(&tmp.path().join("root"), &["Contacts", "55555 x"])
            .unwrap_err();
        assert!(is_swapped(&err), "{err:?}");
        // A module folder swapped for a link is refused the same way.
        let root = tmp.path().join("root2");
        std::fs::create_dir(&root).unwrap();
        symlink(tmp.path().join("root/Contacts"), root.join("Contacts")).unwrap();
        assert!(DirHandle::open_beneath(&root, &["Contacts"]).is_err());
    }

    #[test]
    fn a_handle_keeps_acting_on_the_folder_it_opened_after_a_swap() {
        let (tmp, rec) = tree();
        let dir =
            DirHandle::open_beneath(&tmp.path().join("root"), &["Contacts", "55555 x"]).unwrap();
        let moved = tmp.path().join("moved");
        std::fs::rename(&rec, &moved).unwrap();
        let secrets = tmp.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        symlink(&secrets, &rec).unwrap();
        dir.create_new("a.txt").unwrap();
        assert!(moved.join("a.txt").exists());
        assert!(!secrets.join("a.txt").exists());
    }

    #[test]
    fn only_regular_files_are_opened_and_a_fifo_does_not_block() {
        let (tmp, rec) = tree();
        std::fs::write(rec.join("a.txt"), b"abc").unwrap();
        std::fs::write(tmp.path().join("secret"), b"s").unwrap();
        symlink(tmp.path().join("secret"), rec.join("link.txt")).unwrap();
        let fifo = std::ffi::CString::new(rec.join("pipe").into_os_string().into_vec()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::fs::create_dir(rec.join("sub")).unwrap();
        let dir = DirHandle::open(&rec).unwrap();
        let mut s = String::new();
        dir.open_regular("a.txt")
            .unwrap()
            .file
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "abc");
        for name in ["link.txt", "pipe", "sub"] {
            let e = dir.open_regular(name).unwrap_err();
            assert!(is_swapped(&e), "{name}: {e:?}");
        }
        let kinds: Vec<_> = dir
            .entries()
            .unwrap()
            .into_iter()
            .map(|(n, k)| (n.into_string().unwrap(), k))
            .collect();
        assert!(kinds.contains(&("link.txt".into(), EntryKind::Symlink)));
        assert!(kinds.contains(&("pipe".into(), EntryKind::Fifo)));
    }

    #[test]
    fn open_scanned_refuses_a_file_that_is_not_the_one_scanned() {
        let (_tmp, rec) = tree();
        std::fs::write(rec.join("a.txt"), b"abc").unwrap();
        let dir = DirHandle::open(&rec).unwrap();
        let scanned = dir.stat("a.txt").unwrap().stat;
        assert!(dir.open_scanned("a.txt", &scanned).is_ok());
        // Replaced by another file with the same size: another inode.
        std::fs::write(rec.join("b.txt"), b"xyz").unwrap();
        std::fs::rename(rec.join("b.txt"), rec.join("a.txt")).unwrap();
        assert!(is_changed(
            &dir.open_scanned("a.txt", &scanned).unwrap_err()
        ));
        // Replaced by a link to the old content's twin.
        std::fs::remove_file(rec.join("a.txt")).unwrap();
        symlink("/etc/hostname", rec.join("a.txt")).unwrap();
        assert!(is_changed(
            &dir.open_scanned("a.txt", &scanned).unwrap_err()
        ));
    }

    #[test]
    fn names_are_single_components() {
        let (_tmp, rec) = tree();
        let dir = DirHandle::open(&rec).unwrap();
        for bad in ["", ".", "..", "../x", "a/b"] {
            assert!(dir.create_new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rename_noreplace_never_replaces() {
        let (_tmp, rec) = tree();
        let dir = DirHandle::open(&rec).unwrap();
        std::fs::write(rec.join("a"), b"1").unwrap();
        std::fs::write(rec.join("b"), b"2").unwrap();
        let e = dir.rename_noreplace("a", &dir, "b").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        dir.rename_noreplace("a", &dir, "c").unwrap();
        assert_eq!(std::fs::read(rec.join("c")).unwrap(), b"1");
        assert_eq!(std::fs::read(rec.join("b")).unwrap(), b"2");
    }
}
