//! An embedded local PostgreSQL cluster, so `finseed` can seed a database without the user
//! setting one up: `ensure_running` creates (first use), starts (if stopped) or reuses it.
//!
//! There is one cluster per user: its root is `$FINSEED_HOME` when set, else
//! `$XDG_DATA_HOME/finseed`, else `~/.local/share/finseed` ([`default_root`]), so every command
//! finds the same cluster from any working directory. Commands that only read a database
//! (`verify`, `bench`) never create one: with no cluster they stop and say how to get one.
//!
//! Layout, for a root directory `<root>`:
//!
//! - `<root>/cluster.json`: where the cluster lives (`data_dir`, `port`, `bin_dir`, `socket_dir`).
//! - `<root>/lock/`: created atomically (`mkdir`) while a process creates, starts or stops the
//!   cluster, so concurrent callers (parallel test binaries, two shells) serialise. It holds the
//!   owner's pid; a lock whose owner is dead is removed.
//! - `<base>/pgdata/`: the data directory, `<base>/pgsock/`: the Unix socket directory and
//!   `<base>/postgres.log`: the server log, where `<base>` is `<root>` itself except as below.
//!
//! PostgreSQL refuses to run as root, so when the effective uid is 0 every server-side command
//! (`initdb`, `pg_ctl`, hence `postgres`) runs as the `postgres` OS user through
//! `runuser -u postgres --`, and the server's directories are chowned to that user. That user must
//! be able to traverse to `<root>`. finseed adds `o+x` to `<root>` itself (its own state
//! directory) but never loosens the permissions of directories it does not own (such as a
//! `0700` `/root`): if `<root>` is still not reachable, `<base>` becomes
//! `/var/tmp/finseed-<hash of the root path>/` instead, and `cluster.json` (which stays in `<root>`)
//! records that location. The socket directory also moves there if `<base>/pgsock` would be too
//! long for a Unix socket path.
//!
//! The server listens on 127.0.0.1 only, on a port picked free on first use (and re-picked on a
//! later start if something else has taken it), with `trust` authentication for the Unix socket and
//! 127.0.0.1 only. Its settings are tuned for bulk loading and are rewritten into
//! `<data_dir>/finseed.conf` (included from `postgresql.conf`) at every start.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

/// The database `ensure_running` creates and `LocalCluster::url` points at.
pub const DATABASE: &str = "finseed";
/// The cluster's superuser (trusted on loopback, no password).
pub const SUPERUSER: &str = "postgres";

/// The OS user the server runs as when finseed runs as root.
const OS_USER: &str = "postgres";
const STATE_FILE: &str = "cluster.json";
const LOCK_DIR: &str = "lock";
const LEASE_DIR: &str = "leases";
const CONF_FILE: &str = "finseed.conf";
const LOG_FILE: &str = "postgres.log";
/// How long the server may refuse to answer at all after a start.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server that answers "starting up" (crash recovery after an interrupted bulk load
/// can replay up to max_wal_size of WAL) may take.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(600);
/// How long to wait for another process holding `<root>/lock`.
const LOCK_TIMEOUT: Duration = Duration::from_secs(900);
/// A lock directory without a readable owner pid older than this is left over from a crash.
const LOCK_ORPHAN_AGE: Duration = Duration::from_secs(30);
const FIX_NO_SERVER: &str = "install the PostgreSQL server (e.g. `apt-get install postgresql`), \
     or point finseed at an existing server with --database-url / DATABASE_URL";

/// A local cluster managed by finseed, as recorded in `<root>/cluster.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCluster {
    pub data_dir: PathBuf,
    pub port: u16,
    pub bin_dir: PathBuf,
    pub socket_dir: PathBuf,
}

impl LocalCluster {
    /// `postgres://postgres@127.0.0.1:PORT/finseed` (no password: trust auth on loopback).
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The server log: `postgres.log` next to the data directory.
    pub fn log_file(&self) -> PathBuf {
        base_of(&self.data_dir).join(LOG_FILE)
    }
}

