//! Checks Slack's v0 request signature over the raw body before anything is parsed.
//!
//! Slack signs `v0:{X-Slack-Request-Timestamp}:{raw body}` with HMAC-SHA256 keyed by the app's
//! signing secret and sends `v0=<lowercase hex>` in `X-Slack-Signature`. Several secrets may be
//! configured so that a secret can be rotated without refusing requests signed with the old one.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from our clock, either way, before it counts as a replay.
pub const MAX_SKEW_SECS: u64 = 300;

/// The signature's version prefix; the only one Slack uses.
const PREFIX: &str = "v0=";

/// Why a request was refused. None of the messages carries a secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A signing header is absent, so the request cannot be from Slack.
    #[error("the request has no {0} header")]
    Missing(&'static str),
    /// A signing header is present but not in Slack's format.
    #[error("the {0} header is not in Slack's format")]
    Malformed(&'static str),
    /// The timestamp is too far from now: a replayed or badly delayed request.
    #[error(
        "the request timestamp is {skew_secs} s from now (more than {MAX_SKEW_SECS} s): refused as a possible replay"
    )]
    Stale { skew_secs: u64 },
    /// No configured signing secret produces this signature.
    #[error("the request signature does not match")]
    BadSignature,
}

/// The header carrying the Unix timestamp Slack signed.
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// The header carrying `v0=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";

/// Verifies a Slack request: headers present, timestamp within five minutes of `now_unix`
/// (checked first, as Slack's SDKs do, so stale requests cost no HMAC), and the signature made by
/// any of `secrets` (for rotation), compared in constant time. Empty secrets are ignored so that a
/// blank configuration entry can never be used to forge a request.
pub fn verify<S: AsRef<str>>(
    secrets: &[S],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), VerifyError> {
    let timestamp = timestamp_header
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(VerifyError::Missing(TIMESTAMP_HEADER))?;
    let signature = signature_header
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::Missing(SIGNATURE_HEADER))?;
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP_HEADER))?;
    let skew_secs = now_unix.abs_diff(ts);
    if skew_secs > MAX_SKEW_SECS {
        return Err(VerifyError::Stale { skew_secs });
    }
    let hex_sig = signature
        .strip_prefix(PREFIX)
        .ok_or(VerifyError::BadSignature)?;
    let given = hex::decode(hex_sig).map_err(|_| VerifyError::BadSignature)?;

    let matches = secrets
        .iter()
        .map(AsRef::as_ref)
        .filter(|secret| !secret.is_empty())
        .any(|secret| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                return false;
            };
            mac.update(b"v0:");
            mac.update(timestamp.as_bytes());
            mac.update(b":");
            mac.update(body);
            // `verify_slice` compares in constant time and rejects a wrong length.
            mac.verify_slice(&given).is_ok()
        });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Official vector V1 (Slack's docs and python-slack-sdk's tests).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const NOW: i64 = 1_531_420_618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn the_official_test_vector_is_accepted() {
        assert_eq!(BODY.len(), 362);
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(SIG), BODY.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_body_changed_after_signing_is_refused() {
        let body = format!("{BODY}------");
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(SIG), body.as_bytes(), NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn the_signature_of_the_changed_body_is_what_was_computed_for_it() {
        let body = format!("{BODY}------");
        let sig = "v0=54d12afb4ea9655825354a816a2a8548469aa0da991a1fae65b0ee5bd4f32b6b";
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(sig), body.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_timestamp_more_than_five_minutes_old_is_refused_as_stale() {
        let now = NOW + 301;
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(SIG), BODY.as_bytes(), now),
            Err(VerifyError::Stale { skew_secs: 301 })
        );
    }

    #[test]
    fn a_timestamp_more_than_five_minutes_in_the_future_is_refused_as_stale() {
        let now = NOW - 301;
        assert!(matches!(
            verify(&[SECRET], Some(TS), Some(SIG), BODY.as_bytes(), now),
            Err(VerifyError::Stale { .. })
        ));
    }

    #[test]
    fn a_timestamp_exactly_five_minutes_old_is_still_accepted() {
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(SIG), BODY.as_bytes(), NOW + 300),
            Ok(())
        );
    }

    #[test]
    fn staleness_is_checked_before_the_signature() {
        assert!(matches!(
            verify(
                &[SECRET],
                Some(TS),
                Some("v0=00"),
                BODY.as_bytes(),
                NOW + 10_000
            ),
            Err(VerifyError::Stale { .. })
        ));
    }

    #[test]
    fn missing_headers_are_refused() {
        assert_eq!(
            verify(&[SECRET], None, Some(SIG), BODY.as_bytes(), NOW),
            Err(VerifyError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&[SECRET], Some(TS), None, BODY.as_bytes(), NOW),
            Err(VerifyError::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&[SECRET], Some(""), Some(SIG), BODY.as_bytes(), NOW),
            Err(VerifyError::Missing(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn a_garbled_timestamp_is_refused() {
        assert_eq!(
            verify(
                &[SECRET],
                Some("yesterday"),
                Some(SIG),
                BODY.as_bytes(),
                NOW
            ),
            Err(VerifyError::Malformed(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(
                &[SECRET],
                Some("-9223372036854775808"),
                Some(SIG),
                BODY.as_bytes(),
                NOW
            ),
            Err(VerifyError::Stale {
                skew_secs: NOW.abs_diff(i64::MIN)
            })
        );
    }

    #[test]
    fn a_second_secret_in_the_list_matches_during_rotation() {
        let secrets = ["new-secret-not-yet-used".to_string(), SECRET.to_string()];
        assert_eq!(
            verify(&secrets, Some(TS), Some(SIG), BODY.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn no_secret_or_only_empty_secrets_accept_nothing() {
        let none: [&str; 0] = [];
        assert_eq!(
            verify(&none, Some(TS), Some(SIG), BODY.as_bytes(), NOW),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&[""], Some(TS), Some(SIG), BODY.as_bytes(), NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_signature_with_the_wrong_prefix_is_refused() {
        let wrong = SIG.replacen("v0=", "v1=", 1);
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(&wrong), BODY.as_bytes(), NOW),
            Err(VerifyError::BadSignature)
        );
        let bare = SIG.trim_start_matches("v0=");
        assert_eq!(
            verify(&[SECRET], Some(TS), Some(bare), BODY.as_bytes(), NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_signature_that_is_not_hex_or_too_short_is_refused() {
        for sig in ["v0=zz", "v0=a2114d57", "v0="] {
            assert_eq!(
                verify(&[SECRET], Some(TS), Some(sig), BODY.as_bytes(), NOW),
                Err(VerifyError::BadSignature),
                "{sig}"
            );
        }
    }

    #[test]
    fn error_messages_never_contain_the_secret_or_the_signature() {
        let errors = [
            VerifyError::Missing(TIMESTAMP_HEADER),
            VerifyError::Malformed(TIMESTAMP_HEADER),
            VerifyError::Stale { skew_secs: 999 },
            VerifyError::BadSignature,
        ];
        for e in errors {
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains(SECRET) && !text.contains(&SIG[3..]),
                "{text}"
            );
        }
    }
}
