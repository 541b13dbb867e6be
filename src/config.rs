//! Settings from command-line flags and `FLOWDECK_*` environment variables (see `.env.example`).

use std::{fmt, net::SocketAddr, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// Options shared by every subcommand; each has a `FLOWDECK_*` (or `DATABASE_URL`) variable.
#[derive(clap::Args, Clone)]
pub struct GlobalOpts {
    /// PostgreSQL URL. Unset: flowdeck runs its own PostgreSQL with data under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where the embedded database keeps its data.
    #[arg(
        long,
        env = "FLOWDECK_DATA_DIR",
        default_value = "./.flowdeck",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Log format: `pretty` (default in a terminal) or `json`.
    #[arg(long, env = "FLOWDECK_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A secret from a flag or the environment (redacted in `Debug`).
fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_string()))
}

/// Options of `flowdeck serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeOpts {
    /// Address to listen on.
    #[arg(long, env = "FLOWDECK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Load the demo team into an empty database before serving.
    #[arg(long)]
    pub demo: bool,

    /// The address people use to reach flowdeck, e.g. `https://flowdeck.example.com`.
    /// Used for links, the Origin check, and (when https) Secure `__Host-` cookies and HSTS.
    #[arg(long, env = "FLOWDECK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "FLOWDECK_SESSION_IDLE_MINUTES", default_value_t = 720)]
    pub session_idle_minutes: i64,

    /// Failed logins allowed per account per hour.
    #[arg(
        long,
        env = "FLOWDECK_LOGIN_FAILURES_PER_ACCOUNT",
        default_value_t = 100
    )]
    pub login_failures_per_account: i64,

    /// Failed logins allowed per client IP per hour.
    #[arg(long, env = "FLOWDECK_LOGIN_FAILURES_PER_IP", default_value_t = 300)]
    pub login_failures_per_ip: i64,

    /// Failed logins per account per hour before each further attempt from an unknown device
    /// must wait (1 s, then doubling).
    #[arg(long, env = "FLOWDECK_LOGIN_FREE_FAILURES", default_value_t = 5)]
    pub login_free_failures: i64,

    /// The longest wait between login attempts for one account from an unknown device.
    #[arg(long, env = "FLOWDECK_LOGIN_MAX_DELAY_SECONDS", default_value_t = 60)]
    pub login_max_delay_seconds: u64,

    /// Milliseconds a login waits for a free password-hashing slot before it is answered 503.
    #[arg(long, env = "FLOWDECK_LOGIN_QUEUE_MS", default_value_t = 2000)]
    pub login_queue_ms: u64,

    /// Seconds a new connection has to send a complete request head.
    #[arg(long, env = "FLOWDECK_HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    pub header_timeout_seconds: u64,

    /// Seconds an idle keep-alive connection is kept open between requests.
    #[arg(long, env = "FLOWDECK_KEEPALIVE_SECONDS", default_value_t = 20)]
    pub keepalive_seconds: u64,

    /// Seconds a request (reading its body included) may take before it is answered 503.
    #[arg(long, env = "FLOWDECK_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,

    /// Open connections at most; when full, the longest-idle connection makes room.
    #[arg(long, env = "FLOWDECK_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Minutes between re-imports of repositories imported from a clone on the server (GitHub
    /// sends nothing when more than three tags are pushed at once).
    #[arg(long, env = "FLOWDECK_REIMPORT_MINUTES", default_value_t = 15)]
    pub reimport_minutes: i64,

    /// Insight: a key with fewer data points than this shows "not enough data", never a band.
    #[arg(long, env = "FLOWDECK_INSIGHT_MIN_POINTS", default_value_t = 5)]
    pub insight_min_points: usize,

    /// Insight: an incident without a named cause is attributed to the latest production
    /// deployment of its service within this many days before it.
    #[arg(long, env = "FLOWDECK_ATTRIBUTION_DAYS", default_value_t = 7)]
    pub attribution_days: i32,

    /// A bearer token `/metrics` asks for (unset: open, as probes are).
    #[arg(long, env = "FLOWDECK_METRICS_TOKEN", value_parser = parse_secret)]
    pub metrics_token: Option<SecretString>,

    /// Serve `/metrics` on this separate address (e.g. `0.0.0.0:9090` for a scraper inside the
    /// cluster) instead of the main one; unset: on the main address.
    #[arg(long, env = "FLOWDECK_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Team rhythm: the weekday weekly updates are due, in each member's own zone (mon … sun).
    #[arg(long, env = "FLOWDECK_UPDATE_DUE_WEEKDAY", default_value = "fri")]
    pub update_due_weekday: String,

    /// Team rhythm: a milestone is due at most this many days ahead.
    #[arg(long, env = "FLOWDECK_MILESTONE_MAX_DAYS", default_value_t = 14)]
    pub milestone_max_days: i64,

    /// Team rhythm: hours a blocker runs (paused while its member is offline or on leave) before
    /// its helpers, the team, then the leads are asked.
    #[arg(long, env = "FLOWDECK_ESCALATION_HOURS", default_value = "1,2,3")]
    pub escalation_hours: String,

    /// Attempts at delivering a notification before it is dead (shown to admins with a retry
    /// button). With the backoff doubling from 1 s to at most 1 h, 20 attempts span about 9 hours.
    #[arg(long, env = "FLOWDECK_OUTBOX_MAX_ATTEMPTS", default_value_t = 20)]
    pub outbox_max_attempts: i32,

    /// The first retry's wait in milliseconds (then doubling, at most an hour).
    #[arg(long, env = "FLOWDECK_OUTBOX_BACKOFF_MS", default_value_t = 1000)]
    pub outbox_backoff_ms: u64,

    /// API requests per second per token (bursts of twice as many); more get 429.
    #[arg(long, env = "FLOWDECK_API_RATE_PER_SECOND", default_value_t = 50)]
    pub api_rate_per_second: u32,

    /// Hours an invite link stays valid.
    #[arg(long, env = "FLOWDECK_INVITE_TTL_HOURS", default_value_t = 72)]
    pub invite_ttl_hours: i64,

    /// Hours of notice non-emergency leave needs.
    #[arg(long, env = "FLOWDECK_LEAVE_NOTICE_HOURS", default_value_t = 24)]
    pub leave_notice_hours: i64,

    /// How many of the newest minor release lines are maintained; older ones are end-of-life.
    #[arg(long, env = "FLOWDECK_MAINTAINED_MINOR_LINES", default_value_t = 3)]
    pub maintained_minor_lines: usize,

    /// Allowed pre-release modifiers, comma-separated.
    #[arg(
        long,
        env = "FLOWDECK_PRERELEASE_MODIFIERS",
        default_value = "alpha,beta,rc"
    )]
    pub prerelease_modifiers: String,

    /// Reviewer approvals a design doc needs before a lead can approve it.
    #[arg(long, env = "FLOWDECK_REQUIRED_APPROVALS", default_value_t = 2)]
    pub required_approvals: usize,

    /// Service roles the version-skew rules ignore, comma-separated (e.g. `web`).
    #[arg(long, env = "FLOWDECK_SKEW_EXEMPT_ROLES", default_value = "")]
    pub skew_exempt_roles: String,

    /// Trust `X-Forwarded-For` from a reverse proxy for the client IP.
    #[arg(long, env = "FLOWDECK_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "FLOWDECK_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
}