/// Find Postgres server binaries: the directory of `initdb` on PATH (symlinks resolved), else
/// the highest version under `/usr/lib/postgresql/*/bin` (or `/usr/pgsql-*/bin`).
pub fn find_binaries() -> Result<PathBuf> {
    if let Some(initdb) = which("initdb") {
        let mut dirs = Vec::new();
        if let Some(dir) = fs::canonicalize(&initdb)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            dirs.push(dir);
        }
        if let Some(dir) = initdb.parent() {
            dirs.push(dir.to_path_buf());
        }
        if let Some(dir) = dirs.into_iter().find(|d| is_server_bin_dir(d)) {
            return Ok(dir);
        }
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = Vec::new();
    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
    ] {
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(version) = name.strip_prefix(prefix).and_then(parse_version) else {
                continue;
            };
            let bin = entry.path().join(suffix);
            if is_server_bin_dir(&bin) {
                found.push((version, bin));
            }
        }
    }
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        Error::Failed(format!(
            "no PostgreSQL server binaries found (looked for `initdb` on PATH and under \
             /usr/lib/postgresql/*/bin)\n  fix: {FIX_NO_SERVER}"
        ))
    })
}

/// Start (or reuse, if already running) the cluster rooted at `root`, creating it on first use,
/// and make sure database `finseed` exists. Safe to call concurrently from several processes.
pub fn ensure_running(root: &Path) -> Result<LocalCluster> {
    fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let _lock = DirLock::acquire(&root)?;
    let run_as = RunAs::detect()?;

    let mut cluster = match read_state(&root)? {
        Some(cluster) => cluster,
        None => {
            let cluster = plan(&root, run_as)?;
            write_state(&root, &cluster)?;
            cluster
        }
    };
    if !is_server_bin_dir(&cluster.bin_dir) {
        // PostgreSQL was reinstalled elsewhere; if its major version differs the server refuses
        // the data directory and the error below shows the log saying so.
        cluster.bin_dir = find_binaries()?;
        write_state(&root, &cluster)?;
    }
    if !cluster.data_dir.join("PG_VERSION").is_file() {
        init_cluster(&cluster, run_as)?;
    }
    let was_running = is_running(&cluster);
    if !was_running {
        start_on_free_port(&root, &mut cluster, run_as)?;
    }
    match wait_ready(&cluster) {
        // It died (or was already dying) while we looked: start it afresh.
        Err(_) if was_running && !is_running(&cluster) => {
            start_on_free_port(&root, &mut cluster, run_as)?;
            wait_ready(&cluster)?;
        }
        other => other?,
    }
    ensure_database(&cluster)?;
    Ok(cluster)
}

/// The cluster recorded at `root`, if any, and whether it is running.
pub fn status(root: &Path) -> Result<Option<(LocalCluster, bool)>> {
    Ok(read_state(root)?.map(|cluster| {
        let running = is_running(&cluster);
        (cluster, running)
    }))
}

/// Stop the cluster recorded at `root` (`pg_ctl stop -m fast`); `Ok(false)` if nothing was running.
pub fn stop(root: &Path) -> Result<bool> {
    if !root.join(STATE_FILE).exists() {
        return Ok(false);
    }
    let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let _lock = DirLock::acquire(&root)?;
    let Some(cluster) = read_state(&root)? else {
        return Ok(false);
    };
    if !is_running(&cluster) {
        return Ok(false);
    }
    let run_as = RunAs::detect()?;
    let mut cmd = run_as.command(&cluster.bin_dir.join("pg_ctl"));
    cmd.args(["stop", "-s", "-m", "fast", "-w", "-t", "120", "-D"])
        .arg(&cluster.data_dir);
    run(
        cmd,
        "stopping the local PostgreSQL server",
        &format!(
            "see the server log {}; if it hangs, stop the postgres process \
             whose pid is on the first line of {}",
            cluster.log_file().display(),
            cluster.data_dir.join("postmaster.pid").display()
        ),
    )
    .map_err(|e| with_log_tail(e, &cluster))?;
    Ok(true)
}

