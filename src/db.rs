//! Connections to PostgreSQL: TLS when the URL asks for it, retries with backoff for transient
//! failures, and connection strings that never show a password.

use crate::error::{Error, Result};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config};

/// A connection string with any password replaced by `***`, in URL or key=value form.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    // postgres://user:secret@host → postgres://user:***@host
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let auth_end = out[rest_start..].find('@').map(|i| rest_start + i);
        if let Some(at) = auth_end {
            if let Some(colon) = out[rest_start..at].find(':') {
                out.replace_range(rest_start + colon + 1..at, "***");
            }
        }
    }
    // password=secret in a query string or key=value string
    let lower = out.to_ascii_lowercase();
    if let Some(p) = lower.find("password=") {
        let start = p + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "***");
    }
    out
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
}

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

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
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
        config.application_name("finseed");
        config.connect_timeout(Duration::from_secs(10));
        Ok(Target {
            config,
            shown,
            tls: tls(verify, roots),
        })
    }

    pub fn database(&self) -> String {
        self.config.get_dbname().unwrap_or("postgres").to_string()
    }

    /// Connect once.
    pub async fn connect_once(&self) -> std::result::Result<Client, tokio_postgres::Error> {
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
    }

    /// Connect, retrying transient failures (refused, reset, starting up) with backoff.
    pub async fn connect(&self) -> Result<Client> {
        let mut delay = Duration::from_millis(200);
        let mut last = None;
        for attempt in 0..6 {
            match self.connect_once().await {
                Ok(c) => return Ok(c),
                Err(e) if attempt < 5 && transient(&e) => {
                    last = Some(e);
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return Err(self.error("cannot connect", &e)),
            }
        }
        Err(self.error("cannot connect", &last.expect("an error")))
    }

    /// A database error as a finseed error, naming the (redacted) target.
    pub fn error(&self, what: &str, e: &tokio_postgres::Error) -> Error {
        let detail = match e.as_db_error() {
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
        };
        Error::Db(format!("{what} ({}): {}", self.shown, redact(&detail)))
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

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact("postgres://bob:s3cr%40t@db.example.com:5432/app?sslmode=require"),
            "postgres://bob:***@db.example.com:5432/app?sslmode=require"
        );
        assert_eq!(redact("postgres://bob@h/db"), "postgres://bob@h/db");
        assert_eq!(
            redact("host=h user=bob password=hunter2 dbname=x"),
            "host=h user=bob password=*** dbname=x"
        );
        assert_eq!(
            redact("postgres://h/db?password=pw&sslmode=require"),
            "postgres://h/db?password=***&sslmode=require"
        );
    }
}
