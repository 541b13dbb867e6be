//! The demo's release history (`flowdeck demo`): a repository with four lines, tags and
//! backports, written through this feature's own operations and store.

use chrono::{Duration, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{BackportId, LineId, LineName, RepositoryId};
use crate::{audit::Actor, auth::model::AccountId};

/// A repository `server` with main, four release lines (the oldest past the maintained window),
/// 31 tags over eight months including pre-releases, and two backports.
pub async fn history(pool: &PgPool, tx: &mut PgConnection, owner: AccountId) -> anyhow::Result<()> {
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
    rstore::ensure_line(tx, RepositoryId(repo_id), LineName::Main, owner).await?;
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
            RepositoryId(repo_id),
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
            rstore::insert_backport_target(tx, BackportId(id), LineId(l), pos as i32).await?;
            let status = crate::releases::model::BackportStatus::parse(status)
                .map_err(anyhow::Error::msg)?;
            rstore::set_target_status(tx, BackportId(id), LineId(l), status).await?;
        }
    }
    Ok(())
}
