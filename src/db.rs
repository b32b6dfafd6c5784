//! Connections to PostgreSQL: TLS when the URL asks for it, retries with backoff for transient
//! failures, and connection strings that never show a password.

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config};

/// Passwords this process has seen (in a URL, `PGPASSWORD`, a passfile): [`redact`] masks them
/// wherever they appear, also in a server's or driver's message that echoes them.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Secrets shorter than this are masked only where their position shows them (after
/// `password=`, in a URL's user info), so a one-letter password does not mangle every message.
const MIN_SECRET_LEN: usize = 3;

/// Remember a password so that [`redact`] masks it anywhere, in its plain and percent-encoded
/// forms.
pub fn register_secret(secret: &str) {
    if secret.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let mut known = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    for form in [secret.to_string(), percent_encode(secret)] {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first, so a secret holding another is masked whole.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Register every password written in `text` (URL user info, `password=` / `sslpassword=` in a
/// query string or key=value form), raw and decoded.
fn register_secrets_in(text: &str) {
    for (start, end) in secret_spans(text) {
        let raw = &text[start..end];
        register_secret(raw);
        let inner = raw
            .strip_prefix('\'')
            .map(|r| r.strip_suffix('\'').unwrap_or(r))
            .unwrap_or(raw);
        register_secret(inner);
        register_secret(&unescape_quoted(inner));
        register_secret(&percent_decode(raw));
    }
}

/// Secrets from the environment and the command line, known before anything is parsed:
/// `PGPASSWORD`, `DATABASE_URL` and any argument holding a connection string.
pub fn register_process_secrets() {
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        register_secret(&pw);
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        register_secrets_in(&url);
    }
    for arg in std::env::args_os() {
        register_secrets_in(&arg.to_string_lossy());
    }
}

/// Byte ranges of `text` that hold a password: a URL's password (after the user name, up to
/// the last `@` of the URL, so an unencoded `@` or `:` in it is covered) and the value of
/// `password=` or `sslpassword=` (single-quoted with spaces and `\'`, or up to a space or `&`).
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    // URL user info: scheme://user:password@host
    let mut from = 0;
    while let Some(i) = text[from..].find("://").map(|i| from + i) {
        let start = i + 3;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || c == '"')
            .map_or(text.len(), |j| start + j);
        if let Some(at) = text[start..end].rfind('@').map(|j| start + j) {
            if let Some(colon) = text[start..at].find(':').map(|j| start + j) {
                if colon + 1 < at {
                    spans.push((colon + 1, at));
                }
            }
        }
        from = end.max(start);
    }
    // password=value, sslpassword=value (any case, spaces around `=` as libpq allows)
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password").map(|i| from + i) {
        from = i + "password".len();
        let mut key_start = i;
        for prefix in ["ssl", "pg"] {
            if lower[..key_start].ends_with(prefix) {
                key_start -= prefix.len();
            }
        }
        let boundary = key_start == 0
            || matches!(
                b[key_start - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'?' | b'&' | b';' | b',' | b'(' | b'"' | b'\''
            );
        if !boundary {
            continue;
        }
        let mut j = from;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j >= b.len() || b[j] != b'=' {
            continue;
        }
        j += 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let value_start = j;
        if j < b.len() && b[j] == b'\'' {
            j += 1;
            while j < b.len() && b[j] != b'\'' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j = (j + 1).min(b.len());
        } else {
            while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'&' {
                j += 1;
            }
        }
        if j > value_start {
            spans.push((value_start, j));
        }
        from = j.max(from);
    }
    spans
}

/// Text with every password masked as `***`: those written in it (see [`secret_spans`]) and
/// every password this process knows of ([`register_secret`]). Use it on any text that leaves
/// the process and may hold a connection string or a server's message.
pub fn redact(text: &str) -> String {
    let mut spans = secret_spans(text);
    spans.sort();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if end <= at {
            continue;
        }
        out.push_str(&text[at..start.max(at)]);
        out.push_str("***");
        at = end;
    }
    out.push_str(&text[at..]);
    let known = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Panics print through [`redact`]: a panic message that holds a connection string, or a
