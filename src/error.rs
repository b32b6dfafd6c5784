//! Library errors. Each names what to fix; the binary maps them to exit codes.

use std::path::PathBuf;

#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// A profile that cannot be used: names the file, line and field, and how to fix it.
    #[error("{file}:{line}: field `{field}`: {message}\n  fix: {fix}")]
    Profile {
        file: String,
        line: usize,
        field: String,
        message: String,
        fix: String,
    },
    /// Bad command-line input, with the fix in the message.
    #[error("{}", crate::db::redact(.0))]
    Usage(String),
    #[error("{}: {}", crate::db::redact(&path.display().to_string()), crate::db::redact(&source.to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A database error. Every message goes through `db::redact` when shown, so no password
    /// in it (a connection string, a server's echo) ever leaves the process.
    #[error("{}", crate::db::redact(.0))]
    Db(String),
    /// Stopped by a signal; `code` is the exit code (128 + the signal's number).
    #[error("{message}")]
    Interrupted { code: i32, message: String },
    /// Work that finished but found something wrong (verification differences, …).
    #[error("{}", crate::db::redact(.0))]
    Failed(String),
}

impl Error {
    /// 2 for input the user must fix, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Profile { .. } | Error::Usage(_) => 2,
            Error::Interrupted { code, .. } => *code,
            _ => 1,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
