//! Release-line rules as domain types: `Version` (the team's SemVer tags), `LineName` (`main` or
//! `release-vX.Y`), where a tag may be recorded, which lines are maintained, and what a near-miss
//! name probably meant.

use std::{cmp::Ordering, fmt};

/// A repository's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RepositoryId(pub i64);

/// A release line's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineId(pub i64);

/// A backport request's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackportId(pub i64);

/// The pre-release modifiers allowed by default (setting `prerelease_modifiers`).
pub const DEFAULT_MODIFIERS: [&str; 3] = ["alpha", "beta", "rc"];

/// A tag the team's way: `vMAJOR.MINOR.PATCH`, optionally `-<modifier>.<N>`; no build metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// (modifier, number) for a pre-release.
    pub pre: Option<(String, u32)>,
}

/// Why a name was refused, and what it probably meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub suggestion: Option<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(s) = &self.suggestion {
            write!(f, " Did you mean {s}?")?;
        }
        Ok(())
    }
}

fn refuse(reason: impl Into<String>, suggestion: Option<String>) -> Refusal {
    Refusal {
        reason: reason.into(),
        suggestion,
    }
}

/// The largest number a version part may hold (the database stores them as `integer`).
pub const MAX_PART: u32 = 999_999_999;

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok().filter(|n| *n <= MAX_PART)
}

/// True when `s` is all digits but larger than `MAX_PART`.
fn too_large(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u64>().map_or(true, |n| n > u64::from(MAX_PART))
}

fn too_large_refusal(raw: &str) -> Refusal {
    refuse(
        format!("“{raw}”: each number in a version is at most {MAX_PART}."),
        None,
    )
}

