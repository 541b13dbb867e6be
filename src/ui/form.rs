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
