//! Through PgBouncer in transaction mode (Debian's `pgbouncer`): `seed`, `verify` and `bench`
//! work, each within a time limit. Session state or named prepared statements carried across
//! transactions break here (bench used to hang, pgbouncer logging `got packet '3' from server
//! when not linked`). The pool is kept small so that clients share server connections.

mod common;

use common::is_root;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// A pgbouncer started for this test; stopped (by its pid) when dropped, also on failure.
struct Bouncer {
    dir: PathBuf,
    port: u16,
}

impl Bouncer {
    fn start(server_port: u16, name: &str) -> Bouncer {
        let dir =
            std::env::temp_dir().join(format!("finseed-pgbouncer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n\
                 * = host=127.0.0.1 port={server_port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {dir}/userlist.txt\n\
                 pool_mode = transaction\n\
                 default_pool_size = 4\n\
                 max_client_conn = 100\n\
                 ignore_startup_parameters = extra_float_digits,options\n\
                 logfile = {dir}/pgbouncer.log\n\
                 pidfile = {dir}/pgbouncer.pid\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        let mut cmd = if is_root() {
            // pgbouncer refuses to run as root.
            let status = Command::new("chown")
                .args(["-R", "postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "cannot chown {}", dir.display());
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", PGBOUNCER]);
            c
        } else {
            Command::new(PGBOUNCER)
        };
        let out = cmd
            .args(["-d", dir.join("pgbouncer.ini").to_str().unwrap()])
            .output()
            .expect("run pgbouncer");
        let b = Bouncer { dir, port };
        assert!(
            out.status.success(),
            "pgbouncer did not start: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            b.log()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer is not listening on {port}: {}",
                b.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        b
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let pidfile = self.dir.join("pgbouncer.pid");
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            let pid = pid.trim().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run finseed, killing it after `limit`.
fn finseed_within(limit: Duration, args: &[&str]) -> (Output, bool) {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("CI", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .expect("run finseed");
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap_or_default(),
        stderr: std::fs::read(&e).unwrap_or_default(),
    };
    (out, timed_out)
}

#[test]
fn seed_verify_and_bench_work_through_pgbouncer_in_transaction_mode() {
    if !Path::new(PGBOUNCER).exists() {
        if is_root() || std::env::var_os("CI").is_some() {
            panic!("{PGBOUNCER} is not installed: `apt-get install -y pgbouncer` (.ci/run does)");
        }
        eprintln!("NOTICE: skipping the pooler test: {PGBOUNCER} is not installed and this is not root or CI (apt-get install pgbouncer)");
        return;
    }
    let direct = common::fresh_database("pooler");
    // pgbouncer is pointed at the test server over loopback, with trust auth: that needs the
    // throwaway cluster (postgres://postgres@127.0.0.1:PORT/DB), not any DATABASE_URL.
    let Some((server_port, database)) = direct
        .strip_prefix("postgres://postgres@127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(port, db)| {
            Some((port.parse::<u16>().ok()?, db.split('?').next()?.to_string()))
        })
    else {
        eprintln!(
            "NOTICE: skipping the pooler test: it needs the throwaway test cluster, not {direct}"
        );
        return;
    };
    let bouncer = Bouncer::start(server_port, "all");
    let url = format!("postgres://postgres@127.0.0.1:{}/{database}", bouncer.port);
    let limit = Duration::from_secs(120);
    for args in [
        vec!["seed", "-q", "-p", "ci", "-j", "2", "--database-url", &url],
        vec!["verify", "-p", "ci", "--database-url", &url],
        vec![
            "bench",
            "-q",
            "--iterations",
            "5",
            "--warmup",
            "1",
            "--concurrency",
            "2",
            "--database-url",
            &url,
        ],
    ] {
        let (out, timed_out) = finseed_within(limit, &args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !timed_out,
            "{args:?} through pgbouncer hung past {limit:?}:\n{text}\npgbouncer log:\n{}",
            bouncer.log()
        );
        assert!(
            out.status.success(),
            "{args:?} through pgbouncer failed:\n{text}\npgbouncer log:\n{}",
            bouncer.log()
        );
    }
    let log = bouncer.log();
    assert!(
        !log.contains("when not linked"),
        "pgbouncer complained:\n{log}"
    );
}

/// The seeding lock through a transaction-mode pool: a second `seed` of the same database while
/// the first is loading stops at once with "another finseed (pid P, ...) is seeding this
/// database", exit 1, and the first completes and verifies. The lock is an advisory xact lock in
/// a transaction kept open on its own connection, which pins one server connection of the pool.
#[test]
fn two_seeds_through_pgbouncer_do_not_corrupt_each_other() {
    if !Path::new(PGBOUNCER).exists() {
        if is_root() || std::env::var_os("CI").is_some() {
            panic!("{PGBOUNCER} is not installed: `apt-get install -y pgbouncer` (.ci/run does)");
        }
        eprintln!("NOTICE: skipping the pooler lock test: {PGBOUNCER} is not installed");
        return;
    }
    let direct = common::fresh_database("pooler_lock");
    let Some((server_port, database)) = direct
        .strip_prefix("postgres://postgres@127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(port, db)| {
            Some((port.parse::<u16>().ok()?, db.split('?').next()?.to_string()))
        })
    else {
        eprintln!("NOTICE: skipping the pooler lock test: it needs the throwaway test cluster");
        return;
    };
    let bouncer = Bouncer::start(server_port, "lock");
    let url = format!("postgres://postgres@127.0.0.1:{}/{database}", bouncer.port);
    let seed = [
        "seed",
        "-q",
        "-p",
        "ci",
        "--scale",
        "10",
        "-j",
        "2",
        "--database-url",
        &url,
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(seed)
        .env_remove("DATABASE_URL")
        .env("CI", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("first")).unwrap())
        .spawn()
        .unwrap();
    // Wait until the first is loading (a chunk in its ledger), then start the second.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let exists = common::psql(&direct, "SELECT to_regclass('finseed_ledger') IS NOT NULL");
        if exists.trim() == "t"
            && common::psql(&direct, "SELECT count(*) FROM finseed_ledger").trim() != "0"
        {
            break;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first seed ended before loading"
        );
        assert!(
            Instant::now() < deadline,
            "the first seed never started loading"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let running = first.try_wait().unwrap().is_none();
    let (second, timed_out) = finseed_within(Duration::from_secs(60), &seed);
    let text = String::from_utf8_lossy(&second.stderr).to_string();
    assert!(
        !timed_out,
        "the second seed hung: {text}\n{}",
        bouncer.log()
    );
    let first_status = first.wait().unwrap();
    let first_text = std::fs::read_to_string(dir.path().join("first")).unwrap_or_default();
    assert!(
        first_status.success(),
        "the first seed failed: {first_text}\n{}",
        bouncer.log()
    );
    if running && !second.status.success() {
        assert_eq!(second.status.code(), Some(1), "{text}");
        assert!(
            text.contains(&format!("another finseed (pid {}", first.id()))
                && text.contains("is seeding this database"),
            "the second seed did not name the first: {text}"
        );
    } else {
        // The first had finished (or the second waited for it): the second found it all loaded.
        assert!(second.status.success(), "{text}");
    }
    eprintln!("second seed: {:?}: {text}", second.status.code());
    let (v, timed_out) = finseed_within(
        Duration::from_secs(120),
        &[
            "verify",
            "-p",
            "ci",
            "--scale",
            "10",
            "--database-url",
            &url,
        ],
    );
    assert!(
        !timed_out && v.status.success(),
        "verify through pgbouncer: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(
        !bouncer.log().contains("when not linked"),
        "pgbouncer complained:\n{}",
        bouncer.log()
    );
}
