//! `flowdeck backup FILE` and `flowdeck restore FILE [--force]` (DESIGN §4.4): a custom-format
//! `pg_dump` / `pg_restore` of the configured database or the embedded one, with the installed
//! PostgreSQL client tools. The password never appears on a command line (it goes in
//! `PGPASSWORD`); a restore runs in one transaction (all or nothing), refuses a database that
//! already holds accounts unless `--force`, and runs the migrations after.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use sqlx::PgPool;

/// `name` (`pg_dump`, `pg_restore`) from `FLOWDECK_PG_BIN`, the newest `/usr/lib/postgresql/N/bin`,
/// or the `PATH`.
fn tool(name: &str) -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("FLOWDECK_PG_BIN") {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    if let Some(dir) = super::embedded::newest_installed_bin(|d| d.join(name).is_file()) {
        return Ok(dir.join(name));
    }
    Ok(PathBuf::from(name))
}

/// The URL without its password, and the password (percent-decoded).
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, pass)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    let pass = percent_encoding::percent_decode_str(pass)
        .decode_utf8_lossy()
        .into_owned();
    (format!("{scheme}://{user}@{host}{tail}"), Some(pass))
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {what}; install the PostgreSQL client (Debian: apt-get install postgresql-client)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn with_url(tool_name: &str, url: &str) -> anyhow::Result<Command> {
    let (bare, password) = split_password(url);
    let mut cmd = Command::new(tool(tool_name)?);
    cmd.arg(format!("--dbname={bare}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok(cmd)
}

/// Writes the database at `url` to `file` (custom format, compressed).
pub fn backup(url: &str, file: &Path) -> anyhow::Result<()> {
    let mut cmd = with_url("pg_dump", url)?;
    cmd.args(["--format=custom", "--no-owner", "--no-privileges"])
        .arg(format!("--file={}", file.display()));
    run(cmd, "pg_dump")
}

/// Replaces the contents of the database at `url` with `file`'s, in one transaction; refuses a
/// database that holds accounts unless `force`. The caller runs the migrations after.
pub async fn restore(pool: &PgPool, url: &str, file: &Path, force: bool) -> anyhow::Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let accounts: i64 = sqlx::query_scalar("select count(*) from accounts")
        .fetch_one(pool)
        .await
        .unwrap_or(0);
    if accounts > 0 && !force {
        bail!(
            "this database is not empty ({accounts} accounts); restore would replace everything in it. \
             Restore into an empty database, or pass --force to replace it."
        );
    }
    let mut cmd = with_url("pg_restore", url)?;
    cmd.args([
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
    ])
    .arg(file);
    tokio::task::spawn_blocking(move || run(cmd, "pg_restore")).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_and_is_decoded() {
        assert_eq!(
            split_password("postgres://flow:p%40ss@db.local:5432/flowdeck?sslmode=require"),
            (
                "postgres://flow@db.local:5432/flowdeck?sslmode=require".to_string(),
                Some("p@ss".to_string())
            )
        );
        assert_eq!(
            split_password("postgres://postgres@127.0.0.1/x"),
            ("postgres://postgres@127.0.0.1/x".to_string(), None)
        );
    }
}