/// The environment variable that moves the embedded cluster's root.
pub const HOME_ENV: &str = "FINSEED_HOME";

/// The embedded cluster's root for this user: `$FINSEED_HOME`, else `$XDG_DATA_HOME/finseed`,
/// else `$HOME/.local/share/finseed` (relative values are ignored, as the XDG spec says).
pub fn default_root() -> Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = var(HOME_ENV) {
        return Ok(home);
    }
    if let Some(xdg) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("finseed"));
    }
    if let Some(home) = var("HOME").filter(|p| p.is_absolute()) {
        return Ok(home.join(".local/share/finseed"));
    }
    Err(Error::Usage(format!(
        "cannot tell where finseed's embedded PostgreSQL lives: neither {HOME_ENV}, XDG_DATA_HOME \
         nor HOME is set\n  fix: set {HOME_ENV} to a directory for it, or pass --database-url / \
         DATABASE_URL"
    )))
}

/// Whether a cluster has been created at `root` (its record exists).
pub fn exists(root: &Path) -> bool {
    root.join(STATE_FILE).is_file()
}

/// A registration of this process as a user of the cluster at `root`, for throwaway clusters
/// shared by concurrent processes (test binaries): `<root>/leases/<pid>`. [`Lease::release`]
/// removes it and stops the cluster when no other live process holds a lease.
#[derive(Debug)]
pub struct Lease {
    root: PathBuf,
    file: PathBuf,
}

impl Lease {
    /// Start (or reuse) the cluster at `root` and register this process as using it.
    pub fn acquire(root: &Path) -> Result<(LocalCluster, Lease)> {
        // The lease comes first: a process releasing its own lease meanwhile then sees this one
        // and leaves the cluster running (or stops it first, and ensure_running starts it again).
        let dir = root.join(LEASE_DIR);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        let file = root.join(LEASE_DIR).join(std::process::id().to_string());
        write_file(&file, "")?;
        let lease = Lease { root, file };
        let cluster = ensure_running(&lease.root)?;
        Ok((cluster, lease))
    }

    /// Drop this process's lease; stop the cluster if no other live process holds one.
    /// Returns whether it stopped the cluster.
    pub fn release(&self) -> Result<bool> {
        let _ = fs::remove_file(&self.file);
        let dir = self.root.join(LEASE_DIR);
        let others = fs::read_dir(&dir)
            .map(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let alive = name.parse::<u32>().is_ok_and(|pid| {
                        !Path::new("/proc/self").exists()
                            || Path::new(&format!("/proc/{pid}")).exists()
                    });
                    if !alive {
                        let _ = fs::remove_file(e.path());
                    }
                    alive
                })
            })
            .unwrap_or(false);
        if others {
            return Ok(false);
        }
        stop(&self.root)
    }
}

// ---------------------------------------------------------------------------------------------
// Creating and starting

/// Decide where a new cluster lives.
fn plan(root: &Path, run_as: RunAs) -> Result<LocalCluster> {
    let bin_dir = find_binaries()?;
    let base = choose_base(root, run_as)?;
    let socket_dir = {
        let dir = base.join("pgsock");
        // sun_path holds 107 bytes; the server puts `.s.PGSQL.NNNNN.lock` there.
        if dir.as_os_str().len() + "/.s.PGSQL.65535.lock".len() < 100 {
            dir
        } else {
            fallback_base(root, run_as)?.join("pgsock")
        }
    };
    Ok(LocalCluster {
        data_dir: base.join("pgdata"),
        port: free_port()?,
        bin_dir,
        socket_dir,
    })
}

