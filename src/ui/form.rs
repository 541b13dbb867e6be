//! Form errors: a message per field plus an optional message for the whole form.

use std::collections::BTreeMap;

#[derive(Default, Debug, Clone)]
pub struct FormErrors {
    pub fields: BTreeMap<&'static str, String>,
    pub general: Option<String>,
}

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
    pub fn add(&mut self, field: &'static str, msg: impl Into<String>) {
        self.fields.entry(field).or_insert_with(|| msg.into());
    }
    pub fn general(msg: impl Into<String>) -> Self {
        Self {
            general: Some(msg.into()),
            ..Default::default()
        }
    }
    pub fn field(field: &'static str, msg: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.add(field, msg);
        e
    }
    pub fn get(&self, field: &str) -> Option<&String> {
        self.fields.get(field)
    }
    /// Keeps the parsed value, or records its error under `field`.
    pub fn check<T>(&mut self, field: &'static str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }
}

/// A short machine name (repository, service, environment): 1–64 lowercase letters, digits,
/// `.`, `_` or `-`, starting with a letter or digit. `what` names it in the message.
pub fn slug(raw: &str, what: &str) -> Result<String, String> {
    let n = raw.trim().to_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then_some(n).ok_or_else(|| {
        format!("A {what} name has 1–64 letters, digits, “.”, “_” or “-”, e.g. server.")
    })
}

/// An optional web address people enter (environment, health check, repository, link): empty, or
/// an absolute `http`/`https` URL with a host, at most 2,000 characters. Anything else — a
/// `javascript:` or `data:` URL, a relative path, `git@…` — is refused, so no stored address can
/// run script or leave the web when someone follows it. `what` names it in the message.
pub fn http_url(raw: &str, what: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(String::new());
    }
    let refused = || {
        format!(
            "The {what} must be a web address starting with https:// or http://, e.g. https://example.com/."
        )
    };
    if raw.len() > 2000 || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refused());
    }
    match url::Url::parse(raw) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(raw.to_string())
        }
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::{http_url, slug};

    #[test]
    fn only_http_and_https_addresses_with_a_host_are_accepted() {
        assert_eq!(
            http_url(" https://ci.example.com/x?y=1 ", "URL").unwrap(),
            "https://ci.example.com/x?y=1"
        );
        assert_eq!(http_url("", "URL").unwrap(), "");
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<b>x</b>",
            "/relative",
            "//evil.example",
            "git@github.com:org/repo.git",
            "http://",
            "https://exa mple.com",
            "ftp://example.com",
        ] {
            assert!(http_url(bad, "URL").is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_are_lowercased_and_limited_to_safe_characters() {
        assert_eq!(slug(" Server ", "repository").unwrap(), "server");
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(slug(bad, "service").is_err(), "{bad:?}");
        }
    }
}
