//! Jittered exponential backoff for reconnecting.

use std::time::Duration;

/// Reconnect delays: `initial · 2^attempt`, capped at `max`, each scaled by a random factor
/// in [0.5, 1.0) so that many connectors cut off together do not return in lockstep.
///
/// The default caps at one second, so a connector is back within about a second of the
/// gateway listening again, however long the gateway was down.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay (before jitter).
    pub initial: Duration,
    /// The largest delay (before jitter).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(50), max: Duration::from_secs(1) }
    }
}

impl Backoff {
    /// The delay before reconnect attempt number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        let base = self.initial.saturating_mul(factor).min(self.max);
        base.mul_f64(0.5 + 0.5 * unit_random())
    }
}

/// A random number in [0, 1) from the system RNG (0.5 if the RNG fails, which only loses jitter).
fn unit_random() -> f64 {
    let mut bytes = [0u8; 4];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_jitter_in_range() {
        let b = Backoff::default();
        for attempt in 0..40 {
            let base = Duration::from_millis(50).saturating_mul(1 << attempt.min(16)).min(b.max);
            let d = b.delay(attempt);
            assert!(d >= base / 2 && d < base, "attempt {attempt}: {d:?} outside [{:?}, {base:?})", base / 2);
        }
        assert!(b.delay(30) < Duration::from_secs(1));
    }
}
