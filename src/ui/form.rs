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

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_lowercased_and_limited_to_safe_characters() {
        assert_eq!(slug(" Server ", "repository").unwrap(), "server");
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(slug(bad, "service").is_err(), "{bad:?}");
        }
    }
}
