//! The embedded default database: `flowdeck` with no DATABASE_URL starts its own PostgreSQL from
//! the installed server binaries, keeps the data, reuses it, and stops it on exit.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn flowdeck(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowdeck"));
    c.env_remove("DATABASE_URL")
        .env("FLOWDECK_DATA_DIR", data)
        .env("FLOWDECK_LOG_FORMAT", "json");
    c
}

fn server_running(data: &std::path::Path) -> bool {
    data.join("postgres/data/postmaster.pid").exists()
}

#[test]
fn serve_without_database_url_runs_a_private_postgres_and_stops_it_on_sigterm() {
    let tmp = tempfile::Builder::new()
        .prefix("flowdeck-embedded-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    // PostgreSQL runs as an unprivileged user when we are root: it must reach the folder.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("state");

    // `demo` initialises the database, loads the team, and stops the server it started.
    let demo = flowdeck(&data).arg("demo").output().unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(String::from_utf8_lossy(&demo.stdout).contains("Demo team loaded"));
    assert!(
        !server_running(&data),
        "the embedded server is stopped after the command"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = flowdeck(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = wait_ready(port, Duration::from_secs(30));
    // The data was reused: no setup link, because the demo accounts exist.
    nix_kill(child.id());
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        stdout.push_str(&line.unwrap());
    }
    assert!(ready, "flowdeck became ready on the embedded database");
    assert!(status.success(), "a clean exit on SIGTERM");
    assert!(
        !stdout.contains("/setup?token="),
        "existing data was reused"
    );
    assert!(
        !server_running(&data),
        "the embedded server stopped with flowdeck"
    );
}

fn nix_kill(pid: u32) {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

/// Starts `flowdeck serve` on the embedded database in `data` and waits until `/readyz` is 200.
/// The caller waits on the child it gets back.
#[allow(clippy::zombie_processes)]
fn serve_until_ready(data: &std::path::Path) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = flowdeck(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if !wait_ready(port, Duration::from_secs(60)) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("flowdeck did not become ready");
    }
    child
}

/// Polls `/readyz` on `port` until it answers 200 (true) or `within` passes (false).
fn wait_ready(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.0 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn after_a_sigkill_the_next_start_takes_over_the_embedded_postgres_and_stops_it_on_exit() {
    let tmp = tempfile::Builder::new()
        .prefix("flowdeck-takeover-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("state");

    let mut first = serve_until_ready(&data);
    first.kill().unwrap(); // SIGKILL: no chance to stop PostgreSQL
    first.wait().unwrap();
    assert!(
        server_running(&data),
        "PostgreSQL outlives a killed flowdeck"
    );

    let mut second = serve_until_ready(&data);
    nix_kill(second.id());
    assert!(second.wait().unwrap().success());
    assert!(
        !server_running(&data),
        "the second flowdeck took ownership and stopped the server it found running"
    );
}

/// Accounts and deployments in the embedded database under `data` (started for the count).
fn embedded_counts(data: &std::path::Path) -> (i64, i64) {
    let pg = flowdeck::db::embedded::EmbeddedPg::start(data).unwrap();
    let url = pg.url("flowdeck");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let counts = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let a: i64 = sqlx::query_scalar("select count(*) from accounts")
            .fetch_one(&pool)
            .await
            .unwrap();
        let d: i64 = sqlx::query_scalar("select count(*) from deployments")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        (a, d)
    });
    drop(pg); // stops the server this count started
    counts
}

#[test]
fn backup_and_restore_work_on_the_embedded_database_too() {
    let tmp = tempfile::Builder::new()
        .prefix("flowdeck-embedded-backup-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (first, second) = (tmp.path().join("first"), tmp.path().join("second"));
    let file = tmp.path().join("flowdeck.dump");

    let demo = flowdeck(&first).arg("demo").output().unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let backup = flowdeck(&first).arg("backup").arg(&file).output().unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(
        !server_running(&first),
        "the embedded server stopped after the backup"
    );
    assert_eq!(
        &std::fs::read(&file).unwrap()[..5],
        b"PGDMP",
        "a custom-format dump"
    );

    // A second, empty embedded database takes it whole.
    let restore = flowdeck(&second)
        .arg("restore")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    let (accounts, deployments) = embedded_counts(&first);
    assert!(accounts > 0 && deployments > 0);
    assert_eq!(embedded_counts(&second), (accounts, deployments));
}
