//! AES-256-GCM over one field's JSON text, bound to its subject, event and
//! field, so a ciphertext cannot be moved to another place and still open.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// The key under which an encrypted field is stored in the payload:
/// `{"$encrypted": "<base64 of nonce and ciphertext>"}`.
pub const ENCRYPTED: &str = "$encrypted";

/// A subject's key: 32 bytes.
pub type SubjectKey = [u8; 32];

/// Makes a fresh key. Keys and nonces come from the operating system's
/// secure generator, not from `Clock`: they must never be reproducible,
/// not even under a seeded clock.
pub fn new_key() -> SubjectKey {
    Aes256Gcm::generate_key(&mut OsRng).into()
}

fn associated(subject: &str, event_id: &uuid::Uuid, field: &str) -> Vec<u8> {
    format!("{subject}\u{0}{event_id}\u{0}{field}").into_bytes()
}

/// `value` encrypted, as the JSON that takes its place.
pub(super) fn seal(
    key: &SubjectKey,
    subject: &str,
    event_id: &uuid::Uuid,
    field: &str,
    value: &Value,
) -> Result<Value, String> {
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let plain = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    let aad = associated(subject, event_id, field);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .map_err(|_| "encryption failed".to_owned())?;
    let mut bytes = nonce.to_vec();
    bytes.extend(sealed);
    let mut wrapped = serde_json::Map::new();
    wrapped.insert(ENCRYPTED.to_owned(), Value::String(STANDARD.encode(bytes)));
    Ok(Value::Object(wrapped))
}

/// The base64 text of a sealed field, if `value` is one.
pub(super) fn sealed_text(value: &Value) -> Option<&str> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.get(ENCRYPTED)?.as_str()
}

/// The field's value, opened with `key`.
pub(super) fn open(
    key: &SubjectKey,
    subject: &str,
    event_id: &uuid::Uuid,
    field: &str,
    text: &str,
) -> Result<Value, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let Some((nonce, sealed)) = bytes.split_first_chunk::<12>() else {
        return Err("too short to hold a nonce".to_owned());
    };
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let aad = associated(subject, event_id, field);
    let plain = cipher
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| "the key does not open it (wrong key, or altered)".to_owned())?;
    serde_json::from_slice(&plain).map_err(|e| e.to_string())
}