/// password known to the process, never shows it. Call once, first thing in `main`.
pub fn install_redacting_panic_hook() {
    register_process_secrets();
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let mut text = format!("thread '{name}' panicked{place}:\n{msg}\n");
        match std::env::var("RUST_BACKTRACE").as_deref() {
            Ok("0") | Err(_) => text.push_str(
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            ),
            Ok(_) => {
                let _ = writeln!(text, "{}", std::backtrace::Backtrace::force_capture());
            }
        }
        eprint!("{}", redact(&text));
    }));
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

/// A single-quoted key=value value without its backslash escapes.
fn unescape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// libpq's passfile (`PGPASSFILE`, else `~/.pgpass`): the password of the first line matching
/// host, port, database and user (`*` matches anything; `\:` and `\\` escape). Like libpq, a
/// file readable by group or others is ignored.
fn passfile_password(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let path = match std::env::var_os("PGPASSFILE") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
    };
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let ok = |f: &str, v: &str| f == "*" || f == v;
        if ok(&fields[0], host)
            && ok(&fields[1], &port)
            && ok(&fields[2], database)
            && ok(&fields[3], user)
        {
            return Some(fields.pop().expect("five fields"));
        }
    }
    None
}

/// A TLS verifier that accepts any certificate: libpq's `sslmode=require` (encrypt, do not
/// verify). `verify-full` uses the web PKI roots instead.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS connector: verifying against `roots` (the web PKI when `None`) or accepting any
/// certificate when `verify` is false.
fn tls(
    verify: bool,
    roots: Option<rustls::RootCertStore>,
) -> tokio_postgres_rustls::MakeRustlsConnect {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let config = if verify {
        let roots = roots.unwrap_or_else(|| rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    };
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// Parsed connection settings plus the TLS connector they call for.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    /// For messages: the URL without its password.
    pub shown: String,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// How long a control round trip may go unanswered ([`Target::ask`]), and what sets it.
    stall: Duration,
    stall_by: &'static str,
}

/// The limit on a control round trip unless a command sets one (`--stall-timeout`).
pub const DEFAULT_CONTROL_LIMIT: Duration = Duration::from_secs(60);

/// Removes `key=value` from a connection string (URL query or key=value form) and returns the
/// string without it and the value (percent-decoded in a URL). tokio-postgres refuses
/// parameters it does not know, such as libpq's `sslrootcert`.
fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let is_url = url.contains("://");
    let pat = format!("{key}=");
    let mut search = 0;
    while let Some(i) = url[search..].find(&pat).map(|i| search + i) {
        let boundary = i == 0 || matches!(url.as_bytes()[i - 1], b'?' | b'&' | b' ');
        if !boundary {
            search = i + pat.len();
            continue;
        }
        let start = i + pat.len();
        let end = url[start..]
            .find(if is_url { '&' } else { ' ' })
            .map_or(url.len(), |j| start + j);
        let raw = &url[start..end];
        let value = if is_url {
            percent_decode(raw)
        } else {
            raw.to_string()
        };
        // Drop the parameter with one separator, keeping the rest well formed.
        let mut rest = String::from(&url[..i]);
        let tail = &url[end..];
        if tail.is_empty() {
            while rest.ends_with(['&', '?', ' ']) {
                rest.pop();
            }
        } else {
            rest.push_str(&tail[1..]);
        }
        return (rest, Some(value));
    }
    (url.to_string(), None)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Ok(v) = u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The certificates of a PEM file named by `sslrootcert`, as trust roots.
fn load_roots(path: &str) -> Result<rustls::RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bad = |why: String| {
        Error::Usage(format!(
            "--database-url: sslrootcert={path}: {why}\n  fix: point sslrootcert at the PEM file \
             of the certificate authority that signed the server's certificate"
        ))
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the file".to_string()));
    }
    Ok(roots)
}

/// How long to wait for a server to accept a connection and finish the startup handshake,
/// unless the URL sets `connect_timeout` (seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalive probes: a peer that vanished (host down, packets dropped) is noticed within
/// about idle + interval × retries = 25 s instead of the system's two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
/// Data sent but not acknowledged for this long (a cut link during COPY) fails the connection.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Connection attempts for transient failures (refused, reset, server starting up).
const CONNECT_ATTEMPTS: u32 = 6;

