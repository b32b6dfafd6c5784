//! Advisory locks that keep two finseeds off the same work, and still hold behind a
//! transaction-mode pooler (PgBouncer): each lock is a `pg_try_advisory_xact_lock` taken inside
//! a transaction left open on a dedicated connection for as long as the lock is needed (an open
//! transaction pins the server connection under a transaction pooler). A `SELECT 1` in that
//! transaction every few seconds keeps `idle_in_transaction_session_timeout` from ending it; in
//! READ COMMITTED such an idle transaction holds no snapshot, so it does not hold back vacuum.
//! Who holds a lock (pid, host, start time) is a committed row of `finseed_lock`, written before
//! trying the lock and found through `pg_locks`.

use crate::db::Target;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// First keys of finseed's advisory locks ("FS" and a number), so they do not meet other
/// applications' two-key locks by chance.
pub const K_RUN: i32 = 0x4653_0001;
pub const K_DATASET: i32 = 0x4653_0002;
pub const K_DDL: i32 = 0x4653_0003;
pub const K_STATE: i32 = 0x4653_0004;
pub const K_CHUNK: i32 = 0x4653_0005;

/// Second key: a stable 31-bit hash of a name.
pub fn key(name: &str) -> i32 {
    (xxhash_rust::xxh3::xxh3_64(name.as_bytes()) & 0x7fff_ffff) as i32
}

/// One advisory lock wanted in a held transaction.
#[derive(Clone, Copy, Debug)]
pub struct Want {
    pub class: i32,
    pub key: i32,
    pub shared: bool,
}

/// Who runs this finseed, for the holder row.
#[derive(Clone, Debug)]
pub struct Me {
    pub pid: i64,
    pub host: String,
    pub command: String,
}

impl Me {
    pub fn new(command: String) -> Me {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown host".into());
        Me {
            pid: std::process::id() as i64,
            host,
            command,
        }
    }
}

/// Locks held in an open transaction on their own connection.
pub struct Held {
    client: Arc<Client>,
    keepalive: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
    token: String,
    target: Target,
}

impl Held {
    /// Whether the connection holding the locks was lost and they could not be taken again.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Release the locks and remove the holder row.
    pub async fn release(self) {
        self.keepalive.abort();
        // Bounded: over a stalled link the locks end with the connection anyway.
        let limit = Duration::from_secs(5);
        let _ = tokio::time::timeout(limit, self.client.batch_execute("ROLLBACK")).await;
        let _ = tokio::time::timeout(limit * 3, async {
            if let Ok(c) = self.target.connect().await {
                let _ = c
                    .query_typed(
                        "DELETE FROM finseed_lock WHERE token = $1",
                        &[(&self.token, tokio_postgres::types::Type::TEXT)],
                    )
                    .await;
            }
        })
        .await;
    }
}

/// Open a connection, start a transaction and try the locks in it.
async fn try_on(target: &Target, wants: &[Want]) -> Result<(Arc<Client>, i32, bool)> {
    let what = "cannot take finseed's lock";
    let client = target.connect().await?;
    target.ask(what, client.batch_execute("BEGIN")).await?;
    let backend: i32 = target
        .ask(what, client.query_one("SELECT pg_backend_pid()", &[]))
        .await?
        .get(0);
    Ok((Arc::new(client), backend, wants.is_empty()))
}

async fn take(client: &Client, target: &Target, wants: &[Want]) -> Result<bool> {
    let mut all = true;
    for w in wants {
        let f = if w.shared {
            "pg_try_advisory_xact_lock_shared"
        } else {
            "pg_try_advisory_xact_lock"
        };
        let got: bool = target
            .ask(
                "cannot take finseed's lock",
                client.query_one(&format!("SELECT {f}($1, $2)"), &[&w.class, &w.key]),
            )
            .await?
            .get(0);
        all &= got;
        if !got {
            break;
        }
    }
    Ok(all)
}

