//! The health prober: a background task in every flowdeck instance. Each round it claims the due
//! targets (leased through PostgreSQL, so with several instances each target is probed by exactly
//! one), probes them concurrently with each service's timeout, stores a sample, and applies the
//! consecutive-failure rule (defaults: every 30 s, 10 s timeout, 5 failures → down).

use std::time::{Duration, Instant};

use serde_json::json;

use super::{model::Health, store};
use crate::{
    outbox::{self, Event, Notice},
    state::AppState,
};

/// Probes until the task is aborted. `instance` names this flowdeck for leases and logs.
pub async fn run(state: AppState, instance: String, tick: Duration) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent("flowdeck-health-prober")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "health prober cannot start");
            return;
        }
    };
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(e) = round(&state, &client, &instance).await {
            tracing::warn!(error = %e, "health probe round failed; retrying");
        }
    }
}

/// One round: claim, probe, record. Returns how many targets were probed.
pub async fn round(
    state: &AppState,
    client: &reqwest::Client,
    instance: &str,
) -> anyhow::Result<usize> {
    let due = store::claim_due(&state.pool, instance, 50).await?;
    let n = due.len();
    let probes = due.into_iter().map(|t| {
        let client = client.clone();
        let state = state.clone();
        let instance = instance.to_string();
        async move {
            let started = Instant::now();
            let result = client
                .get(&t.url)
                .timeout(Duration::from_secs(t.timeout.max(1) as u64))
                .send()
                .await;
            let latency = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
            let (ok, error) = match result {
                Ok(r) if r.status().is_success() => (true, String::new()),
                Ok(r) => (false, format!("HTTP {}", r.status().as_u16())),
                Err(e) if e.is_timeout() => (false, "timed out".into()),
                Err(e) => (false, format!("{}", e.without_url())),
            };
            metrics::counter!("flowdeck_probes_total", "result" => if ok { "ok" } else { "failed" })
                .increment(1);
            match store::finish_probe(&state.pool, &t, &instance, ok, Some(latency), &error).await {
                Ok(status) if status == Health::Down && t.status != Health::Down => {
                    tracing::warn!(
                        service_id = t.service_id,
                        environment_id = t.environment_id,
                        error,
                        "service is down"
                    );
                    announce(&state, &t, false, &error).await;
                }
                Ok(status) if status == Health::Up && t.status == Health::Down => {
                    tracing::info!(
                        service_id = t.service_id,
                        environment_id = t.environment_id,
                        "service is up again"
                    );
                    announce(&state, &t, true, "").await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not store a health sample"),
            }
        }
    });
    futures_join_all(probes).await;
    Ok(n)
}

/// Tells the team a target went down or came back (the prober found out, so no one is named).
async fn announce(state: &AppState, t: &store::Target, up: bool, error: &str) {
    let queued = async {
        let mut conn = state.pool.acquire().await?;
        let (service, environment) =
            store::target_names(&mut conn, t.service_id, t.environment_id).await?;
        let (event, text) = if up {
            (
                Event::ServiceUp,
                format!("{service} in {environment} is up again."),
            )
        } else {
            (
                Event::ServiceDown,
                format!("{service} in {environment} is down: {error}."),
            )
        };
        let notice = Notice::new(event, text, format!("/services/{service}")).data(json!({
            "service": service, "environment": environment, "ok": up, "error": error, "source": "prober",
        }));
        outbox::enqueue(&mut conn, state.clock.now(), notice).await
    };
    if let Err(e) = queued.await {
        tracing::error!(error = %e, service_id = t.service_id, "could not queue the health notification");
    }
}

async fn futures_join_all<F: Future<Output = ()> + Send + 'static>(futs: impl Iterator<Item = F>) {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

/// Claims up to `limit` due targets for `instance` (leased through PostgreSQL: a target leased
/// by one instance is not handed to another until its lease ends).
pub async fn claim_due(
    pool: &sqlx::PgPool,
    instance: &str,
    limit: i64,
) -> sqlx::Result<Vec<super::store::Target>> {
    super::store::claim_due(pool, instance, limit).await
}
