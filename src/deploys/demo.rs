//! The demo's deployment history (`flowdeck demo`): services, environments, months of
//! deployments, images, health and incidents, written through this feature's own store.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::auth::model::AccountId;

/// Services and environments like a chat server's, about four months of deployments (api first,
/// then the others, prod behind staging), images with one missing arm64 build and one digest
/// mismatch, a skew warning in staging, and two incidents (one resolved).
pub async fn history(
    tx: &mut PgConnection,
    owner: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use super::{
        model::{DeploymentId, EnvironmentId, ServiceId, Status as DeployStatus},
        store as d,
    };
    use sha2::Digest;
    let services = [
        ("api", "api"),
        ("rpc-user", "rpc"),
        ("rpc-msg", "rpc"),
        ("msggateway", "gateway"),
        ("msgtransfer", "worker"),
        ("push", "worker"),
        ("web", "web"),
    ];
    let repo: Option<i64> = sqlx::query_scalar("select id from repositories where name = 'server'")
        .fetch_optional(&mut *tx)
        .await?;
    let mut sids = Vec::new();
    for (name, role) in services {
        let image = format!("ghcr.io/example/{name}");
        let new = d::NewService {
            name,
            role,
            image: &image,
            supervisor: "kubernetes",
            owner,
            probe_interval_seconds: 30,
            repository_id: repo,
        };
        sids.push(
            d::create_service(tx, new)
                .await?
                .ok_or_else(|| anyhow::anyhow!("demo service {name}"))?,
        );
    }
    let envs = [
        ("dev", "development", 1),
        ("staging", "staging", 2),
        ("prod", "production", 3),
        ("customer-site", "offline", 4),
    ];
    let mut eids = Vec::new();
    for (name, tier, pos) in envs {
        eids.push(
            d::create_environment(tx, name, tier, pos, "")
                .await?
                .ok_or_else(|| anyhow::anyhow!("demo env {name}"))?,
        );
    }
    // Releases roughly every two weeks; each reaches dev, then staging a day later, prod two days later.
    let versions = [
        "v3.6.0", "v3.6.1", "v3.6.2", "v3.7.0", "v3.7.1", "v3.7.2", "v3.8.0", "v3.8.1",
    ];
    let start = now - Duration::days(120);
    let mut last_prod_api = 0;
    for (vi, v) in versions.iter().enumerate() {
        for (ei, lag) in [(0usize, 0i64), (1, 1), (2, 3)] {
            for (si, (name, _)) in services.iter().enumerate() {
                let at =
                    start + Duration::days(vi as i64 * 15 + lag) + Duration::minutes(si as i64 * 7);
                // push in staging is stuck at v3.6.2, two minors behind api: the skew warning.
                if *name == "push" && ei == 1 && vi >= 3 {
                    continue;
                }
                let failed = vi == 4 && ei == 2 && *name == "msgtransfer";
                let image_ref = format!("ghcr.io/example/{name}:{v}");
                let new = d::NewDeployment {
                    service: sids[si],
                    environment: eids[ei],
                    version: v,
                    image_ref: &image_ref,
                    digest: "",
                    status: if failed {
                        DeployStatus::Failed
                    } else {
                        DeployStatus::Succeeded
                    },
                    at,
                    actor_id: None,
                    actor: "ci",
                    source: "api",
                    commit: "",
                    note: "",
                    idempotency_key: None,
                    hotfix: false,
                };
                let id = d::insert_deployment(tx, new).await?.unwrap_or_default();
                if name == &"api" && ei == 2 {
                    last_prod_api = id;
                }
            }
        }
    }
    for (si, _) in services.iter().enumerate() {
        for &e in &eids[..3] {
            d::refresh_current(tx, ServiceId(sids[si]), EnvironmentId(e)).await?;
        }
    }
    // The offline customer site runs v3.7.2 everywhere, pinned by digest.
    for (si, (name, _)) in services.iter().enumerate() {
        let digest = format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(format!("{name}v3.7.2").as_bytes()))
        );
        let image_ref = format!("ghcr.io/example/{name}:v3.7.2");
        let new = d::NewDeployment {
            service: sids[si],
            environment: eids[3],
            version: "v3.7.2",
            image_ref: &image_ref,
            digest: &digest,
            status: DeployStatus::Succeeded,
            at: now - Duration::days(20),
            actor_id: None,
            actor: "ops",
            source: "manual",
            commit: "",
            note: "carried on a USB disk",
            idempotency_key: None,
            hotfix: false,
        };
        d::insert_deployment(tx, new).await?;
        d::refresh_current(tx, ServiceId(sids[si]), EnvironmentId(eids[3])).await?;
    }
    // Images of v3.8.1: api is complete, push lacks arm64 on docker.io, rpc-msg's digests disagree.
    for (si, (name, _)) in services.iter().enumerate() {
        for reg in ["ghcr.io", "docker.io"] {
            for arch in crate::deploys::model::ARCHES {
                if *name == "push" && reg == "docker.io" && arch == "linux/arm64" {
                    continue;
                }
                let salt = if *name == "rpc-msg" && reg == "docker.io" {
                    "x"
                } else {
                    ""
                };
                let digest = format!(
                    "sha256:{}",
                    hex::encode(sha2::Sha256::digest(
                        format!("{name}{arch}{salt}").as_bytes()
                    ))
                );
                d::upsert_image(tx, sids[si], "v3.8.1", reg, arch, &digest).await?;
            }
        }
    }
    let stalled = d::open_incident(
        tx,
        ServiceId(sids[4]),
        EnvironmentId(eids[2]),
        "sev2",
        "Message transfer stalled after v3.7.1",
        start + Duration::days(63),
        None,
        None,
    )
    .await?;
    d::refresh_cause(tx, stalled, 7).await?;
    d::resolve_incident(
        tx,
        stalled,
        start + Duration::days(63) + Duration::hours(5),
        None,
        "Restarted the consumers; v3.7.2 fixed the offset handling.",
    )
    .await?;
    let resolved = d::open_incident(
        tx,
        ServiceId(sids[0]),
        EnvironmentId(eids[2]),
        "sev3",
        "Login latency above 2 s",
        now - Duration::days(2),
        Some(DeploymentId(last_prod_api)),
        None,
    )
    .await?;
    d::refresh_cause(tx, resolved, 7).await?;
    d::resolve_incident(
        tx,
        resolved,
        now - Duration::days(2) + Duration::hours(3),
        None,
        "Raised the session cache size; latency back under 300 ms.",
    )
    .await?;
    delivery(tx, owner, sids[0], eids[2], now).await?;
    health(tx, &sids, &eids[1..3], now).await?;
    Ok(())
}

