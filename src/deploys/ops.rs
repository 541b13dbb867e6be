//! Deployment operations. `record_deployment` is the one way a deployment is recorded — the
//! forms use it and the API will too — with its idempotency key, status rules, what-runs-where
//! update, audit record and (for failures) an outbox notification, in one transaction.

use serde_json::json;

use super::{
    model::{DeploymentId, EnvironmentId, ServiceId, Status},
    store,
};
use crate::outbox::{self, Event, Notice};
use crate::{
    audit::{self, Actor, Change},
    auth::{
        model::{AccountId, CurrentUser},
        policy::{self, Action},
    },
    error::{AppError, AppResult},
    state::AppState,
    ui::form::FormErrors,
};

fn digest_ok(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub supervisor: String,
    #[serde(default)]
    pub probe_interval_seconds: String,
    /// The repository whose tags are this service's versions (its name; empty: none).
    #[serde(default)]
    pub repository: String,
}

/// The repository named `name` (empty: none), or the field error.
async fn repository_id(state: &AppState, name: &str) -> AppResult<Result<Option<i64>, String>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Ok(None));
    }
    Ok(
        match crate::releases::repository_named(&state.pool, name).await? {
            Some(r) => Ok(Some(r.id)),
            None => Err("Choose a recorded repository, or none.".into()),
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn add_service(
    state: &AppState,
    actor: &Actor,
    f: &ServiceForm,
) -> AppResult<Result<String, FormErrors>> {
    let ServiceForm {
        name,
        role,
        image,
        supervisor,
        probe_interval_seconds,
        repository,
    } = f;
    let mut errs = FormErrors::default();
    let name = errs.check("name", crate::ui::form::slug(name, "service"));
    let repository_id = errs.check("repository", repository_id(state, repository).await?);
    let role = role.trim().to_lowercase();
    // As `services_role_format` says: a lowercase letter first, then letters, digits or "-".
    if !role.starts_with(|c: char| c.is_ascii_lowercase())
        || role.len() > 32
        || !role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.add(
            "role",
            "A role is a short lowercase word: api, rpc, worker, web, …",
        );
    }
    let supervisor = if supervisor.is_empty() {
        "kubernetes"
    } else {
        supervisor.as_str()
    };
    if !["systemd", "supervisord", "compose", "kubernetes"].contains(&supervisor) {
        errs.add(
            "supervisor",
            "Choose systemd, supervisord, compose or kubernetes.",
        );
    }
    let interval: i32 = if probe_interval_seconds.trim().is_empty() {
        30
    } else {
        match probe_interval_seconds.trim().parse() {
            Ok(n) if (1..=86_400).contains(&n) => n,
            _ => {
                errs.add("probe_interval_seconds", "Seconds between 1 and 86400.");
                30
            }
        }
    };
    let (Some(name), Some(repository_id), true) = (name, repository_id, errs.is_empty()) else {
        return Ok(Err(errs));
    };
    let owner = actor
        .id
        .ok_or_else(|| AppError::Forbidden("Log in.".into()))?;
    let mut tx = state.pool.begin().await?;
    let new = store::NewService {
        name: &name,
        role: &role,
        image: image.trim(),
        supervisor,
        owner,
        probe_interval_seconds: interval,
        repository_id,
    };
    let Some(id) = store::create_service(&mut tx, new).await? else {
        return Ok(Err(FormErrors::field(
            "name",
            "A service with that name exists.",
        )));
    };
    audit::record(&mut tx, actor, Change {
        action: "service.created",
        target_type: "service",
        target_id: id.to_string(),
        before: None,
        after: Some(json!({ "name": name, "role": role, "image": image.trim(), "supervisor": supervisor, "repository": repository.trim() })),
    })
    .await?;
    tx.commit().await?;
    Ok(Ok(name))
}

/// Links a service to the repository whose tags are its versions (empty name: unlinks it).
#[tracing::instrument(skip_all)]
pub async fn link_repository(
    state: &AppState,
    actor: &Actor,
    service: &store::ServiceRow,
    repository: &str,
) -> AppResult<String> {
    let id = repository_id(state, repository)
        .await?
        .map_err(AppError::BadRequest)?;
    let mut tx = state.pool.begin().await?;
    store::set_repository(&mut tx, ServiceId(service.id), id).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "service.repository_linked",
            target_type: "service",
            target_id: service.id.to_string(),
            before: Some(json!({ "repository": service.repository })),
            after: Some(json!({ "repository": repository.trim() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(match id {
        Some(_) => format!(
            "{} is linked to repository {}: deployments of versions it has not tagged are flagged.",
            service.name,
            repository.trim()
        ),
        None => format!("{} is no longer linked to a repository.", service.name),
    })
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct EnvForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub position: String,
    #[serde(default)]
    pub url: String,
}

pub const TIERS: [&str; 5] = ["development", "testing", "staging", "production", "offline"];

#[tracing::instrument(skip_all)]
pub async fn add_environment(
    state: &AppState,
    actor: &Actor,
    f: &EnvForm,
) -> AppResult<Result<String, FormErrors>> {
    let EnvForm {
        name,
        tier,
        position,
        url,
    } = f;
    let mut errs = FormErrors::default();
    let name = errs.check("name", crate::ui::form::slug(name, "environment"));
    let url = errs.check("url", crate::ui::form::http_url(url, "environment URL"));
    if !TIERS.contains(&tier.as_str()) {
        errs.add("tier", "Choose a tier.");
    }
    let position: i32 = match position.trim() {
        "" => 0,
        p => p.parse().unwrap_or_else(|_| {
            errs.add("position", "A whole number.");
            0
        }),
    };
    let (Some(name), Some(url), true) = (name, url, errs.is_empty()) else {
        return Ok(Err(errs));
    };
    let mut tx = state.pool.begin().await?;
    let Some(id) = store::create_environment(&mut tx, &name, tier, position, &url).await? else {
        return Ok(Err(FormErrors::field(
            "name",
            "An environment with that name exists.",
        )));
    };
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "environment.created",
            target_type: "environment",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "name": name, "tier": tier, "position": position })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(name))
}

/// A deployment to record (form, API, webhook).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct DeploymentInput {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub image_ref: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub commit: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub idempotency_key: String,
    /// "on": made because of an incident (a hotfix), counted as rework by insight.
    #[serde(default)]
    pub hotfix: String,
    /// "yes" once the person has seen the warnings this deployment causes and records it anyway;
    /// "report" to record it and return the warnings.
    #[serde(default)]
    pub confirm: String,
}

