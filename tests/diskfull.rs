//! Disk full: a database whose files live on a small tmpfs (a tablespace on a size-limited
//! mount of the test cluster; the WAL stays on the cluster's own disk, as on a server whose data
//! volume fills up). The load fails with exit 1 and a message that says the disk is full, no
//! chunk is half-committed (every table holds exactly the rows its ledger records), and after
//! space is freed (the tmpfs remounted larger) the same command completes and `verify` passes.
//!
//! Mounting needs root (CI runs as root); otherwise the test prints why it skips.

mod common;

use common::is_root;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tmpfs, tablespace and database of the test; removed when dropped, also on failure.
struct SmallDisk {
    dir: PathBuf,
    base: String,
    tablespace: String,
    database: String,
    mounted: bool,
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            common::psql(
                &self.base,
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database),
            );
            common::psql(
                &self.base,
                &format!("DROP TABLESPACE IF EXISTS \"{}\"", self.tablespace),
            );
        });
        if self.mounted {
            let ok = Command::new("umount")
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn mount_size(dir: &Path, mb: u64, remount: bool) -> Result<(), String> {
    let opts = if remount {
        format!("remount,size={mb}m")
    } else {
        format!("size={mb}m,mode=0700")
    };
    let d = dir.to_str().unwrap();
    if remount {
        run("mount", &["-o", &opts, d])
    } else {
        run("mount", &["-t", "tmpfs", "-o", &opts, "tmpfs", d])
    }
}

#[test]
fn a_full_disk_fails_the_load_clearly_and_the_rerun_completes_after_space_is_freed() {
    if !is_root() {
        eprintln!("NOTICE: skipping the disk-full test: mounting a size-limited tmpfs needs root (CI runs as root)");
        return;
    }
    let base = common::database_url();
    if !base.starts_with("postgres://postgres@127.0.0.1:") {
        eprintln!("NOTICE: skipping the disk-full test: it puts a tablespace on the throwaway test cluster, not on {base}");
        return;
    }
    let tag = std::process::id();
    let mut disk = SmallDisk {
        dir: std::env::temp_dir().join(format!("finseed-diskfull-{tag}")),
        base: base.clone(),
        tablespace: format!("finseed_diskfull_{tag}"),
        database: format!("diskfull_{tag}_0"),
        mounted: false,
    };
    std::fs::create_dir_all(&disk.dir).unwrap();
    if let Err(e) = mount_size(&disk.dir, 64, false) {
        eprintln!("NOTICE: skipping the disk-full test: cannot mount a tmpfs here: {e}");
        return;
    }
    disk.mounted = true;
    // The server runs as `postgres` when the tests run as root.
    run("chown", &["postgres:postgres", disk.dir.to_str().unwrap()]).unwrap();
    common::psql(
        &base,
        &format!(
            "CREATE TABLESPACE \"{}\" LOCATION '{}'",
            disk.tablespace,
            disk.dir.display()
        ),
    );
    common::psql(
        &base,
        &format!(
            "CREATE DATABASE \"{}\" TABLESPACE \"{}\"",
            disk.database, disk.tablespace
        ),
    );
    // Shrink the disk to what the new, empty database uses plus 2 MB: the load of
    // `ci --scale 10` (about 16 MB of rows) cannot fit.
    let used: u64 = common::psql(
        &base,
        &format!("SELECT pg_database_size('{}') / 1048576 + 1", disk.database),
    )
    .trim()
    .parse()
    .unwrap();
    let small = used + 2;
    mount_size(&disk.dir, small, true).unwrap();
    let url = common::with_database(&base, &disk.database);
    let seed = [
        "seed",
        "-q",
        "-p",
        "ci",
        "--scale",
        "10",
        "--database-url",
        &url,
    ];

    let full = common::finseed(&seed);
    let text = String::from_utf8_lossy(&full.stderr).to_string();
    assert_eq!(full.status.code(), Some(1), "on a {small} MB disk: {text}");
    assert!(
        text.contains("No space left on device") && text.contains("disk is full"),
        "{text}"
    );
    assert!(
        text.contains("loading chunk") && text.contains("fix:") && text.contains("resume with: "),
        "{text}"
    );
    eprintln!("on a {small} MB disk, exit 1:\n{text}");

    // No chunk half-committed: each table holds exactly the rows of its ledger.
    let counts = common::psql(
        &url,
        "SELECT l.table_name, l.rows, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', l.table_name), false, true, '')))[1]::text::bigint
         FROM (SELECT table_name, sum(rows) AS rows FROM finseed_ledger GROUP BY table_name) l ORDER BY 1",
    );
    for line in counts.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f[1], f[2], "{}: ledger {} rows, table {}", f[0], f[1], f[2]);
    }
    eprintln!("after the failure, ledger|table rows:\n{counts}");

    // Free space, then the same command resumes and the data verifies.
    mount_size(&disk.dir, 256, true).unwrap();
    let rerun = common::finseed(&seed);
    assert!(
        rerun.status.success(),
        "rerun after freeing space: {}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let v = common::finseed(&[
        "verify",
        "-p",
        "ci",
        "--scale",
        "10",
        "--database-url",
        &url,
    ]);
    assert!(
        v.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}
