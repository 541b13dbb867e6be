//! The design-docs budget (issue 3): the docs list and a doc page with 10,000 docs answer in
//! ≤ 20 ms p50. `cargo bench --bench docs`.

mod common;

use common::{measure, measure_serial};

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_docs";
    let (pool, admin) = common::fresh(name).await;
    let (owner, password) = common::bench_admin(&pool).await;
    let t = std::time::Instant::now();
    sqlx::raw_sql(&format!(
        "insert into accounts (handle, display_name, role, password_hash)
           select 'member' || n, 'Member ' || n, 'member', 'x' from generate_series(1, 49) n;
         update doc_counter set last = 10000;
         insert into docs (number, title, kind, owner_id, tags, target_line, status, background, objectives,
                           alternatives, conclusion)
           select n, 'Design doc ' || n || ' about ' || (array['retention','leases','push','login','images'])[1 + n % 5],
                  (array['proposal','problem','decision','information'])[1 + n % 4],
                  1 + n % 50, array[(array['server','ops','security','api'])[1 + n % 4]],
                  case when n % 3 = 0 then 'release-v3.9' else '' end,
                  (array['draft','in_review','approved','implemented','rejected'])[1 + n % 5],
                  repeat('Background text for doc ' || n || '. ', 20),
                  'Goals and non-goals of doc ' || n,
                  jsonb_build_array(
                    jsonb_build_object('title','A','description','first','pros','p','cons','c','references','r','data','d'),
                    jsonb_build_object('title','B','description','second','pros','p','cons','c','references','','data','')),
                  'Conclusion ' || n
           from generate_series(1, 10000) n;
         insert into doc_reviewers (doc_id, reviewer_id, due_at, verdict)
           select d.id, 1 + (d.number + k) % 50, now() + interval '3 days', case when k = 0 then 'approve' end
           from docs d, generate_series(0, 2) k where 1 + (d.number + k) % 50 <> d.owner_id;
         insert into doc_comments (doc_id, author_id, body)
           select d.id, {owner}, 'A comment on doc ' || d.number from docs d where d.number % 2 = 0;
         analyze;"
    ))
    .execute(&pool)
    .await
    .unwrap();
    println!(
        "seeded 10,000 docs, 30,000 reviewers, 5,000 comments in {:?}\n",
        t.elapsed()
    );
    let addr = common::serve(&pool).await;
    let client = common::logged_in(addr, &password).await;
    println!(
        "{:<48} {:>13} {:>13} {:>8}",
        "page", "serial p50 ms", "16-conn req/s", "p99 ms"
    );
    for path in [
        "/docs",
        "/docs?q=leases",
        "/docs?status=approved&kind=decision&tag=ops",
        "/docs?reviewer=member7",
        "/docs?after=0:5000",
        "/docs/5000",
        "/reviews",
    ] {
        let url = format!("http://{addr}{path}");
        let one = measure_serial(&client, &url).await;
        let many = measure(&client, &url, None).await;
        println!(
            "{path:<48} {:>13.2} {:>13.0} {:>8.2}",
            one.p50, many.rps, many.p99
        );
    }
    println!(
        "\nbudget: p50 ≤ 20 ms for the docs list and a doc page (serial p50: one user on an idle server)"
    );
    pool.close().await;
    common::drop_db(&admin, name).await;
}
