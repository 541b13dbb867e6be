//! The command line as an API client (DESIGN §4.4): `flowdeck deploy record`, `flowdeck status`,
//! `flowdeck tag record`, `flowdeck incident open|resolve` call `/api/v1/` with `FLOWDECK_URL`
//! and `FLOWDECK_TOKEN`. Exit codes: 0 done, 1 refused (the server's message is printed), 2 a
//! usage error. Every write carries an Idempotency-Key — derived from the arguments and
//! `GITHUB_RUN_ID` in GitHub Actions (a retried step records once), random otherwise — and is
//! retried once with the same key when the server cannot be reached or answers 503.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What every client command needs.
#[derive(Args, Clone, Debug)]
pub struct ClientOpts {
    /// flowdeck's address, e.g. https://flowdeck.example.com.
    #[arg(long, env = "FLOWDECK_URL", global = true)]
    pub url: Option<String>,
    /// An API token (`fdk_…`, from /profile/tokens).
    #[arg(long, env = "FLOWDECK_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON answer instead of a sentence.
    #[arg(long, global = true)]
    pub json: bool,
    /// The Idempotency-Key to send (default: derived from the arguments and GITHUB_RUN_ID).
    #[arg(long, global = true)]
    pub idempotency_key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DeployCommand {
    /// Record a deployment.
    Record {
        #[arg(long)]
        service: String,
        #[arg(long = "env")]
        environment: String,
        #[arg(long)]
        version: String,
        /// pending, running, succeeded (default) or failed.
        #[arg(long)]
        status: Option<String>,
        /// The image reference, optionally with its digest: `REF@sha256:…`.
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        commit: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum StatusCommand {
    /// I'm online.
    Online,
    /// Stepping away for a short while.
    Away,
    /// Going offline: say for how long (`2h`) or until when (`15:00`).
    Offline {
        #[arg(long = "for")]
        for_: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TagCommand {
    /// Record a tag of a repository.
    Record {
        #[arg(long)]
        repo: String,
        version: String,
        #[arg(long)]
        commit: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Open an incident.
    Open {
        #[arg(long)]
        service: String,
        #[arg(long = "env")]
        environment: String,
        /// sev1 … sev4.
        #[arg(long)]
        severity: String,
        #[arg(long)]
        title: String,
        /// The deployment that caused it (its number).
        #[arg(long)]
        deployment: Option<i64>,
    },
    /// Resolve an incident, saying what restored service.
    Resolve {
        id: i64,
        #[arg(long)]
        note: String,
    },
}

/// A client call: method, path, body; and how to say it worked.
pub struct Call {
    pub path: String,
    pub body: Value,
    pub done: fn(&Value) -> String,
}

pub fn deploy(c: DeployCommand) -> Call {
    let DeployCommand::Record {
        service,
        environment,
        version,
        status,
        image,
        commit,
        note,
    } = c;
    let (image, digest) = match image.as_deref().and_then(|i| i.split_once('@')) {
        Some((r, d)) => (Some(r.to_string()), Some(d.to_string())),
        None => (image, None),
    };
    let mut body = json!({ "service": service, "environment": environment, "version": version });
    for (k, v) in [
        ("status", status),
        ("image", image),
        ("digest", digest),
        ("commit", commit),
        ("note", note),
    ] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    Call {
        path: "/api/v1/deployments".into(),
        body,
        done: |v| {
            let d = &v["deployment"];
            let mut s = format!(
                "Deployment #{} recorded: {} {} → {} ({}).",
                d["id"],
                d["service"].as_str().unwrap_or(""),
                d["version"].as_str().unwrap_or(""),
                d["environment"].as_str().unwrap_or(""),
                d["status"].as_str().unwrap_or("")
            );
            for w in v["warnings"].as_array().into_iter().flatten() {
                s.push_str(&format!("\nwarning: {}", w.as_str().unwrap_or("")));
            }
            s
        },
    }
}

pub fn status(c: StatusCommand) -> Call {
    let body = match c {
        StatusCommand::Online => json!({ "state": "online" }),
        StatusCommand::Away => json!({ "state": "away" }),
        StatusCommand::Offline {
            for_,
            until,
            reason,
        } => {
            let mut b = json!({ "state": "offline" });
            for (k, v) in [("for", for_), ("until", until), ("reason", reason)] {
                if let Some(v) = v {
                    b[k] = json!(v);
                }
            }
            b
        }
    };
    Call {
        path: "/api/v1/status".into(),
        body,
        done: |v| v["message"].as_str().unwrap_or("Done.").to_string(),
    }
}

pub fn tag(c: TagCommand) -> Call {
    let TagCommand::Record {
        repo,
        version,
        commit,
    } = c;
    let mut body = json!({ "tag": version });
    if let Some(c) = commit {
        body["commit"] = json!(c);
    }
    Call {
        path: format!("/api/v1/repositories/{repo}/tags"),
        body,
        done: |v| v["message"].as_str().unwrap_or("Recorded.").to_string(),
    }
}

pub fn incident(c: IncidentCommand) -> Call {
    let done: fn(&Value) -> String = |v| {
        let state = if v["resolved_at"].is_null() {
            "open"
        } else {
            "resolved"
        };
        format!(
            "Incident #{} ({}): {}.",
            v["id"],
            state,
            v["title"].as_str().unwrap_or("")
        )
    };
    match c {
        IncidentCommand::Open {
            service,
            environment,
            severity,
            title,
            deployment,
        } => {
            let mut body = json!({ "service": service, "environment": environment,
                                   "severity": severity, "title": title });
            if let Some(d) = deployment {
                body["deployment"] = json!(d);
            }
            Call {
                path: "/api/v1/incidents".into(),
                body,
                done,
            }
        }
        IncidentCommand::Resolve { id, note } => Call {
            path: format!("/api/v1/incidents/{id}/resolve"),
            body: json!({ "note": note }),
            done,
        },
    }
}

/// The key a write is sent with: the given one; or, in GitHub Actions, one derived from the
/// call and the run id (a re-run of the step sends the same key); otherwise a random one.
pub fn idempotency_key(opts: &ClientOpts, call: &Call) -> String {
    if let Some(k) = &opts.idempotency_key {
        return k.clone();
    }
    match std::env::var("GITHUB_RUN_ID") {
        Ok(run) if !run.is_empty() => {
            let mut h = Sha256::new();
            h.update(run.as_bytes());
            h.update(call.path.as_bytes());
            h.update(call.body.to_string().as_bytes());
            format!("gh-{run}-{}", &hex::encode(h.finalize())[..16])
        }
        _ => format!("cli-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// Sends `call`; prints the outcome; the exit code says how it went.
pub fn run(opts: &ClientOpts, call: Call) -> ExitCode {
    let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let (Some(url), Some(token)) = (set(&opts.url), set(&opts.token)) else {
        eprintln!("flowdeck: set FLOWDECK_URL and FLOWDECK_TOKEN (or --url and --token)");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flowdeck: {e}");
            return ExitCode::FAILURE;
        }
    };
    let key = idempotency_key(opts, &call);
    let endpoint = format!("{}{}", url.trim_end_matches('/'), call.path);
    let outcome = rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = http
                .post(&endpoint)
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .json(&call.body)
                .send()
                .await;
            let retry = match &sent {
                Err(e) => e.is_connect() || e.is_timeout(),
                Ok(r) => r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE,
            };
            if retry && attempt < 2 {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
            let r = sent?;
            let status = r.status();
            let text = r.text().await?;
            return Ok::<_, reqwest::Error>((status, text));
        }
    });
    let (status, text) = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("flowdeck: could not reach {endpoint}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        if opts.json {
            println!("{text}");
        } else {
            println!("{}", (call.done)(&body));
        }
        return ExitCode::SUCCESS;
    }
    if opts.json {
        println!("{text}");
    } else {
        let msg = body["error"]["message"]
            .as_str()
            .map_or_else(|| format!("the server answered {status}"), str::to_string);
        eprintln!("flowdeck: {msg}");
        if let Some(fields) = body["error"]["fields"].as_object() {
            for (k, v) in fields {
                eprintln!("  {k}: {}", v.as_str().unwrap_or(""));
            }
        }
    }
    ExitCode::FAILURE
}
