//! No password in any output: finseed runs against a loopback server that asks for the
//! password and echoes it back in its error (as a careless server or proxy might), with the
//! password written in every form a user can give it; then a real seed and bench with a
//! password in the URL, whose progress lines and reports must not show it.

mod common;

use common::{finseed, fresh_database};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

/// Read one length-prefixed message body (after an optional type byte).
fn read_body(s: &mut TcpStream, typed: bool) -> std::io::Result<Vec<u8>> {
    if typed {
        let mut t = [0u8; 1];
        s.read_exact(&mut t)?;
    }
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = u32::from_be_bytes(len) as usize;
    let mut body = vec![0u8; n.saturating_sub(4)];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// Ask for a cleartext password, then fail authentication with a message quoting it.
fn echo_password(mut s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut startup = read_body(&mut s, false)?;
    if startup.len() == 4 && startup == [0x04, 0xd2, 0x16, 0x2f] {
        // SSLRequest: no TLS here.
        s.write_all(b"N")?;
        startup = read_body(&mut s, false)?;
    }
    let params = String::from_utf8_lossy(&startup[4..]).replace('\0', " ");
    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])?;
    let pw = read_body(&mut s, true)?;
    let pw = String::from_utf8_lossy(&pw)
        .trim_end_matches('\0')
        .to_string();
    let mut body = Vec::new();
    for (k, v) in [
        (b'S', "FATAL".to_string()),
        (b'V', "FATAL".to_string()),
        (b'C', "28P01".to_string()),
        (
            b'M',
            format!("password authentication failed: got \"{pw}\" with{params}"),
        ),
    ] {
        body.push(k);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(&body);
    s.write_all(&msg)?;
    Ok(())
}

/// A loopback server that echoes passwords, for the life of the test process.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = echo_password(conn);
            });
        }
    });
    port
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_finseed"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE")
        .env("CI", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run finseed")
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_hidden(what: &str, text: &str, secret_parts: &[&str]) {
    for p in secret_parts {
        assert!(!text.contains(p), "{what}: the output shows `{p}`:\n{text}");
    }
}

/// A connection string, the environment it is used with, and the parts of the password that
/// must never show.
type Form<'a> = (String, Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[test]
fn no_form_of_password_shows_in_any_output() {
    let port = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let passfile = dir.path().join("pgpass");
    std::fs::write(&passfile, format!("127.0.0.1:{port}:*:*:Pass:File9\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let passfile = passfile.to_str().unwrap().to_string();
    // (connection string, environment, parts of the password that must never show)
    let forms: Vec<Form> = vec![
        (
            format!("postgres://bob:p@2Secret@127.0.0.1:{port}/fs"),
            vec![],
            vec!["p@2Secret", "2Secret", "p%402Secret"],
        ),
        (
            format!("postgres://bob:En%40c0ded%3Apw@127.0.0.1:{port}/fs"),
            vec![],
            vec!["En%40c0ded", "En@c0ded", "c0ded:pw", "c0ded%3Apw"],
        ),
        (
            format!("host=127.0.0.1 port={port} user=carol password='two words pw' dbname=fs"),
            vec![],
            vec!["two words", "words pw", "two%20words"],
        ),
        (
            format!(r"host=127.0.0.1 port={port} user=carol password='it\'s quoted' dbname=fs"),
            vec![],
            vec!["it's quoted", r"it\'s", "s quoted"],
        ),
        (
            format!("postgres://bob@127.0.0.1:{port}/fs?password=QueryPw42&sslmode=disable"),
            vec![],
            vec!["QueryPw42"],
        ),
        (
            format!("postgres://bob@127.0.0.1:{port}/fs?sslpassword=SslKeyPw7"),
            vec![],
            vec!["SslKeyPw7"],
        ),
        (
            format!("postgres://bob@127.0.0.1:{port}/fs"),
            vec![("PGPASSWORD", "EnvPass 77")],
            vec!["EnvPass", "Pass 77"],
        ),
        (
            format!("postgres://bob@127.0.0.1:{port}/fs"),
            vec![("PGPASSFILE", passfile.as_str())],
            vec!["Pass:File9", "File9"],
        ),
    ];
    for (url, env, secret) in &forms {
        for cmd in [
            vec!["seed", "-p", "ci", "--database-url", url],
            vec!["verify", "-p", "ci", "--database-url", url],
            vec!["bench", "--iterations", "1", "--database-url", url],
        ] {
            let out = run(&cmd, env);
            let text = all_output(&out);
            assert!(!out.status.success(), "{cmd:?} {url}: {text}");
            assert_hidden(&format!("{cmd:?} with {url:?}"), &text, secret);
            // The failure is still explained.
            assert!(
                text.contains("finseed: error:"),
                "{cmd:?} with {url:?}: {text}"
            );
        }
        // The URL given through DATABASE_URL instead of the flag.
        let mut env2 = env.clone();
        env2.push(("DATABASE_URL", url.as_str()));
        let out = run(&["verify", "-p", "ci"], &env2);
        assert_hidden(&format!("DATABASE_URL={url:?}"), &all_output(&out), secret);
    }
}

#[test]
fn reports_and_progress_lines_never_show_the_password() {
    // The test server trusts loopback connections, so any password is accepted and ignored.
    let url = fresh_database("secrets_reports");
    let with_pw = url.replacen("://postgres@", "://postgres:Rep0rt%40Pw@", 1);
    assert_ne!(
        with_pw, url,
        "the test URL has the form postgres://postgres@host"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let (seed_json, json, md, html) = (p("seed.json"), p("b.json"), p("b.md"), p("b.html"));
    let out = finseed(&[
        "seed",
        "-p",
        "ci",
        "--database-url",
        &with_pw,
        "--json",
        &seed_json,
    ]);
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("postgres:***@"), "{text}");
    let out = finseed(&[
        "bench",
        "--iterations",
        "1",
        "--warmup",
        "0",
        "--database-url",
        &with_pw,
        "--json",
        &json,
        "--markdown",
        &md,
        "--html",
        &html,
    ]);
    let mut text = all_output(&out);
    for f in [&seed_json, &json, &md, &html] {
        text.push_str(&std::fs::read_to_string(f).unwrap_or_default());
    }
    assert_hidden(
        "seed and bench",
        &text,
        &["Rep0rt", "Rep0rt%40Pw", "Rep0rt@Pw"],
    );
}

/// clap's own errors echo the argument they reject: a command line with a mistake beside (or
/// in) a connection string must not print its password, and stays exit 2.
#[test]
fn command_line_mistakes_do_not_echo_the_password() {
    let url = "postgres://u:ClapSecret77@127.0.0.1:1/db";
    let kv = "host=127.0.0.1 user=u password='clap kv pw' dbname=db";
    let cases: Vec<Vec<String>> = vec![
        // unknown flag after the URL
        vec!["seed", "--database-url", url, "--bogus"],
        // the URL as a stray positional argument
        vec!["seed", url],
        // a misspelt flag with the URL attached
        vec!["seed", &format!("--database-ur={url}")],
        // a bad value right after
        vec!["seed", "--database-url", url, "--jobs", url],
        // key=value form, unknown subcommand
        vec![kv, "seed"],
        vec!["bench", "--database-url", kv, "--iterations", "many"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(str::to_string).collect())
    .collect();
    for args in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&a, &[]);
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {text}");
        assert!(text.contains("error"), "{a:?}: {text}");
        assert_hidden(
            &format!("{a:?}"),
            &text,
            &["ClapSecret77", "clap kv pw", "kv pw'"],
        );
    }
}
