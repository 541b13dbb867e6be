//! Reading branches and tags from a git repository on disk (a clone or a bare repository) with
//! the git command line: `git for-each-ref`, which peels annotated tags to their commits.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeZone, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

#[derive(Clone, Debug)]
pub struct GitRef {
    pub kind: RefKind,
    /// Without `refs/heads/`, `refs/tags/` or `refs/remotes/<remote>/`.
    pub name: String,
    pub commit: String,
    pub date: DateTime<Utc>,
}

/// Every branch (local and remote-tracking) and tag of the repository at `path`.
pub async fn refs(path: &Path) -> anyhow::Result<Vec<GitRef>> {
    if !path.is_absolute() {
        bail!("give the repository as an absolute path, e.g. /srv/git/server.git");
    }
    if !path.is_dir() {
        bail!("{} is not a folder on the flowdeck server", path.display());
    }
    let out = tokio::process::Command::new("git")
        .arg("-c")
        .arg("safe.directory=*")
        .arg("-C")
        .arg(path)
        .args([
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(creatordate:unix)",
            "refs/heads",
            "refs/tags",
            "refs/remotes",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .context("cannot run git (is it installed on the flowdeck server?)")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("not a git repository") {
            bail!("{} is not a git repository", path.display());
        }
        bail!("git could not read {}: {}", path.display(), err.trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut refs = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\0').collect();
        let [refname, object, peeled, date] = f.as_slice() else {
            continue;
        };
        let (kind, name) = if let Some(n) = refname.strip_prefix("refs/heads/") {
            (RefKind::Branch, n.to_string())
        } else if let Some(n) = refname.strip_prefix("refs/tags/") {
            (RefKind::Tag, n.to_string())
        } else if let Some(n) = refname.strip_prefix("refs/remotes/") {
            match n.split_once('/') {
                Some((_, "HEAD")) | None => continue,
                Some((_, branch)) => (RefKind::Branch, branch.to_string()),
            }
        } else {
            continue;
        };
        let commit = if peeled.is_empty() { object } else { peeled };
        let date = date
            .parse::<i64>()
            .ok()
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .unwrap_or_else(Utc::now);
        if refs
            .iter()
            .any(|r: &GitRef| r.kind == kind && r.name == name)
        {
            continue; // the same branch locally and on a remote
        }
        refs.push(GitRef {
            kind,
            name,
            commit: commit.to_string(),
            date,
        });
    }
    Ok(refs)
}
