//! The embedded default database: a private PostgreSQL started from the server binaries installed
//! on the machine, with its data under `FLOWDECK_DATA_DIR`, reused across starts and stopped on exit.
//!
//! PostgreSQL refuses to run as root, so when flowdeck runs as root (containers, CI) the server
//! runs as the unprivileged user `FLOWDECK_PG_USER` (default `postgres`), which owns the data.
//! It listens on 127.0.0.1 only, on a free port, with a generated password (scram-sha-256).
//!
//! Ownership: the process that starts the server holds an exclusive lock on `owner.lock` for its
//! lifetime and stops the server on exit. Another flowdeck on the same data directory attaches
//! without stopping it. If the owner died without stopping it (SIGKILL, OOM), the kernel released
//! its lock: the next start finds the server running and the lock free, and takes ownership.

use std::{
    net::TcpListener,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Output},
};

use anyhow::{Context, bail};

/// A running private PostgreSQL.
pub struct EmbeddedPg {
    bin: PathBuf,
    pgdata: PathBuf,
    run_as: Option<(u32, u32)>,
    started_here: bool,
    url: String,
    /// Held while this process owns the server (released by the kernel however we exit).
    _owner_lock: Option<std::fs::File>,
}

impl EmbeddedPg {
    /// Initialises (first time) and starts the server, or attaches to one already running on
    /// the same data directory (e.g. `flowdeck demo` while `flowdeck serve` runs).
    pub fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin = find_bin_dir()?;
        let run_as = unprivileged_user()?;

        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let pg_root = data_dir.join("postgres");
        let pgdata = pg_root.join("data");
        std::fs::create_dir_all(&pg_root)?;
        if let Some((uid, gid)) = run_as {
            // The server user must reach its folder; the data directory itself stays private.
            std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755))?;
            std::os::unix::fs::chown(&pg_root, Some(uid), Some(gid))?;
        }
        std::fs::set_permissions(&pg_root, std::fs::Permissions::from_mode(0o700))?;

        let password = read_or_create_password(&data_dir.join("db-password"))?;
        let lock = std::fs::File::create(pg_root.join("owner.lock"))?;
        let owner = lock.try_lock().is_ok();
        let mut me = Self {
            bin,
            pgdata: pgdata.clone(),
            run_as,
            started_here: false,
            url: String::new(),
            _owner_lock: owner.then_some(lock),
        };
        if !pgdata.join("PG_VERSION").exists() {
            me.initdb(&pg_root, &password)?;
        }

        let (port, started_here) = match me.running_port() {
            // Left running by an owner that died without stopping it: ours now.
            Some(port) if owner => {
                tracing::info!("taking over the embedded PostgreSQL left by an earlier process");
                (port, true)
            }
            Some(port) => (port, false),
            None => {
                let port = free_port()?;
                let log = pg_root.join("server.log");
                let out = me.pg(
                    "pg_ctl",
                    &[
                        "start".as_ref(),
                        "-w".as_ref(),
                        "-t".as_ref(),
                        "60".as_ref(),
                        "-D".as_ref(),
                        pgdata.as_os_str(),
                        "-l".as_ref(),
                        log.as_os_str(),
                        "-o".as_ref(),
                        format!("-p {port}").as_ref(),
                    ],
                )?;
                if !out.status.success() {
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = tail.lines().rev().take(15).collect();
                    bail!(
                        "the embedded PostgreSQL did not start ({}).\n{}\nlast lines of {}:\n{}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim(),
                        log.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    );
                }
                (port, true)
            }
        };
        me.started_here = started_here;
        me.url = format!("postgres://flowdeck:{password}@127.0.0.1:{port}/");
        Ok(me)
    }

    /// URL of database `db` on this server, as its superuser `flowdeck`.
    pub fn url(&self, db: &str) -> String {
        format!("{}{db}", self.url)
    }

    /// Leaves the server running after this value is dropped (shared test servers).
    pub fn detach(mut self) {
        self.started_here = false;
    }

    /// Stops the server if this process started it. Safe to call more than once.
    pub fn stop(&mut self) {
        if !self.started_here {
            return;
        }
        self.started_here = false;
        let args = [
            "stop".as_ref(),
            "-w".as_ref(),
            "-m".as_ref(),
            "fast".as_ref(),
            "-D".as_ref(),
            self.pgdata.as_os_str(),
        ];
        match self.pg("pg_ctl", &args) {
            Ok(out) if out.status.success() => tracing::info!("embedded PostgreSQL stopped"),
            Ok(out) => tracing::warn!(
                stderr = %String::from_utf8_lossy(&out.stderr),
                "embedded PostgreSQL did not stop cleanly"
            ),
            Err(e) => tracing::warn!(error = %e, "could not stop the embedded PostgreSQL"),
        }
    }

    fn initdb(&self, pg_root: &Path, password: &str) -> anyhow::Result<()> {
        let pwfile = pg_root.join("initdb-password");
        std::fs::write(&pwfile, password)?;
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
        }
        let out = self.pg(
            "initdb",
            &[
                "-D".as_ref(),
                self.pgdata.as_os_str(),
                "-U".as_ref(),
                "flowdeck".as_ref(),
                format!("--pwfile={}", pwfile.display()).as_ref(),
                "--auth=scram-sha-256".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        );
        let _ = std::fs::remove_file(&pwfile);
        let out = out?;
        if !out.status.success() {
            bail!(
                "initdb failed for {}:\n{}\n(when running as root, every folder above the data \
                 directory must be reachable by the PostgreSQL user)",
                self.pgdata.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let conf = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str(
            "\n# flowdeck: private server, TCP on loopback only\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\nmax_connections = 200\n",
        );
        std::fs::write(&conf, text)?;
        tracing::info!(pgdata = %self.pgdata.display(), "initialised the embedded PostgreSQL");
        Ok(())
    }

    /// The port of a server already running on this data directory, if any.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .pg(
                "pg_ctl",
                &["status".as_ref(), "-D".as_ref(), self.pgdata.as_os_str()],
            )
            .ok()?;
        if !status.status.success() {
            return None;
        }
        // postmaster.pid: line 4 is the port.
        let pid_file = std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg(&self, tool: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.args(args)
            .current_dir(self.pgdata.parent().unwrap_or(Path::new("/")))
            .env_remove("PGDATA")
            .env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd.output()
            .with_context(|| format!("cannot run {}", self.bin.join(tool).display()))
    }
}

