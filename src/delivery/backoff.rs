//! How long to wait before retrying a failed post: exponential, capped, with jitter.

use std::time::Duration;

/// The wait before attempt `attempts + 1`: 2, 4, 8 … seconds, at most five minutes, plus up to a
/// quarter more at random so many workers do not retry in step.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 9) as u32;
    let base = Duration::from_secs((1u64 << exp).min(300));
    let jitter_ms =
        u64::from(uuid::Uuid::new_v4().as_u128() as u16) % (base.as_millis() as u64 / 4 + 1);
    base + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_at_five_minutes_and_a_quarter() {
        assert!(backoff(1) >= Duration::from_secs(2) && backoff(1) <= Duration::from_millis(2500));
        assert!(backoff(3) >= Duration::from_secs(8));
        assert!(backoff(50) <= Duration::from_secs(375));
        assert!(backoff(50) >= Duration::from_secs(300));
    }
}
