//! SIGINT and SIGTERM during a seed: cancel what the server is running for finseed, let the
//! connections close (the server rolls back every chunk in flight; committed chunks stay) and
//! say which command resumes.

use std::sync::Mutex;
use std::time::Duration;
use tokio_postgres::{CancelToken, Client};

static TOKENS: Mutex<Vec<CancelToken>> = Mutex::new(Vec::new());

/// Remember a connection so an interrupt can cancel the statement it runs.
pub fn register(c: &Client) {
    if let Ok(mut t) = TOKENS.lock() {
        t.push(c.cancel_token());
    }
}

pub fn clear() {
    if let Ok(mut t) = TOKENS.lock() {
        t.clear();
    }
}

/// Ask the server to cancel every registered connection's statement, within 3 s. Over TLS the
/// plain cancel request may be refused; the server then notices the closed connection itself
/// (`client_connection_check_interval`, set in each post-load transaction).
pub async fn cancel_all() {
    let tokens: Vec<CancelToken> = TOKENS.lock().map(|t| t.clone()).unwrap_or_default();
    let all = futures_util::future::join_all(tokens.iter().map(|t| {
        tokio::time::timeout(
            Duration::from_secs(3),
            t.cancel_query(tokio_postgres::NoTls),
        )
    }));
    let _ = all.await;
}

/// The signal that arrived: its name and the exit code (128 + its number).
pub type Caught = (&'static str, i32);

/// Listens for SIGINT and SIGTERM from creation on.
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    pub async fn recv(&mut self) -> Caught {
        tokio::select! {
            _ = self.int.recv() => ("SIGINT", 130),
            _ = self.term.recv() => ("SIGTERM", 143),
        }
    }
}

/// Give SIGINT and SIGTERM back their default action (end the process) once the seed is over,
/// so a later step of the same process (`run`'s benchmark) can be stopped with Ctrl-C.
pub fn restore_default() {
    // SAFETY: signal(2) with SIG_DFL installs no Rust code as a handler; it only resets the
    // disposition that tokio's handler replaced, which nothing reads after the seed.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A failure part-way through a seed (a chunk that could not be loaded, a statement that
/// stalled) with the command that picks up where it stopped.
pub fn resumable(e: crate::error::Error, resume: &str) -> crate::error::Error {
    use crate::error::Error;
    let hint = |m: String| {
        let hidden = if resume.contains("***") {
            "\n  (the password is shown as ***: put it back, or pass the URL in DATABASE_URL)"
        } else {
            ""
        };
        format!("{m}\n  resume with: {resume}{hidden}")
    };
    match e {
        Error::Db(m) => Error::Db(hint(m)),
        Error::Failed(m) => Error::Failed(hint(m)),
        other => other,
    }
}

/// The command line that resumes `args` (this process's, program first): the same command
/// without `--fresh` and `--force` (they would start over), connection strings redacted.
pub fn resume_command(args: &[String]) -> String {
    let mut out = Vec::new();
    let mut url_next = false;
    for a in args {
        if a == "--fresh" || a == "--force" {
            continue;
        }
        let shown = if url_next || a.contains("://") || a.to_ascii_lowercase().contains("password")
        {
            crate::db::redact(a)
        } else {
            a.clone()
        };
        url_next = a == "--database-url";
        out.push(shell_quote(&shown));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_drops_fresh_and_hides_the_password() {
        let args: Vec<String> = [
            "finseed",
            "seed",
            "--fresh",
            "-p",
            "small",
            "--database-url",
            "postgres://bob:hunter2@h/db",
            "--force",
            "--tables",
            "a b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = resume_command(&args);
        assert_eq!(
            r,
            "finseed seed -p small --database-url 'postgres://bob:***@h/db' --tables 'a b'"
        );
        let kv = resume_command(&["finseed".into(), "--database-url=host=h password=pw".into()]);
        assert!(!kv.contains("pw'") && kv.contains("***"), "{kv}");
    }
}
