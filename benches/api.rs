//! The API write budget (DESIGN §5, issue 12): recording a deployment through `/api/v1/` with 16
//! concurrent clients ≥ 500/s on the 2-core machine, p99 ≤ 50 ms. `cargo bench --bench api`.

mod common;

use std::{sync::Arc, time::Instant};

use flowdeck::{config::Config, state::AppState};

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_api";
    let (pool, admin) = common::fresh(name).await;
    let (owner, _) = common::bench_admin(&pool).await;
    sqlx::raw_sql(&format!(
        "insert into services (name, role, owner_id) values ('svc', 'worker', {owner});
         insert into environments (name, tier) values ('prod', 'production');
         insert into api_tokens (account_id, name, prefix, token_hash, scopes, expires_at, created_by)
           values ({owner}, 'bench', 'fdk_bench', sha256('fdk_benchbenchbenchbench'::bytea),
                   array['read', 'deployments:write'], now() + interval '1 day', {owner});"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_listen(addr);
    config.api_rate_per_second = 1_000_000;
    flowdeck::server::spawn(AppState::new(pool.clone(), config), listener);
    let url = format!("http://{addr}/api/v1/deployments");
    let client = reqwest::Client::new();
    let post = |client: reqwest::Client, url: String, version: String, key: Option<String>| async move {
        let mut req = client
            .post(&url)
            .bearer_auth("fdk_benchbenchbenchbench")
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"service": "svc", "environment": "prod", "version": "{version}"}}"#
            ));
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
    };
    for n in 0..20 {
        post(client.clone(), url.clone(), format!("v0.0.{n}"), None).await;
    }
    println!(
        "{:<52} {:>8} {:>8} {:>8}",
        "POST /api/v1/deployments, 16 clients", "req/s", "p50 ms", "p99 ms"
    );
    for with_key in [false, true] {
        let start = Instant::now();
        let lat = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
        let mut tasks = Vec::new();
        for w in 0..common::CONCURRENCY {
            let (client, url, lat) = (client.clone(), url.clone(), lat.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < common::RUN {
                    let version = format!("v{}.{w}.{n}", u8::from(with_key) + 1);
                    let key = with_key.then(|| format!("k-{w}-{n}"));
                    let t = Instant::now();
                    post(client.clone(), url.clone(), version, key).await;
                    lat.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                    n += 1;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut l = lat.lock().unwrap().clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
        let label = if with_key {
            "  with an Idempotency-Key each"
        } else {
            "  without Idempotency-Key"
        };
        println!(
            "{label:<52} {:>8.0} {:>8.2} {:>8.2}",
            l.len() as f64 / start.elapsed().as_secs_f64(),
            pct(0.5),
            pct(0.99)
        );
    }
    println!("\nbudget: ≥ 500 req/s, p99 ≤ 50 ms\n");

    // Signed GitHub deliveries at 50/s (open loop): acknowledged after verify + store.
    sqlx::raw_sql(&format!(
        "insert into repositories (name, url, default_branch, owner_id) values ('server', '', 'main', {owner});
         insert into github_hooks (repository_id, secret) select id, 'bench-secret-bench-secret' from repositories;"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let hook = format!("http://{addr}/hooks/github");
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut n = 0u64;
    while start.elapsed() < common::RUN {
        let due = start + std::time::Duration::from_millis(n * 20);
        tokio::time::sleep_until(due.into()).await;
        let body = format!(
            r#"{{"zen": "Design for failure.", "hook_id": {n}, "repository": {{"name": "server"}}}}"#
        );
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"bench-secret-bench-secret").unwrap();
        mac.update(body.as_bytes());
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let t = Instant::now();
        let r = client
            .post(&hook)
            .header("x-github-event", "ping")
            .header("x-github-delivery", format!("bench-{n}"))
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        n += 1;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{:<52} {:>8} {:>8.2} {:>8.2}",
        "POST /hooks/github (signed ping), 50/s",
        lat.len(),
        pct(0.5),
        pct(0.99)
    );
    println!("budget: p99 ≤ 20 ms");
    pool.close().await;
    common::drop_db(&admin, name).await;
}
