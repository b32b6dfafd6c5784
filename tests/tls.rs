//! TLS against a real PostgreSQL: a throwaway cluster of its own, with a certificate signed by a
//! test CA and a pg_hba.conf that refuses unencrypted TCP connections, so a load that succeeds
//! is a load that went over TLS. Managed staging databases are reached this way.

mod common;

use common::{finseed, psql, text};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

const PASSWORD: &str = "tls-secret-4242";

/// A running cluster with TLS on; stopped and removed when dropped.
struct TlsCluster {
    root: PathBuf,
    port: u16,
    ca_file: PathBuf,
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = finseed::pgctl::stop(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Write `data` to `path`, owned like `owner_of` (the server's user when tests run as root).
fn write_owned(path: &Path, data: &str, mode: u32, owner_of: &Path) {
    std::fs::write(path, data).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let meta = std::fs::metadata(owner_of).expect("stat data dir");
    // Only root may give a file away; otherwise we already are the server's user.
    if meta.uid() != current_uid() {
        std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid())).expect("chown");
    }
}

fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

fn start_tls_cluster() -> TlsCluster {
    let root = std::env::temp_dir().join(format!("finseed-test-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cluster = finseed::pgctl::ensure_running(&root).expect("start a throwaway cluster");
    let data = cluster.data_dir.clone();

    // A CA, and a server certificate for the name `localhost` only, signed by it.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "finseed test CA");
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca cert");
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("server params")
        .signed_by(&server_key, &ca)
        .expect("server cert");

    write_owned(&data.join("server.crt"), &server.pem(), 0o644, &data);
    write_owned(
        &data.join("server.key"),
        &server_key.serialize_pem(),
        0o600,
        &data,
    );
    let ca_file = root.join("ca.pem");
    std::fs::write(&ca_file, ca.as_ref().pem()).expect("write ca");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod root");

    // TCP only with TLS; the Unix socket stays open for administration.
    write_owned(
        &data.join("pg_hba.conf"),
        "local all all trust\n\
         hostssl all all 127.0.0.1/32 scram-sha-256\n\
         hostnossl all all 127.0.0.1/32 reject\n",
        0o600,
        &data,
    );
    let admin = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir.display(),
        cluster.port
    );
    psql(&admin, "ALTER SYSTEM SET ssl = on");
    psql(
        &admin,
        &format!("ALTER USER postgres PASSWORD '{PASSWORD}'"),
    );
    psql(&admin, "SELECT pg_reload_conf()");
    // The reload is asynchronous: wait until the server says TLS is on.
    for _ in 0..50 {
        if psql(&admin, "SHOW ssl").trim() == "on" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(psql(&admin, "SHOW ssl").trim(), "on", "TLS did not come on");
    psql(&admin, "CREATE DATABASE tls_seed");
    TlsCluster {
        root,
        port: cluster.port,
        ca_file,
    }
}

fn seed(url: &str) -> Output {
    finseed(&[
        "seed",
        "--profile",
        "ci",
        "--database-url",
        url,
        "--steps",
        "create,load",
        "--quiet",
    ])
}

#[test]
fn loads_over_tls_and_verifies_the_server_when_asked() {
    let c = start_tls_cluster();
    let url = |host: &str, query: &str| {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/tls_seed?{query}",
            c.port
        )
    };
    let ca = c.ca_file.display().to_string();

    // The server refuses plain TCP, so this fails, and says why without the password.
    let plain = seed(&url("127.0.0.1", "sslmode=disable"));
    let said = text(&plain);
    assert!(!plain.status.success(), "plain TCP was accepted: {said}");
    assert!(said.contains("no encryption"), "{said}");
    assert!(!said.contains(PASSWORD), "password shown: {said}");

    // sslmode=require encrypts without checking the certificate, like libpq.
    let out = seed(&url("127.0.0.1", "sslmode=require"));
    assert!(out.status.success(), "{}", text(&out));
    let verify = finseed(&[
        "verify",
        "--profile",
        "ci",
        "--database-url",
        &url("127.0.0.1", "sslmode=require"),
    ]);
    assert!(verify.status.success(), "{}", text(&verify));

    // verify-full trusts the web PKI by default: a private CA's certificate is refused.
    let untrusted = seed(&url("localhost", "sslmode=verify-full"));
    let said = text(&untrusted);
    assert!(
        !untrusted.status.success(),
        "untrusted certificate accepted"
    );
    assert!(said.to_lowercase().contains("certificate"), "{said}");
    assert!(!said.contains(PASSWORD), "password shown: {said}");

    // With the CA given as sslrootcert, the same server is trusted under its own name...
    let trusted = finseed(&[
        "verify",
        "--profile",
        "ci",
        "--database-url",
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    ]);
    assert!(trusted.status.success(), "{}", text(&trusted));

    // ...and refused under a name the certificate does not carry.
    let wrong_name = seed(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    let said = text(&wrong_name);
    assert!(
        !wrong_name.status.success(),
        "a certificate for localhost was accepted for 127.0.0.1"
    );
    assert!(said.to_lowercase().contains("certificate"), "{said}");

    // A root file that does not exist is bad input: exit 2, naming the file.
    let missing = seed(&url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ));
    let said = text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{said}");
    assert!(
        said.contains("/nonexistent/ca.pem") && said.contains("fix:"),
        "{said}"
    );
    assert!(!said.contains(PASSWORD), "password shown: {said}");
}
