//! Where a secret comes from: systemd credential, inline value, or a file.

use super::ConfigError;
use crate::zoho::Secret;
use std::io;
use std::path::{Path, PathBuf};

/// A secret file is a token or a password: anything larger is surely the wrong file.
pub(super) const SECRET_FILE_LIMIT: u64 = 64 * 1024;

/// How to look for one secret.
pub(super) struct SecretSpec<'a> {
    /// The config file, for error messages.
    pub file: &'a Path,
    /// Inline key, e.g. `zoho.client_secret`.
    pub key: &'a str,
    /// The systemd credential name (`LoadCredential=NAME:…`).
    pub credential: &'a str,
    pub inline: Option<&'a str>,
    /// The `*_file` value, already resolved against the config directory.
    pub path: Option<PathBuf>,
    /// `$CREDENTIALS_DIRECTORY`, when set.
    pub credentials_dir: Option<PathBuf>,
    /// A refresh token file may not exist yet: `auth` is what creates it.
    pub absent_file_ok: bool,
}

/// Finds the secret. A systemd credential wins over the file's own settings because the
/// unit is where an administrator deliberately placed it; giving both the inline value and
/// the `_file` is refused since one of them would be silently ignored.
pub(super) fn resolve_secret(spec: &SecretSpec<'_>) -> Result<Option<Secret>, ConfigError> {
    let file_key = format!("{}_file", spec.key);
    if let Some(dir) = &spec.credentials_dir {
        let path = dir.join(spec.credential);
        match read_small_file(&path, SECRET_FILE_LIMIT) {
            Ok(text) => return non_empty(spec, spec.key, &path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ConfigError::SecretFile {
                    file: spec.file.to_path_buf(),
                    key: spec.key.to_owned(),
                    path,
                    source,
                });
            }
        }
    }
    match (spec.inline, &spec.path) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            file: spec.file.to_path_buf(),
            key: spec.key.to_owned(),
            message: format!("give either `{}` or `{file_key}`, not both", spec.key),
        }),
        (Some(v), None) => {
            let v = v.trim();
            if v.is_empty() {
                return Err(ConfigError::Invalid {
                    file: spec.file.to_path_buf(),
                    key: spec.key.to_owned(),
                    message: "is empty; expected the secret value".into(),
                });
            }
            Ok(Some(Secret::new(v.to_owned())))
        }
        (None, Some(path)) => match read_small_file(path, SECRET_FILE_LIMIT) {
            Ok(text) if spec.absent_file_ok && text.trim().is_empty() => Ok(None),
            Ok(text) => non_empty(spec, &file_key, path, &text).map(Some),
            Err(e) if spec.absent_file_ok && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::SecretFile {
                file: spec.file.to_path_buf(),
                key: file_key,
                path: path.clone(),
                source,
            }),
        },
        (None, None) => Ok(None),
    }
}

/// Reads a small text file (the config, a secret). Anything but a regular file is
/// refused (`/dev/zero` never ends, a FIFO blocks a reader forever), and so is a file over
/// `limit` bytes. The open itself uses `O_NONBLOCK` so that a FIFO cannot block it.
pub(super) fn read_small_file(path: &Path, limit: u64) -> io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let t = meta.file_type();
        let kind = if t.is_dir() {
            "a directory"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({kind})"),
        ));
    }
    let too_large = || {
        let size = if limit.is_multiple_of(1024 * 1024) {
            format!("{} MiB", limit / (1024 * 1024))
        } else {
            format!("{} KiB", limit / 1024)
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {size}; surely not the intended file"),
        )
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut text = String::new();
    // It may grow between the check and the read.
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(text)
}

fn non_empty(
    spec: &SecretSpec<'_>,
    key: &str,
    path: &Path,
    text: &str,
) -> Result<Secret, ConfigError> {
    let v = text.trim();
    if v.is_empty() {
        return Err(ConfigError::Invalid {
            file: spec.file.to_path_buf(),
            key: key.to_owned(),
            message: format!("{} is empty; expected the secret value", path.display()),
        });
    }
    Ok(Secret::new(v.to_owned()))
}

/// The error for a secret given nowhere, naming all three ways to give it.
pub(super) fn missing(file: &Path, key: &str, credential: &str, extra: &str) -> ConfigError {
    ConfigError::Missing {
        file: file.to_path_buf(),
        key: key.to_owned(),
        message: format!(
            "give it as `{key} = \"...\"`, as `{key}_file = \"/path\"`, or as the systemd \
             credential `{credential}` (LoadCredential={credential}:/etc/bigin-sync/{credential}, \
             read from $CREDENTIALS_DIRECTORY){extra}"
        ),
    }
}