/// What insight needs to show every key with a band: six months of production redeploys of api
/// on weekdays at 10:00 UTC (ending two weeks ago, before the history above took over), with a
/// failure every 12th, a rollback every 25th, a hotfix every 17th, production incidents left to
/// the default attribution (one named, one attributed to no deployment), and a `status-page`
/// service with only two production deployments: "not enough data" when filtered to it.
async fn delivery(
    tx: &mut PgConnection,
    owner: AccountId,
    api: i64,
    prod: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use super::{
        model::{DeploymentId, EnvironmentId, ServiceId, Status as DeployStatus},
        store as d,
    };
    use chrono::{Datelike, Timelike};
    let first = (now - Duration::days(182))
        .with_hour(10)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now - Duration::days(182));
    let mut n = 0;
    let mut ids = Vec::new();
    let mut day = first;
    while day < now - Duration::days(14) {
        if day.weekday().num_days_from_monday() < 5 {
            n += 1;
            let version = if day < now - Duration::days(120) {
                "v3.5.5"
            } else {
                "v3.6.0"
            };
            let status = if n % 12 == 0 {
                DeployStatus::Failed
            } else {
                DeployStatus::Succeeded
            };
            let new = d::NewDeployment {
                service: api,
                environment: prod,
                version,
                image_ref: "",
                digest: "",
                status,
                at: day,
                actor_id: None,
                actor: "ci",
                source: "api",
                commit: "",
                note: "",
                idempotency_key: None,
                hotfix: n % 17 == 0,
            };
            if let Some(id) = d::insert_deployment(tx, new).await? {
                if n % 25 == 0 {
                    d::set_status(
                        tx,
                        id,
                        DeployStatus::RolledBack,
                        day + Duration::minutes(20),
                    )
                    .await?;
                }
                ids.push((id, day));
            }
        }
        day += Duration::days(1);
    }
    // Incidents in production: most attributed by default (the latest deployment before them).
    for (k, (id, at)) in ids.iter().enumerate().filter(|(k, _)| k % 20 == 7) {
        let named = (k % 60 == 7).then_some(DeploymentId(*id));
        let opened = *at + Duration::hours(2);
        let incident = d::open_incident(
            tx,
            ServiceId(api),
            EnvironmentId(prod),
            "sev3",
            "Error rate above 1 % after a deployment",
            opened,
            named,
            None,
        )
        .await?;
        d::refresh_cause(tx, incident, 7).await?;
        d::resolve_incident(
            tx,
            incident,
            opened + Duration::hours(1 + (k % 5) as i64),
            None,
            "Found and fixed the regression.",
        )
        .await?;
        if k % 60 == 47 {
            d::set_attribution(tx, incident, "none", None).await?;
            d::refresh_cause(tx, incident, 7).await?;
        }
    }
    let status_page = d::create_service(
        tx,
        d::NewService {
            name: "status-page",
            role: "web",
            image: "ghcr.io/example/status-page",
            supervisor: "compose",
            owner,
            probe_interval_seconds: 30,
            repository_id: None,
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("demo service status-page"))?;
    for (version, ago) in [("v3.8.0", 40), ("v3.8.1", 10)] {
        let new = d::NewDeployment {
            service: status_page,
            environment: prod,
            version,
            image_ref: "",
            digest: "",
            status: DeployStatus::Succeeded,
            at: now - Duration::days(ago),
            actor_id: None,
            actor: "ops",
            source: "manual",
            commit: "",
            note: "",
            idempotency_key: None,
            hotfix: false,
        };
        d::insert_deployment(tx, new).await?;
        d::refresh_current(tx, ServiceId(status_page), EnvironmentId(prod)).await?;
    }
    Ok(())
}