/// `<root>` if the server's user can reach it, else `/var/tmp/finseed-<hash>/`.
fn choose_base(root: &Path, run_as: RunAs) -> Result<PathBuf> {
    if run_as.0.is_none() {
        return Ok(root.to_path_buf());
    }
    // Our own state directory: let others traverse it (not list it), whatever the umask was.
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    let mode = meta.permissions().mode();
    if mode & 0o001 == 0 {
        fs::set_permissions(root, fs::Permissions::from_mode((mode | 0o001) & 0o7777))
            .map_err(|e| Error::io(root, e))?;
    }
    if run_as.can_traverse(root) {
        Ok(root.to_path_buf())
    } else {
        fallback_base(root, run_as)
    }
}

/// `/var/tmp/finseed-<hash of root>/`, created if needed, refusing anything not ours.
fn fallback_base(root: &Path, run_as: RunAs) -> Result<PathBuf> {
    let base = PathBuf::from(format!(
        "/var/tmp/finseed-{:016x}",
        fnv1a(root.as_os_str().as_encoded_bytes())
    ));
    match fs::create_dir(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(&base, e)),
    }
    let meta = fs::symlink_metadata(&base).map_err(|e| Error::io(&base, e))?;
    use std::os::unix::fs::MetadataExt;
    if !meta.is_dir() || meta.uid() != effective_uid() {
        return Err(Error::Failed(format!(
            "{} is not a directory owned by the current user, so it cannot hold the local \
             PostgreSQL cluster for {}\n  fix: remove {0}, or pass --database-url / DATABASE_URL",
            base.display(),
            root.display()
        )));
    }
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(&base, e))?;
    if !run_as.can_traverse(&base) {
        return Err(Error::Failed(format!(
            "the `{OS_USER}` OS user cannot reach {} (nor {})\n  fix: make the parent \
             directories traversable (`chmod o+x`), run finseed as a non-root user, or pass \
             --database-url / DATABASE_URL",
            root.display(),
            base.display()
        )));
    }
    Ok(base)
}

/// initdb into `<data_dir>.init`, configure, then rename into place, so a `PG_VERSION` in
/// `data_dir` always means a complete cluster.
fn init_cluster(cluster: &LocalCluster, run_as: RunAs) -> Result<()> {
    let data = &cluster.data_dir;
    if data.exists() {
        return Err(Error::Failed(format!(
            "{} exists but is not a PostgreSQL data directory (no PG_VERSION)\n  fix: remove it \
             (and {}) to create a fresh local cluster",
            data.display(),
            cluster.log_file().display()
        )));
    }
    let base = base_of(data);
    fs::create_dir_all(base).map_err(|e| Error::io(base, e))?;
    let mut staging_name = data.file_name().unwrap_or_default().to_os_string();
    staging_name.push(".init");
    let staging = data.with_file_name(staging_name);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
    fs::set_permissions(&staging, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(&staging, e))?;
    run_as.chown(&staging)?;

    let mut cmd = run_as.command(&cluster.bin_dir.join("initdb"));
    cmd.arg("--pgdata")
        .arg(&staging)
        .args([
            &format!("--username={SUPERUSER}"),
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=trust",
        ])
        .env("LC_ALL", "C");
    run(
        cmd,
        "creating the local PostgreSQL cluster (initdb)",
        &format!(
            "fix the cause above, or {FIX_NO_SERVER}; {} is removed and recreated on the next try",
            staging.display()
        ),
    )?;

    let hba = staging.join("pg_hba.conf");
    write_file(
        &hba,
        "# Written by finseed. The server listens on 127.0.0.1 only; no passwords.\n\
         # TYPE  DATABASE  USER  ADDRESS       METHOD\n\
         local   all       all                 trust\n\
         host    all       all   127.0.0.1/32  trust\n",
    )?;
    let conf = staging.join("postgresql.conf");
    let mut text = fs::read_to_string(&conf).map_err(|e| Error::io(&conf, e))?;
    text.push_str(&format!(
        "\n# finseed: its settings, rewritten at every start\ninclude '{CONF_FILE}'\n"
    ));
    write_file(&conf, &text)?;
    run_as.chown(&hba)?;
    run_as.chown(&conf)?;
    fs::rename(&staging, data).map_err(|e| Error::io(data, e))
}

