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
