//! Subjects the relay publishes each event to, built from its aggregate
//! type and stream id.
//!
//! A NATS subject is a list of tokens separated by `.`; a token may not be
//! empty, nor hold whitespace, `*` or `>` (wildcards), and `.` would split it.
//! Stream ids and aggregate types are free text (`bank.Account`,
//! `order 42`, `Zürich`), so they go through [`encode_token`], which keeps
//! `A`–`Z`, `a`–`z`, `0`–`9`, `-` and `_`, writes every other byte of the
//! UTF-8 text as `%XX` (upper-case hex), and writes the empty text as a
//! lone `%`. The encoding is one-to-one ([`decode_token`] inverts it), so
//! two streams never share a subject by accident.
//!
//! A [`SubjectScheme`] built with [`SubjectScheme::custom`] returns any
//! text; the relay checks it with [`validate_subject`] and refuses an
//! invalid one with a [`SubjectError`] rather than publish where
//! subscribers would not look.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// The longest subject the relay publishes to, in bytes: the server's
/// default control line (4 KiB) holds it with room for the reply subject.
pub const MAX_SUBJECT_LEN: usize = 2048;

/// Why a subject, or a template for subjects, is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject has an empty token (`a..b`, a leading or trailing `.`).
    #[error("subject `{subject}` has an empty token")]
    EmptyToken {
        /// The subject.
        subject: String,
    },
    /// A token holds a character subjects cannot carry.
    #[error("subject `{subject}`: token `{token}` holds {found}, which a subject token cannot")]
    InvalidToken {
        /// The subject.
        subject: String,
        /// The token.
        token: String,
        /// What it holds (`a space`, `the wildcard '*'`, ...).
        found: String,
    },
    /// The subject is longer than [`MAX_SUBJECT_LEN`].
    #[error(
        "subject of {len} bytes is longer than the {max} the relay publishes to: `{prefix}...`"
    )]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
        /// Its first characters.
        prefix: String,
    },
    /// A template names a placeholder other than `{aggregate_type}` and
    /// `{stream_id}`, or puts one inside a token.
    #[error(
        "subject template `{template}`: {problem} (placeholders are `{{aggregate_type}}` and `{{stream_id}}`, each a whole token)"
    )]
    Template {
        /// The template.
        template: String,
        /// What is wrong with it.
        problem: String,
    },
    /// [`decode_token`] was given text [`encode_token`] does not produce.
    #[error("`{token}` is not an encoded subject token: {problem}")]
    NotEncoded {
        /// The token.
        token: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Encodes free text as one subject token (see the module docs).
///
/// ```
/// use eventsource_nats::subject::{decode_token, encode_token};
///
/// assert_eq!(encode_token("order-42"), "order-42");
/// assert_eq!(encode_token("bank.Account"), "bank%2EAccount");
/// assert_eq!(encode_token("a b*>"), "a%20b%2A%3E");
/// assert_eq!(encode_token(""), "%");
/// assert_eq!(decode_token(&encode_token("Zürich")).unwrap(), "Zürich");
/// ```
pub fn encode_token(text: &str) -> String {
    if text.is_empty() {
        return "%".to_owned();
    }
    let mut token = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            token.push(char::from(byte));
        } else {
            token.push('%');
            token.push(hex_digit(byte >> 4));
            token.push(hex_digit(byte & 0xF));
        }
    }
    token
}

