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
    /// A file operation that failed while working. The OS error is part of the message and is
    /// deliberately not a `#[source]`, so a chain printer shows it once.
    #[error("{}: {}\n  fix: {}", crate::db::redact(&path.display().to_string()), crate::db::redact(&cause.to_string()), io_fix(cause))]
    Io {
        path: PathBuf,
        cause: std::io::Error,
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

/// What usually fixes an I/O error of this kind.
fn io_fix(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "check the path: it (or its directory) does not exist",
        PermissionDenied => "check the file's permissions, or choose a path you can access",
        AlreadyExists => "choose another path, or remove the existing one",
        InvalidData => "the file must be UTF-8 text; re-save it as UTF-8",
        StorageFull => "free disk space (or choose a path on a larger filesystem) and run again",
        ReadOnlyFilesystem => "choose a path on a writable filesystem",
        IsADirectory => "give a file path, not a directory",
        NotADirectory => "a part of the path is a file, not a directory: check the path",
        _ => "check the path and that the filesystem is usable, then run again",
    }
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
            cause: source,
        }
    }

    /// Input the user named with `flag` that could not be read or written: bad input (exit 2).
    /// An `Io` error becomes a usage error naming the flag, the path, the cause and a fix; any
    /// other error is returned as it is.
    pub fn input(flag: &str, e: Error) -> Error {
        match e {
            Error::Io { path, cause } => Error::Usage(format!(
                "{flag}: {}: {cause}\n  fix: {}",
                path.display(),
                io_fix(&cause)
            )),
            other => other,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