/// Start the server, first moving it to a new port if something else has taken its own.
fn start_on_free_port(root: &Path, cluster: &mut LocalCluster, run_as: RunAs) -> Result<()> {
    let waiting = Instant::now();
    while postmaster(cluster) == Postmaster::Zombie {
        if waiting.elapsed() > READY_TIMEOUT {
            return Err(Error::Failed(format!(
                "the previous server of {} was killed but its process has not been reaped after                  {}s, so a new one cannot start yet
  fix: try again shortly",
                cluster.data_dir.display(),
                READY_TIMEOUT.as_secs()
            )));
        }
        sleep(Duration::from_millis(100));
    }
    if !port_is_free(cluster.port) {
        cluster.port = free_port()?;
        write_state(root, cluster)?;
    }
    start(cluster, run_as)
}

/// `pg_ctl start`, after (re)writing the settings and the runtime directories.
fn start(cluster: &LocalCluster, run_as: RunAs) -> Result<()> {
    fs::create_dir_all(&cluster.socket_dir).map_err(|e| Error::io(&cluster.socket_dir, e))?;
    fs::set_permissions(&cluster.socket_dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(&cluster.socket_dir, e))?;
    run_as.chown(&cluster.socket_dir)?;
    let log = cluster.log_file();
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| Error::io(&log, e))?;
    run_as.chown(&log)?;
    if let Some((uid, _)) = run_as.0 {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(&cluster.data_dir).map_err(|e| Error::io(&cluster.data_dir, e))?;
        if meta.uid() != uid {
            run_as.chown_tree(&cluster.data_dir)?;
        }
    }
    let conf = cluster.data_dir.join(CONF_FILE);
    write_file(&conf, &server_settings(cluster))?;
    run_as.chown(&conf)?;

    let mut cmd = run_as.command(&cluster.bin_dir.join("pg_ctl"));
    cmd.args(["start", "-s", "-w", "-t"])
        .arg(RECOVERY_TIMEOUT.as_secs().to_string())
        .arg("-D")
        .arg(&cluster.data_dir)
        .arg("-l")
        .arg(&log);
    run(
        cmd,
        "starting the local PostgreSQL server",
        &format!(
            "see the server log {} for the reason; to start over, stop any server \
             still running there and remove {}",
            log.display(),
            base_of(&cluster.data_dir).display()
        ),
    )
    .map_err(|e| with_log_tail(e, cluster))?;
    Ok(())
}

/// The contents of `finseed.conf`: bulk-load tuning for a 2-core, 24 GiB machine (memory
/// settings shrink on smaller machines).
fn server_settings(cluster: &LocalCluster) -> String {
    const MIB: u64 = 1 << 20;
    let mem_mib = memory_bytes().map(|b| b / MIB);
    let shared_buffers = mem_mib.map_or(2048, |m| (m / 4).clamp(128, 2048));
    let maintenance = mem_mib.map_or(1024, |m| (m / 16).clamp(64, 1024));
    let mut s = format!(
        "# Written by finseed at every start; edits are overwritten.\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{socket}'\n\
         shared_buffers = {shared_buffers}MB\n\
         max_wal_size = 16GB\n\
         checkpoint_timeout = 30min\n\
         synchronous_commit = off\n\
         fsync = on\n\
         maintenance_work_mem = {maintenance}MB\n\
         max_parallel_maintenance_workers = 2\n\
         wal_level = minimal\n\
         max_wal_senders = 0\n",
        port = cluster.port,
        socket = cluster.socket_dir.display().to_string().replace('\'', "''"),
    );
    if has_pg_stat_statements(&cluster.bin_dir) {
        s.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
    }
    s
}

