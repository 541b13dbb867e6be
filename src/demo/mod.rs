//! `flowdeck demo`: a demo team — an admin, two leads and five members, each with a fresh random
//! password printed once — so flowdeck can be tried at once. Later capabilities add their demo data here.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgPool};

use crate::{
    audit::Actor,
    auth::{
        model::{AccountId, Role},
        ops::{self, AccountForm},
        token,
    },
};

/// (handle, display name, role, time zone)
pub const TEAM: [(&str, &str, Role, &str); 8] = [
    ("ada", "Ada Lovelace", Role::Admin, "Europe/London"),
    ("linus", "Linus Chen", Role::Lead, "Asia/Shanghai"),
    ("grace", "Grace Hopper", Role::Lead, "America/New_York"),
    ("ken", "Ken Thompson", Role::Member, "America/Los_Angeles"),
    ("barbara", "Barbara Liskov", Role::Member, "Europe/Berlin"),
    ("dennis", "Dennis Ritchie", Role::Member, "Europe/Berlin"),
    (
        "margaret",
        "Margaret Hamilton",
        Role::Member,
        "Asia/Shanghai",
    ),
    ("alan", "Alan Kay", Role::Member, "UTC"),
];

/// Loads the demo team in one transaction. `None` when it is already there.
pub async fn load(pool: &PgPool) -> anyhow::Result<Option<Vec<(String, Role, String)>>> {
    let mut tx = pool.begin().await?;
    let present: bool =
        sqlx::query_scalar("select exists(select 1 from accounts where handle = $1)")
            .bind(TEAM[0].0)
            .fetch_one(&mut *tx)
            .await?;
    if present {
        return Ok(None);
    }
    let actor = Actor::system("demo");
    let mut created = Vec::new();
    let mut ids = Vec::new();
    for (handle, name, role, tz) in TEAM {
        let password = token::random_token()[..16].to_string();
        let form = AccountForm {
            handle: handle.into(),
            display_name: name.into(),
            email: format!("{handle}@demo.flowdeck.test"),
            timezone: tz.into(),
            new_password: password.clone(),
            confirm: password.clone(),
        };
        let valid = ops::validate_account(&form)
            .map_err(|e| anyhow::anyhow!("demo account {handle} is invalid: {e:?}"))?;
        let id = ops::create_account(&mut tx, &actor, valid, role)
            .await
            .map_err(|e| anyhow::anyhow!("demo account {handle} could not be created: {e:?}"))?;
        ids.push(id);
        created.push((handle.to_string(), role, password));
    }
    let zones = TEAM.map(|t| t.3);
    crate::presence::demo::week(&mut tx, &ids, &zones, Utc::now()).await?;
    release_history(pool, &mut tx, ids[1]).await?;
    deployment_history(&mut tx, ids[1], Utc::now()).await?;
    crate::docs::demo::design_docs(&mut tx, &ids, Utc::now()).await?;
    tx.commit().await?;
    Ok(Some(created))
}

/// Loads the demo team and prints the logins (the only time the passwords are shown).
pub async fn load_and_print(pool: &PgPool) -> anyhow::Result<()> {
    match load(pool).await? {
        None => println!("demo data is already loaded (the demo passwords were printed then)"),
        Some(accounts) => {
            println!("\nDemo team loaded. Log in with any of these (shown only now):\n");
            println!("    {:<10} {:<7} password", "handle", "role");
            for (h, r, p) in accounts {
                println!("    {h:<10} {:<7} {p}", r.as_str());
            }
            println!();
        }
    }
    Ok(())
}