/// The text [`encode_token`] encoded as `token`.
pub fn decode_token(token: &str) -> Result<String, SubjectError> {
    let not_encoded = |problem: &str| SubjectError::NotEncoded {
        token: token.to_owned(),
        problem: problem.to_owned(),
    };
    if token == "%" {
        return Ok(String::new());
    }
    let mut bytes = Vec::with_capacity(token.len());
    let mut rest = token.bytes();
    while let Some(byte) = rest.next() {
        if byte == b'%' {
            let high = rest.next().and_then(hex_value);
            let low = rest.next().and_then(hex_value);
            match (high, low) {
                (Some(high), Some(low)) => bytes.push(high << 4 | low),
                _ => return Err(not_encoded("`%` is not followed by two hex digits")),
            }
        } else if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            bytes.push(byte);
        } else {
            return Err(not_encoded("it holds a character the encoding escapes"));
        }
    }
    String::from_utf8(bytes).map_err(|_| not_encoded("the bytes it encodes are not UTF-8"))
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0xF)])
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Checks that `subject` is one the relay may publish to: non-empty
/// tokens of printable ASCII other than `*` and `>`, at most
/// [`MAX_SUBJECT_LEN`] bytes.
pub fn validate_subject(subject: &str) -> Result<(), SubjectError> {
    if subject.len() > MAX_SUBJECT_LEN {
        return Err(SubjectError::TooLong {
            len: subject.len(),
            max: MAX_SUBJECT_LEN,
            prefix: subject.chars().take(40).collect(),
        });
    }
    for token in subject.split('.') {
        validate_token(subject, token)?;
    }
    Ok(())
}

fn validate_token(subject: &str, token: &str) -> Result<(), SubjectError> {
    if token.is_empty() {
        return Err(SubjectError::EmptyToken {
            subject: subject.to_owned(),
        });
    }
    let found = token.chars().find_map(|c| match c {
        '*' | '>' => Some(format!("the wildcard '{c}'")),
        ' ' => Some("a space".to_owned()),
        c if c.is_whitespace() || c.is_control() => Some(format!("the control character {c:?}")),
        c if !c.is_ascii() => Some(format!("the non-ASCII character {c:?}")),
        _ => None,
    });
    match found {
        Some(found) => Err(SubjectError::InvalidToken {
            subject: subject.to_owned(),
            token: token.to_owned(),
            found,
        }),
        None => Ok(()),
    }
}

/// A function choosing the subject of an event from its aggregate type and
/// stream id.
pub type SubjectFn = dyn Fn(&str, &str) -> String + Send + Sync;

/// How the relay names the subject of each event.
#[derive(Clone)]
pub struct SubjectScheme {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// Tokens of a template; `None` where a placeholder goes.
    Template {
        text: String,
        tokens: Vec<Part>,
    },
    Custom(Arc<SubjectFn>),
}

#[derive(Clone)]
enum Part {
    Literal(String),
    AggregateType,
    StreamId,
}

impl fmt::Debug for SubjectScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Template { text, .. } => f.debug_tuple("SubjectScheme").field(text).finish(),
            Kind::Custom(_) => f.write_str("SubjectScheme(custom)"),
        }
    }
}

impl Default for SubjectScheme {
    /// `events.{aggregate_type}.{stream_id}`.
    fn default() -> Self {
        Self::prefixed("events").unwrap_or_else(|_| Self {
            kind: Kind::Template {
                text: String::new(),
                tokens: Vec::new(),
            },
        })
    }
}

impl SubjectScheme {
    /// `<prefix>.{aggregate_type}.{stream_id}`; `prefix` may have several
    /// tokens (`app.events`).
    pub fn prefixed(prefix: &str) -> Result<Self, SubjectError> {
        Self::template(&format!("{prefix}.{{aggregate_type}}.{{stream_id}}"))
    }

    /// A template of tokens, where `{aggregate_type}` and `{stream_id}`
    /// stand for whole tokens, replaced by the event's, encoded with
    /// [`encode_token`]: `events.{aggregate_type}.{stream_id}`.
    pub fn template(template: &str) -> Result<Self, SubjectError> {
        let problem = |problem: String| SubjectError::Template {
            template: template.to_owned(),
            problem,
        };
        let mut tokens = Vec::new();
        for token in template.split('.') {
            let part = match token {
                "{aggregate_type}" => Part::AggregateType,
                "{stream_id}" => Part::StreamId,
                _ if token.contains(['{', '}']) => {
                    return Err(problem(format!("`{token}` is not a placeholder")));
                }
                _ => {
                    validate_token(template, token)?;
                    Part::Literal(token.to_owned())
                }
            };
            tokens.push(part);
        }
        Ok(Self {
            kind: Kind::Template {
                text: template.to_owned(),
                tokens,
            },
        })
    }

