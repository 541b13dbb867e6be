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
    port: u16,
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
        let unwritable = || {
            format!(
                "the data directory {} is not writable (FLOWDECK_DATA_DIR)",
                data_dir.display()
            )
        };
        std::fs::create_dir_all(&pg_root).with_context(unwritable)?;
        if let Some((uid, gid)) = run_as {
            // The server user must reach its folder; the data directory itself stays private.
            std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755))
                .with_context(unwritable)?;
            std::os::unix::fs::chown(&pg_root, Some(uid), Some(gid)).with_context(unwritable)?;
        }
        std::fs::set_permissions(&pg_root, std::fs::Permissions::from_mode(0o700))
            .with_context(unwritable)?;

        let password = read_or_create_password(&data_dir.join("db-password"))?;
        let lock = std::fs::File::create(pg_root.join("owner.lock")).with_context(unwritable)?;
        let owner = lock.try_lock().is_ok();
        let mut me = Self {
            bin,
            pgdata: pgdata.clone(),
            run_as,
            started_here: false,
            port: 0,
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
                me.pg_start(port)?;
                (port, true)
            }
        };
        me.started_here = started_here;
        me.port = port;
        me.url = format!("postgres://flowdeck:{password}@127.0.0.1:{port}/");
        Ok(me)
    }

    /// Starts the server on `port` and waits until it accepts connections.
    fn pg_start(&self, port: u16) -> anyhow::Result<()> {
        let log = self.pgdata.with_file_name("server.log");
        let out = self.pg(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-D".as_ref(),
                self.pgdata.as_os_str(),
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
        Ok(())
    }

    /// Stops the server at once, whoever started it — `fast` ends sessions cleanly, otherwise
    /// `immediate`, as a crash would (the fault drills in tests/faults.rs).
    pub fn halt(&self, fast: bool) -> anyhow::Result<()> {
        let mode = if fast { "fast" } else { "immediate" };
        let out = self.pg(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-w".as_ref(),
                "-m".as_ref(),
                mode.as_ref(),
                "-D".as_ref(),
                self.pgdata.as_os_str(),
            ],
        )?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop -m {mode}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Starts a halted server again on its port; returns once it accepts connections.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.pg_start(self.port)
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

    /// Creates the data directory in `data.init` beside it and renames it into place once it
    /// is complete and configured, so a failure (a full or unwritable disk) leaves nothing a
    /// later start could mistake for a database.
    fn initdb(&self, pg_root: &Path, password: &str) -> anyhow::Result<()> {
        if self.pgdata.exists() {
            // Not a data directory (no PG_VERSION): only an empty one is ours to replace.
            std::fs::remove_dir(&self.pgdata).map_err(|_| {
                anyhow::anyhow!(
                    "{} exists but is not a PostgreSQL data directory; move it away and start again",
                    self.pgdata.display()
                )
            })?;
        }
        let fresh = pg_root.join("data.init");
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh)
                .with_context(|| format!("cannot remove {}", fresh.display()))?;
        }
        let result = self.initdb_into(&fresh, pg_root, password);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&fresh);
        }
        result?;
        std::fs::rename(&fresh, &self.pgdata)
            .with_context(|| format!("cannot move {} into place", fresh.display()))?;
        tracing::info!(pgdata = %self.pgdata.display(), "initialised the embedded PostgreSQL");
        Ok(())
    }

    fn initdb_into(&self, dir: &Path, pg_root: &Path, password: &str) -> anyhow::Result<()> {
        let pwfile = pg_root.join("initdb-password");
        let written = std::fs::write(&pwfile, password)
            .and_then(|()| {
                std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))
            })
            .with_context(|| format!("cannot write {}", pwfile.display()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&pwfile);
            return Err(e);
        }
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
        }
        let out = self.pg(
            "initdb",
            &[
                "-D".as_ref(),
                dir.as_os_str(),
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
        let conf = dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str(
            "\n# flowdeck: private server, TCP on loopback only\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\nmax_connections = 200\n",
        );
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
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

/// The newest Debian-style `/usr/lib/postgresql/<version>/bin` for which `has` holds (the
/// embedded server's tools here, the client's in `backup.rs`).
pub(super) fn newest_installed_bin(has: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
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
    if let Some(dir) = newest_installed_bin(has_tools) {
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
    // Written beside it and renamed, so a full disk never leaves a truncated password behind.
    let password = crate::auth::token::random_token();
    let tmp = path.with_extension("new");
    let written = std::fs::write(&tmp, &password)
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(password)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