/// A repository `server` with main, four release lines (the oldest past the maintained window),
/// 31 tags over eight months including pre-releases, and two backports.
async fn release_history(
    pool: &PgPool,
    tx: &mut PgConnection,
    owner: AccountId,
) -> anyhow::Result<()> {
    use crate::{
        config::Config,
        releases::{ops as rops, store as rstore},
        state::AppState,
    };
    use sha2::{Digest, Sha256};

    let state = AppState::new(pool.clone(), Config::for_listen(([127, 0, 0, 1], 0).into()));
    let actor = Actor::system("demo");
    let repo_id = rstore::create_repository(
        tx,
        "server",
        "https://github.com/example/server",
        "main",
        owner,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("repository server exists"))?;
    rstore::ensure_line(tx, repo_id, crate::releases::model::LineName::Main, owner.0).await?;
    let repo = rstore::RepoRow {
        id: repo_id,
        name: "server".into(),
        url: String::new(),
        default_branch: "main".into(),
        owner_id: owner.0,
        owner: String::new(),
    };
    let tags = [
        "v3.5.0-rc.1",
        "v3.5.0",
        "v3.5.1",
        "v3.5.2",
        "v3.5.3",
        "v3.5.4",
        "v3.5.5",
        "v3.6.0-beta.1",
        "v3.6.0-rc.1",
        "v3.6.0",
        "v3.6.1",
        "v3.6.2",
        "v3.6.3",
        "v3.6.4",
        "v3.7.0-alpha.1",
        "v3.7.0-rc.1",
        "v3.7.0-rc.2",
        "v3.7.0",
        "v3.7.1",
        "v3.7.2",
        "v3.7.3",
        "v3.8.0-alpha.1",
        "v3.8.0-beta.1",
        "v3.8.0-rc.1",
        "v3.8.0-rc.2",
        "v3.8.0",
        "v3.8.1",
        "v3.8.2",
        "v3.9.0-alpha.1",
        "v3.9.0-beta.1",
        "v3.9.0-rc.1",
    ];
    let start = Utc::now() - Duration::days(240);
    for (i, name) in tags.iter().enumerate() {
        let commit = hex::encode(&Sha256::digest(name.as_bytes())[..20]);
        let input = rops::TagInput {
            name,
            commit: &commit,
            tagged_at: start + Duration::days(i as i64 * 7 + 3),
            source: "import",
        };
        rops::record_tag_in(tx, &state, &actor, &repo, input)
            .await
            .map_err(|e| anyhow::anyhow!("demo tag {name}: {e}"))?
            .map_err(|e| anyhow::anyhow!("demo tag {name}: {e:?}"))?;
    }
    let fixes = [
        (
            "Fix session fixation on reconnect",
            "security",
            ["picked", "approved", "pending"],
        ),
        (
            "Crash when a group has no members",
            "crash_hang",
            ["picked", "picked", "not_needed"],
        ),
    ];
    for (title, crit, statuses) in fixes {
        let id = rstore::insert_backport(
            tx,
            repo_id,
            title,
            "https://github.com/example/server/pull/1",
            crit,
            "",
            owner,
        )
        .await?;
        for (pos, (name, status)) in ["release-v3.8", "release-v3.7", "release-v3.6"]
            .iter()
            .zip(statuses)
            .enumerate()
        {
            let parsed = crate::releases::model::LineName::parse(name).expect("demo line");
            let l = rstore::line_id(tx, repo_id, parsed)
                .await?
                .ok_or_else(|| anyhow::anyhow!("demo line {name}"))?;
            rstore::insert_backport_target(tx, id, l, pos as i32).await?;
            let status = crate::releases::model::BackportStatus::parse(status)
                .map_err(anyhow::Error::msg)?;
            rstore::set_target_status(tx, id, l, status).await?;
        }
    }
    Ok(())
}

/// Services and environments like a chat server's, about four months of deployments (api first,
/// then the others, prod behind staging), images with one missing arm64 build and one digest
/// mismatch, a skew warning in staging, and two incidents (one resolved).
async fn deployment_history(
    tx: &mut PgConnection,
    owner: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use crate::deploys::{model::Status as DeployStatus, store as d};
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
            d::refresh_current(tx, sids[si], e).await?;
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
        };
        d::insert_deployment(tx, new).await?;
        d::refresh_current(tx, sids[si], eids[3]).await?;
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
        sids[4],
        eids[2],
        "sev2",
        "Message transfer stalled after v3.7.1",
        start + Duration::days(63),
        None,
        None,
    )
    .await?;
    d::resolve_incident(tx, stalled, start + Duration::days(63) + Duration::hours(5)).await?;
    let resolved = d::open_incident(
        tx,
        sids[0],
        eids[2],
        "sev3",
        "Login latency above 2 s",
        now - Duration::days(2),
        Some(last_prod_api),
        None,
    )
    .await?;
    d::resolve_incident(tx, resolved, now - Duration::days(2) + Duration::hours(3)).await?;
    Ok(())
}
