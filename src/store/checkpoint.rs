//! Signed checkpoints: the record's head (its newest event's position in the log and hash),
//! signed with the service's own key and kept outside the database.
//!
//! The hash chain alone catches any change made without recomputing it, but someone with the
//! database can rewrite an event and rehash everything after it, delete the newest events and
//! move the head back, or wipe the log. None of that can reproduce a head the service signed
//! earlier: the signing key is not in the database, and every published checkpoint's hash
//! commits to every event up to it. `audit verify --checkpoints FILE` proves the log still
//! holds each one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The format tag every checkpoint carries and signs.
pub const FORMAT: &str = "escalation-bot/checkpoint/v1";

/// The record's head as signed: the newest event's position in the whole log and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: String,
    /// The newest event's position in the whole log (`global_seq`).
    pub position: i64,
    /// That event's hash, which links to every event before it.
    pub head: String,
    /// When the service signed it.
    pub at: DateTime<Utc>,
    /// The public half of the key that signed it (hex), so a reader knows which key to ask for.
    pub public_key: String,
    /// Ed25519 signature over [`Checkpoint::message`] (hex).
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: the format, position, head and time, each ended by a zero byte.
    pub fn message(position: i64, head: &str, at: DateTime<Utc>) -> Vec<u8> {
        let mut m = Vec::new();
        for part in [
            FORMAT,
            &position.to_string(),
            head,
            &at.to_rfc3339_opts(SecondsFormat::Micros, true),
        ] {
            m.extend_from_slice(part.as_bytes());
            m.push(0);
        }
        m
    }

    /// One line of JSON, as published and as read back from a checkpoints file.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether `public_key` (32 bytes) signed this checkpoint as it reads now.
    pub fn signed_by(&self, public_key: &[u8]) -> bool {
        use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
        let Ok(signature) = hex::decode(&self.signature) else {
            return false;
        };
        self.format == FORMAT
            && UnparsedPublicKey::new(&ED25519, public_key)
                .verify(
                    &Checkpoint::message(self.position, &self.head, self.at),
                    &signature,
                )
                .is_ok()
    }
}

/// Why a checkpoint key could not be read from configuration.
#[derive(Debug, thiserror::Error)]
#[error(
    "the checkpoint signing key must be 64 hexadecimal characters (a 32-byte Ed25519 seed); \
     make one with `escalation-bot audit new-key`"
)]
pub struct BadKey;

/// The service's checkpoint signing key (an Ed25519 key pair from a 32-byte seed).
pub struct CheckpointKey {
    pair: aws_lc_rs::signature::Ed25519KeyPair,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointKey({})", self.public_key_hex())
    }
}

impl CheckpointKey {
    /// Reads the key from its hexadecimal seed, as configuration holds it.
    pub fn from_hex(seed: &str) -> Result<CheckpointKey, BadKey> {
        let seed = hex::decode(seed.trim()).map_err(|_| BadKey)?;
        if seed.len() != 32 {
            return Err(BadKey);
        }
        let pair =
            aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| BadKey)?;
        Ok(CheckpointKey { pair })
    }

    /// A new random key, as its hexadecimal seed (for `audit new-key`).
    pub fn generate_seed_hex() -> Result<String, BadKey> {
        let mut seed = [0u8; 32];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| BadKey)?;
        Ok(hex::encode(seed))
    }

    /// The public half, which verifies checkpoints without being able to make them.
    pub fn public_key(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair;
        self.pair.public_key().as_ref().to_vec()
    }

    /// The public half in hexadecimal, as checkpoints and `audit verify --public-key` name it.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// Signs a head at a time.
    pub fn sign(&self, position: i64, head: &str, at: DateTime<Utc>) -> Checkpoint {
        let signature = self.pair.sign(&Checkpoint::message(position, head, at));
        Checkpoint {
            format: FORMAT.to_string(),
            position,
            head: head.to_string(),
            at,
            public_key: self.public_key_hex(),
            signature: hex::encode(signature.as_ref()),
        }
    }
}

/// What checking one checkpoint against the log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointFinding {
    /// The log holds the signed head at its position.
    Held,
    /// The signature does not verify with the given key: not the service's checkpoint, or edited.
    BadSignature,
    /// The log no longer reaches the position: newest events were removed or the log was wiped.
    Missing { newest: i64 },
    /// The event at the position has another hash: the events up to it were rewritten.
    Rewritten { found: String },
}

impl fmt::Display for CheckpointFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointFinding::Held => write!(f, "held: the log still holds every event up to it"),
            CheckpointFinding::BadSignature => write!(
                f,
                "its signature does not verify with the given public key: it was not signed by this service's key or it was edited"
            ),
            CheckpointFinding::Missing { newest } if *newest == 0 => write!(
                f,
                "the log now holds no events at all: it was wiped after this checkpoint was signed"
            ),
            CheckpointFinding::Missing { newest } => write!(
                f,
                "the log now ends at position {newest}, before this checkpoint: events signed for were removed"
            ),
            CheckpointFinding::Rewritten { .. } => write!(
                f,
                "the event at this position now has another hash: events up to it were rewritten (and rehashed)"
            ),
        }
    }
}

/// Reads a checkpoints file: one JSON checkpoint per line; blank lines and lines starting `#`
/// are skipped, and a line that is not a checkpoint is an error naming its line number.
pub fn read_lines(text: &str) -> Result<Vec<Checkpoint>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // A checkpoint copied from a chat post may keep the code quotes around it.
        let line = line.trim_matches('`');
        let c: Checkpoint = serde_json::from_str(line).map_err(|e| {
            format!(
                "line {}: not a checkpoint ({e}); each line must be one checkpoint as `escalation-bot audit checkpoint` prints it",
                i + 1
            )
        })?;
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CheckpointKey {
        CheckpointKey::from_hex(&"07".repeat(32)).expect("a valid seed")
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_does_not() {
        let k = key();
        let at = DateTime::parse_from_rfc3339("2026-11-30T09:00:00Z")
            .expect("a time")
            .with_timezone(&Utc);
        let c = k.sign(41, "ab12", at);
        assert!(c.signed_by(&k.public_key()));
        let back = read_lines(&c.to_line()).expect("reads back");
        assert_eq!(back, vec![c.clone()]);
        for changed in [
            Checkpoint {
                position: 40,
                ..c.clone()
            },
            Checkpoint {
                head: "ab13".into(),
                ..c.clone()
            },
            Checkpoint {
                at: at + chrono::Duration::seconds(1),
                ..c.clone()
            },
        ] {
            assert!(!changed.signed_by(&k.public_key()));
        }
        let other = CheckpointKey::from_hex(&"08".repeat(32)).expect("a valid seed");
        assert!(!c.signed_by(&other.public_key()));
    }

    #[test]
    fn a_bad_key_or_line_says_what_to_do() {
        assert!(CheckpointKey::from_hex("zz").is_err());
        assert!(CheckpointKey::from_hex(&"07".repeat(31)).is_err());
        let e = read_lines("# kept by the business unit\n\nnot json").expect_err("refused");
        assert!(e.starts_with("line 3:"), "{e}");
        let seed = CheckpointKey::generate_seed_hex().expect("random");
        assert!(CheckpointKey::from_hex(&seed).is_ok());
    }
}
