//! Deployment rules: the status machine, version skew between services of an environment, image
//! flags (missing architectures, digests that disagree between registries).

use crate::releases::model::{DEFAULT_MODIFIERS, Version};

/// A service's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceId(pub i64);

/// An environment's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnvironmentId(pub i64);

/// A deployment's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeploymentId(pub i64);

/// A health target's state, decoded from `health_targets.status`: what the prober (or a manual
/// report) last concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Health {
    Up,
    Down,
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }

    /// The health for people.
    pub fn label(self) -> &'static str {
        self.as_str()
    }
}

/// A deployment's status, decoded from `deployments.status`; moved only by `ops::transition`
/// along `can_move_to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    Pending,
    Running,
    Succeeded,
    Failed,
    RolledBack,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("“{s}” is not a deployment status."))
    }

    /// The status for people ("rolled back").
    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::RolledBack => "rolled back",
        }
    }

    /// `pending → running → succeeded | failed`, `succeeded → rolled_back` (and a deployment may
    /// be recorded straight as running, succeeded or failed by CI).
    pub fn can_move_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Pending, Running)
                | (Pending, Failed)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Succeeded, RolledBack)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Succeeded | Status::Failed | Status::RolledBack
        )
    }
}

/// A deployed version, parsed leniently: `v3.8.1`, `3.8.1` and pre-releases; `None` for
/// anything else (a branch name, `latest`), which skew rules then ignore.
pub fn parse_version(raw: &str) -> Option<Version> {
    let raw = raw.trim();
    let with_v = if raw.starts_with('v') {
        raw.to_string()
    } else {
        format!("v{raw}")
    };
    Version::parse(&with_v, &DEFAULT_MODIFIERS).ok()
}

/// One running service in an environment, as the skew check sees it.
#[derive(Clone, Debug)]
pub struct Running<'a> {
    pub service: &'a str,
    pub role: &'a str,
    pub version: &'a str,
}

/// A skew warning for `service`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skew {
    pub service: String,
    pub message: String,
}

/// The team's skew rules for one environment: `api` instances within one minor of each other;
/// every other service (unless its role is exempt) never newer than the newest `api` and at most
/// one minor older than it.
pub fn skew(running: &[Running<'_>], exempt_roles: &[String]) -> Vec<Skew> {
    let minor_index = |v: &Version| v.major as i64 * 10_000 + v.minor as i64;
    let apis: Vec<(&Running, Version)> = running
        .iter()
        .filter(|r| r.role == "api")
        .filter_map(|r| parse_version(r.version).map(|v| (r, v)))
        .collect();
    let mut out = Vec::new();
    let Some(newest) = apis.iter().map(|(_, v)| v).max().cloned() else {
        return out;
    };
    let oldest = apis
        .iter()
        .map(|(_, v)| v)
        .min()
        .cloned()
        .unwrap_or_else(|| newest.clone());
    if minor_index(&newest) - minor_index(&oldest) > 1 || newest.major != oldest.major {
        for (r, v) in &apis {
            if minor_index(v) < minor_index(&newest) - 1 || v.major != newest.major {
                out.push(Skew {
                    service: r.service.to_string(),
                    message: format!("api {v} is more than one minor behind api {newest}"),
                });
            }
        }
    }
    for r in running
        .iter()
        .filter(|r| r.role != "api" && !exempt_roles.iter().any(|e| e == r.role))
    {
        let Some(v) = parse_version(r.version) else {
            continue;
        };
        if v > newest {
            out.push(Skew {
                service: r.service.to_string(),
                message: format!("{v} is newer than api {newest}; upgrade api first"),
            });
        } else if v.major != newest.major || minor_index(&v) < minor_index(&newest) - 1 {
            out.push(Skew {
                service: r.service.to_string(),
                message: format!("{v} is more than one minor behind api {newest}"),
            });
        }
    }
    out
}

/// The architectures every image is built for.
pub const ARCHES: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// One image record of a service version.
#[derive(Clone, Debug)]
pub struct ImageRow<'a> {
    pub registry: &'a str,
    pub arch: &'a str,
    pub digest: &'a str,
}

/// Flags for a version's images: a registry missing an architecture, or registries whose digest
/// for the same architecture disagree.
pub fn image_flags(images: &[ImageRow<'_>]) -> Vec<String> {
    let mut registries: Vec<&str> = images.iter().map(|i| i.registry).collect();
    registries.sort();
    registries.dedup();
    let mut flags = Vec::new();
    for reg in &registries {
        for arch in ARCHES {
            if !images.iter().any(|i| i.registry == *reg && i.arch == arch) {
                flags.push(format!("{reg} has no {arch} image"));
            }
        }
    }
    for arch in ARCHES {
        let mut digests: Vec<&str> = images
            .iter()
            .filter(|i| i.arch == arch)
            .map(|i| i.digest)
            .collect();
        digests.sort();
        digests.dedup();
        if digests.len() > 1 {
            flags.push(format!("{arch} digests disagree between registries"));
        }
    }
    flags
}

/// One rollout: a version deployed to one or more services of one environment, consecutively
/// (the home tile shows "v3.8.1 → prod, 7 services").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    pub environment: String,
    pub version: String,
    pub status: Status,
    pub services: Vec<String>,
    /// When its newest deployment happened.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A deployment as `rollouts` groups it: environment, version, status, service, when.
pub type RolloutPart<'a> = (
    &'a str,
    &'a str,
    Status,
    &'a str,
    chrono::DateTime<chrono::Utc>,
);