impl Version {
    /// Parses `raw` with the allowed pre-release `modifiers`, built on the `semver` crate for the
    /// grammar and then held to the team's format.
    pub fn parse(raw: &str, modifiers: &[&str]) -> Result<Self, Refusal> {
        let raw = raw.trim();
        let Some(body) = raw.strip_prefix('v') else {
            let fixed = raw.strip_prefix('V').unwrap_or(raw);
            let hint = Self::parse(&format!("v{fixed}"), modifiers)
                .ok()
                .map(|v| v.to_string());
            return Err(refuse(format!("“{raw}” does not start with “v”."), hint));
        };
        if body.contains('+') {
            let hint = Self::parse(
                &format!("v{}", body.split('+').next().unwrap_or("")),
                modifiers,
            )
            .ok()
            .map(|v| v.to_string());
            return Err(refuse(
                format!("“{raw}” has build metadata (“+…”), which tags do not carry."),
                hint,
            ));
        }
        let (core, pre) = match body.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (body, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.iter().any(|p| too_large(p))
            || pre.is_some_and(|p| p.split(['.', '-']).any(too_large))
        {
            return Err(too_large_refusal(raw));
        }
        let nums: Vec<Option<u32>> = parts.iter().map(|p| number(p)).collect();
        let loose: Vec<Option<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
        if parts.len() != 3 {
            let hint = match loose.as_slice() {
                [Some(a), Some(b)] => Some(format!(
                    "v{a}.{b}.0{}",
                    pre.map(|p| format!("-{p}")).unwrap_or_default()
                )),
                [Some(a)] => Some(format!("v{a}.0.0")),
                _ => None,
            };
            return Err(refuse(
                format!("“{raw}” needs three numbers, MAJOR.MINOR.PATCH."),
                hint,
            ));
        }
        if nums.iter().any(Option::is_none) {
            let hint = match loose.as_slice() {
                [Some(a), Some(b), Some(c)] => Some(format!(
                    "v{a}.{b}.{c}{}",
                    pre.map(|p| format!("-{p}")).unwrap_or_default()
                )),
                _ => None,
            };
            return Err(refuse(
                format!("“{raw}”: each of MAJOR.MINOR.PATCH is a number without leading zeros."),
                hint,
            ));
        }
        let (major, minor, patch) = (
            nums[0].unwrap_or(0),
            nums[1].unwrap_or(0),
            nums[2].unwrap_or(0),
        );
        // The semver crate checks the whole grammar (identifiers, characters).
        if semver::Version::parse(body).is_err() {
            return Err(refuse(format!("“{raw}” is not a SemVer version."), None));
        }
        let pre = match pre {
            None => None,
            Some(p) => Some(Self::parse_pre(raw, p, (major, minor, patch), modifiers)?),
        };
        Ok(Self {
            major,
            minor,
            patch,
            pre,
        })
    }

    fn parse_pre(
        raw: &str,
        pre: &str,
        (ma, mi, pa): (u32, u32, u32),
        modifiers: &[&str],
    ) -> Result<(String, u32), Refusal> {
        let allowed = modifiers.join(", ");
        let base = format!("v{ma}.{mi}.{pa}");
        // Split "rc.1", "RC1", "rc1", "rc-1" into a word and a number.
        let lower = pre.to_ascii_lowercase();
        let word: String = lower
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let rest = lower[word.len()..].trim_start_matches(['.', '-', '_']);
        let closest = modifiers
            .iter()
            .map(|m| (edit_distance(&word, m), *m))
            .min()
            .filter(|(d, _)| *d <= 2)
            .map(|(_, m)| m);
        let hint_number = number(rest).unwrap_or(1);
        let hint = closest.map(|m| format!("{base}-{m}.{hint_number}"));
        let Some((w, n)) = pre.split_once('.') else {
            return Err(refuse(
                format!("“{raw}”: a pre-release is written <modifier>.<number>, e.g. {base}-rc.1."),
                hint,
            ));
        };
        if !modifiers.contains(&w) {
            return Err(refuse(
                format!("“{raw}”: “{w}” is not an allowed pre-release modifier ({allowed})."),
                hint,
            ));
        }
        match number(n) {
            Some(n) => Ok((w.to_string(), n)),
            None => Err(refuse(
                format!("“{raw}”: the pre-release number is a whole number without leading zeros."),
                hint,
            )),
        }
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// The line a final version belongs to.
    pub fn line(&self) -> LineName {
        LineName::Release {
            major: self.major,
            minor: self.minor,
        }
    }

    fn semver(&self) -> semver::Version {
        semver::Version::parse(&self.to_string()[1..]).expect("a parsed Version is valid SemVer")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some((m, n)) = &self.pre {
            write!(f, "-{m}.{n}")?;
        }
        Ok(())
    }
}

impl Ord for Version {
    /// SemVer precedence: `rc.2` < `rc.10` < the final version.
    fn cmp(&self, other: &Self) -> Ordering {
        self.semver().cmp_precedence(&other.semver())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A line: `main` (development) or `release-vX.Y` (stable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineName {
    Main,
    Release { major: u32, minor: u32 },
}

impl LineName {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        let raw = raw.trim();
        if raw == "main" {
            return Ok(Self::Main);
        }
        let bad = |hint: Option<String>| {
            Err(refuse(
                format!("“{raw}” is not a line name: use main or release-vX.Y."),
                hint,
            ))
        };
        let Some(rest) = raw.strip_prefix("release-") else {
            return bad((raw == "master").then(|| "main".to_string()));
        };
        let digits = rest.strip_prefix('v').unwrap_or(rest);
        let parts: Vec<&str> = digits.split('.').collect();
        if parts.iter().any(|p| too_large(p)) {
            return Err(too_large_refusal(raw));
        }
        let loose: Vec<Option<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
        let hint = match loose.as_slice() {
            [Some(a), Some(b), ..] => Some(format!("release-v{a}.{b}")),
            _ => None,
        };
        match (rest.starts_with('v'), parts.as_slice()) {
            (true, [a, b]) => match (number(a), number(b)) {
                (Some(major), Some(minor)) => Ok(Self::Release { major, minor }),
                _ => bad(hint),
            },
            _ => bad(hint),
        }
    }

    pub fn numbers(&self) -> Option<(u32, u32)> {
        match self {
            LineName::Main => None,
            LineName::Release { major, minor } => Some((*major, *minor)),
        }
    }
}

/// A branch that looks like a release line but breaks the policy (a patch number, a prefix or
/// suffix around `release-v…`, a path, capitals): why, and the line it probably meant. `None`
/// for a valid line name and for branches that do not look like one at all.
pub fn line_near_miss(branch: &str) -> Option<Refusal> {
    if branch == "main" || LineName::parse(branch).is_ok() {
        return None;
    }
    let lower = branch.to_ascii_lowercase();
    let at = lower.find("release")?;
    // The first "N.N" after "release".
    let tail = &lower[at + "release".len()..];
    let start = tail.find(|c: char| c.is_ascii_digit())?;
    let nums: Vec<u32> = tail[start..]
        .split(|c: char| !c.is_ascii_digit())
        .take_while(|p| !p.is_empty())
        .take(3)
        .filter_map(|p| p.parse().ok())
        .collect();
    let [major, minor, rest @ ..] = nums.as_slice() else {
        return None;
    };
    let meant = format!("release-v{major}.{minor}");
    let reason = if !rest.is_empty() && lower.starts_with("release-v") {
        format!("“{branch}”: a release line has no patch number (tags carry it).")
    } else if branch.contains('/') {
        format!("“{branch}”: a release line is a top-level branch, not a path.")
    } else if branch != lower {
        format!("“{branch}”: release line names are lowercase.")
    } else {
        format!("“{branch}”: a release line is named exactly release-vX.Y, with nothing around it.")
    };
    Some(refuse(reason, Some(meant)))
}

impl fmt::Display for LineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineName::Main => f.write_str("main"),
            LineName::Release { major, minor } => write!(f, "release-v{major}.{minor}"),
        }
    }
}

/// Where a tag goes: pre-releases on main, finals on their own release line.
pub fn line_for(v: &Version) -> LineName {
    if v.is_prerelease() {
        LineName::Main
    } else {
        v.line()
    }
}

/// Checks that `v` may be recorded on `line`: pre-releases only on main, finals only on their own line.
pub fn check_placement(v: &Version, line: LineName) -> Result<(), String> {
    match (v.is_prerelease(), line) {
        (true, LineName::Main) => Ok(()),
        (true, l) => Err(format!(
            "{v} is a pre-release: pre-releases are tagged on main, not {l}."
        )),
        (false, LineName::Main) => Err(format!(
            "{v} is a final version: finals are tagged on {}, not main.",
            v.line()
        )),
        (false, l) if l == v.line() => Ok(()),
        (false, l) => Err(format!("{v} belongs on {}, not {l}.", v.line())),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineStatus {
    /// The development line.
    Development,
    /// The newest stable line.
    Active,
    Maintained,
    Eol,
}

impl LineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Development => "development",
            LineStatus::Active => "active",
            LineStatus::Maintained => "maintained",
            LineStatus::Eol => "eol",
        }
    }
}