enum ConnectFailure {
    Pg(tokio_postgres::Error),
    /// No answer within the connect timeout (TCP connect, TLS and startup included).
    Timeout(Duration),
    /// Logged in, but a first trivial query got no answer (a pooler whose server is gone, a
    /// stuck server).
    Silent(Duration),
}

/// How long a new connection's first trivial query may wait: six connect timeouts (a minute by
/// default), leaving a busy pooler time to hand out a server connection.
const PROBE_TIMEOUTS: u32 = 6;

fn timed_out(e: &tokio_postgres::Error) -> bool {
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::TimedOut;
        }
        src = inner.source();
    }
    false
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        register_secrets_in(url);
        let env_password = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty());
        if let Some(pw) = &env_password {
            register_secret(pw);
        }
        let shown = redact(url);
        // tokio-postgres knows disable/prefer/require; verify-ca/verify-full mean "require and
        // check the certificate", which the TLS connector does.
        let verify = url.contains("sslmode=verify-full") || url.contains("sslmode=verify-ca");
        let (url, root_file) = take_param(url, "sslrootcert");
        // libpq's `sslrootcert=system` means the system's trusted roots: the web PKI here.
        let roots = match root_file.as_deref() {
            None | Some("system") => None,
            Some(path) => Some(load_roots(path)?),
        };
        let normalised = url
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        let mut config = Config::from_str(&normalised).map_err(|e| {
            Error::Usage(format!(
                "--database-url: cannot parse {shown}: {}\n  fix: use postgres://user:password@host:port/database[?sslmode=require]",
                redact(&e.to_string())
            ))
        })?;
        if config.get_dbname().is_none() {
            config.dbname("postgres");
        }
        // Like libpq: no password in the URL means PGPASSWORD, else the passfile.
        match config.get_password() {
            Some(pw) => register_secret(&String::from_utf8_lossy(pw)),
            None => {
                let host = match config.get_hosts().first() {
                    Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                    _ => "localhost".to_string(),
                };
                let port = config.get_ports().first().copied().unwrap_or(5432);
                let user = config.get_user().unwrap_or_default().to_string();
                let db = config.get_dbname().unwrap_or("postgres").to_string();
                if let Some(pw) = env_password
                    .clone()
                    .or_else(|| passfile_password(&host, port, &db, &user))
                {
                    register_secret(&pw);
                    config.password(pw);
                }
            }
        }
        config.application_name("finseed");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        config.keepalives(true);
        if config.get_keepalives_idle() > KEEPALIVE_IDLE {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(KEEPALIVE_INTERVAL);
        }
        if config.get_keepalives_retries().is_none() {
            config.keepalives_retries(KEEPALIVE_RETRIES);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        Ok(Target {
            config,
            shown,
            tls: tls(verify, roots),
            stall: DEFAULT_CONTROL_LIMIT,
            stall_by: "finseed's fixed limit on control queries",
        })
    }

    /// The same server, user and settings, another database.
    pub fn with_database(&self, name: &str) -> Target {
        let mut t = self.clone();
        let old = self.database();
        t.config.dbname(name);
        t.shown = match self.shown.find("://") {
            Some(i) => {
                let (main, query) = self
                    .shown
                    .split_at(self.shown.find('?').unwrap_or(self.shown.len()));
                let head = match main[i + 3..].find('/') {
                    Some(j) => &main[..i + 3 + j],
                    None => main,
                };
                format!("{head}/{name}{query}")
            }
            None if self.shown.contains(&format!("dbname={old}")) => self
                .shown
                .replace(&format!("dbname={old}"), &format!("dbname={name}")),
            None => format!("{} dbname={name}", self.shown),
        };
        t
    }

    pub fn database(&self) -> String {
        self.config.get_dbname().unwrap_or("postgres").to_string()
    }

    /// This target with control round trips bounded by `limit`, set by the option `by`
    /// (`--stall-timeout`).
    pub fn with_stall(mut self, limit: Duration, by: &'static str) -> Target {
        self.stall = limit;
        self.stall_by = by;
        self
    }

    /// The limit on a control round trip.
    pub fn stall(&self) -> Duration {
        self.stall
    }

    /// One control round trip (a check, a lock, a catalog or ledger query: statements that
    /// answer at once on a healthy server): `fut` bounded by the stall limit. A server, or a
    /// path to it, that goes silent fails it with `what` (the step that waited), how long it
    /// waited and the fix, instead of hanging the command.
    pub async fn ask<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.stall, fut).await {
            Ok(r) => r.map_err(|e| self.error(what, &e)),
            Err(_) => Err(self.silent(what)),
        }
    }

    /// Whether the search path resolves `table` (a control round trip).
    pub async fn has_table(
        &self,
        c: &impl tokio_postgres::GenericClient,
        table: &str,
    ) -> Result<bool> {
        Ok(self
            .ask(
                "cannot inspect tables",
                c.query_typed_one(
                    "SELECT to_regclass($1) IS NOT NULL",
                    &[(&table, tokio_postgres::types::Type::TEXT)],
                ),
            )
            .await?
            .get(0))
    }

    /// The error of a control round trip that got no answer within the stall limit.
    pub fn silent(&self, what: &str) -> Error {
        Error::Db(format!(
            "{what} ({}): timeout: no answer from the server within {} s ({}); the server, or the network path to it, stopped answering, or a lock held by another session kept the statement waiting\n  fix: check the server and the path to it (pg_stat_activity shows what each session runs and waits for), then run the same command again{}",
            self.shown,
            self.stall.as_secs_f64(),
            self.stall_by,
            if self.stall_by.starts_with("--") {
                format!("; raise {} if the server is just slow", self.stall_by)
            } else {
                String::new()
            }
        ))
    }

    /// The connect timeout in force (the URL's `connect_timeout` or the default).
    pub fn connect_timeout(&self) -> Duration {
        self.config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    /// Connect once, bounded in time as a whole (TCP, TLS, startup and authentication): a
    /// server that accepts the connection and never answers fails after the connect timeout.
    async fn connect_once(&self) -> std::result::Result<Client, ConnectFailure> {
        let limit = self.connect_timeout() * (self.config.get_hosts().len().max(1) as u32);
        let attempt = async {
            let (client, conn) = match self.config.get_ssl_mode() {
                SslMode::Disable => {
                    let (c, conn) = self.config.connect(tokio_postgres::NoTls).await?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    return Ok(c);
                }
                _ => self.config.connect(self.tls.clone()).await?,
            };
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        };
        let client = match tokio::time::timeout(limit, attempt).await {
            Err(_) => return Err(ConnectFailure::Timeout(limit)),
            Ok(Err(e)) if timed_out(&e) => return Err(ConnectFailure::Timeout(limit)),
            Ok(r) => r.map_err(ConnectFailure::Pg)?,
        };
        // A server (or pooler) that logs us in and then answers nothing would otherwise hang
        // the first real query forever.
        let probe = self.connect_timeout() * PROBE_TIMEOUTS;
        match tokio::time::timeout(probe, client.simple_query("SELECT 1")).await {
            Err(_) => Err(ConnectFailure::Silent(probe)),
            Ok(Err(e)) => Err(ConnectFailure::Pg(e)),
            Ok(Ok(_)) => Ok(client),
        }
    }

    /// Connect, retrying transient failures (refused, reset, starting up) with backoff and
    /// saying so; a server that does not answer within the connect timeout is not retried.
    pub async fn connect(&self) -> Result<Client> {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=CONNECT_ATTEMPTS {
            match self.connect_once().await {
                Ok(c) => return Ok(c),
                Err(ConnectFailure::Timeout(limit)) => {
                    return Err(Error::Db(format!(
                        "cannot connect ({}): timeout: no answer from the server within {} s (connect_timeout)\n  fix: check that host and port are a reachable PostgreSQL server, or raise connect_timeout=SECONDS in the URL",
                        self.shown,
                        limit.as_secs_f64()
                    )))
                }
                Err(ConnectFailure::Silent(limit)) => {
                    return Err(Error::Db(format!(
                        "cannot use the connection ({}): timeout: the server logged us in but answered no query within {} s (six times connect_timeout)\n  fix: check the server (a pooler in front of a server that is down, or a stuck server: see pg_stat_activity), or raise connect_timeout=SECONDS in the URL",
                        self.shown,
                        limit.as_secs_f64()
                    )))
                }
                Err(ConnectFailure::Pg(e)) if attempt < CONNECT_ATTEMPTS && transient(&e) => {
                    eprintln!(
                        "finseed: cannot connect ({}), attempt {attempt} of {CONNECT_ATTEMPTS}: {}; waiting {:.1} s for the server before retrying",
                        self.shown,
                        redact(&detail(&e)),
                        delay.as_secs_f64()
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(ConnectFailure::Pg(e)) => return Err(self.error("cannot connect", &e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// A database error as a finseed error, naming the (redacted) target.
    pub fn error(&self, what: &str, e: &tokio_postgres::Error) -> Error {
        let mut msg = format!("{what} ({}): {}", self.shown, redact(&detail(e)));
        // 53100 disk_full: the server could not extend a file or write its WAL.
        if e.code().is_some_and(|c| c.code() == "53100") {
            msg.push_str("\n  fix: the database server's disk is full: free space on the volume that holds the database (or grow it), then run the same command again; the chunks already committed stay loaded");
        }
        Error::Db(msg)
    }
}

/// A driver error with its causes, or the server's severity and message.
pub fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

/// Errors worth retrying: the server is not there yet, restarting, or the link broke.
pub fn transient(e: &tokio_postgres::Error) -> bool {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 08* connection.
        return code.starts_with("08")
            || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01");
    }
    e.is_closed()
        || std::error::Error::source(e)
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
}

/// A single-threaded runtime for a command's few sequential round trips.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sslrootcert_is_taken_out_of_either_form() {
        let (u, v) = take_param(
            "postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
            "sslrootcert",
        );
        assert_eq!(
            u,
            "postgres://u:p@h/db?sslmode=verify-full&application_name=x"
        );
        assert_eq!(v.as_deref(), Some("/tmp/ca.pem"));
        let (u, v) = take_param(
            "postgres://h/db?sslmode=require&sslrootcert=/a b",
            "sslrootcert",
        );
        assert_eq!(
            (u.as_str(), v.as_deref()),
            ("postgres://h/db?sslmode=require", Some("/a b"))
        );
        let (u, v) = take_param("postgres://h/db?sslrootcert=/ca", "sslrootcert");
        assert_eq!((u.as_str(), v.as_deref()), ("postgres://h/db", Some("/ca")));
        let (u, v) = take_param("host=h sslrootcert=/ca.pem dbname=x", "sslrootcert");
        assert_eq!(
            (u.as_str(), v.as_deref()),
            ("host=h dbname=x", Some("/ca.pem"))
        );
        let (u, v) = take_param("host=h xsslrootcert=1", "sslrootcert");
        assert_eq!((u.as_str(), v), ("host=h xsslrootcert=1", None));
    }

    #[test]
    fn a_missing_root_file_is_a_usage_error_naming_it() {
        let e =
            Target::parse("postgres://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/no/such.pem")
                .err()
                .expect("refused");
        let msg = e.to_string();
        assert!(matches!(e, Error::Usage(_)), "{msg}");
        assert!(
            msg.contains("/no/such.pem") && msg.contains("fix:"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    /// Every way a password can be written, with the parts of it that must not show. The
    /// secrets are not registered first: these are masked by position alone.
    const FORMS: &[(&str, &[&str])] = &[
        (
            "postgres://bob:s3cr%40t@db.example.com:5432/app?sslmode=require",
            &["s3cr", "%40t"],
        ),
        (
            "postgres://bob:p@2Secret@127.0.0.1:5499/fs",
            &["p@2", "2Secret", "Secret"],
        ),
        ("postgresql://bob:pa:ss:wd@h/db", &["pa:ss", "ss:wd"]),
        ("postgres://bob:hunter2@[::1]:5432/db", &["hunter2"]),
        ("postgres://h/db?password=pw-q1&sslmode=require", &["pw-q1"]),
        (
            "postgres://h/db?sslmode=require&sslpassword=keypass9",
            &["keypass9"],
        ),
        ("postgres://u@h/db?PASSWORD=UpperPw", &["UpperPw"]),
        ("host=h user=bob password=hunter2 dbname=x", &["hunter2"]),
        (
            "host=127.0.0.1 user=carol password='two words pw' dbname=fs",
            &["two", "words", "pw'"],
        ),
        (
            r"host=h password='it\'s a \'secret\'' dbname=x",
            &["it", "secret"],
        ),
        ("host=h password = spaced dbname=x", &["spaced"]),
        ("host=h sslpassword='key pass' dbname=x", &["key pass"]),
        (
            "cannot connect (postgres://a:zz9top@h/d): error",
            &["zz9top"],
        ),
        ("PGPASSWORD=envpass1 finseed seed", &["envpass1"]),
    ];

    #[test]
    fn every_form_of_password_is_masked() {
        for (text, secrets) in FORMS {
            let shown = redact(text);
            for s in *secrets {
                assert!(!shown.contains(s), "{text:?} shows {s:?} as {shown:?}");
            }
            assert!(shown.contains("***"), "{text:?} -> {shown:?}");
        }
        // What is not a password stays readable.
        assert_eq!(
            redact("postgres://bob:s3cr%40t@db.example.com:5432/app?sslmode=require"),
            "postgres://bob:***@db.example.com:5432/app?sslmode=require"
        );
        assert_eq!(
            redact("host=127.0.0.1 user=carol password='two words pw' dbname=fs"),
            "host=127.0.0.1 user=carol password=*** dbname=fs"
        );
        assert_eq!(
            redact("postgres://bob:p@2Secret@127.0.0.1:5499/fs"),
            "postgres://bob:***@127.0.0.1:5499/fs"
        );
        assert_eq!(redact("postgres://bob@h/db"), "postgres://bob@h/db");
        assert_eq!(
            redact("password authentication failed for user \"bob\""),
            "password authentication failed for user \"bob\""
        );
    }

    #[test]
    fn known_passwords_are_masked_wherever_they_appear() {
        // A server or driver message that echoes the password without `password=` before it.
        let t = Target::parse("host=127.0.0.1 user=carol password='Echo Me 42' dbname=fs")
            .expect("parses");
        assert_eq!(t.shown, "host=127.0.0.1 user=carol password=*** dbname=fs");
        let echoed = "FATAL: role \"Echo Me 42\" does not exist";
        assert!(!redact(echoed).contains("Echo Me 42"), "{}", redact(echoed));
        Target::parse("postgres://u:p%2Fct%40Enc@h/db").expect("parses");
        for text in ["raw p/ct@Enc here", "encoded p%2Fct%40Enc here"] {
            let shown = redact(text);
            assert!(
                !shown.contains("ct@Enc") && !shown.contains("%40Enc"),
                "{shown}"
            );
        }
        // An unparseable URL still has its password masked in the message.
        let e = Target::parse("postgres://u:Unparse9@h:notaport/db")
            .err()
            .expect("refused");
        assert!(!e.to_string().contains("Unparse9"), "{e}");
    }

    #[test]
    fn passfile_lines_match_like_libpq() {
        let dir = std::env::temp_dir().join(format!("finseed-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:bob:nope\n127.0.0.1:*:fs:bob:pass\\:word\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        // SAFETY of the environment: no other test in this crate reads PGPASSFILE.
        std::env::set_var("PGPASSFILE", &file);
        assert_eq!(
            passfile_password("127.0.0.1", 5499, "fs", "bob").as_deref(),
            Some("pass:word")
        );
        assert_eq!(passfile_password("127.0.0.1", 5499, "fs", "eve"), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(passfile_password("127.0.0.1", 5499, "fs", "bob"), None);
        std::env::remove_var("PGPASSFILE");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_panic_message_is_redacted() {
        if std::env::var_os("FINSEED_PANIC_CHILD").is_some() {
            install_redacting_panic_hook();
            panic!("boom with postgres://bob:PanicPw77@h/db inside");
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "db::tests::a_panic_message_is_redacted",
                "--nocapture",
            ])
            .env("FINSEED_PANIC_CHILD", "1")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{all}");
        assert!(all.contains("boom with postgres://bob:***@h/db"), "{all}");
        assert!(!all.contains("PanicPw77"), "{all}");
    }
}