/// Everything the running server needs to know, resolved once at start.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Origin (scheme://host[:port]) from `FLOWDECK_PUBLIC_URL`, without a trailing slash.
    pub public_origin: Option<String>,
    pub https: bool,
    pub session_idle_minutes: i64,
    pub login_failures_per_account: i64,
    pub login_failures_per_ip: i64,
    pub login_free_failures: i64,
    pub login_max_delay_seconds: u64,
    pub login_queue_ms: u64,
    pub header_timeout_seconds: u64,
    pub keepalive_seconds: u64,
    pub request_timeout_seconds: u64,
    pub max_connections: usize,
    pub api_rate_per_second: u32,
    pub reimport_minutes: i64,
    pub outbox_max_attempts: i32,
    pub outbox_backoff_ms: u64,
    pub insight_min_points: usize,
    pub attribution_days: i32,
    pub metrics_token: Option<SecretString>,
    pub metrics_listen: Option<SocketAddr>,
    pub update_due_weekday: chrono::Weekday,
    pub milestone_max_days: i64,
    pub escalation_hours: [f64; 3],
    pub invite_ttl_hours: i64,
    pub leave_notice_hours: i64,
    pub maintained_minor_lines: usize,
    pub prerelease_modifiers: Vec<String>,
    pub skew_exempt_roles: Vec<String>,
    pub required_approvals: usize,
    pub trust_proxy: bool,
    pub shutdown_grace_seconds: u64,
}