/// Whether the installation ships pg_stat_statements (control file and library); false if unsure.
fn has_pg_stat_statements(bin_dir: &Path) -> bool {
    let pg_config = bin_dir.join("pg_config");
    let ask = |flag: &str| -> Option<PathBuf> {
        let out = Command::new(&pg_config)
            .arg(flag)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| PathBuf::from(text.trim()))
    };
    match (ask("--sharedir"), ask("--pkglibdir")) {
        (Some(share), Some(lib)) => {
            share
                .join("extension")
                .join("pg_stat_statements.control")
                .is_file()
                && lib.join("pg_stat_statements.so").is_file()
        }
        _ => false,
    }
}

/// Total memory, bounded by a cgroup v2 limit if there is one.
fn memory_bytes() -> Option<u64> {
    let total = fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    })?;
    let limit = fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    Some(limit.map_or(total, |l| l.min(total)))
}

/// Poll `pg_isready` until the server accepts connections.
fn wait_ready(cluster: &LocalCluster) -> Result<()> {
    let started = Instant::now();
    let port = cluster.port.to_string();
    loop {
        let code = Command::new(tool(&cluster.bin_dir, "pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port, "-U", SUPERUSER])
            .args(["-d", "postgres", "-t", "5"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| {
                Error::Failed(format!(
                    "could not run pg_isready: {e}\n  fix: install the PostgreSQL client tools \
                     (e.g. `apt-get install postgresql-client`)"
                ))
            })?
            .code();
        let waited = started.elapsed();
        let (give_up, what) = match code {
            Some(0) => return Ok(()),
            // The server answers but rejects connections: starting up or recovering.
            Some(1) => (waited > RECOVERY_TIMEOUT, "is still starting up"),
            _ if !is_running(cluster) => (true, "is not running"),
            _ => (waited > READY_TIMEOUT, "does not answer"),
        };
        if give_up {
            return Err(with_log_tail(
                Error::Failed(format!(
                    "the local PostgreSQL server on 127.0.0.1:{port} {what} after {}s\n  fix: see \
                     the server log {}",
                    waited.as_secs(),
                    cluster.log_file().display()
                )),
                cluster,
            ));
        }
        sleep(Duration::from_millis(200));
    }
}

fn ensure_database(cluster: &LocalCluster) -> Result<()> {
    let exists = psql(
        cluster,
        &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"),
    )?;
    if exists.trim() == "1" {
        return Ok(());
    }
    match psql(cluster, &format!("CREATE DATABASE {DATABASE}")) {
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        other => other.map(drop),
    }
}

/// Run one statement in database `postgres` over loopback; returns unaligned tuples-only output.
fn psql(cluster: &LocalCluster, sql: &str) -> Result<String> {
    let mut cmd = Command::new(tool(&cluster.bin_dir, "psql"));
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={} user={SUPERUSER} dbname=postgres sslmode=disable \
             connect_timeout=10",
            cluster.port
        ))
        .args(["-c", sql]);
    let out = run(
        cmd,
        &format!("psql `{sql}` on the local PostgreSQL server"),
        &format!("see the server log {}", cluster.log_file().display()),
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---------------------------------------------------------------------------------------------
// State, ports, processes

fn read_state(root: &Path) -> Result<Option<LocalCluster>> {
    let path = root.join(STATE_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Failed(format!(
            "{}: not a valid finseed cluster record: {e}\n  fix: delete it; the next run finds \
             the cluster's data directory again or creates a new one",
            path.display()
        ))
    })
}

fn write_state(root: &Path, cluster: &LocalCluster) -> Result<()> {
    let path = root.join(STATE_FILE);
    let tmp = root.join(format!("{STATE_FILE}.{}.tmp", std::process::id()));
    let mut text = serde_json::to_string_pretty(cluster)
        .map_err(|e| Error::Failed(format!("cannot encode {}: {e}", path.display())))?;
    text.push('\n');
    write_file(&tmp, &text)?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// A free TCP port on 127.0.0.1, as the kernel picks one.
fn free_port() -> Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| {
            Error::Failed(format!(
                "cannot find a free TCP port on 127.0.0.1: {e}\n  fix: check the loopback \
                 interface, or pass --database-url / DATABASE_URL"
            ))
        })
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Whether the postmaster named in `postmaster.pid` is alive (Linux `/proc`), falling back to
/// `pg_ctl status` where there is no `/proc`.
fn is_running(cluster: &LocalCluster) -> bool {
    postmaster(cluster) == Postmaster::Alive
}

#[derive(Debug, PartialEq, Eq)]
enum Postmaster {
    Alive,
    /// Killed but not yet reaped: a killed postmaster is reparented to init, which may reap it
    /// late, and until then a new server refuses to start on its data directory.
    Zombie,
    Gone,
}

fn postmaster(cluster: &LocalCluster) -> Postmaster {
    let alive = |yes: bool| {
        if yes {
            Postmaster::Alive
        } else {
            Postmaster::Gone
        }
    };
    let pid_file = cluster.data_dir.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else {
        // Missing (stopped), or unreadable: then ask pg_ctl as the owner.
        return alive(pid_file.exists() && pg_ctl_status(cluster));
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return Postmaster::Gone;
    };
    if !Path::new("/proc/self").exists() {
        return alive(pg_ctl_status(cluster));
    }
    // A stale pid file (crash, reboot) may name a recycled pid: check it is a postgres.
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Postmaster::Gone;
    };
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return Postmaster::Gone;
    };
    let comm = &stat[open + 1..close.max(open + 1)];
    let state = stat[close + 1..].split_whitespace().next().unwrap_or("");
    match (comm, state) {
        ("postgres" | "postmaster", "Z" | "X" | "x") => Postmaster::Zombie,
        ("postgres" | "postmaster", _) => Postmaster::Alive,
        _ => Postmaster::Gone,
    }
}

