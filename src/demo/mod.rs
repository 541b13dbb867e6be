//! `flowdeck demo`: a demo team — an admin, two leads and five members, each with a fresh random
//! password printed once — so flowdeck can be tried at once. Later capabilities add their demo data here.

use chrono::Utc;
use sqlx::PgPool;

use crate::{
    audit::Actor,
    auth::{
        model::Role,
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
    crate::releases::demo::history(pool, &mut tx, ids[1]).await?;
    crate::deploys::demo::history(&mut tx, ids[1], Utc::now()).await?;
    changes(&mut tx, Utc::now()).await?;
    crate::docs::demo::design_docs(&mut tx, &ids, Utc::now()).await?;
    let raw: Vec<i64> = ids.iter().map(|i| i.0).collect();
    crate::rhythm::demo::rhythm(&mut tx, &raw, &zones, Utc::now()).await?;
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

/// Merged pull requests of `server` for six months: two each weekday, merged the evening and the
/// morning before the 10:00 UTC production deployment (the deployments demo), so lead time has
/// changes to measure.
async fn changes(tx: &mut sqlx::PgConnection, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    use chrono::{Datelike, Duration, Timelike};
    let repo: Option<i64> = sqlx::query_scalar("select id from repositories where name = 'server'")
        .fetch_optional(&mut *tx)
        .await?;
    let Some(repo) = repo else {
        return Ok(());
    };
    let titles = [
        "Lease health probes",
        "Fold old samples",
        "Faster matrix query",
        "Retry webhooks",
        "Session cache size",
        "Fix offset handling",
        "Keyset history",
        "Quiet hours",
    ];
    let mut day = (now - Duration::days(182))
        .with_hour(10)
        .and_then(|t| t.with_minute(0))
        .unwrap_or(now);
    let mut number: i32 = 100;
    while day < now - Duration::days(14) {
        if day.weekday().num_days_from_monday() < 5 {
            for before in [17, 2] {
                number += 1;
                let merged =
                    day - Duration::hours(before) - Duration::minutes(i64::from(number % 50));
                let title = titles[number as usize % titles.len()];
                let change = crate::hooks::Change {
                    repository: repo,
                    number,
                    title,
                    author: ["ada", "linus", "grace"][number as usize % 3],
                    merge_sha: "",
                    opened_at: merged - Duration::hours(20),
                    merged_at: merged,
                };
                crate::hooks::record_change(tx, &change).await?;
            }
        }
        day += Duration::days(1);
    }
    Ok(())
}