impl Config {
    /// Validates the serve options.
    pub fn from_opts(opts: &ServeOpts) -> anyhow::Result<Self> {
        let public_origin = match &opts.public_url {
            None => None,
            Some(raw) => Some(parse_origin(raw)?),
        };
        anyhow::ensure!(
            opts.session_idle_minutes > 0,
            "FLOWDECK_SESSION_IDLE_MINUTES must be positive"
        );
        let modifiers: Vec<String> = opts
            .prerelease_modifiers
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect();
        anyhow::ensure!(
            !modifiers.is_empty()
                && modifiers
                    .iter()
                    .all(|m| m.chars().all(|c| c.is_ascii_lowercase())),
            "FLOWDECK_PRERELEASE_MODIFIERS must be lowercase words separated by commas, e.g. alpha,beta,rc"
        );
        anyhow::ensure!(
            opts.maintained_minor_lines >= 1,
            "FLOWDECK_MAINTAINED_MINOR_LINES must be at least 1"
        );
        anyhow::ensure!(
            (0..=24 * 60).contains(&opts.leave_notice_hours),
            "FLOWDECK_LEAVE_NOTICE_HOURS must be between 0 and 1440"
        );
        anyhow::ensure!(
            opts.login_free_failures >= 1 && opts.login_failures_per_account >= 1,
            "FLOWDECK_LOGIN_FREE_FAILURES and FLOWDECK_LOGIN_FAILURES_PER_ACCOUNT must be at least 1"
        );
        anyhow::ensure!(
            opts.header_timeout_seconds >= 1
                && opts.keepalive_seconds >= 1
                && opts.request_timeout_seconds >= 1,
            "FLOWDECK_HEADER_TIMEOUT_SECONDS, FLOWDECK_KEEPALIVE_SECONDS and \
             FLOWDECK_REQUEST_TIMEOUT_SECONDS must be at least 1"
        );
        anyhow::ensure!(
            opts.max_connections >= 16,
            "FLOWDECK_MAX_CONNECTIONS must be at least 16"
        );
        anyhow::ensure!(
            opts.invite_ttl_hours > 0,
            "FLOWDECK_INVITE_TTL_HOURS must be positive"
        );
        Ok(Self {
            listen: opts.listen,
            https: public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://")),
            public_origin,
            session_idle_minutes: opts.session_idle_minutes,
            login_failures_per_account: opts.login_failures_per_account,
            login_failures_per_ip: opts.login_failures_per_ip,
            login_free_failures: opts.login_free_failures,
            login_max_delay_seconds: opts.login_max_delay_seconds,
            login_queue_ms: opts.login_queue_ms,
            header_timeout_seconds: opts.header_timeout_seconds,
            keepalive_seconds: opts.keepalive_seconds,
            request_timeout_seconds: opts.request_timeout_seconds,
            max_connections: opts.max_connections,
            api_rate_per_second: opts.api_rate_per_second.max(1),
            reimport_minutes: opts.reimport_minutes.max(1),
            outbox_max_attempts: opts.outbox_max_attempts.clamp(1, 1000),
            insight_min_points: opts.insight_min_points.clamp(1, 1000),
            attribution_days: opts.attribution_days.clamp(0, 365),
            metrics_token: opts
                .metrics_token
                .clone()
                .filter(|t| !t.expose_secret().is_empty()),
            metrics_listen: opts.metrics_listen,
            update_due_weekday: crate::rhythm::model::parse_weekday(&opts.update_due_weekday)
                .map_err(|e| anyhow::anyhow!("FLOWDECK_UPDATE_DUE_WEEKDAY: {e}"))?,
            milestone_max_days: opts.milestone_max_days.clamp(1, 366),
            escalation_hours: crate::rhythm::model::parse_hours(&opts.escalation_hours)
                .map_err(|e| anyhow::anyhow!("FLOWDECK_ESCALATION_HOURS: {e}"))?,
            outbox_backoff_ms: opts.outbox_backoff_ms.clamp(1, 3_600_000),
            invite_ttl_hours: opts.invite_ttl_hours,
            leave_notice_hours: opts.leave_notice_hours,
            maintained_minor_lines: opts.maintained_minor_lines,
            prerelease_modifiers: modifiers,
            required_approvals: opts.required_approvals,
            skew_exempt_roles: opts
                .skew_exempt_roles
                .split(',')
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| !r.is_empty())
                .collect(),
            trust_proxy: opts.trust_proxy,
            shutdown_grace_seconds: opts.shutdown_grace_seconds,
        })
    }

    /// Defaults for tests and tools: what `flowdeck serve` uses with no flags.
    pub fn for_listen(listen: SocketAddr) -> Self {
        let mut opts = ServeOpts::parse_default();
        opts.listen = listen;
        opts.public_url = None;
        Self::from_opts(&opts).expect("defaults are valid")
    }

    /// The allowed pre-release modifiers as string slices.
    pub fn modifiers(&self) -> Vec<&str> {
        self.prerelease_modifiers
            .iter()
            .map(String::as_str)
            .collect()
    }

    /// The first retry's wait of a notification that could not be delivered.
    pub fn outbox_backoff(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.outbox_backoff_ms)
    }

    /// The base URL for links printed to a terminal or shown to admins.
    pub fn base_url(&self) -> String {
        match &self.public_origin {
            Some(o) => o.clone(),
            None => format!("http://{}", self.listen),
        }
    }
}

