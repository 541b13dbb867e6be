//! The sender: runs in every replica. It leases destinations whose oldest pending delivery is due
//! (`for update skip locked`, like the prober), so one sender at a time sends a destination's
//! messages, in order of creation. At least once, with the outbox row's id as the stable
//! delivery id; a failure backs off exponentially with jitter and blocks the destination's later
//! rows until its retry (order is kept); a 429 pauses the destination for its `Retry-After`;
//! Slack-compatible chats get at most one message per second, a burst of one kind folded into one
//! message; after the configured attempts a row is dead (shown to admins, retryable) and the
//! destination moves on.

use std::time::{Duration, Instant};

use rand::Rng;

use super::{
    model::{self, Message},
    store,
};
use crate::state::AppState;

/// A destination's lease: long enough for a batch with every request timing out once.
const LEASE_SECS: f64 = 60.0;
/// A batch stops taking new rows after this long, well inside the lease.
const BATCH_BUDGET: Duration = Duration::from_secs(30);
/// One HTTP request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Destinations served side by side by one sender.
const PARALLEL: i64 = 4;

/// Runs until the process ends, looking for due deliveries every `poll` when idle.
pub async fn run(state: AppState, poll: Duration) {
    let client = client();
    loop {
        match tick(&state, &client).await {
            Ok(0) => tokio::time::sleep(poll).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the notification sender could not reach the database");
                tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
            }
        }
    }
}

/// The HTTP client every send uses: no redirects (a webhook that redirects is misconfigured, and
/// a redirect could lead a signed body elsewhere), a timeout, flowdeck's user agent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("flowdeck/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS backend is compiled in")
}

/// Leases due destinations and sends a batch to each; returns how many destinations it served.
pub async fn tick(state: &AppState, client: &reqwest::Client) -> sqlx::Result<usize> {
    let leased =
        store::lease_destinations(&state.pool, PARALLEL, LEASE_SECS, state.clock.now()).await?;
    let n = leased.len();
    let batches = leased.into_iter().map(|d| async move {
        let id = d.id;
        if let Err(e) = send_batch(state, client, &d).await {
            tracing::warn!(error = %e, destination = id, "a notification batch stopped early");
        }
        if let Err(e) = store::release(&state.pool, id).await {
            tracing::warn!(error = %e, destination = id, "could not release a destination's lease");
        }
    });
    futures_util::future::join_all(batches).await;
    Ok(n)
}

/// What one HTTP attempt came to.
enum Sent {
    Ok,
    /// 429: wait this long, not counted as a failure.
    Slow(Duration),
    Failed(String),
}

async fn send_batch(
    state: &AppState,
    client: &reqwest::Client,
    d: &store::Leased,
) -> sqlx::Result<()> {
    let started = Instant::now();
    let slack = d.kind == "slack";
    let rows = store::pending(&state.pool, d.id, 200, state.clock.now()).await?;
    let base = state.config.base_url();
    let mut i = 0;
    let mut last_chat: Option<Instant> = None;
    while i < rows.len() && started.elapsed() < BATCH_BUDGET {
        if !rows[i].due {
            break; // the head waits for its retry time; later rows wait behind it
        }
        // A chat post folds the run of due, first-attempt rows of the same event.
        let mut end = i + 1;
        if slack {
            while end < rows.len()
                && end - i < model::FOLD_MAX
                && rows[end].due
                && rows[end].event == rows[i].event
            {
                end += 1;
            }
            if let Some(at) = last_chat {
                let wait = model::SLACK_PACE.saturating_sub(at.elapsed());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let batch = &rows[i..end];
        let messages: Vec<Message> = batch
            .iter()
            .map(|r| Message {
                id: r.outbox_id,
                event: r.event.clone(),
                text: r.text.clone(),
                url: format!("{base}{}", r.link),
                data: r.payload.clone(),
                created_at: r.created_at,
            })
            .collect();
        let outcome = if slack {
            post(client, &d.url, &model::slack_body(&messages), None).await
        } else {
            let m = &messages[0];
            let headers = (d.secret.as_str(), m.id, m.event.as_str());
            post(client, &d.url, &model::webhook_body(m), Some(headers)).await
        };
        if slack {
            last_chat = Some(Instant::now());
        }
        let ids: Vec<i64> = batch.iter().map(|r| r.delivery_id).collect();
        match outcome {
            Sent::Ok => {
                store::sent(&state.pool, d.id, &ids).await?;
                i = end;
            }
            Sent::Slow(wait) => {
                store::pause(&state.pool, d.id, wait.as_secs_f64()).await?;
                return Ok(());
            }
            Sent::Failed(error) => {
                metrics::counter!("flowdeck_outbox_delivery_failures_total").increment(1);
                let attempts = batch.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
                let jitter = rand::thread_rng().r#gen::<f64>();
                let wait = model::backoff(attempts, state.config.outbox_backoff(), jitter);
                let dead = store::failed(
                    &state.pool,
                    d.id,
                    &ids,
                    &error,
                    wait.as_secs_f64(),
                    state.config.outbox_max_attempts,
                )
                .await?;
                tracing::info!(
                    destination = d.id,
                    attempts,
                    dead,
                    error,
                    "a notification was not delivered"
                );
                if !dead {
                    return Ok(()); // keep the order: later rows wait for this one's retry
                }
                i = end;
            }
        }
    }
    if slack && last_chat.is_some() {
        // The next batch, maybe on another replica, keeps the one-per-second pace.
        store::pause(&state.pool, d.id, model::SLACK_PACE.as_secs_f64()).await?;
    }
    Ok(())
}

/// POSTs `body` as JSON; for signed webhooks `signed` = (secret, delivery id, event). Errors are
/// described without the URL (it is a secret).
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    signed: Option<(&str, i64, &str)>,
) -> Sent {
    let bytes = body.to_string().into_bytes();
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some((secret, id, event)) = signed {
        req = req
            .header("X-Flowdeck-Signature-256", model::signature(secret, &bytes))
            .header("X-Flowdeck-Delivery", id.to_string())
            .header("X-Flowdeck-Event", event);
    }
    match req.body(bytes).send().await {
        Ok(r) if r.status().is_success() => Sent::Ok,
        Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
            Sent::Slow(model::retry_after(
                r.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            ))
        }
        Ok(r) => Sent::Failed(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Sent::Failed("timed out".into()),
        Err(e) => Sent::Failed(describe(&e.without_url())),
    }
}

/// A transport error in words, with its causes but never the URL.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.chars().take(300).collect()
}

/// Sends `text` to one destination at once (the integrations page's "send a test message") and
/// says what happened.
pub async fn send_test(
    state: &AppState,
    kind: &str,
    url: &str,
    secret: &str,
    text: &str,
) -> Result<(), String> {
    let m = Message {
        id: 0,
        event: model::Event::Test.key().into(),
        text: text.into(),
        url: format!("{}/admin/integrations", state.config.base_url()),
        data: serde_json::Value::Null,
        created_at: state.clock.now(),
    };
    let outcome = if kind == "slack" {
        post(&client(), url, &model::slack_body(&[m]), None).await
    } else {
        post(
            &client(),
            url,
            &model::webhook_body(&m),
            Some((secret, 0, "test")),
        )
        .await
    };
    match outcome {
        Sent::Ok => Ok(()),
        Sent::Slow(wait) => Err(format!(
            "the receiver asked to wait {} s (429)",
            wait.as_secs()
        )),
        Sent::Failed(e) => Err(e),
    }
}