fn pg_ctl_status(cluster: &LocalCluster) -> bool {
    let Ok(run_as) = RunAs::detect() else {
        return false;
    };
    let mut cmd = run_as.command(&cluster.bin_dir.join("pg_ctl"));
    cmd.args(["status", "-D"])
        .arg(&cluster.data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

/// Run a command to completion, capturing its output; a failure says what was attempted, what it
/// printed, and `fix`.
fn run(mut cmd: Command, what: &str, fix: &str) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            Error::Failed(format!(
                "{what}: cannot run {}: {e}\n  fix: {fix}",
                cmd.get_program().to_string_lossy()
            ))
        })?;
    if out.status.success() {
        return Ok(out);
    }
    let mut printed = String::from_utf8_lossy(&out.stderr).into_owned();
    printed.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(Error::Failed(format!(
        "{what} failed ({}):\n{}\n  fix: {fix}",
        out.status,
        indent(printed.trim_end())
    )))
}

/// Append the last lines of the server log to a `Failed` error.
fn with_log_tail(err: Error, cluster: &LocalCluster) -> Error {
    let Error::Failed(msg) = err else {
        return err;
    };
    let log = cluster.log_file();
    let Ok(text) = fs::read_to_string(&log) else {
        return Error::Failed(msg);
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    if tail.trim().is_empty() {
        return Error::Failed(msg);
    }
    Error::Failed(format!(
        "{msg}\n  last lines of {}:\n{}",
        log.display(),
        indent(&tail)
    ))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How server-side commands run: as ourselves, or (when we are root) as the `postgres` OS user,
/// whose uid and gid are kept for chown.
#[derive(Clone, Copy, Debug)]
struct RunAs(Option<(u32, u32)>);

impl RunAs {
    fn detect() -> Result<RunAs> {
        if effective_uid() != 0 {
            return Ok(RunAs(None));
        }
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id")
                .args([flag, OS_USER])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        };
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok(RunAs(Some((uid, gid)))),
            _ => Err(Error::Failed(format!(
                "finseed runs as root and PostgreSQL refuses to, but there is no `{OS_USER}` OS \
                 user to run it as\n  fix: install the PostgreSQL server package (it creates that \
                 user) or `useradd --system --home-dir /var/lib/postgresql {OS_USER}`, run finseed \
                 as a non-root user, or pass --database-url / DATABASE_URL"
            ))),
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = match self.0 {
            Some(_) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", OS_USER, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        // The server's user may not be able to enter our working directory.
        cmd.current_dir("/");
        cmd
    }

    /// Whether the server's user can search `dir` (which needs every ancestor searchable too).
    fn can_traverse(&self, dir: &Path) -> bool {
        if self.0.is_none() {
            return true;
        }
        let mut cmd = self.command(Path::new("test"));
        cmd.arg("-x")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().map(|s| s.success()).unwrap_or(false)
    }

    fn chown(&self, path: &Path) -> Result<()> {
        match self.0 {
            Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                .map_err(|e| Error::io(path, e)),
            None => Ok(()),
        }
    }

    fn chown_tree(&self, path: &Path) -> Result<()> {
        self.chown(path)?;
        let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            for entry in fs::read_dir(path).map_err(|e| Error::io(path, e))? {
                let entry = entry.map_err(|e| Error::io(path, e))?;
                self.chown_tree(&entry.path())?;
            }
        }
        Ok(())
    }
}

/// The effective uid, from `/proc/self/status` (or `id -u`); `u32::MAX` if unknown (not root).
fn effective_uid() -> u32 {
    let from_proc = fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|id| id.parse().ok())
    });
    from_proc
        .or_else(|| {
            let out = Command::new("id").arg("-u").output().ok()?;
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        })
        .unwrap_or(u32::MAX)
}

