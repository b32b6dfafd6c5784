//! Time limits while seeding (`--stall-timeout`, 60 s by default): a server, or a network path
//! to it, that stops answering in the middle of a COPY or of a post-load statement fails the
//! step within about that long instead of hanging finseed.
//!
//! - Every round trip of a chunk's load (BEGIN, the chunk lock, each COPY message accepted,
//!   the end of each COPY, the ledger rows, COMMIT) must complete within the limit ([`within`]).
//! - A post-load statement may legitimately run for hours (an index on 100M rows), so it is not
//!   bounded as a whole: every half limit, a separate connection checks that the server is still
//!   working on it ([`watch`]). Two checks in a row that find it not working (its session gone,
//!   or idle for over half the limit while finseed still waits for the answer), or that cannot
//!   reach the server, fail it as a stall.
//!
//! A stall is retried like a broken link (a new connection, the attempt number printed); when
//! the retries fail too the seed stops with the cause and the command that resumes.

use crate::db::Target;
use std::future::Future;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::Type;

/// The default of `--stall-timeout`.
pub const DEFAULT: Duration = Duration::from_secs(60);

/// A load or post-load failure: the server's (or driver's) error, or no answer in time.
#[derive(Debug)]
pub enum LoadError {
    Pg(tokio_postgres::Error),
    /// No answer for `after` while doing `what`.
    Stalled {
        what: String,
        after: Duration,
    },
}

impl From<tokio_postgres::Error> for LoadError {
    fn from(e: tokio_postgres::Error) -> Self {
        LoadError::Pg(e)
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Pg(e) => write!(f, "{}", crate::db::redact(&crate::db::detail(e))),
            LoadError::Stalled { what, after } => write!(
                f,
                "stalled: no progress for {} s while {what} (--stall-timeout): the server, or the network path to it, stopped answering",
                after.as_secs()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    /// Worth retrying on a new connection: a broken link, a server restarting, or a stall.
    pub fn transient(&self) -> bool {
        match self {
            LoadError::Pg(e) => crate::db::transient(e),
            LoadError::Stalled { .. } => true,
        }
    }

    /// As a finseed error naming the (redacted) target.
    pub fn into_error(self, target: &Target, what: &str) -> crate::error::Error {
        match self {
            LoadError::Pg(e) => target.error(what, &e),
            s => crate::error::Error::Db(format!("{what} ({}): {s}", target.shown)),
        }
    }
}

/// `fut`, or a stall when it has not answered within `limit`.
pub async fn within<T>(
    limit: Duration,
    what: impl FnOnce() -> String,
    fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, LoadError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(LoadError::Pg),
        Err(_) => Err(LoadError::Stalled {
            what: what(),
            after: limit,
        }),
    }
}

/// What shows that the server still works on a long statement.
pub enum Probe {
    /// The server process running the statement's transaction (0 until known).
    Backend(Arc<AtomicI32>),
    /// The exact text of a statement run outside a transaction (VACUUM).
    Statement(String),
}

impl Probe {
    /// The probe of `c`'s own server process, for long statements run on that connection.
    pub async fn for_connection<C: tokio_postgres::GenericClient>(
        c: &C,
        target: &Target,
        what: &str,
    ) -> crate::error::Result<Probe> {
        let pid: i32 = target
            .ask(what, c.query_typed_one("SELECT pg_backend_pid()", &[]))
            .await?
            .get(0);
        Ok(Probe::Backend(Arc::new(AtomicI32::new(pid))))
    }
}

/// One check from a separate connection.
enum Seen {
    Working,
    NotWorking,
}

async fn check(target: &Target, limit: Duration, probe: &Probe) -> Seen {
    let half = (limit / 2).max(Duration::from_secs(1));
    let look = async {
        let c = target.connect().await.ok()?;
        let row = match probe {
            Probe::Backend(pid) => {
                let pid = pid.load(Ordering::SeqCst);
                if pid == 0 {
                    return Some(false);
                }
                c.query_typed_opt(
                    "SELECT state = 'active' OR now() - state_change < make_interval(secs => $2)
                     FROM pg_stat_activity WHERE pid = $1",
                    &[(&pid, Type::INT4), (&half.as_secs_f64(), Type::FLOAT8)],
                )
                .await
                .ok()?
            }
            Probe::Statement(sql) => c
                .query_typed_opt(
                    "SELECT true FROM pg_stat_activity
                     WHERE state = 'active' AND query = $1 AND datname = current_database() LIMIT 1",
                    &[(sql, Type::TEXT)],
                )
                .await
                .ok()?,
        };
        Some(row.is_some_and(|r| r.get::<_, Option<bool>>(0) == Some(true)))
    };
    match tokio::time::timeout(limit, look).await {
        Ok(Some(true)) => Seen::Working,
        _ => Seen::NotWorking,
    }
}

/// Run `fut`, a statement the server may work on for a long time, checking every half `limit`
/// from a separate connection that the server is still working on it; two checks in a row that
/// find it not working (or cannot tell) end it as a stall.
pub async fn watch<T>(
    target: &Target,
    limit: Duration,
    probe: &Probe,
    what: impl FnOnce() -> String,
    fut: impl Future<Output = Result<T, LoadError>>,
) -> Result<T, LoadError> {
    let half = (limit / 2).max(Duration::from_secs(1));
    tokio::pin!(fut);
    let mut misses = 0;
    loop {
        tokio::select! {
            r = &mut fut => return r,
            _ = tokio::time::sleep(half) => {}
        }
        let seen = tokio::select! {
            r = &mut fut => return r,
            s = check(target, limit, probe) => s,
        };
        match seen {
            Seen::Working => misses = 0,
            Seen::NotWorking => {
                misses += 1;
                if misses >= 2 {
                    return Err(LoadError::Stalled {
                        what: what(),
                        after: limit,
                    });
                }
            }
        }
    }
}

/// Parse `--stall-timeout SECONDS`: 1..=86400.
pub fn parse(secs: Option<u64>) -> crate::error::Result<Duration> {
    match secs {
        None => Ok(DEFAULT),
        Some(s) if (1..=86_400).contains(&s) => Ok(Duration::from_secs(s)),
        Some(s) => Err(crate::error::Error::Usage(format!(
            "--stall-timeout: {s} is out of range\n  fix: give the seconds without progress after which a load or post-load statement fails, 1 to 86400 (default {})",
            DEFAULT.as_secs()
        ))),
    }
}
