//! Fault drills (DESIGN §5 "Faults"), each against the real binary: PostgreSQL restarted — fast and
//! immediate — while a client records deployments; SIGTERM while requests are in flight; the
//! embedded database's disk full or read-only at start. Figures are printed (`--nocapture`).

mod common;

use common::process::{Process, flowdeck, status_of};

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use flowdeck::db::embedded::EmbeddedPg;

fn temp(prefix: &str) -> tempfile::TempDir {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    // The embedded PostgreSQL runs as an unprivileged user when we are root: it must reach it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}

/// A database with the demo team and an API token that records deployments; returns the token
/// and a service and an environment to deploy to.
async fn demo_with_token(url: &str) -> (String, String, String) {
    let url_owned = url.to_string();
    let demo = tokio::task::spawn_blocking(move || {
        flowdeck()
            .arg("demo")
            .env("DATABASE_URL", url_owned)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let secret = format!("fdk_{}", "d".repeat(43));
    sqlx::query(
        "insert into api_tokens (account_id, name, prefix, token_hash, scopes, expires_at, created_by)
         select id, 'fault drill', 'ddddd', sha256($1::bytea), array['deployments:write', 'read'],
                now() + interval '1 day', id
         from accounts where role::text = 'admin' order by id limit 1",
    )
    .bind(secret.as_bytes())
    .execute(&pool)
    .await
    .unwrap();
    let service: String = sqlx::query_scalar("select name from services order by id limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let env: String = sqlx::query_scalar("select name from environments order by id limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (secret, service, env)
}

/// One answered (or failed) write of the client.
struct Outcome {
    done: Instant,
    /// The HTTP status, or None when the request itself failed (no answer).
    status: Option<u16>,
    retry_after: bool,
    version: String,
}

/// Records deployments one after another until `stop`, keeping every outcome.
async fn writer(
    port: u16,
    token: String,
    service: String,
    env: String,
    log: Arc<Mutex<Vec<Outcome>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let version = format!("v9.{}.{n}", port % 100);
        let r = http
            .post(format!("http://127.0.0.1:{port}/api/v1/deployments"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"service": service, "environment": env, "version": version}))
            .send()
            .await;
        let (status, retry_after) = match &r {
            Ok(r) => (
                Some(r.status().as_u16()),
                r.headers().contains_key("retry-after"),
            ),
            Err(_) => (None, false),
        };
        log.lock().unwrap().push(Outcome {
            done: Instant::now(),
            status,
            retry_after,
            version,
        });
        if status != Some(201) {
            // A client that was told to retry later waits a little, as `Retry-After` asks
            // (shortened: the drill measures when service is back, not the client's patience).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_fast_and_immediate_under_writes_loses_nothing_and_flowdeck_recovers() {
    let tmp = temp("flowdeck-drill-restart-");
    let data = tmp.path().join("pg");
    let pg = Arc::new(
        tokio::task::spawn_blocking(move || EmbeddedPg::start(&data))
            .await
            .unwrap()
            .unwrap(),
    );
    flowdeck::db::ensure_database(&pg.url("postgres"), "flowdeck")
        .await
        .unwrap();
    let url = pg.url("flowdeck");
    let (token, service, env) = demo_with_token(&url).await;
    let log_file = tmp.path().join("flowdeck.log");
    let mut server = Process::serve(&url, &log_file, &[]);
    let (child, port) = (&mut server.child, server.port);

    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = tokio::spawn(writer(
        port,
        token,
        service,
        env,
        outcomes.clone(),
        stop.clone(),
    ));

    let mut windows = Vec::new();
    for fast in [true, false] {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let down = Instant::now();
        let p = pg.clone();
        tokio::task::spawn_blocking(move || p.halt(fast))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let p = pg.clone();
        tokio::task::spawn_blocking(move || p.resume())
            .await
            .unwrap()
            .unwrap();
        let back = Instant::now();
        // Wait for the client's first acknowledged write after the database is back.
        let deadline = back + Duration::from_secs(10);
        let first = loop {
            let found = outcomes
                .lock()
                .unwrap()
                .iter()
                .find(|o| o.done > back && o.status == Some(201))
                .map(|o| o.done);
            if let Some(t) = found {
                break t;
            }
            assert!(Instant::now() < deadline, "no write succeeded within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        windows.push((fast, down, back, first));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    client.await.unwrap();

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| !(o.status == Some(201) || (o.status == Some(503) && o.retry_after)))
        .map(|o| {
            format!(
                "{}: {:?} retry-after {}",
                o.version, o.status, o.retry_after
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "every answer is 201, or 503 with Retry-After: {bad:?}\n{}",
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    for (fast, down, back, first) in &windows {
        let mode = if *fast { "fast" } else { "immediate" };
        let refused = outcomes
            .iter()
            .filter(|o| o.status == Some(503) && o.done >= *down && o.done <= *first)
            .count();
        let recovery = first.duration_since(*back);
        eprintln!(
            "drill: PostgreSQL stopped ({mode}) for {:?}; {refused} writes answered 503 with \
             Retry-After; first acknowledged write {:?} after the database was back",
            back.duration_since(*down),
            recovery
        );
        assert!(refused > 0, "{mode}: the outage was seen by the client");
        assert!(
            recovery <= Duration::from_secs(2),
            "{mode}: service back within 2 s of the database ({recovery:?})"
        );
    }

    // No acknowledged write was lost.
    let acknowledged: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status == Some(201))
        .map(|o| o.version.clone())
        .collect();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let stored: i64 = sqlx::query_scalar(
        "select count(distinct version) from deployments where version = any($1)",
    )
    .bind(&acknowledged)
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!(
        "drill: {} writes acknowledged, {stored} of them stored; {} answered 503",
        acknowledged.len(),
        outcomes.iter().filter(|o| o.status == Some(503)).count()
    );
    assert!(acknowledged.len() > 10, "the client kept writing");
    assert_eq!(
        stored as usize,
        acknowledged.len(),
        "no acknowledged write lost"
    );

    // flowdeck never exited, and is ready.
    assert!(
        child.try_wait().unwrap().is_none(),
        "flowdeck is still running"
    );
    assert_eq!(status_of(port, "/readyz"), Some(200));
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
    child.kill().unwrap();
    child.wait().unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_refuses_new_connections_and_exits_in_grace() {
    let (_, url) = common::fresh_database().await;
    let (token, service, env) = demo_with_token(&url).await;
    let tmp = temp("flowdeck-drill-sigterm-");
    let log_file = tmp.path().join("flowdeck.log");
    let mut server = Process::serve(&url, &log_file, &[("FLOWDECK_SHUTDOWN_GRACE_SECONDS", "5")]);
    let (child, port) = (&mut server.child, server.port);

    // Five requests in flight: each has sent its head and half its body.
    let mut streams = Vec::new();
    for i in 0..5 {
        let body =
            format!(r#"{{"service": "{service}", "environment": "{env}", "version": "v8.0.{i}"}}"#);
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST /api/v1/deployments HTTP/1.1\r\nHost: flowdeck\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        let (first, rest) = body.split_at(body.len() / 2);
        s.write_all(first.as_bytes()).unwrap();
        s.flush().unwrap();
        streams.push((s, rest.to_string()));
    }
    std::thread::sleep(Duration::from_millis(200));

    let term = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // New connections are refused once the accept loop has stopped.
    let deadline = Instant::now() + Duration::from_secs(2);
    let refused = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break term.elapsed(),
            _ if Instant::now() > deadline => panic!("new connections still accepted"),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    };

    // The requests in flight finish: their bodies arrive now, after the signal.
    let mut statuses = Vec::new();
    for (mut s, rest) in streams {
        s.write_all(rest.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        statuses.push(answer.split_whitespace().nth(1).unwrap_or("").to_string());
    }
    let status = child.wait().unwrap();
    let exited = term.elapsed();
    eprintln!(
        "drill: SIGTERM → new connections refused after {refused:?}, 5 in-flight requests \
         answered {statuses:?}, process exited after {exited:?} (grace 5 s)"
    );
    assert_eq!(
        statuses,
        vec!["201"; 5],
        "every in-flight request completed"
    );
    assert!(status.success(), "a clean exit: {status}");
    assert!(
        exited < Duration::from_secs(5),
        "exited within the grace period"
    );

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let stored: i64 =
        sqlx::query_scalar("select count(*) from deployments where version like 'v8.0.%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 5, "the five writes are stored");
    pool.close().await;
}

/// A tmpfs mounted on a folder for the length of a test (root only).
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path, options: &str) -> Option<Self> {
        if !nix_is_root() {
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount -t tmpfs -o {options} (as root)");
        Some(Self(dir.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Stop a server that may still run from this folder before unmounting it.
        let _ = Command::new("pkill")
            .args(["-f", &self.0.to_string_lossy()])
            .status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn migrate_embedded(data: &Path) -> std::process::Output {
    flowdeck()
        .env_remove("DATABASE_URL")
        .env("FLOWDECK_DATA_DIR", data)
        .arg("migrate")
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_at_start_is_a_clear_error_that_leaves_nothing_half_made() {
    let tmp = temp("flowdeck-drill-full-");
    let dir = tmp.path().join("disk");
    // 16 MB: less than a new PostgreSQL cluster needs (about 40 MB).
    let Some(mount) = Mount::new(&dir, "size=16m,mode=0755") else {
        eprintln!("skipped: mounting a small disk needs root");
        return;
    };
    let data = dir.join("state");
    let started = Instant::now();
    let out = migrate_embedded(&data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "drill: full disk → exit {:?} after {:?}: {}",
        out.status.code(),
        started.elapsed(),
        stderr
            .lines()
            .find(|l| l.contains("flowdeck:"))
            .unwrap_or("")
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        stderr.contains("initdb failed"),
        "says what failed: {stderr}"
    );
    assert!(!stderr.contains("panicked"));
    let pg_root = data.join("postgres");
    assert!(!pg_root.join("data").exists(), "no half-made database");
    assert!(!pg_root.join("data.init").exists(), "no leftovers");
    assert!(!pg_root.join("data/postmaster.pid").exists());

    // Room again: the next start initialises a database as if the failure never happened.
    mount.remount("size=256m");
    let out = migrate_embedded(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(pg_root.join("data/PG_VERSION").exists());
    assert!(
        !pg_root.join("data/postmaster.pid").exists(),
        "the server stopped with the command"
    );
}

#[test]
fn a_read_only_data_directory_at_start_is_a_clear_error() {
    let tmp = temp("flowdeck-drill-ro-");
    let dir = tmp.path().join("disk");
    let Some(_mount) = Mount::new(&dir, "ro,size=1m,mode=0755") else {
        eprintln!("skipped: mounting a read-only disk needs root");
        return;
    };
    let out = migrate_embedded(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "drill: read-only data directory → exit {:?}: {}",
        out.status.code(),
        stderr.trim()
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not writable (FLOWDECK_DATA_DIR)")
            && stderr.contains("Read-only file system"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}
