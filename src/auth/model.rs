//! Account domain types, parsed at the edge: `Role`, `Handle`, `Email`, `DisplayName`, `TimeZone`,
//! `NewPassword`. Past the form handlers, code holds only valid values.

use std::fmt;

/// A typed account id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an account may do (DESIGN §2). Ordered: member < lead < admin. Decoded from
/// `accounts.role` and `invites.role` (a value that does not decode is a 500, logged).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type, serde::Serialize,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Lead,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::Lead, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    /// The role for people.
    pub fn label(self) -> &'static str {
        self.as_str()
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "member" => Ok(Role::Member),
            "lead" => Ok(Role::Lead),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "“{other}” is not a role: choose member, lead or admin"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A login handle: 2–32 characters, lowercase letters, digits, `-` and `_`, starting with a
/// letter or digit. Input is trimmed and lowercased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle(String);

impl Handle {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let h = raw.trim().to_lowercase();
        if h.is_empty() {
            return Err("Enter a handle.".into());
        }
        let len = h.chars().count();
        if !(2..=32).contains(&len) {
            return Err("A handle has 2 to 32 characters.".into());
        }
        let mut chars = h.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !first_ok || !rest_ok {
            return Err(
                "A handle uses letters a–z, digits, “-” and “_”, and starts with a letter or digit."
                    .into(),
            );
        }
        Ok(Self(h))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: trimmed, one `@`, a dot in the domain, no spaces, at most 254 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// An empty field means "no email".
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, String> {
        let e = raw.trim();
        if e.is_empty() {
            return Ok(None);
        }
        let bad = || Err(format!("“{e}” is not an email address."));
        if e.len() > 254 || e.chars().any(char::is_whitespace) {
            return bad();
        }
        match e.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.') =>
            {
                Ok(Some(Self(e.to_string())))
            }
            _ => bad(),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: trimmed, 1–100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.trim();
        if n.is_empty() {
            return Err("Enter a display name.".into());
        }
        if n.chars().count() > 100 {
            return Err("A display name has at most 100 characters.".into());
        }
        if n.chars().any(char::is_control) {
            return Err("A display name cannot contain control characters.".into());
        }
        Ok(Self(n.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name such as `Europe/Berlin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let t = raw.trim();
        if t.is_empty() {
            return Err("Choose a time zone.".into());
        }
        t.parse::<chrono_tz::Tz>().map(Self).map_err(|_| {
            format!("“{t}” is not a time zone name; use an IANA name such as Europe/Berlin or Asia/Shanghai.")
        })
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// A new password: 10 to 1024 characters, not the handle itself.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str, confirm: &str, handle: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len < 10 {
            return Err("A password has at least 10 characters.".into());
        }
        if len > 1024 {
            return Err("A password has at most 1024 characters.".into());
        }
        if raw.trim().eq_ignore_ascii_case(handle) {
            return Err("The password cannot be your handle.".into());
        }
        if raw != confirm {
            return Err("The two passwords differ.".into());
        }
        Ok(Self(raw.to_string()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// The logged-in account, as loaded for this request.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: AccountId,
    pub handle: String,
    pub display_name: String,
    pub role: Role,
    pub timezone: String,
    pub auth_epoch: i32,
    /// Unread inbox items (the navigation's count), read with the account.
    pub unread: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_lowercased_and_trimmed() {
        assert_eq!(Handle::parse("  Ann-Lee ").unwrap().as_str(), "ann-lee");
    }

    #[test]
    fn handles_with_spaces_symbols_or_odd_lengths_are_refused() {
        for bad in ["", "a", "ann lee", "ann@x", "-ann", &"x".repeat(33), "änn"] {
            assert!(Handle::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn an_empty_email_means_none_and_a_broken_one_is_refused() {
        assert_eq!(Email::parse_optional("  ").unwrap(), None);
        assert!(Email::parse_optional("ann@example.com").unwrap().is_some());
        for bad in [
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "a b@x.com",
            "a@b@c.com",
            "a@x.",
        ] {
            assert!(
                Email::parse_optional(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn roles_parse_and_order_member_below_lead_below_admin() {
        assert_eq!(Role::parse("lead").unwrap(), Role::Lead);
        assert!(Role::parse("owner").is_err());
        assert!(Role::Member < Role::Lead && Role::Lead < Role::Admin);
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TimeZone::parse("Asia/Shanghai").unwrap().name(),
            "Asia/Shanghai"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn short_or_mismatched_passwords_are_refused() {
        assert!(NewPassword::parse("short", "short", "ann").is_err());
        assert!(NewPassword::parse("long enough pw", "long enough pX", "ann").is_err());
        assert!(NewPassword::parse("annannann1", "annannann1", "annannann1").is_err());
        assert!(NewPassword::parse("long enough pw", "long enough pw", "ann").is_ok());
    }

    #[test]
    fn a_display_name_is_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ann  ").unwrap().as_str(), "Ann");
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
    }
}