fn parse_origin(raw: &str) -> anyhow::Result<String> {
    let raw = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| {
            anyhow::anyhow!("FLOWDECK_PUBLIC_URL must start with http:// or https://")
        })?;
    anyhow::ensure!(
        !rest.is_empty() && !rest.contains('/'),
        "FLOWDECK_PUBLIC_URL must be an origin like https://flowdeck.example.com (no path)"
    );
    Ok(raw)
}

/// A database URL that never shows its password in logs.
#[derive(Clone)]
pub struct DatabaseUrl(pub SecretString);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_with_a_path_is_refused() {
        assert!(parse_origin("https://x.example.com/flowdeck").is_err());
    }

    #[test]
    fn a_public_url_is_normalised_to_its_origin() {
        assert_eq!(
            parse_origin("HTTPS://Flow.Example.com/").unwrap(),
            "https://flow.example.com"
        );
    }

    #[test]
    fn https_public_url_turns_on_secure_cookies() {
        let mut c = Config::for_listen("127.0.0.1:1".parse().unwrap());
        assert!(!c.https);
        c = Config::from_opts(&ServeOpts {
            public_url: Some("https://f.example.com".into()),
            ..ServeOpts {
                listen: c.listen,
                demo: false,
                public_url: None,
                session_idle_minutes: 1,
                login_failures_per_account: 1,
                login_failures_per_ip: 1,
                login_free_failures: 5,
                login_max_delay_seconds: 60,
                login_queue_ms: 2000,
                header_timeout_seconds: 10,
                keepalive_seconds: 20,
                request_timeout_seconds: 30,
                max_connections: 1024,
                api_rate_per_second: 50,
                reimport_minutes: 15,
                outbox_max_attempts: 20,
                insight_min_points: 5,
                attribution_days: 7,
                metrics_token: None,
                metrics_listen: None,
                update_due_weekday: "fri".into(),
                milestone_max_days: 14,
                escalation_hours: "1,2,3".into(),
                outbox_backoff_ms: 1000,
                invite_ttl_hours: 1,
                leave_notice_hours: 24,
                maintained_minor_lines: 3,
                prerelease_modifiers: "alpha,beta,rc".into(),
                skew_exempt_roles: String::new(),
                required_approvals: 2,
                trust_proxy: false,
                shutdown_grace_seconds: 1,
            }
        })
        .unwrap();
        assert!(c.https);
    }

    #[test]
    fn the_database_url_is_redacted_in_debug_output() {
        let u = DatabaseUrl(SecretString::from("postgres://u:hunter2@h/db"));
        assert!(!format!("{u:?}").contains("hunter2"));
    }
}
