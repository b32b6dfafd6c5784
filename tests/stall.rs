//! A server path that stalls or is cut in the middle of a seed: a loopback TCP proxy (127.0.0.1
//! only) between finseed and the test PostgreSQL forwards until it sees the moment chosen (the
//! Nth binary COPY, or the first CREATE INDEX), then either stops forwarding anything (and holds
//! new connections silent) or cuts every connection and refuses new ones. finseed must exit 1
//! within a bound with a clear message, the command that resumes and no password; a rerun over
//! the direct path then completes and `verify` passes.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "Stall-Secret-93";
const FORWARD: u8 = 0;
const STALL: u8 = 1;
const CUT: u8 = 2;
const CLOSED: u8 = 3;

/// The binary COPY header every chunk's COPY data starts with.
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    fired: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

struct Trigger {
    pattern: &'static [u8],
    nth: usize,
    /// Bytes of the stream after the pattern still forwarded before the fault.
    then: usize,
    fault: u8,
    seen: AtomicUsize,
}

impl Proxy {
    fn start(server_port: u16, trigger: Trigger) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let fired = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let trigger = Arc::new(trigger);
        let (m, f, c) = (mode.clone(), fired.clone(), conns.clone());
        std::thread::spawn(move || loop {
            let now = m.load(Ordering::SeqCst);
            if now == CUT || now == CLOSED {
                return; // the listener closes: new connections are refused
            }
            match listener.accept() {
                Ok((client, _)) => {
                    client.set_nonblocking(false).unwrap();
                    if now == STALL {
                        // Accept and say nothing: the path is stalled.
                        c.lock().unwrap().push(client);
                        continue;
                    }
                    let server = match TcpStream::connect(("127.0.0.1", server_port)) {
                        Ok(s) => s,
                        Err(_) => continue,
                    };
                    {
                        let mut all = c.lock().unwrap();
                        all.push(client.try_clone().unwrap());
                        all.push(server.try_clone().unwrap());
                    }
                    for (from, to, watch) in [
                        (
                            client.try_clone().unwrap(),
                            server.try_clone().unwrap(),
                            true,
                        ),
                        (server, client, false),
                    ] {
                        let (m, f, c, t) = (m.clone(), f.clone(), c.clone(), trigger.clone());
                        std::thread::spawn(move || pump(from, to, watch, &m, &f, &c, &t));
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        });
        Proxy {
            port,
            mode,
            fired,
            conns,
        }
    }

    /// Close every connection (the server then ends their sessions) and stop listening.
    fn close(&self) {
        self.mode.store(CLOSED, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.close();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Forward `from` to `to` until the proxy is closed; stop forwarding when stalled. The
/// client-to-server direction (`watch`) looks for the trigger.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    watch: bool,
    mode: &AtomicU8,
    fired: &AtomicBool,
    conns: &Mutex<Vec<TcpStream>>,
    t: &Trigger,
) {
    from.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match mode.load(Ordering::SeqCst) {
            STALL => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            CUT | CLOSED => return,
            _ => {}
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        let mut upto = n;
        if watch && !fired.load(Ordering::SeqCst) {
            if let Some(at) = find(&buf[..n], t.pattern) {
                if t.seen.fetch_add(1, Ordering::SeqCst) + 1 == t.nth {
                    upto = (at + t.pattern.len() + t.then).min(n);
                    let _ = to.write_all(&buf[..upto]);
                    fired.store(true, Ordering::SeqCst);
                    mode.store(t.fault, Ordering::SeqCst);
                    if t.fault == CUT {
                        for s in conns.lock().unwrap().iter() {
                            let _ = s.shutdown(Shutdown::Both);
                        }
                    }
                    continue;
                }
            }
        }
        if to.write_all(&buf[..upto]).is_err() {
            return;
        }
    }
}

/// Run finseed, killing it after `limit`; returns (exit code, stdout and stderr, seconds).
fn run_bounded(args: &[&str], limit: Duration) -> (Option<i32>, String, f64) {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let t = Instant::now();
    let mut child = common::finseed_command(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let secs = t.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&o).unwrap_or_default()
        + &std::fs::read_to_string(&e).unwrap_or_default();
    (status.and_then(|s| s.code()), text, secs)
}

/// The throwaway cluster's port and a fresh database on it; None (skip) with a DATABASE_URL.
fn direct_database(prefix: &str) -> Option<(String, u16, String)> {
    let direct = common::fresh_database(prefix);
    let (port, db) = direct
        .strip_prefix("postgres://postgres@127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(port, db)| {
            Some((port.parse::<u16>().ok()?, db.split('?').next()?.to_string()))
        })?;
    Some((direct, port, db))
}

/// Wait until the server has ended the sessions the proxy carried.
fn wait_for_sessions_to_end(direct: &str, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = common::psql(
            direct,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            ),
        );
        if n.trim() == "0" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sessions through the proxy still open: {n}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Seed `ci` through a proxy that faults as `trigger` says; check the failure, then a rerun
/// over the direct path and `verify`.
fn fault_then_resume(name: &str, trigger: Trigger, bound: f64, expect: &[&str]) {
    fault_then_rerun(name, trigger, bound, expect, true)
}

/// As [`fault_then_resume`]; `resume`: whether the failure must print the resume command (a
/// failure before the load started need not).
fn fault_then_rerun(name: &str, trigger: Trigger, bound: f64, expect: &[&str], resume: bool) {
    let Some((direct, server_port, db)) = direct_database(name) else {
        eprintln!("NOTICE: skipping {name}: it needs the throwaway test cluster, not DATABASE_URL");
        return;
    };
    let proxy = Proxy::start(server_port, trigger);
    let url = format!(
        "postgres://postgres:{SECRET}@127.0.0.1:{}/{db}?connect_timeout=2",
        proxy.port
    );
    let args = [
        "seed",
        "-q",
        "-p",
        "ci",
        "-j",
        "1",
        "--stall-timeout",
        "3",
        "--database-url",
        &url,
    ];
    let (code, text, secs) = run_bounded(&args, Duration::from_secs(90));
    assert!(
        proxy.fired.load(Ordering::SeqCst),
        "{name}: the fault never fired: {text}"
    );
    assert_eq!(code, Some(1), "{name}: after {secs:.1} s: {text}");
    assert!(
        secs < bound,
        "{name}: took {secs:.1} s (bound {bound}): {text}"
    );
    for e in expect {
        assert!(text.contains(e), "{name}: no {e:?} in: {text}");
    }
    assert!(
        !resume || (text.contains("resume with: ") && text.contains("seed -q -p ci")),
        "{name}: no resume command: {text}"
    );
    assert!(!text.contains(SECRET), "{name}: password shown: {text}");
    eprintln!("{name}: exit 1 after {secs:.1} s:\n{text}");
    proxy.close();
    wait_for_sessions_to_end(&direct, &db);
    let rerun = common::finseed(&["seed", "-q", "-p", "ci", "--database-url", &direct]);
    assert!(
        rerun.status.success(),
        "{name}: rerun over the direct path failed: {}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let v = common::finseed(&["verify", "-p", "ci", "--database-url", &direct]);
    assert!(
        v.status.success(),
        "{name}: verify after the rerun: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn a_path_that_stalls_mid_copy_fails_within_the_stall_timeout() {
    fault_then_resume(
        "stall_copy",
        Trigger {
            pattern: COPY_SIGNATURE,
            nth: 3,
            then: 200,
            fault: STALL,
            seen: AtomicUsize::new(0),
        },
        40.0,
        &[
            "stalled: no progress for 3 s",
            "--stall-timeout",
            "loading chunk",
        ],
    );
}

#[test]
fn a_connection_cut_mid_copy_is_retried_then_fails_with_the_resume_command() {
    fault_then_resume(
        "cut_copy",
        Trigger {
            pattern: COPY_SIGNATURE,
            nth: 3,
            then: 200,
            fault: CUT,
            seen: AtomicUsize::new(0),
        },
        40.0,
        &[
            "attempt 1 of 6",
            "loading chunk",
            "reconnecting to retry it failed",
        ],
    );
}

#[test]
fn a_path_that_stalls_during_an_index_build_fails_within_the_stall_timeout() {
    fault_then_resume(
        "stall_index",
        Trigger {
            pattern: b"CREATE INDEX",
            nth: 1,
            then: usize::MAX / 2,
            fault: STALL,
            seen: AtomicUsize::new(0),
        },
        50.0,
        &["stalled: no progress for 3 s", "CREATE INDEX"],
    );
}

/// The server goes silent right after login, in the middle of a control query (a preflight
/// check, the advisory lock, the ledger read): the proxy forwards the query's first bytes and
/// then nothing more. Each query is bounded by `--stall-timeout`, so seed exits 1 within it,
/// naming the step that waited, the limit and the fix, instead of hanging.
fn control_query_stall(name: &str, query: &'static [u8], step: &str) {
    fault_then_rerun(
        name,
        Trigger {
            pattern: query,
            nth: 1,
            then: 0,
            fault: STALL,
            seen: AtomicUsize::new(0),
        },
        30.0,
        &[
            step,
            "timeout: no answer from the server within 3 s (--stall-timeout)",
            "fix: check the server",
            "raise --stall-timeout",
        ],
        false,
    );
}

#[test]
fn a_server_silent_during_a_preflight_check_fails_within_the_stall_timeout() {
    control_query_stall(
        "stall_preflight",
        b"SELECT current_schema()",
        "cannot inspect the database",
    );
}

#[test]
fn a_server_silent_while_taking_the_advisory_lock_fails_within_the_stall_timeout() {
    control_query_stall(
        "stall_lock",
        b"pg_try_advisory_xact_lock",
        "cannot take finseed's lock",
    );
}

#[test]
fn a_server_silent_while_reading_the_ledger_fails_within_the_stall_timeout() {
    control_query_stall(
        "stall_ledger",
        b"SELECT chunk FROM finseed_ledger",
        "cannot read the ledger",
    );
}
