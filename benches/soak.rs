//! Memory under load (DESIGN §5, issue 16): RSS ≤ 60 MB and no growth over a 10-minute soak.
//! `cargo bench --bench soak` (FLOWDECK_SOAK_SECONDS, default 600). Runs the release binary
//! (`flowdeck serve`, caches on) on the demo data as its own process, drives 16 clients cycling
//! through the main pages from this one, and prints the server process's resident memory (from
//! /proc) every 30 s.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("FLOWDECK_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let name = "flowdeck_bench_soak";
    let (pool, admin) = common::fresh(name).await;
    flowdeck::demo::load(&pool).await.unwrap();
    let (_, password) = common::bench_admin(&pool).await;
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
        .args(["serve", "--listen", &addr.to_string()])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the flowdeck binary");
    let pid = server.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://{addr}/readyz")).await.is_err() {
        assert!(Instant::now() < deadline, "flowdeck serve never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = common::logged_in(addr, &password).await;
    let pages = [
        "/",
        "/deployments",
        "/deployments/history",
        "/releases",
        "/team",
        "/docs",
        "/reviews",
        "/updates",
        "/milestones",
        "/blockers",
        "/insight",
    ];
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let run = Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, done) = (client.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while start.elapsed() < run {
                let url = format!("http://{addr}{}", pages[i % pages.len()]);
                let r = client.get(&url).send().await.unwrap();
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    println!(
        "soak: {seconds} s, 16 clients over {} pages, demo data\n",
        pages.len()
    );
    println!("{:>6} {:>10} {:>10}", "t (s)", "requests", "RSS MB");
    let mut samples = Vec::new();
    let mut next = Duration::ZERO;
    while start.elapsed() < run {
        tokio::time::sleep_until((start + next).into()).await;
        let mb = rss_mb(pid);
        samples.push(mb);
        println!(
            "{:>6} {:>10} {:>10.1}",
            next.as_secs(),
            done.load(Ordering::Relaxed),
            mb
        );
        next += Duration::from_secs(30);
    }
    for t in tasks {
        t.await.unwrap();
    }
    let warm = samples
        .iter()
        .skip(2)
        .take(2)
        .cloned()
        .fold(0.0_f64, f64::max);
    let last = *samples.last().unwrap_or(&0.0);
    let peak = samples.iter().cloned().fold(0.0_f64, f64::max);
    println!(
        "\n{} requests; RSS after the first minute {warm:.1} MB, at the end {last:.1} MB, peak {peak:.1} MB; grew {:+.1} MB after the first minute  (budget ≤ 60 MB, no growth)",
        done.load(Ordering::Relaxed),
        last - warm
    );
    let _ = server.kill();
    let _ = server.wait();
    pool.close().await;
    common::drop_db(&admin, name).await;
}
