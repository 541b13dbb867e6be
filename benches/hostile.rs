//! Hostile clients against the real release binary (`flowdeck serve`), measured from outside:
//! what anonymous visitors store, memory and page latency under a login flood, and `/healthz`
//! while hundreds of silent sockets are open. Prints numbers; DESIGN.md §5's budgets are beside
//! them. Run with `cargo bench --bench hostile` (`FLOWDECK_BENCH_BINARY=path` measures another
//! build, e.g. an older commit, against the same clients).

mod common;

use std::{
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// The open-files limit the server runs with.
const NOFILE: libc::rlim_t = 1024;
/// Silent sockets opened against it: more than the limit allows at once.
const SILENT: usize = 1200;

/// The binary under test: this build, or `FLOWDECK_BENCH_BINARY`.
fn binary() -> String {
    std::env::var("FLOWDECK_BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_flowdeck").to_string())
}

/// An empty database `name`, migrated and given the `bench` admin by the binary under test itself
/// (an older build brings its own migrations). Returns a pool, the admin URL and the password.
async fn prepare(name: &str) -> (sqlx::PgPool, String, String) {
    use std::io::Write;
    let admin = std::env::var("FLOWDECK_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    common::drop_db(&admin, name).await;
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("create database {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let ok = Command::new(binary())
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "migrate");
    let password = "bench password 123";
    let mut child = Command::new(binary())
        .args(["admin", "create", "--handle", "bench", "--role", "admin"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    assert!(child.wait().unwrap().success(), "admin create");
    let pool = flowdeck::db::pool(&url).await.unwrap();
    (pool, admin, password.to_string())
}

async fn start(db_url: &str) -> (Child, SocketAddr) {
    let addr = common::free_addr();
    let mut cmd = Command::new(binary());
    // Many hosts start services with 1024 open files at most (soft and hard): so does the bench.
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: NOFILE,
                    rlim_max: NOFILE,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd
        .args(["serve", "--listen", &addr.to_string()])
        .env("DATABASE_URL", db_url)
        .env("FLOWDECK_LOGIN_FAILURES_PER_IP", "1000000")
        .env("FLOWDECK_LOG_FORMAT", "json")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the flowdeck binary");
    common::until_ready(addr).await;
    (child, addr)
}

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_hostile";
    let (pool, admin, password) = prepare(name).await;
    let db_url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let (mut child, addr) = start(&db_url).await;
    let pid = child.id();
    let base = format!("http://{addr}");
    println!("hostile clients against the release binary (pid {pid}) on {addr}");
    let member = common::logged_in(addr, &password).await;
    member.get(format!("{base}/")).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "idle RSS after start and one login:            {:>7.1} MiB   (budget ≤ 30)",
        mib(status_kib(pid, "VmRSS:"))
    );

    // 1. Anonymous visitors store nothing.
    let before: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&pool)
        .await
        .unwrap();
    let anon = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let t = Instant::now();
    let n_anon = 5_000;
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (anon, base) = (anon.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            for _ in (w..n_anon).step_by(16) {
                let r = anon.get(format!("{base}/login")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rate = n_anon as f64 / t.elapsed().as_secs_f64();
    let after: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "anonymous GET /login: {n_anon} at {rate:>6.0}/s stored {} session rows   (budget: 0)",
        after - before
    );

    // 2. A login flood: 150 concurrent logins (unknown handles, so every one is hashed), while a
    //    logged-in member reads the home page one request at a time.
    let peak_before = status_kib(pid, "VmHWM:");
    let sample_rss = Arc::new(std::sync::Mutex::new(0u64));
    let sampler = {
        let sample_rss = sample_rss.clone();
        tokio::spawn(async move {
            loop {
                let r = status_kib(pid, "VmRSS:");
                {
                    let mut m = sample_rss.lock().unwrap();
                    *m = (*m).max(r);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let reader = {
        let (member, base) = (member.clone(), base.clone());
        tokio::spawn(async move {
            let mut lat = Vec::new();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(3) {
                let t = Instant::now();
                let r = member.get(format!("{base}/")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        })
    };
    let mut forms = Vec::new();
    for i in 0..150 {
        let c = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let token = common::login_token(&c, &base).await;
        forms.push((c, token, format!("nobody{i}")));
    }
    let t = Instant::now();
    let logins: Vec<_> = forms
        .into_iter()
        .map(|(c, token, handle)| {
            let base = base.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let r = c
                    .post(format!("{base}/login"))
                    .form(&[
                        ("handle", handle.as_str()),
                        ("password", "wrong wrong"),
                        ("csrf", &token),
                    ])
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), t.elapsed().as_secs_f64() * 1000.0)
            })
        })
        .collect();
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    let mut login_lat = Vec::new();
    for l in logins {
        let (code, ms) = l.await.unwrap();
        *codes.entry(code).or_default() += 1;
        login_lat.push(ms);
    }
    let flood = t.elapsed();
    let mut page_lat = reader.await.unwrap();
    sampler.abort();
    let peak_after = status_kib(pid, "VmHWM:");
    println!(
        "150 concurrent logins: done in {:.2} s; answers {codes:?}; login p50 {:.0} ms, p99 {:.0} ms",
        flood.as_secs_f64(),
        percentile(&mut login_lat, 0.5),
        percentile(&mut login_lat, 0.99)
    );
    println!(
        "RSS during the flood: sampled max {:>6.1} MiB, process peak {:.1} → {:.1} MiB   (budget ≤ 60)",
        mib(*sample_rss.lock().unwrap()),
        mib(peak_before),
        mib(peak_after)
    );
    println!(
        "home page during the flood: {} requests, p50 {:.2} ms, p99 {:.2} ms",
        page_lat.len(),
        percentile(&mut page_lat, 0.5),
        percentile(&mut page_lat, 0.99)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "RSS one second after the flood:                {:>7.1} MiB",
        mib(status_kib(pid, "VmRSS:"))
    );

    // 3. More silent sockets than the open-files limit (younger than the header timeout), then
    //    /healthz.
    let socks: Vec<TcpStream> = tokio::task::spawn_blocking(move || {
        (0..SILENT)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok())
            .collect()
    })
    .await
    .unwrap();
    let opened = socks.len();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut hz = Vec::new();
    let mut failed = 0;
    for _ in 0..100 {
        let t = Instant::now();
        match http.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status() == 200 => hz.push(t.elapsed().as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
    }
    let (p50, p99) = if hz.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        (percentile(&mut hz, 0.5), percentile(&mut hz, 0.99))
    };
    println!(
        "/healthz with {opened} silent sockets open (open-files limit {NOFILE}): {} answered, {failed} failed, p50 {p50:.2} ms, p99 {p99:.2} ms",
        hz.len(),
    );
    println!(
        "RSS with the sockets open:                     {:>7.1} MiB",
        mib(status_kib(pid, "VmRSS:"))
    );
    drop(socks);

    let _ = child.kill();
    let _ = child.wait();
    pool.close().await;
    common::drop_db(&admin, name).await;
}