/// 24 hours of health samples, one every 5 minutes, for every service in staging and prod:
/// msggateway in prod flaps (down for a while every few hours, down now); the rest are up with
/// a latency that follows the day. The demo sites do not exist, so no health URL is set (the
/// prober leaves them alone) and the targets' state is what the samples say.
async fn health(
    tx: &mut PgConnection,
    sids: &[i64],
    eids: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let flapping = (sids[3], eids[1]);
    for &sid in sids {
        for &eid in eids {
            let mut at = Vec::new();
            let mut ok = Vec::new();
            let mut latency = Vec::new();
            for i in 0..288i64 {
                let t = now - Duration::minutes(5 * (288 - i));
                let hour = i / 12;
                let down = (sid, eid) == flapping && (i % 48 >= 40 || i >= 284);
                at.push(t);
                ok.push(!down);
                latency
                    .push((!down).then_some(40 + ((hour * 7 + sid) % 30) as i32 + (i % 5) as i32));
            }
            sqlx::query(
                "insert into health_samples (service_id, environment_id, at, ok, latency_ms, error)
                 select $1, $2, t.at, t.ok, t.latency, case when t.ok then '' else 'connection refused' end
                 from unnest($3::timestamptz[], $4::bool[], $5::int[]) as t(at, ok, latency)",
            )
            .bind(sid)
            .bind(eid)
            .bind(&at)
            .bind(&ok)
            .bind(&latency)
            .execute(&mut *tx)
            .await?;
            let down = (sid, eid) == flapping;
            sqlx::query(
                "insert into health_targets (service_id, environment_id, url, status,
                                             consecutive_failures, last_checked_at, next_probe_at)
                 values ($1, $2, '', $3, $4, $5, 'infinity')",
            )
            .bind(sid)
            .bind(eid)
            .bind(if down { "down" } else { "up" })
            .bind(if down { 4 } else { 0 })
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