pub enum Recorded {
    /// Recorded, with the warnings it caused when asked to report them (`confirm=report`).
    New(i64, Vec<String>),
    /// The idempotency key was used before: this is that deployment, nothing was written.
    Existing(i64),
    /// Nothing was written: recording it would cause these warnings (skew it introduces, a
    /// version the linked repository has not tagged). Send it again with `confirm=yes`.
    Confirm(Vec<String>),
}

/// The warnings recording `version` of `svc` in `env` would cause: skew it introduces in that
/// environment, and a version that the service's repository has not recorded as a tag.
pub async fn warnings_for(
    state: &AppState,
    svc: &store::ServiceRow,
    env: &store::EnvRow,
    version: &str,
) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    // The tag check and what runs now are independent: one round trip's wait, not two.
    let tag = async {
        match svc.repository_id {
            Some(repo) => crate::releases::tag_known(&state.pool, repo, version)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let (known, running_now) =
        tokio::try_join!(tag, store::running_in(&state.pool, EnvironmentId(env.id)))?;
    if let (Some(known), Some(repo_name)) = (known, svc.repository.as_deref()) {
        use crate::releases::TagKnown;
        match known {
            TagKnown::Recorded => {}
            TagKnown::Missing => out.push(format!(
                "{version} is not a recorded tag of repository {repo_name}: record the tag first, or check the version."
            )),
            TagKnown::Retracted => out.push(format!(
                "{version} was retracted in repository {repo_name}: it should not be deployed."
            )),
        }
    }
    // `running_now`: one query over what runs in this environment (not the whole matrix).
    let as_skew = |list: &[(i64, String, String, String)]| -> Vec<super::model::Skew> {
        let running: Vec<super::model::Running> = list
            .iter()
            .map(|(_, name, role, v)| super::model::Running {
                service: name,
                role,
                version: v,
            })
            .collect();
        super::model::skew(&running, &state.config.skew_exempt_roles)
    };
    let before = as_skew(&running_now);
    let mut after: Vec<(i64, String, String, String)> = running_now
        .into_iter()
        .filter(|(id, ..)| *id != svc.id)
        .collect();
    after.push((
        svc.id,
        svc.name.clone(),
        svc.role.clone(),
        version.to_string(),
    ));
    for w in as_skew(&after) {
        if !before.contains(&w) {
            out.push(format!("Skew in {}: {} {}", env.name, w.service, w.message));
        }
    }
    Ok(out)
}

/// Records a deployment. `source` is manual, api or webhook.
#[tracing::instrument(skip_all)]
pub async fn record_deployment(
    state: &AppState,
    actor: &Actor,
    source: &str,
    d: &DeploymentInput,
) -> AppResult<Result<Recorded, FormErrors>> {
    let DeploymentInput {
        service,
        environment,
        version,
        image_ref,
        digest,
        status,
        commit,
        note,
        idempotency_key,
        hotfix,
        confirm,
    } = d;
    let mut errs = FormErrors::default();
    let version = version.trim();
    if version.is_empty() {
        errs.add(
            "version",
            "Give the version that was deployed, e.g. v3.8.1.",
        );
    } else if let Err(why) =
        crate::releases::model::Version::parse(version, &state.config.modifiers())
    {
        errs.add(
            "version",
            format!("{why} A deployed version is a release tag: v3.8.2, v3.9.0-rc.1."),
        );
    }
    let digest = digest.trim();
    if !(digest.is_empty() || digest_ok(digest)) {
        errs.add(
            "digest",
            "A digest looks like sha256: followed by 64 lowercase hex digits.",
        );
    }
    let status = match Status::parse(if status.is_empty() {
        "succeeded"
    } else {
        status
    }) {
        Ok(Status::RolledBack) | Err(_) => {
            errs.add(
                "status",
                "A new deployment is pending, running, succeeded or failed.",
            );
            Status::Succeeded
        }
        Ok(s) => s,
    };
    let commit = commit.trim();
    if !(commit.is_empty()
        || (7..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit()))
    {
        errs.add("commit", "A commit id is 7 to 64 hexadecimal digits.");
    }
    let note = note.trim();
    if note.chars().count() > 500 {
        errs.add("note", "A note has at most 500 characters.");
    }
    let key = idempotency_key.trim();
    let key = (!key.is_empty()).then_some(key);
    // Two lookups side by side: a write's latency is its longest chain of round trips.
    let (svc, env) = tokio::try_join!(
        store::service(&state.pool, service.trim()),
        store::environment(&state.pool, environment.trim())
    )?;
    if svc.is_none() {
        errs.add("service", "Choose a service.");
    }
    if env.is_none() {
        errs.add("environment", "Choose an environment.");
    }
    let (Some(svc), Some(env), true) = (svc, env, errs.is_empty()) else {
        return Ok(Err(errs));
    };
    // `confirm`: "" asks first (the form), "yes" records what was confirmed, "report" records
    // and reports the warnings (the API: CI does not stop to confirm).
    if confirm != "yes"
        && let Some(k) = key
        && let Some(id) = store::deployment_by_key(&mut *state.pool.acquire().await?, k).await?
    {
        return Ok(Ok(Recorded::Existing(id)));
    }
    // Computed on every path: a confirmed deployment that introduces skew is still announced.
    let warnings = warnings_for(state, &svc, &env, version).await?;
    if confirm != "yes" && confirm != "report" && !warnings.is_empty() {
        return Ok(Ok(Recorded::Confirm(warnings)));
    }
    let mut tx = state.pool.begin().await?;
    if let Some(k) = key
        && let Some(id) = store::deployment_by_key(&mut tx, k).await?
    {
        return Ok(Ok(Recorded::Existing(id)));
    }
    let image_ref = if image_ref.trim().is_empty() && !svc.image.is_empty() {
        format!("{}:{version}", svc.image)
    } else {
        image_ref.trim().to_string()
    };
    let new = store::NewDeployment {
        service: svc.id,
        environment: env.id,
        version,
        image_ref: &image_ref,
        digest,
        status,
        at: state.clock.now(),
        actor_id: actor.id,
        actor: &actor.label,
        source,
        commit,
        note,
        idempotency_key: key,
        hotfix: hotfix == "on",
    };
    let Some(id) = store::insert_deployment(&mut tx, new).await? else {
        // A concurrent request with the same key won the race.
        drop(tx);
        let mut conn = state.pool.acquire().await?;
        let id = store::deployment_by_key(&mut conn, key.unwrap_or_default())
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok(Ok(Recorded::Existing(id)));
    };
    if status == Status::Succeeded {
        store::refresh_current(&mut tx, ServiceId(svc.id), EnvironmentId(env.id)).await?;
        if env.tier == "production" {
            store::ship_changes(&mut tx, id).await?;
        }
    }
    let payload = json!({
        "deployment_id": id, "service": svc.name, "environment": env.name, "version": version,
        "status": status.as_str(), "source": source,
    });
    let now = state.clock.now();
    if status == Status::Failed {
        let text = format!(
            "Deployment #{id} failed: {} {version} in {} (recorded by {}).",
            svc.name, env.name, actor.label
        );
        let notice = Notice::new(Event::DeploymentFailed, text, format!("/deployments/{id}"));
        outbox::enqueue(&mut tx, now, notice.data(payload.clone())).await?;
    }
    let skew: Vec<&str> = warnings
        .iter()
        .filter(|w| w.starts_with("Skew in"))
        .map(String::as_str)
        .collect();
    if !skew.is_empty() && status != Status::Failed {
        let text = format!(
            "Deploying {} {version} to {} introduced version skew: {}",
            svc.name,
            env.name,
            skew.join(" ")
        );
        let notice = Notice::new(
            Event::SkewIntroduced,
            text,
            format!("/deployments?env={}", env.name),
        );
        outbox::enqueue(&mut tx, now, notice.data(payload.clone())).await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "deployment.recorded",
            target_type: "deployment",
            target_id: id.to_string(),
            before: None,
            after: Some(payload),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(Recorded::New(id, warnings)))
}

/// Moves a deployment along its status machine and keeps what-runs-where current.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn transition(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    id: i64,
    to: &str,
) -> AppResult<String> {
    policy::require(Some(user), Action::RecordDeployment)?;
    let to = Status::parse(to).map_err(AppError::BadRequest)?;
    let mut tx = state.pool.begin().await?;
    let d = store::lock_deployment(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if to == Status::RolledBack {
        let recorder = d.actor_id.map(AccountId);
        policy::require(Some(user), Action::RollBack { recorder })?;
    }
    let from = d.status;
    if !from.can_move_to(to) {
        return Err(AppError::Conflict(format!(
            "A {} deployment cannot become {}.",
            from.label(),
            to.label()
        )));
    }
    store::set_status(&mut tx, id, to, state.clock.now()).await?;
    if from == Status::Succeeded || to == Status::Succeeded {
        store::refresh_current(
            &mut tx,
            ServiceId(d.service_id),
            EnvironmentId(d.environment_id),
        )
        .await?;
    }
    if to == Status::Succeeded {
        // A no-op outside production (`ship_changes` checks the tier).
        store::ship_changes(&mut tx, id).await?;
    }
    let event = match to {
        Status::Failed => Some((Event::DeploymentFailed, "failed")),
        Status::RolledBack => Some((Event::RolledBack, "was rolled back")),
        _ => None,
    };
    if let Some((event, what)) = event {
        let payload = json!({ "deployment_id": id, "service": d.service, "environment": d.environment,
                              "version": d.version, "status": to.as_str() });
        let text = format!(
            "Deployment #{id} {what}: {} {} in {} ({}).",
            d.service, d.version, d.environment, actor.label
        );
        let notice = Notice::new(event, text, format!("/deployments/{id}")).data(payload);
        outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "deployment.status_changed",
            target_type: "deployment",
            target_id: id.to_string(),
            before: Some(json!({ "status": from.as_str() })),
            after: Some(json!({ "status": to.as_str() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!(
        "{} {} in {} is now {}.",
        d.service,
        d.version,
        d.environment,
        to.label()
    ))
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ImageForm {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub registry: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub digest: String,
}

#[tracing::instrument(skip_all)]
pub async fn record_image(
    state: &AppState,
    actor: &Actor,
    service: &store::ServiceRow,
    f: &ImageForm,
) -> AppResult<Result<(), FormErrors>> {
    let ImageForm {
        version,
        registry,
        arch,
        digest,
    } = f;
    let mut errs = FormErrors::default();
    if version.trim().is_empty() {
        errs.add("version", "Give the version.");
    }
    let registry = registry.trim().to_lowercase();
    if registry.is_empty() || registry.contains(char::is_whitespace) {
        errs.add("registry", "Give the registry host, e.g. ghcr.io.");
    }
    if !super::model::ARCHES.contains(&arch.as_str()) {
        errs.add("arch", "Choose linux/amd64 or linux/arm64.");
    }
    if !digest_ok(digest.trim()) {
        errs.add(
            "digest",
            "A digest looks like sha256: followed by 64 lowercase hex digits.",
        );
    }
    if !errs.is_empty() {
        return Ok(Err(errs));
    }
    let mut tx = state.pool.begin().await?;
    store::upsert_image(
        &mut tx,
        service.id,
        version.trim(),
        &registry,
        arch,
        digest.trim(),
    )
    .await?;
    audit::record(&mut tx, actor, Change {
        action: "image.recorded",
        target_type: "service",
        target_id: service.id.to_string(),
        before: None,
        after: Some(json!({ "version": version.trim(), "registry": registry, "arch": arch, "digest": digest.trim() })),
    })
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

#[tracing::instrument(skip_all, fields(environment.id = env_id))]
pub async fn set_health_url(
    state: &AppState,
    actor: &Actor,
    service: &store::ServiceRow,
    env_id: i64,
    url: &str,
) -> AppResult<String> {
    let url = crate::ui::form::http_url(url, "health URL").map_err(AppError::BadRequest)?;
    let url = url.as_str();
    let mut tx = state.pool.begin().await?;
    store::set_health_url(&mut tx, ServiceId(service.id), EnvironmentId(env_id), url).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "health.url_set",
            target_type: "service",
            target_id: service.id.to_string(),
            before: None,
            after: Some(json!({ "environment_id": env_id, "url": url })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(if url.is_empty() {
        "Health checks stopped.".into()
    } else {
        "Health URL saved; the prober checks it now.".into()
    })
}

#[tracing::instrument(skip_all, fields(environment.id = env.id))]
pub async fn report_health(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    service: &store::ServiceRow,
    env: &store::EnvRow,
    ok: bool,
    note: &str,
) -> AppResult<()> {
    let production = env.tier == "production";
    policy::require(Some(user), Action::ReportHealth { production })?;
    let env_id = env.id;
    let mut tx = state.pool.begin().await?;
    let (service_id, env_id) = (ServiceId(service.id), EnvironmentId(env_id));
    store::report_health(&mut tx, service_id, env_id, ok, note.trim(), user_id(user)).await?;
    let (event, state_word) = if ok {
        (Event::ServiceUp, "up")
    } else {
        (Event::ServiceDown, "down")
    };
    let text = format!(
        "{} in {} is {state_word}, reported by {}.",
        service.name, env.name, user.display_name
    );
    let notice = Notice::new(event, text, format!("/services/{}", service.name)).data(
        json!({ "service": service.name, "environment": env.name, "ok": ok, "source": "report" }),
    );
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "health.reported",
            target_type: "service",
            target_id: service.id.to_string(),
            before: None,
            after: Some(json!({ "environment_id": env_id.0, "ok": ok, "note": note.trim() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct IncidentForm {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub deployment: String,
}

#[tracing::instrument(skip_all)]
pub async fn open_incident(
    state: &AppState,
    actor: &Actor,
    f: &IncidentForm,
) -> AppResult<Result<i64, FormErrors>> {
    let mut errs = FormErrors::default();
    let svc = store::service(&state.pool, &f.service).await?;
    let env = store::environment(&state.pool, &f.environment).await?;
    if svc.is_none() {
        errs.add("service", "Choose a service.");
    }
    if env.is_none() {
        errs.add("environment", "Choose an environment.");
    }
    if !["sev1", "sev2", "sev3", "sev4"].contains(&f.severity.as_str()) {
        errs.add("severity", "Choose a severity.");
    }
    let title = f.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        errs.add("title", "Describe the incident in 1 to 200 characters.");
    }
    let deployment = match f.deployment.trim() {
        "" => None,
        d => match d.trim_start_matches('#').parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errs.add("deployment", "A deployment number, e.g. 1234.");
                None
            }
        },
    };
    let (Some(svc), Some(env), true) = (svc, env, errs.is_empty()) else {
        return Ok(Err(errs));
    };
    let mut tx = state.pool.begin().await?;
    if let Some(d) = deployment {
        match store::lock_deployment(&mut tx, d).await? {
            Some(row) if row.service_id == svc.id && row.environment_id == env.id => {}
            _ => {
                return Ok(Err(FormErrors::field(
                    "deployment",
                    "No such deployment of this service in this environment.",
                )));
            }
        }
    }
    let id = store::open_incident(
        &mut tx,
        ServiceId(svc.id),
        EnvironmentId(env.id),
        &f.severity,
        title,
        state.clock.now(),
        deployment.map(DeploymentId),
        actor.id,
    )
    .await?;
    store::refresh_cause(&mut tx, id, state.config.attribution_days).await?;
    let text = format!(
        "Incident #{id} ({}) opened in {} ({}): {title}",
        f.severity, svc.name, env.name
    );
    let notice = Notice::new(Event::IncidentOpened, text, format!("/incidents/{id}")).data(json!({
        "incident_id": id, "service": svc.name, "environment": env.name, "severity": f.severity,
        "title": title, "deployment": deployment,
    }));
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    audit::record(&mut tx, actor, Change {
        action: "incident.opened",
        target_type: "incident",
        target_id: id.to_string(),
        before: None,
        after: Some(json!({ "service": svc.name, "environment": env.name, "severity": f.severity, "title": title, "deployment": deployment })),
    })
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

fn user_id(u: &CurrentUser) -> Option<AccountId> {
    Some(u.id)
}

fn incident_text(raw: &str, what: &str) -> Result<String, String> {
    let t = raw.trim();
    match t.chars().count() {
        0 => Err(format!("Write {what}.")),
        1..=2000 => Ok(t.to_string()),
        _ => Err(format!("{what} has at most 2000 characters.")),
    }
}

/// Resolves an open incident with a note saying what restored service.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn resolve_incident(
    state: &AppState,
    actor: &Actor,
    id: i64,
    note: &str,
) -> AppResult<String> {
    let note = incident_text(note, "what restored service").map_err(AppError::BadRequest)?;
    let incident = store::incident(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = state.pool.begin().await?;
    if !store::resolve_incident(&mut tx, id, state.clock.now(), actor.id, &note).await? {
        return Err(AppError::Conflict(
            "That incident is already resolved.".into(),
        ));
    }
    let text = format!(
        "Incident #{id} in {} ({}) resolved by {}: {}",
        incident.service, incident.environment, actor.label, incident.title
    );
    let notice =
        Notice::new(Event::IncidentResolved, text, format!("/incidents/{id}")).data(json!({
            "incident_id": id, "service": incident.service, "environment": incident.environment,
        }));
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "incident.resolved",
            target_type: "incident",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "resolution": note })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!("Incident #{id} resolved."))
}

/// A lead says what caused an incident: a deployment number of the same service (`1234` or
/// `#1234`), `none`, or `default` (the latest production deployment before it, within the
/// attribution window). Audited with before and after.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn attribute_incident(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    id: i64,
    cause: &str,
) -> AppResult<String> {
    policy::require(Some(user), Action::AttributeIncident)?;
    let days = state.config.attribution_days;
    let incident = store::incident(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let raw = cause.trim();
    let mut tx = state.pool.begin().await?;
    let (attribution, deployment, said) = match raw {
        "" | "default" => (
            "default",
            None,
            "the default (the latest production deployment before it)".to_string(),
        ),
        "none" => ("none", None, "no deployment".to_string()),
        n => {
            let n: i64 = n.trim_start_matches('#').parse().map_err(|_| {
                AppError::BadRequest(
                    "Give a deployment number (e.g. 1234), “none”, or “default”.".into(),
                )
            })?;
            match store::lock_deployment(&mut tx, n).await? {
                Some(d) if d.service == incident.service && d.started_at > incident.opened_at => {
                    return Err(AppError::BadRequest(format!(
                        "Deployment #{n} started after the incident opened, so it cannot have caused it."
                    )));
                }
                Some(d) if d.service == incident.service => {}
                Some(_) => {
                    return Err(AppError::BadRequest(format!(
                        "Deployment #{n} is not a deployment of {}.",
                        incident.service
                    )));
                }
                None => {
                    return Err(AppError::BadRequest(format!(
                        "There is no deployment #{n}."
                    )));
                }
            }
            ("explicit", Some(n), format!("deployment #{n}"))
        }
    };
    store::set_attribution(&mut tx, id, attribution, deployment).await?;
    store::refresh_cause(&mut tx, id, days).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "incident.attributed",
            target_type: "incident",
            target_id: id.to_string(),
            before: Some(json!({ "attribution": incident.attribution, "deployment": incident.deployment_id })),
            after: Some(json!({ "attribution": attribution, "deployment": deployment })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!("Incident #{id} is now attributed to {said}."))
}

/// Adds an update to an open incident's timeline.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn add_incident_update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    body: &str,
) -> AppResult<String> {
    let body = incident_text(body, "the update").map_err(AppError::BadRequest)?;
    let mut tx = state.pool.begin().await?;
    if !store::add_incident_update(&mut tx, id, state.clock.now(), actor.id, &body).await? {
        return Err(AppError::Conflict(
            "That incident is resolved; its timeline is closed.".into(),
        ));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "incident.updated",
            target_type: "incident",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "update": body })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok("Update added.".into())
}

/// Corrections to a recorded deployment: its note, commit and image reference.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CorrectionForm {
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub commit: String,
    #[serde(default)]
    pub image_ref: String,
}

/// Corrects a deployment's note, commit or image (its recorder or a lead), with an audit record
/// of before and after. Status moves stay `transition`'s.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn correct_deployment(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    id: i64,
    f: &CorrectionForm,
) -> AppResult<Result<String, FormErrors>> {
    let mut errs = FormErrors::default();
    let commit = f.commit.trim();
    if !(commit.is_empty()
        || (7..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit()))
    {
        errs.add("commit", "A commit id is 7 to 64 hexadecimal digits.");
    }
    let note = f.note.trim();
    if note.chars().count() > 500 {
        errs.add("note", "A note has at most 500 characters.");
    }
    let image_ref = f.image_ref.trim();
    if image_ref.len() > 300 || image_ref.contains(char::is_whitespace) {
        errs.add(
            "image_ref",
            "An image reference has no spaces and at most 300 characters.",
        );
    }
    let mut tx = state.pool.begin().await?;
    let d = store::lock_deployment(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::require(
        Some(user),
        Action::CorrectDeployment {
            recorder: d.actor_id.map(AccountId),
        },
    )?;
    if !errs.is_empty() {
        return Ok(Err(errs));
    }
    if d.note == note && d.commit_sha == commit && d.image_ref == image_ref {
        return Ok(Ok("Nothing changed.".into()));
    }
    store::correct_deployment(&mut tx, id, note, commit, image_ref, state.clock.now()).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "deployment.corrected",
            target_type: "deployment",
            target_id: id.to_string(),
            before: Some(
                json!({ "note": d.note, "commit": d.commit_sha, "image_ref": d.image_ref }),
            ),
            after: Some(json!({ "note": note, "commit": commit, "image_ref": image_ref })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(format!("Deployment #{id} corrected.")))
}