/// `<root>/lock`, created atomically; removed on drop (including unwinding).
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(root: &Path) -> Result<DirLock> {
        let path = root.join(LOCK_DIR);
        let started = Instant::now();
        loop {
            match fs::create_dir(&path) {
                Ok(()) => {
                    let pid = path.join("pid");
                    write_file(&pid, &std::process::id().to_string())?;
                    return Ok(DirLock(path));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if lock_is_stale(&path) {
                        // Its owner died holding it. (Two waiters may both see that and race;
                        // the worst case is two processes starting the same cluster at once, which
                        // pg_ctl itself refuses for the second.)
                        let _ = fs::remove_dir_all(&path);
                        continue;
                    }
                    if started.elapsed() > LOCK_TIMEOUT {
                        return Err(Error::Failed(format!(
                            "waited {}s for {} held by another finseed process\n  fix: if no \
                             finseed process is running, remove that directory",
                            started.elapsed().as_secs(),
                            path.display()
                        )));
                    }
                    sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn lock_is_stale(path: &Path) -> bool {
    let owner = fs::read_to_string(path.join("pid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match owner {
        Some(pid) if Path::new("/proc/self").exists() => {
            !Path::new(&format!("/proc/{pid}")).exists()
        }
        // No readable owner yet: only a crash between mkdir and writing it leaves that for long.
        _ => fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > LOCK_ORPHAN_AGE),
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn base_of(data_dir: &Path) -> &Path {
    data_dir.parent().unwrap_or(data_dir)
}

fn is_server_bin_dir(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// A PostgreSQL tool from the server's bin dir, else from PATH.
fn tool(bin_dir: &Path, name: &str) -> PathBuf {
    let path = bin_dir.join(name);
    if path.is_file() {
        path
    } else {
        PathBuf::from(name)
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// "15" -> [15], "9.6" -> [9, 6]; None if not a version.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// FNV-1a, 64 bit: a hash that is stable across Rust versions, for directory names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_has_no_password_and_names_finseed() {
        let c = LocalCluster {
            data_dir: "/x/pgdata".into(),
            port: 54321,
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            socket_dir: "/x/pgsock".into(),
        };
        assert_eq!(c.url(), "postgres://postgres@127.0.0.1:54321/finseed");
        assert_eq!(c.log_file(), PathBuf::from("/x/postgres.log"));
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("common"), None);
        assert!(parse_version("9.6") < parse_version("10"));
    }

    #[test]
    fn fnv1a_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
