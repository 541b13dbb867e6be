//! The command line (DESIGN §4.4): `serve`, `migrate`, `demo`, `admin create`, `releases
//! import`, and the API client commands (`deploy`, `status`, `tag`, `incident`; `client.rs`).

use std::{io::IsTerminal, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    audit::Actor,
    auth::{self, model::Role, ops, token},
    config::{Config, GlobalOpts, ServeOpts},
    db::{self, Database},
    demo, server,
    state::AppState,
    telemetry,
};

#[derive(Parser)]
#[command(
    name = "flowdeck",
    version,
    about = "A self-hosted dashboard for lean remote engineering teams"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start the web server (the default).
    Serve(ServeOpts),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo team into the configured database.
    Demo,
    /// Write the database (configured or embedded) to FILE with pg_dump (custom format).
    Backup { file: std::path::PathBuf },
    /// Replace the database's contents with FILE (a `flowdeck backup`), then migrate. Refuses a
    /// database that holds accounts unless --force.
    Restore {
        file: std::path::PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Exit 0 when the server on FLOWDECK_LISTEN answers `/healthz` (a container's HEALTHCHECK;
    /// no database, no curl needed).
    Healthcheck {
        /// The address the server listens on (0.0.0.0 or [::] mean this host).
        #[arg(long, env = "FLOWDECK_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Manage accounts from the shell.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Release lines from the shell.
    Releases {
        #[command(subcommand)]
        command: ReleasesCommand,
    },
    /// API client: record a deployment (FLOWDECK_URL, FLOWDECK_TOKEN).
    Deploy {
        #[command(flatten)]
        client: crate::client::ClientOpts,
        #[command(subcommand)]
        command: crate::client::DeployCommand,
    },
    /// API client: check in as online, away or offline.
    Status {
        #[command(flatten)]
        client: crate::client::ClientOpts,
        #[command(subcommand)]
        command: crate::client::StatusCommand,
    },
    /// API client: record a release tag.
    Tag {
        #[command(flatten)]
        client: crate::client::ClientOpts,
        #[command(subcommand)]
        command: crate::client::TagCommand,
    },
    /// API client: open or resolve an incident.
    Incident {
        #[command(flatten)]
        client: crate::client::ClientOpts,
        #[command(subcommand)]
        command: crate::client::IncidentCommand,
    },
}

#[derive(Subcommand)]
pub enum ReleasesCommand {
    /// Import branches and tags from a git repository on disk (idempotent).
    Import {
        /// Path of a clone or a bare repository.
        path: std::path::PathBuf,
        /// Repository name in flowdeck (default: the folder name without `.git`); created if missing.
        #[arg(long)]
        repo: Option<String>,
        /// Owner handle for a new repository (default: the first admin).
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        handle: String,
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    use crate::client;
    // The API client commands need no database and no logging set-up.
    match cli.command {
        Some(Command::Deploy { client: o, command }) => {
            return client::run(&o, client::deploy(command));
        }
        Some(Command::Status { client: o, command }) => {
            return client::run(&o, client::status(command));
        }
        Some(Command::Tag { client: o, command }) => return client::run(&o, client::tag(command)),
        Some(Command::Healthcheck { listen }) => {
            return match crate::ops::healthcheck(listen) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("flowdeck: unhealthy: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Incident { client: o, command }) => {
            return client::run(&o, client::incident(command));
        }
        _ => {}
    }
    telemetry::init(cli.global.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flowdeck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowdeck: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(c) => c,
        None => Command::Serve(ServeOpts::parse_default()),
    };
    // Validate flags before starting anything.
    let serve_config = match &command {
        Command::Serve(opts) => Some((Config::from_opts(opts)?, opts.demo)),
        _ => None,
    };
    let database = Database::open(&cli.global).await?;
    let result = with_database(&database, command, serve_config).await;
    database.close().await;
    result
}

async fn with_database(
    database: &Database,
    command: Command,
    serve_config: Option<(Config, bool)>,
) -> anyhow::Result<()> {
    let pool = &database.pool;
    db::migrate(pool).await?;
    match command {
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Demo => {
            demo::load_and_print(pool).await?;
            Ok(())
        }
        Command::Backup { file } => {
            let url = database.url().to_string();
            let to = file.clone();
            tokio::task::spawn_blocking(move || db::backup::backup(&url, &to)).await??;
            println!("backed up to {}", file.display());
            Ok(())
        }
        Command::Restore { file, force } => {
            db::backup::restore(pool, database.url(), &file, force).await?;
            db::migrate(pool).await?;
            println!("restored from {}; migrations applied", file.display());
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    handle,
                    role,
                    email,
                    name,
                },
        } => admin_create(pool, handle, role, email, name).await,
        Command::Releases {
            command: ReleasesCommand::Import { path, repo, owner },
        } => releases_import(pool, path, repo, owner).await,
        Command::Deploy { .. }
        | Command::Status { .. }
        | Command::Tag { .. }
        | Command::Incident { .. }
        | Command::Healthcheck { .. } => {
            anyhow::bail!("client commands run without a database (see `cli::run`)")
        }
        Command::Serve(_) => {
            let (config, load_demo) = serve_config.expect("serve config parsed above");
            serve(pool.clone(), config, load_demo).await
        }
    }
}

async fn serve(pool: sqlx::PgPool, mut config: Config, load_demo: bool) -> anyhow::Result<()> {
    let fds = server::raise_fd_limit();
    // Each connection is a descriptor; keep room for the database pool, files and the embedded
    // server's pipes.
    let room = usize::try_from(fds.saturating_sub(64)).unwrap_or(usize::MAX);
    if config.max_connections > room {
        tracing::warn!(
            max_connections = config.max_connections,
            open_files_limit = fds,
            "FLOWDECK_MAX_CONNECTIONS is above what the open-files limit allows; using {room}"
        );
        config.max_connections = room.max(16);
    }
    if load_demo {
        if auth::account_count(&pool).await? == 0 {
            demo::load_and_print(&pool).await?;
        } else {
            println!("--demo: the database already has accounts; demo data not loaded");
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (set --listen or FLOWDECK_LISTEN)",
                config.listen
            )
        })?;
    if auth::account_count(&pool).await? == 0 {
        let secret = token::random_token();
        auth::replace_setup_token(&pool, &token::hash_token(&secret)).await?;
        println!(
            "\nflowdeck has no accounts yet. Open this one-time link to create the first admin:\n\n    {}/setup?token={secret}\n",
            config.base_url()
        );
    }
    tracing::info!(listen = %config.listen, url = %config.base_url(), "flowdeck is serving");
    let state = AppState::new(pool, config);
    server::run(state, listener, server::shutdown_signal()).await
}

async fn admin_create(
    pool: &sqlx::PgPool,
    handle: String,
    role: String,
    email: Option<String>,
    name: Option<String>,
) -> anyhow::Result<()> {
    let role = Role::parse(&role).map_err(|e| anyhow::anyhow!(e))?;
    let password = read_password()?;
    let form = ops::AccountForm {
        display_name: name.unwrap_or_else(|| handle.clone()),
        handle,
        email: email.unwrap_or_default(),
        timezone: "UTC".into(),
        new_password: password.clone(),
        confirm: password,
    };
    let valid = ops::validate_account(&form).map_err(|errs| {
        let list: Vec<String> = errs
            .fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .chain(errs.general.clone())
            .collect();
        anyhow::anyhow!("the account was not created:\n  {}", list.join("\n  "))
    })?;
    let handle = valid.handle.as_str().to_string();
    let mut tx = pool.begin().await?;
    ops::create_account(&mut tx, &Actor::system("cli"), valid, role)
        .await
        .map_err(|errs| {
            let list: Vec<String> = errs
                .fields
                .values()
                .cloned()
                .chain(errs.general.clone())
                .collect();
            anyhow::anyhow!("the account was not created: {}", list.join(" "))
        })?;
    tx.commit().await?;
    println!("created {role} account `{handle}`");
    Ok(())
}

async fn releases_import(
    pool: &sqlx::PgPool,
    path: std::path::PathBuf,
    repo: Option<String>,
    owner: Option<String>,
) -> anyhow::Result<()> {
    use crate::releases::{self, ops as rops};
    let path =
        std::fs::canonicalize(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let name = match repo {
        Some(r) => r,
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(".git").to_lowercase())
            .ok_or_else(|| anyhow::anyhow!("name the repository with --repo"))?,
    };
    let mut conn = pool.acquire().await?;
    let owner_id = match &owner {
        Some(h) => auth::active_account_id(&mut conn, &h.to_lowercase()).await?,
        None => auth::first_admin_id(&mut conn).await?,
    };
    drop(conn);
    let owner_id = owner_id.ok_or_else(|| {
        anyhow::anyhow!("no owner: create an admin first (flowdeck admin create) or pass --owner")
    })?;
    let state = AppState::new(
        pool.clone(),
        Config::from_opts(&ServeOpts::parse_default())?,
    );
    let actor = Actor::system("cli");
    if releases::repository_named(pool, &name).await?.is_none() {
        let form = rops::RepoForm {
            name: name.clone(),
            ..Default::default()
        };
        rops::add_repository(
            &state,
            &actor,
            crate::auth::model::AccountId(owner_id),
            &form,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .map_err(|errs| anyhow::anyhow!("repository {name}: {:?}", errs.fields))?;
    }
    let repo = releases::repository_named(pool, &name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("repository {name} is missing"))?;
    let report = rops::import(&state, &actor, &repo, &path)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "{name}: {} new tags, {} already recorded, {} new lines ({}), {} other branches ignored",
        report.tags_created.len(),
        report.tags_unchanged,
        report.lines_created.len(),
        report.lines_created.join(", "),
        report.other_branches
    );
    for (tag, commit) in &report.conflicts {
        println!("  conflict: {tag} is recorded at {commit}; left unchanged (tags are immutable)");
    }
    for (what, why, hint) in &report.refused {
        match hint {
            Some(h) => println!("  not imported: {what}: {why} Did you mean {h}?"),
            None => println!("  not imported: {what}: {why}"),
        }
    }
    Ok(())
}

/// The password from standard input: hidden prompt on a terminal, else the first line.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("Password (at least 10 characters): ")?;
        let again = rpassword::prompt_password("Repeat it: ")?;
        anyhow::ensure!(p == again, "the two passwords differ");
        Ok(p)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

impl ServeOpts {
    /// `serve` with every option from its environment variable or default.
    pub fn parse_default() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeOpts,
        }
        Only::parse_from(["flowdeck"]).serve
    }
}

/// Variables flowdeck reads directly rather than through a flag (`FLOWDECK_PG_*`: the embedded
/// database and backups; `RUST_LOG`: the log filter).
const DIRECT_VARIABLES: &[&str] = &["FLOWDECK_PG_USER", "FLOWDECK_PG_BIN", "RUST_LOG"];

/// Every environment variable flowdeck reads: each flag's `env` in every subcommand, and the
/// few read directly. Deployment files are checked against it (tests/packaging.rs).
pub fn variables() -> std::collections::BTreeSet<String> {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out: std::collections::BTreeSet<String> =
        DIRECT_VARIABLES.iter().map(|v| (*v).to_string()).collect();
    walk(&Cli::command(), &mut out);
    out
}