/// The status of each release line given all of a repository's lines: the newest is active,
/// the next `window - 1` maintained, older ones end-of-life.
pub fn line_status(line: LineName, all: &[LineName], window: usize) -> LineStatus {
    let Some(me) = line.numbers() else {
        return LineStatus::Development;
    };
    let newer = all
        .iter()
        .filter_map(LineName::numbers)
        .filter(|n| *n > me)
        .count();
    match newer {
        0 => LineStatus::Active,
        n if n < window => LineStatus::Maintained,
        _ => LineStatus::Eol,
    }
}

/// Why a fix is backported (only critical fixes are).
pub const CRITICALITY: [(&str, &str); 5] = [
    ("data_loss", "data loss"),
    ("memory_corruption", "memory corruption"),
    ("crash_hang", "crash or hang"),
    ("security", "security"),
    ("other", "other (justify)"),
];

/// Where a backport stands on one line, decoded from `backport_targets.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BackportStatus {
    Pending,
    Approved,
    Picked,
    NotNeeded,
}

impl BackportStatus {
    pub const ALL: [BackportStatus; 4] = [
        BackportStatus::Pending,
        BackportStatus::Approved,
        BackportStatus::Picked,
        BackportStatus::NotNeeded,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            BackportStatus::Pending => "pending",
            BackportStatus::Approved => "approved",
            BackportStatus::Picked => "picked",
            BackportStatus::NotNeeded => "not_needed",
        }
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s.trim())
            .ok_or_else(|| "Choose pending, approved, picked or not needed.".into())
    }
    /// The status for people ("not needed").
    pub fn label(self) -> &'static str {
        match self {
            BackportStatus::NotNeeded => "not needed",
            other => other.as_str(),
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn branches_that_look_like_release_lines_get_a_hint() {
        use super::line_near_miss;
        let hint = |b: &str| line_near_miss(b).map(|r| (r.reason, r.suggestion));
        for (b, meant) in [
            ("release-v3.9.1", "release-v3.9"),
            ("release/v3.9", "release-v3.9"),
            ("hotfix/release-v3.9", "release-v3.9"),
            ("release-v3.9-hotfix", "release-v3.9"),
            ("Release-v3.9", "release-v3.9"),
            ("release-3.9", "release-v3.9"),
        ] {
            let (_, s) = hint(b).unwrap_or_else(|| panic!("{b} has a hint"));
            assert_eq!(s.as_deref(), Some(meant), "{b}");
        }
        assert!(
            hint("release-v3.9.1")
                .unwrap()
                .0
                .contains("no patch number")
        );
        assert!(hint("release/v3.9").unwrap().0.contains("not a path"));
        for fine in [
            "release-v3.9",
            "main",
            "feature/login",
            "renovate/serde-1.x",
            "release-notes",
        ] {
            assert!(hint(fine).is_none(), "{fine}");
        }
    }

    #[test]
    fn a_version_part_too_large_for_the_database_is_refused_with_the_reason() {
        for raw in [
            "v2147483648.0.0",
            "v1.99999999999999999999999.0",
            "v1.0.4294967296",
            "v1.0.0-rc.2147483648",
        ] {
            let e = Version::parse(raw, &DEFAULT_MODIFIERS).unwrap_err();
            assert!(e.reason.contains("at most 999999999"), "{raw}: {e}");
        }
        assert!(Version::parse("v999999999.0.0", &DEFAULT_MODIFIERS).is_ok());
        assert!(
            LineName::parse("release-v2147483648.0")
                .unwrap_err()
                .reason
                .contains("at most")
        );
    }

    use super::*;

    fn v(s: &str) -> Result<Version, Refusal> {
        Version::parse(s, &DEFAULT_MODIFIERS)
    }

    #[test]
    fn the_teams_versions_parse() {
        for ok in [
            "v0.1.0",
            "v3.5.0",
            "v3.5.12",
            "v3.8.0-alpha.1",
            "v3.8.0-beta.2",
            "v3.8.0-rc.10",
            "v10.0.0-rc.0",
        ] {
            assert_eq!(v(ok).unwrap().to_string(), ok);
        }
    }

    #[test]
    fn near_misses_are_refused_with_what_was_probably_meant() {
        let table = [
            ("v1.2", "v1.2.0"),
            ("1.2.3", "v1.2.3"),
            ("V1.2.3", "v1.2.3"),
            ("v1.2.3-RC1", "v1.2.3-rc.1"),
            ("v1.2.3-rc0", "v1.2.3-rc.0"),
            ("v1.2.3-rc1", "v1.2.3-rc.1"),
            ("v1.2.3-beat.2", "v1.2.3-beta.2"),
            ("v1.2.3-alfa.1", "v1.2.3-alpha.1"),
            ("v01.2.3", "v1.2.3"),
            ("v1.02.3", "v1.2.3"),
            ("v1.2.3+build.5", "v1.2.3"),
        ];
        for (bad, meant) in table {
            let r = v(bad).unwrap_err();
            assert_eq!(r.suggestion.as_deref(), Some(meant), "{bad}: {}", r.reason);
        }
    }

    #[test]
    fn a_tag_with_a_plus_build_suffix_is_rejected() {
        assert!(
            v("v1.2.3+20260101")
                .unwrap_err()
                .reason
                .contains("build metadata")
        );
    }

    #[test]
    fn garbage_is_refused_without_a_guess() {
        for bad in [
            "",
            "v",
            "vx.y.z",
            "v1.2.3.4",
            "v1.2.3-preview.1",
            "v1.2.3-rc.01",
            "v1.2.3-rc.x",
        ] {
            assert!(v(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(v("v1.2.3-preview.1").unwrap_err().suggestion, None);
    }

    #[test]
    fn the_allowed_modifiers_are_a_setting() {
        assert!(Version::parse("v1.0.0-beta.1", &["rc"]).is_err());
        assert!(Version::parse("v1.0.0-rc.1", &["rc"]).is_ok());
    }

    #[test]
    fn ordering_is_semvers() {
        let mut tags: Vec<Version> = [
            "v1.0.0",
            "v1.0.0-rc.10",
            "v1.0.0-rc.2",
            "v1.0.0-beta.3",
            "v0.9.12",
            "v1.0.0-alpha.1",
            "v0.10.0",
        ]
        .iter()
        .map(|s| v(s).unwrap())
        .collect();
        tags.sort();
        let names: Vec<String> = tags.iter().map(Version::to_string).collect();
        assert_eq!(
            names,
            [
                "v0.9.12",
                "v0.10.0",
                "v1.0.0-alpha.1",
                "v1.0.0-beta.3",
                "v1.0.0-rc.2",
                "v1.0.0-rc.10",
                "v1.0.0"
            ]
        );
    }

    #[test]
    fn line_names_parse_and_near_misses_are_explained() {
        assert_eq!(LineName::parse("main").unwrap(), LineName::Main);
        assert_eq!(
            LineName::parse("release-v3.5").unwrap(),
            LineName::Release { major: 3, minor: 5 }
        );
        let table = [
            ("release-3.5", Some("release-v3.5")),
            ("release-v3.5.1", Some("release-v3.5")),
            ("release-v03.5", Some("release-v3.5")),
            ("master", Some("main")),
            ("feature/x", None),
        ];
        for (bad, meant) in table {
            assert_eq!(
                LineName::parse(bad).unwrap_err().suggestion.as_deref(),
                meant,
                "{bad}"
            );
        }
    }

    #[test]
    fn pre_releases_go_on_main_and_finals_on_their_own_line() {
        let rc = v("v3.8.0-rc.1").unwrap();
        let fin = v("v3.7.2").unwrap();
        let l37 = LineName::Release { major: 3, minor: 7 };
        assert!(check_placement(&rc, LineName::Main).is_ok());
        assert!(check_placement(&rc, l37).is_err());
        assert!(check_placement(&fin, l37).is_ok());
        assert!(
            check_placement(&fin, LineName::Main)
                .unwrap_err()
                .contains("release-v3.7")
        );
        assert!(check_placement(&fin, LineName::Release { major: 3, minor: 6 }).is_err());
        assert_eq!(line_for(&rc), LineName::Main);
        assert_eq!(line_for(&fin), l37);
    }

    #[test]
    fn only_the_newest_lines_are_maintained() {
        let lines: Vec<LineName> = [
            "main",
            "release-v3.4",
            "release-v3.5",
            "release-v3.6",
            "release-v3.7",
            "release-v2.9",
        ]
        .iter()
        .map(|s| LineName::parse(s).unwrap())
        .collect();
        let status = |s: &str| line_status(LineName::parse(s).unwrap(), &lines, 3).as_str();
        assert_eq!(status("main"), "development");
        assert_eq!(status("release-v3.7"), "active");
        assert_eq!(status("release-v3.6"), "maintained");
        assert_eq!(status("release-v3.5"), "maintained");
        assert_eq!(status("release-v3.4"), "eol");
        assert_eq!(status("release-v2.9"), "eol");
        assert_eq!(
            line_status(LineName::parse("release-v3.5").unwrap(), &lines, 2).as_str(),
            "eol"
        );
    }
}
