//! Replicas (DESIGN §5 "Replicas", issue 16), with the release binary: the home page's
//! throughput from one `flowdeck serve` process, then from three on the same database with the
//! load spread evenly over them; then, while the three are under that load, how long a change
//! made through one takes to show on the other two.
//!
//! `cargo bench --bench replicas` (`FLOWDECK_BENCH_DATABASE_URL`, default the local PostgreSQL).
//! Budget: three ≥ 2× one "where cores allow" — the load generator, PostgreSQL and every replica
//! share this machine's cores, so on a 2-core machine the ceiling is the machine, not flowdeck;
//! the bench prints the core count and the CPU time each replica used, to show which it is.

mod common;

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const CONNECTIONS: usize = 64;

/// A `flowdeck serve` of this build on `db_url`, ready; killed on drop.
struct Replica {
    child: Child,
    addr: SocketAddr,
}

impl Replica {
    async fn start(db_url: &str) -> Self {
        let addr = common::free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_flowdeck"))
            .args(["serve", "--listen", &addr.to_string()])
            .env("DATABASE_URL", db_url)
            .env("FLOWDECK_LOG_FORMAT", "json")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the flowdeck binary");
        common::until_ready(addr).await;
        Self { child, addr }
    }

    /// CPU seconds (user + system) the process has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
        let f: Vec<f64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
        let ticks = f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0);
        ticks / 100.0
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_replicas";
    let (pool, admin) = common::fresh(name).await;
    flowdeck::demo::load(&pool).await.unwrap();
    let (_, password) = common::bench_admin(&pool).await;
    let db_url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "flowdeck replicas bench: {cores} cores, {CONNECTIONS} connections, {:?} per run, demo data, release binary\n",
        common::RUN
    );

    let first = Replica::start(&db_url).await;
    let client = common::logged_in(first.addr, &password).await;
    let home = |r: &Replica| format!("http://{}/", r.addr);
    let cpu0 = first.cpu_seconds();
    let one = common::measure_spread(&client, &[home(&first)], None, CONNECTIONS).await;
    let cpu_one = first.cpu_seconds() - cpu0;

    let second = Replica::start(&db_url).await;
    let third = Replica::start(&db_url).await;
    let all = [&first, &second, &third];
    let urls: Vec<String> = all.iter().map(|r| home(r)).collect();
    let before: Vec<f64> = all.iter().map(|r| r.cpu_seconds()).collect();
    let three = common::measure_spread(&client, &urls, None, CONNECTIONS).await;
    let used: Vec<f64> = all
        .iter()
        .zip(&before)
        .map(|(r, b)| r.cpu_seconds() - b)
        .collect();

    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>22}",
        "home page", "req/s", "p50 ms", "p99 ms", "replica CPU s per run"
    );
    println!(
        "{:<34} {:>8.0} {:>8.2} {:>8.2} {:>22.1}",
        "1 replica", one.rps, one.p50, one.p99, cpu_one
    );
    println!(
        "{:<34} {:>8.0} {:>8.2} {:>8.2} {:>22}",
        "3 replicas, load spread evenly",
        three.rps,
        three.p50,
        three.p99,
        used.iter()
            .map(|c| format!("{c:.1}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    println!(
        "3 replicas ÷ 1 replica: {:.2}×  (budget ≥ 2× where cores allow; {cores} cores for the load, PostgreSQL and the replicas together)",
        three.rps / one.rps
    );
    // What a replica costs per page, alone and beside two others: when this stays the same, the
    // replicas share nothing but PostgreSQL, and throughput grows with the cores they are given.
    let total: f64 = used.iter().sum();
    println!(
        "pages per replica CPU-second: {:.0} with 1 replica, {:.0} with 3",
        one.rps * common::RUN.as_secs_f64() / cpu_one,
        three.rps * common::RUN.as_secs_f64() / total
    );

    // Visibility under load: the three replicas keep serving the home page while the bench
    // admin goes away and back through the first; each time, how long until the other two show it.
    let load = {
        let (client, urls) = (client.clone(), urls.clone());
        tokio::spawn(async move {
            common::measure_spread(&client, &urls, Some(one.rps / 2.0), CONNECTIONS).await
        })
    };
    let base = format!("http://{}", first.addr);
    let mut seen = Vec::new();
    for round in 0..8 {
        let (action, state) = if round % 2 == 0 {
            ("/me/away", "away")
        } else {
            ("/me/online", "online")
        };
        let token = common::form_token(&client, &format!("{base}/profile")).await;
        let r = client
            .post(format!("{base}{action}"))
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER, "{action}");
        let written = Instant::now();
        for other in [&second, &third] {
            loop {
                let body = client
                    .get(format!("http://{}/team?state={state}", other.addr))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if body.contains("href=\"/team/bench\"") {
                    break;
                }
                assert!(
                    written.elapsed() < Duration::from_secs(10),
                    "{action} never showed on {}",
                    other.addr
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen.push(written.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let under = load.await.unwrap();
    seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "\na change made on one replica, seen on the other two (16 observations, the replicas at {:.0} req/s, p99 {:.1} ms): median {:.1} ms, max {:.1} ms  (budget ≤ 1000 ms)",
        under.rps,
        under.p99,
        seen[seen.len() / 2],
        seen[seen.len() - 1]
    );
    drop((first, second, third));
    pool.close().await;
    common::drop_db(&admin, name).await;
}
