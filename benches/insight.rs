//! The insight budget (DESIGN §5, issue 14): `/insight` with 100,000 deployments, 5,000
//! incidents and 50,000 changes answers in ≤ 20 ms p50. `cargo bench --bench insight`.

mod common;

use common::{measure, measure_serial};

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_insight";
    let (pool, admin) = common::fresh(name).await;
    let (owner, password) = common::bench_admin(&pool).await;
    let t = std::time::Instant::now();
    // 10 repositories, 50 services (5 per repository), 8 environments of which 2 are production;
    // 100,000 deployments over 180 days (every 2.6 minutes), 1 in 20 failed, 1 in 50 a hotfix,
    // 1 in 100 rolled back; 5,000 production incidents; 50,000 merged pull requests.
    sqlx::raw_sql(&format!(
        "insert into repositories (name, url, default_branch, owner_id)
           select 'repo' || n, '', 'main', {owner} from generate_series(1, 10) n;
         insert into services (name, role, image, owner_id, repository_id)
           select 'svc' || n, case when n = 1 then 'api' else 'worker' end, '', {owner}, 1 + n % 10
           from generate_series(1, 50) n;
         insert into environments (name, tier, position)
           select 'env' || n, case when n <= 2 then 'production' else 'staging' end, n
           from generate_series(1, 8) n;
         insert into deployments (service_id, environment_id, version, status, started_at, finished_at, actor, source, hotfix)
           select 1 + n % 50, 1 + (n / 50) % 8, 'v3.' || (n / 10000) || '.' || (n % 97),
                  case when n % 20 = 0 then 'failed' when n % 100 = 1 then 'rolled_back' else 'succeeded' end,
                  now() - (100000 - n) * interval '155 seconds', now() - (100000 - n) * interval '155 seconds' + interval '5 minutes',
                  'ci', 'api', n % 50 = 7
           from generate_series(1, 100000) n;
         insert into incidents (service_id, environment_id, severity, title, opened_at, resolved_at, attribution)
           select 1 + n % 50, 1 + n % 2, 'sev3', 'incident ' || n,
                  now() - (5000 - n) * interval '52 minutes', now() - (5000 - n) * interval '52 minutes' + interval '2 hours',
                  case when n % 10 = 0 then 'none' else 'default' end
           from generate_series(1, 5000) n;
         insert into change_records (repository_id, number, title, author, merge_sha, opened_at, merged_at)
           select 1 + n % 10, n, 'change ' || n, 'ann', '', now() - (50000 - n) * interval '311 seconds' - interval '1 day',
                  now() - (50000 - n) * interval '311 seconds'
           from generate_series(1, 50000) n;
         analyze;
         update incidents set caused_by = incident_cause(incidents, 7);
         select link_change(repository_id, number) from change_records;
         insert into current_deployments (service_id, environment_id, deployment_id)
           select distinct on (service_id, environment_id) service_id, environment_id, id
           from deployments where status = 'succeeded'
           order by service_id, environment_id, id desc;
         analyze;"
    ))
    .execute(&pool)
    .await
    .unwrap();
    println!(
        "seeded 100,000 deployments (2 of 8 environments production), 5,000 incidents and 50,000 changes in {:?}\n",
        t.elapsed()
    );
    let addr = common::serve(&pool).await;
    let client = common::logged_in(addr, &password).await;
    println!(
        "{:<52} {:>13} {:>13} {:>8}",
        "page", "serial p50 ms", "16-conn req/s", "p99 ms"
    );
    for path in [
        "/insight?window=30",
        "/insight",
        "/insight?window=180",
        "/insight?service=svc7&window=180",
        "/insight?environment=env1",
        "/insight/rows?key=fail-rate&window=90",
        "/",
    ] {
        let url = format!("http://{addr}{path}");
        let one = measure_serial(&client, &url).await;
        let many = measure(&client, &url, None).await;
        println!(
            "{path:<52} {:>13.2} {:>13.0} {:>8.2}",
            one.p50, many.rps, many.p99
        );
    }
    println!("\nbudget: /insight p50 ≤ 20 ms (serial p50: one user on an idle server)\n");
    pool.close().await;
    common::drop_db(&admin, name).await;
}