/// Describe who holds any of the locks: "another finseed (pid P, host H, started at T)".
pub async fn holder(c: &Client, target: &Target, wants: &[Want]) -> String {
    for w in wants {
        let row = target.ask("cannot read who holds finseed's lock", c
            .query_typed_opt(
                "SELECT f.pid, f.host,
                        to_char(coalesce(f.started_at, a.xact_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),
                        l.pid
                 FROM pg_locks l
                 LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                 LEFT JOIN LATERAL (SELECT * FROM finseed_lock f WHERE f.backend_pid = l.pid
                                    ORDER BY f.started_at DESC LIMIT 1) f ON true
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2
                 LIMIT 1",
                &[(&(w.class as i64), tokio_postgres::types::Type::INT8), (&(w.key as i64), tokio_postgres::types::Type::INT8)],
            ))
            .await;
        if let Ok(Some(r)) = row {
            let pid: Option<i64> = r.get(0);
            let host: Option<String> = r.get(1);
            let at: Option<String> = r.get(2);
            let backend: i32 = r.get(3);
            return match pid {
                Some(pid) => format!(
                    "another finseed (pid {pid}, host {}, started at {})",
                    host.unwrap_or_default(),
                    at.unwrap_or_default()
                ),
                None => format!(
                    "another finseed (server backend pid {backend}, started at {})",
                    at.unwrap_or_else(|| "?".into())
                ),
            };
        }
    }
    "another finseed".into()
}

/// Take `wants` for as long as the returned [`Held`] lives, or say who has them (`Err(who)`).
/// `name` labels the holder row (for example `run public all`).
pub async fn acquire(
    target: &Target,
    control: &Client,
    me: &Me,
    name: &str,
    wants: &[Want],
) -> Result<std::result::Result<Held, String>> {
    let (client, backend, _) = try_on(target, wants).await?;
    let token = format!("{}:{}:{}:{}", me.host, me.pid, name, backend);
    target
        .ask(
            "cannot record finseed's lock holder",
            control.query_typed(
                "INSERT INTO finseed_lock (token, lock_name, backend_pid, pid, host, command)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (token) DO UPDATE SET started_at = now()",
                &[
                    (&token, Type::TEXT),
                    (&name, Type::TEXT),
                    (&backend, Type::INT4),
                    (&me.pid, Type::INT8),
                    (&me.host, Type::TEXT),
                    (&me.command, Type::TEXT),
                ],
            ),
        )
        .await?;
    if !take(&client, target, wants).await? {
        tidy(
            target,
            "ending the lock's transaction",
            client.batch_execute("ROLLBACK"),
        )
        .await?;
        tidy(
            target,
            "removing finseed's lock holder row",
            control.query_typed(
                "DELETE FROM finseed_lock WHERE token = $1",
                &[(&token, Type::TEXT)],
            ),
        )
        .await?;
        return Ok(Err(holder(control, target, wants).await));
    }
    // Rows left by finseeds that were killed before removing theirs.
    tidy(
        target,
        "cleaning up finseed's lock holder rows",
        control.query_typed(
            "DELETE FROM finseed_lock f WHERE f.lock_name = $1 AND f.token <> $2
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = f.backend_pid)",
            &[(&name, Type::TEXT), (&token, Type::TEXT)],
        ),
    )
    .await?;
    let interval = keepalive_interval(&client, target).await?;
    let lost = Arc::new(AtomicBool::new(false));
    let keepalive = {
        let (client, lost, target, wants, token) = (
            client.clone(),
            lost.clone(),
            target.clone(),
            wants.to_vec(),
            token.clone(),
        );
        tokio::spawn(async move {
            let mut client = client;
            loop {
                tokio::time::sleep(interval).await;
                // Bounded: a silent server counts as a lost connection.
                if matches!(
                    tokio::time::timeout(target.stall(), client.simple_query("SELECT 1")).await,
                    Ok(Ok(_))
                ) {
                    continue;
                }
                // The connection went away and with it the locks: take them again on a new
                // one, unless someone else has them now.
                let again = async {
                    let (c, backend, _) = try_on(&target, &wants).await?;
                    if take(&c, &target, &wants).await? {
                        if let Ok(ctl) = target.connect().await {
                            let _ = target
                                .ask(
                                    "recording finseed's lock holder",
                                    ctl.query_typed(
                                        "UPDATE finseed_lock SET backend_pid = $2 WHERE token = $1",
                                        &[(&token, Type::TEXT), (&backend, Type::INT4)],
                                    ),
                                )
                                .await;
                        }
                        Ok::<_, Error>(Some(c))
                    } else {
                        Ok(None)
                    }
                };
                match again.await {
                    Ok(Some(c)) => client = c,
                    Ok(None) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(_) => {} // the server is away; try again at the next tick
                }
            }
        })
    };
    Ok(Ok(Held {
        client,
        keepalive,
        lost,
        token,
        target: target.clone(),
    }))
}

/// A tidying round trip whose failure does not matter, but whose silence does: bounded by the
/// stall limit like every control query.
async fn tidy<T>(
    target: &Target,
    what: &str,
    fut: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
) -> Result<()> {
    match tokio::time::timeout(target.stall(), fut).await {
        Err(_) => Err(target.silent(what)),
        Ok(_) => Ok(()),
    }
}

/// Every 10 s, or a third of the server's idle-in-transaction timeout when that is shorter.
async fn keepalive_interval(c: &Client, target: &Target) -> Result<Duration> {
    let read = c.query_typed_one(
        "SELECT coalesce((SELECT setting::bigint FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'), 0)",
        &[],
    );
    // An error leaves the default interval; silence is a stall.
    let ms: i64 = match tokio::time::timeout(target.stall(), read).await {
        Err(_) => return Err(target.silent("reading idle_in_transaction_session_timeout")),
        Ok(r) => r.map(|r| r.get(0)).unwrap_or(0),
    };
    let base = Duration::from_secs(10);
    Ok(if ms > 0 {
        base.min(Duration::from_millis((ms / 3).max(200) as u64))
    } else {
        base
    })
}