/// Groups deployments (newest first) into rollouts: neighbours with the same environment,
/// version and status are one rollout.
pub fn rollouts<'a>(rows: impl IntoIterator<Item = RolloutPart<'a>>) -> Vec<Rollout> {
    let mut out: Vec<Rollout> = Vec::new();
    for (env, version, status, service, at) in rows {
        match out.last_mut() {
            Some(r) if r.environment == env && r.version == version && r.status == status => {
                if !r.services.iter().any(|s| s == service) {
                    r.services.push(service.to_string());
                }
            }
            _ => out.push(Rollout {
                environment: env.to_string(),
                version: version.to_string(),
                status,
                services: vec![service.to_string()],
                at,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_move_only_along_the_allowed_transitions() {
        use Status::*;
        let allowed = [
            (Pending, Running),
            (Pending, Failed),
            (Running, Succeeded),
            (Running, Failed),
            (Succeeded, RolledBack),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
            }
        }
    }

    fn run<'a>(service: &'a str, role: &'a str, version: &'a str) -> Running<'a> {
        Running {
            service,
            role,
            version,
        }
    }

    #[test]
    fn services_may_trail_api_by_one_minor_but_never_lead_it() {
        let env = [
            run("api", "api", "v3.8.1"),
            run("rpc-user", "rpc", "v3.7.4"),
            run("push", "worker", "v3.8.0"),
            run("rpc-msg", "rpc", "v3.9.0-rc.1"),
            run("msgtransfer", "worker", "v3.6.2"),
            run("web", "web", "latest"),
        ];
        let warnings = skew(&env, &[]);
        let names: Vec<&str> = warnings.iter().map(|w| w.service.as_str()).collect();
        assert_eq!(names, ["rpc-msg", "msgtransfer"]);
        assert!(warnings[0].message.contains("newer than api"));
        assert!(warnings[1].message.contains("more than one minor behind"));
        assert!(
            skew(&env, &["worker".into(), "rpc".into()]).is_empty(),
            "exempt roles are skipped"
        );
    }

    #[test]
    fn api_instances_stay_within_one_minor_of_each_other() {
        let ok = [run("api-a", "api", "3.8.0"), run("api-b", "api", "3.7.9")];
        assert!(skew(&ok, &[]).is_empty());
        let bad = [run("api-a", "api", "3.8.0"), run("api-b", "api", "3.6.9")];
        assert_eq!(skew(&bad, &[])[0].service, "api-b");
    }

    #[test]
    fn missing_architectures_and_disagreeing_digests_are_flagged() {
        let a = "sha256:aaaa";
        let b = "sha256:bbbb";
        let imgs = [
            ImageRow {
                registry: "ghcr.io",
                arch: "linux/amd64",
                digest: a,
            },
            ImageRow {
                registry: "ghcr.io",
                arch: "linux/arm64",
                digest: b,
            },
            ImageRow {
                registry: "docker.io",
                arch: "linux/amd64",
                digest: "sha256:cccc",
            },
        ];
        let flags = image_flags(&imgs);
        assert_eq!(
            flags,
            [
                "docker.io has no linux/arm64 image",
                "linux/amd64 digests disagree between registries"
            ]
        );
        let clean = [
            ImageRow {
                registry: "ghcr.io",
                arch: "linux/amd64",
                digest: a,
            },
            ImageRow {
                registry: "ghcr.io",
                arch: "linux/arm64",
                digest: b,
            },
        ];
        assert!(image_flags(&clean).is_empty());
    }

    #[test]
    fn a_version_rolled_out_to_many_services_is_one_rollout() {
        let at = chrono::Utc::now();
        let ok = Status::Succeeded;
        let rows = [
            ("prod", "v3.8.1", ok, "api", at),
            ("prod", "v3.8.1", ok, "rpc", at),
            ("prod", "v3.8.1", Status::Failed, "push", at),
            ("staging", "v3.8.1", ok, "api", at),
            ("prod", "v3.8.0", ok, "api", at),
        ];
        let r = rollouts(rows);
        let summary: Vec<(&str, &str, usize)> = r
            .iter()
            .map(|r| (r.environment.as_str(), r.version.as_str(), r.services.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("prod", "v3.8.1", 2),
                ("prod", "v3.8.1", 1),
                ("staging", "v3.8.1", 1),
                ("prod", "v3.8.0", 1)
            ]
        );
    }
}