impl Drop for EmbeddedPg {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `FLOWDECK_PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`, else `pg_ctl` on `PATH`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(dir) = std::env::var("FLOWDECK_PG_BIN") {
        let dir = PathBuf::from(dir);
        if has_tools(&dir) {
            return Ok(dir);
        }
        bail!(
            "FLOWDECK_PG_BIN={} has no initdb and pg_ctl.\n{INSTALL_HINT}",
            dir.display()
        );
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Ok(dir);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if has_tools(&dir) {
            return Ok(dir);
        }
    }
    bail!(
        "no DATABASE_URL is set and no PostgreSQL server binaries were found for the embedded \
         database (looked in /usr/lib/postgresql/*/bin and PATH).\n{INSTALL_HINT}"
    )
}

const INSTALL_HINT: &str = "Either install the PostgreSQL server — Debian/Ubuntu: \
    `apt-get install postgresql`, Fedora: `dnf install postgresql-server`, macOS: \
    `brew install postgresql` — or point flowdeck at an existing database: \
    DATABASE_URL=postgres://user:password@host:5432/flowdeck";

/// When running as root: the uid/gid PostgreSQL should run as.
fn unprivileged_user() -> anyhow::Result<Option<(u32, u32)>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let name = std::env::var("FLOWDECK_PG_USER").unwrap_or_else(|_| "postgres".into());
    match nix::unistd::User::from_name(&name)? {
        Some(u) if !u.uid.is_root() => Ok(Some((u.uid.as_raw(), u.gid.as_raw()))),
        _ => bail!(
            "flowdeck runs as root and PostgreSQL refuses to: no unprivileged user `{name}` exists \
             to run the embedded database. Create one (`useradd --system {name}`), name another \
             with FLOWDECK_PG_USER, or set DATABASE_URL"
        ),
    }
}

fn read_or_create_password(path: &Path) -> anyhow::Result<String> {
    if let Ok(p) = std::fs::read_to_string(path) {
        let p = p.trim().to_string();
        if !p.is_empty() {
            return Ok(p);
        }
    }
    let password = crate::auth::token::random_token();
    std::fs::write(path, &password).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(password)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
