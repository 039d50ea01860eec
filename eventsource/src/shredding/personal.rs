//! What `#[derive(Event)]` declares about an event's personal data: the
//! field naming its subject, and each personal field with its replacement.

use serde_json::Value;

/// The personal data of one event type.
#[derive(Debug)]
pub struct PersonalData {
    /// The field whose value names the subject (a string or a number).
    pub subject: &'static str,
    /// The fields encrypted with the subject's key.
    pub fields: &'static [PersonalField],
}

/// One personal field.
#[derive(Debug)]
pub struct PersonalField {
    /// Its name in the payload.
    pub name: &'static str,
    /// What a read gives in its place once the subject is forgotten.
    pub replacement: fn() -> Value,
}

impl PersonalData {
    /// The subject named by `payload`, if its subject field holds a string
    /// or a number.
    pub fn subject_of(&self, payload: &serde_json::Map<String, Value>) -> Option<String> {
        match payload.get(self.subject)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}