    /// Subjects chosen by `subject(aggregate_type, stream_id)`; the relay
    /// refuses with a [`SubjectError`] any it returns that is not valid
    /// ([`validate_subject`]). Use [`encode_token`] on free text.
    pub fn custom(subject: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> Self {
        Self {
            kind: Kind::Custom(Arc::new(subject)),
        }
    }

    /// The subject of an event of `aggregate_type` in `stream_id`.
    pub fn subject(&self, aggregate_type: &str, stream_id: &str) -> Result<String, SubjectError> {
        let subject = match &self.kind {
            Kind::Template { tokens, .. } => {
                let parts: Vec<String> = tokens
                    .iter()
                    .map(|part| match part {
                        Part::Literal(text) => text.clone(),
                        Part::AggregateType => encode_token(aggregate_type),
                        Part::StreamId => encode_token(stream_id),
                    })
                    .collect();
                parts.join(".")
            }
            Kind::Custom(subject) => subject(aggregate_type, stream_id),
        };
        validate_subject(&subject)?;
        Ok(subject)
    }

    /// The subject filter covering every subject of a template (its
    /// placeholders as `*`); `None` for a custom scheme.
    pub fn filter(&self) -> Option<String> {
        match &self.kind {
            Kind::Template { tokens, .. } => Some(
                tokens
                    .iter()
                    .map(|part| match part {
                        Part::Literal(text) => text.as_str(),
                        Part::AggregateType | Part::StreamId => "*",
                    })
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            Kind::Custom(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_valid_distinct_tokens() {
        let names = [
            "",
            ".",
            "..",
            "a.b",
            "a b",
            "*",
            ">",
            "a*b>",
            "\t",
            "\r\n",
            "%",
            "%25",
            "Zürich",
            "日本",
            "emoji 🎉",
            "_",
            "-",
            "a_b-c",
            "a%2Eb",
        ];
        let mut seen = std::collections::HashSet::new();
        for name in names {
            let token = encode_token(name);
            validate_subject(&token).unwrap_or_else(|e| panic!("{name:?} -> {token:?}: {e}"));
            assert_eq!(decode_token(&token).as_deref(), Ok(name));
            assert!(seen.insert(token.clone()), "{name:?} shares token {token}");
        }
    }

    #[test]
    fn templates_encode_each_placeholder() {
        let scheme = SubjectScheme::default();
        assert_eq!(
            scheme.subject("bank.Account", "acc 1").as_deref(),
            Ok("events.bank%2EAccount.acc%201")
        );
        assert_eq!(scheme.filter().as_deref(), Some("events.*.*"));
        assert!(SubjectScheme::template("x.{stream}.y").is_err());
        assert!(SubjectScheme::template("x..{stream_id}").is_err());
        assert!(SubjectScheme::template("x.a{stream_id}").is_err());
        assert!(SubjectScheme::template("x.*.{stream_id}").is_err());
    }

    #[test]
    fn custom_subjects_are_checked() {
        let raw = SubjectScheme::custom(|aggregate, stream| format!("raw.{aggregate}.{stream}"));
        assert!(matches!(
            raw.subject("a", "b.c d"),
            Err(SubjectError::InvalidToken { .. })
        ));
        assert!(matches!(
            raw.subject("a", ""),
            Err(SubjectError::EmptyToken { .. })
        ));
        assert!(matches!(
            raw.subject("a", &"x".repeat(MAX_SUBJECT_LEN)),
            Err(SubjectError::TooLong { .. })
        ));
        assert!(matches!(
            raw.subject("a", ">"),
            Err(SubjectError::InvalidToken { .. })
        ));
        assert!(matches!(
            raw.subject("a", "ü"),
            Err(SubjectError::InvalidToken { .. })
        ));
        assert_eq!(raw.subject("a", "b").as_deref(), Ok("raw.a.b"));
    }

    #[test]
    fn bad_encodings_are_refused() {
        for bad in ["%2", "%zz", "a.b", "%FF", "é"] {
            assert!(decode_token(bad).is_err(), "{bad}");
        }
    }
}
