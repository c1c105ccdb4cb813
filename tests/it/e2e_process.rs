//! End-to-end: how the process treats its surroundings: redirects from the accounts
//! server, the modes of the state dir under a permissive umask, and closed pipes.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

/// Reads one HTTP request (headers and a `Content-Length` body) off `sock`.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_code_never_follows_a_redirect() {
    // The second server stands for wherever a hostile or misconfigured accounts server
    // points: it must never see a connection, let alone the client secret.
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_port = target.local_addr().unwrap().port();
    let reached = Arc::new(AtomicUsize::new(0));
    {
        let reached = reached.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = target.accept().await {
                reached.fetch_add(1, Ordering::SeqCst);
                let _ = read_request(&mut sock).await;
                let body = r#"{"refresh_token":"1000.stolen"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
    }

    for status in ["302 Found", "307 Temporary Redirect"] {
        let accounts = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let accounts_url = format!("http://127.0.0.1:{}", accounts.local_addr().unwrap().port());
        let reply = format!(
            "HTTP/1.1 {status}\r\nLocation: http://127.0.0.1:{target_port}/oauth/v2/token\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let server = tokio::spawn(async move {
            let mut requests = 0;
            while let Ok((mut sock, _)) = accounts.accept().await {
                requests += 1;
                let _ = read_request(&mut sock).await;
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
            requests
        });

        let env = Env::new().await;
        let token_file = env.tmp.path().join("refresh_token");
        let text = std::fs::read_to_string(&env.config).unwrap();
        let refresh_line = format!(
            "refresh_token = \"{}\"",
            env.sandbox.options().refresh_token
        );
        let text = text
            .replace(
                &format!("accounts_url = \"{}\"", env.sandbox.base_url()),
                &format!("accounts_url = \"{accounts_url}\""),
            )
            .replace(
                &refresh_line,
                &format!("refresh_token_file = \"{}\"", token_file.display()),
            );
        assert!(text.contains(&accounts_url));
        std::fs::write(&env.config, text).unwrap();

        let out = env.run_args(&["auth", "--code", "1000.grant"]).await;
        server.abort();
        let err = stderr(&out);
        assert!(!out.status.success(), "{status}: {err}");
        assert_eq!(
            reached.load(Ordering::SeqCst),
            0,
            "{status}: the redirect was followed"
        );
        assert!(
            err.contains("redirect") && err.contains(&target_port.to_string()),
            "{status}: the message should say where the redirect pointed: {err}"
        );
        assert!(!token_file.exists());
    }
}

/// Runs the binary with the read end of its stdout (or stderr) closed before it starts,
/// as `bigin-sync status | head -1` does once `head` has its line: every write fails with
/// EPIPE, deterministically.
async fn run_with_closed(env: &Env, args: &[&str], close_stderr: bool) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = env.cmd();
    cmd.args(args).stdin(Stdio::null());
    if close_stderr {
        cmd.stdout(Stdio::null()).stderr(writer);
    } else {
        cmd.stdout(writer).stderr(Stdio::piped());
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run binary"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_commands_quietly() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"a");
    assert_ok(&env.once().await);
    drop_file(&dir, "b.txt", b"b");

    for args in [
        &["status"][..],
        &["status", "--json"],
        &["once", "--dry-run"],
        &["auth"],
    ] {
        let out = run_with_closed(&env, args, false).await;
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
    // `once 2>&1 | head`: the log's reader went away; the pass still completes.
    let out = run_with_closed(&env, &["once"], true).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert_eq!(env.remote_names(M, R), vec!["a.txt", "b.txt"]);
}

/// Mode bits of `path` (no file type).
fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `cmd` with umask 000, as a careless service manager or shell might.
fn with_open_umask(cmd: &mut Command) -> &mut Command {
    // SAFETY: umask is async-signal-safe and touches only the child being started.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        })
    }
}

/// Every directory under `dir` (itself included) with its mode, and every file outside
/// the trash (whose files are the user's, with their own modes) with its mode.
fn state_modes(dir: &Path, out: &mut Vec<(String, bool, u32)>) {
    out.push((dir.display().to_string(), true, mode(dir)));
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            state_modes(&p, out);
        } else if !p.components().any(|c| c.as_os_str() == "trash") {
            out.push((p.display().to_string(), false, mode(&p)));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_dir_is_private_whatever_the_umask() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let id = env
        .sandbox
        .add_file(env.product, M, R, "gone-soon.txt", b"bytes".to_vec());
    let log = env.tmp.path().join("daemon.log");
    let mut cmd = env.cmd();
    cmd.arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = with_open_umask(&mut cmd).spawn().expect("spawn daemon");
    let mut d = Daemon {
        child: Some(child),
        log,
    };
    d.wait_log("bigin-sync running").await;
    assert!(
        wait_until(DEADLINE, || dir.join("gone-soon.txt").exists()).await,
        "{}",
        d.log_text()
    );
    // A remote delete moves the file into the trash tree under the state dir.
    assert!(env.sandbox.delete_attachment(env.product, M, R, &id));
    let trash = env.state.join("trash").join(M).join(R);
    assert!(
        wait_until(DEADLINE, || files(&trash).len() == 1).await,
        "{}",
        d.log_text()
    );

    // Checked while the daemon runs, so SQLite's -wal and -shm files exist.
    let mut modes = Vec::new();
    state_modes(&env.state, &mut modes);
    let names: Vec<&str> = modes.iter().map(|(p, _, _)| p.as_str()).collect();
    for f in [
        "journal.sqlite3",
        "journal.sqlite3-wal",
        "journal.sqlite3-shm",
        "daemon.lock",
    ] {
        assert!(
            names.iter().any(|p| p.ends_with(&format!("/{f}"))),
            "{f} missing: {names:?}"
        );
    }
    let wrong: Vec<String> = modes
        .iter()
        .filter(|(_, is_dir, m)| *m != if *is_dir { 0o700 } else { 0o600 })
        .map(|(p, _, m)| format!("{p} has mode {m:o}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    let (status, _) = d.terminate().await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loose_state_dir_is_tightened_and_said_once() {
    let env = Env::new().await;
    env.record(M, R);
    // As an older version under umask 000 left it.
    std::fs::create_dir_all(env.state.join("trash")).unwrap();
    std::fs::write(env.state.join("daemon.lock"), b"").unwrap();
    for (p, m) in [
        (env.state.clone(), 0o777),
        (env.state.join("trash"), 0o777),
        (env.state.join("daemon.lock"), 0o666),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let mut cmd = env.cmd();
    cmd.arg("once");
    let out = tokio::task::spawn_blocking(move || with_open_umask(&mut cmd).output().unwrap())
        .await
        .unwrap();
    assert_ok(&out);
    assert_eq!(mode(&env.state), 0o700);
    assert_eq!(mode(&env.state.join("trash")), 0o700);
    assert_eq!(mode(&env.state.join("daemon.lock")), 0o600);
    assert_eq!(mode(&env.state.join("journal.sqlite3")), 0o600);
    let err = stderr(&out);
    assert_eq!(err.matches("tightened").count(), 1, "{err}");

    // Already private: nothing to say.
    let out = env.once().await;
    assert_ok(&out);
    assert!(!stderr(&out).contains("tightened"), "{}", stderr(&out));
}
