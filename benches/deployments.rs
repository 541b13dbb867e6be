//! The deployment budget (issue 6): the matrix and the history with 50 services × 8
//! environments × 100,000 deployments answer in ≤ 20 ms p50. `cargo bench --bench deployments`.

mod common;

use common::{measure, measure_serial};

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_deploys";
    let (pool, admin) = common::fresh(name).await;
    let (owner, password) = common::bench_admin(&pool).await;
    let t = std::time::Instant::now();
    sqlx::raw_sql(&format!(
        "insert into services (name, role, image, owner_id)
           select 'svc' || n, case when n = 1 then 'api' else 'worker' end, 'ghcr.io/example/svc' || n, {owner}
           from generate_series(1, 50) n;
         insert into environments (name, tier, position)
           select 'env' || n, 'staging', n from generate_series(1, 8) n;
         insert into deployments (service_id, environment_id, version, status, started_at, finished_at, actor, source)
           select 1 + n % 50, 1 + (n / 50) % 8, 'v3.' || (n / 10000) || '.' || (n % 97),
                  case when n % 20 = 0 then 'failed' else 'succeeded' end,
                  now() - (100000 - n) * interval '1 minute', now() - (100000 - n) * interval '1 minute',
                  'ci', 'api'
           from generate_series(1, 100000) n;
         insert into current_deployments (service_id, environment_id, deployment_id)
           select distinct on (service_id, environment_id) service_id, environment_id, id
           from deployments where status = 'succeeded'
           order by service_id, environment_id, id desc;
         insert into health_targets (service_id, environment_id, url, status, next_probe_at)
           select s.id, e.id, 'http://127.0.0.1:1/', 'up', 'infinity' from services s, environments e;
         analyze;"
    ))
    .execute(&pool)
    .await
    .unwrap();
    println!(
        "seeded 50 services × 8 environments × 100,000 deployments in {:?}\n",
        t.elapsed()
    );
    let addr = common::serve(&pool).await;
    let client = common::logged_in(addr, &password).await;
    println!(
        "{:<58} {:>13} {:>13} {:>8}",
        "page", "serial p50 ms", "16-conn req/s", "p99 ms"
    );
    for path in [
        "/deployments",
        "/deployments/history",
        "/deployments/history?service=svc7&environment=env3&status=",
        "/deployments/history?status=failed",
        "/deployments/history?before=50000",
        "/services/svc1",
    ] {
        let url = format!("http://{addr}{path}");
        let one = measure_serial(&client, &url).await;
        let many = measure(&client, &url, None).await;
        println!(
            "{path:<58} {:>13.2} {:>13.0} {:>8.2}",
            one.p50, many.rps, many.p99
        );
    }
    println!(
        "\nbudget: p50 ≤ 20 ms for the matrix and the history (serial p50: one user on an idle server)"
    );
    pool.close().await;
    common::drop_db(&admin, name).await;
}
