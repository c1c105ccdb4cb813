//! Why a configuration was rejected. Every variant names the file and, where one is at
//! fault, the dotted key, so an operator can fix it without reading code.

use std::path::PathBuf;

/// A configuration that cannot be used. The process must exit non-zero on any of these
/// before touching a folder or calling Zoho.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file itself could not be read.
    #[error("cannot read config file {}: {source}", file.display())]
    Read {
        /// The config file.
        file: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}", file.display())]
    Syntax {
        /// The config file.
        file: PathBuf,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// A key the program does not know (usually a typo, which would otherwise be ignored).
    #[error("{}: unknown key `{key}`; expected one of: {expected}", file.display())]
    UnknownKey {
        /// The config file.
        file: PathBuf,
        /// The dotted key, e.g. `sync.debounse`.
        key: String,
        /// The keys allowed at that place, comma-separated.
        expected: String,
    },
    /// A value of the wrong TOML type (e.g. a number where a string is expected).
    #[error("{}: key `{key}` has the wrong type: {message}", file.display())]
    WrongType {
        /// The config file.
        file: PathBuf,
        /// The dotted key.
        key: String,
        /// What type was expected and what was found.
        message: String,
    },
    /// A value of the right type that is not acceptable.
    #[error("{}: key `{key}` is invalid: {message}", file.display())]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// The dotted key.
        key: String,
        /// Why the value is refused and what is expected.
        message: String,
    },
    /// A required key (or secret) is absent.
    #[error("{}: key `{key}` is missing: {message}", file.display())]
    Missing {
        /// The config file.
        file: PathBuf,
        /// The dotted key.
        key: String,
        /// How to provide it.
        message: String,
    },
    /// A secret or credential file named by the config could not be read.
    #[error("{}: key `{key}`: cannot read {}: {source}", file.display(), path.display())]
    SecretFile {
        /// The config file.
        file: PathBuf,
        /// The dotted key that names the file.
        key: String,
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The dotted key at fault, if any; tests and `check` use it to point at the line.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
            ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::Invalid { key, .. }
            | ConfigError::Missing { key, .. }
            | ConfigError::SecretFile { key, .. } => Some(key),
        }
    }
}
