//! Time limits on loopback servers that never answer: finseed gives up within the connect
//! timeout (10 s by default, or the URL's `connect_timeout`) and says it timed out, instead of
//! waiting silently.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback listener that accepts connections and never sends a byte, for the life of the
/// test process.
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn); // keep it open, say nothing
        }
    });
    port
}

/// Run finseed, killing it after `limit`; returns (exit code, stderr, seconds taken).
fn run_bounded(args: &[&str], limit: Duration) -> (Option<i32>, String, f64) {
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("err");
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("CI", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
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
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    (status.and_then(|s| s.code()), stderr, secs)
}

#[test]
fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    let port = silent_server();
    let url = format!("postgres://u:pw@127.0.0.1:{port}/db");
    let (code, stderr, secs) = run_bounded(
        &["seed", "--database-url", &url, "-p", "ci"],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "after {secs:.1} s: {stderr}");
    assert!(secs < 15.0, "took {secs:.1} s: {stderr}");
    assert!(
        stderr.contains("timeout") && stderr.contains("connect_timeout"),
        "{stderr}"
    );
    assert!(!stderr.contains(":pw@"), "{stderr}");
}

#[test]
fn connect_timeout_in_the_url_or_key_value_form_is_honoured() {
    let port = silent_server();
    for url in [
        format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=2"),
        format!("host=127.0.0.1 port={port} user=u dbname=db connect_timeout=2"),
    ] {
        let (code, stderr, secs) = run_bounded(
            &["verify", "-p", "ci", "--database-url", &url],
            Duration::from_secs(30),
        );
        assert_eq!(code, Some(1), "{url}: {stderr}");
        assert!(
            (1.5..8.0).contains(&secs),
            "{url}: took {secs:.1} s: {stderr}"
        );
        assert!(stderr.contains("within 2 s"), "{url}: {stderr}");
    }
}

/// Log any client in (no TLS, no password), say it is ready, then answer nothing more.
fn login_then_silence(mut s: TcpStream) -> std::io::Result<()> {
    let read_body = |s: &mut TcpStream| -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len)?;
        let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
        s.read_exact(&mut body)?;
        Ok(body)
    };
    let mut startup = read_body(&mut s)?;
    if startup == [0x04, 0xd2, 0x16, 0x2f] {
        s.write_all(b"N")?; // SSLRequest: no TLS
        startup = read_body(&mut s)?;
    }
    let _ = startup;
    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0])?; // AuthenticationOk
    s.write_all(&[b'Z', 0, 0, 0, 5, b'I'])?; // ReadyForQuery
    let mut sink = [0u8; 4096];
    while s.read(&mut sink)? > 0 {}
    Ok(())
}

#[test]
fn a_server_that_logs_in_then_goes_silent_fails_with_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = login_then_silence(conn);
            });
        }
    });
    // connect_timeout=1: the first query may wait six times that.
    let url = format!("postgres://u:pw@127.0.0.1:{port}/db?connect_timeout=1");
    for args in [
        vec!["seed", "-p", "ci", "--database-url", &url],
        vec!["bench", "--iterations", "1", "--database-url", &url],
    ] {
        let (code, stderr, secs) = run_bounded(&args, Duration::from_secs(30));
        assert_eq!(code, Some(1), "{args:?} after {secs:.1} s: {stderr}");
        assert!(secs < 12.0, "{args:?} took {secs:.1} s: {stderr}");
        assert!(
            stderr.contains("timeout") && stderr.contains("answered no query within 6 s"),
            "{args:?}: {stderr}"
        );
    }
}

/// A loopback port whose server drops the connection's packets: a listener that never accepts,
/// its accept queue filled, so the kernel drops every further SYN (no answer at all, not even a
/// refusal), as a firewall that drops packets does.
fn dropping_port() -> (u16, TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    // Fill the accept queue (std listens with a backlog of 128): once full, a connect times out.
    for _ in 0..4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(_) => return (addr.port(), listener, queued),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

#[test]
fn an_address_that_drops_packets_fails_within_the_connect_timeout() {
    let (port, _listener, _queued) = dropping_port();
    let url = format!("postgres://u:pw@127.0.0.1:{port}/db");
    for args in [
        vec!["seed", "-p", "ci", "--database-url", &url],
        vec!["verify", "-p", "ci", "--database-url", &url],
    ] {
        let (code, stderr, secs) = run_bounded(&args, Duration::from_secs(40));
        assert_eq!(code, Some(1), "{args:?} after {secs:.1} s: {stderr}");
        assert!(secs < 15.0, "{args:?} took {secs:.1} s: {stderr}");
        assert!(
            stderr.contains("timeout") && stderr.contains("connect_timeout"),
            "{args:?}: {stderr}"
        );
    }
}
