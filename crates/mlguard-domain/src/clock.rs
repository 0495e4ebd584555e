//! Wall-clock time as stored and signed: milliseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; 0 for a clock set before it, saturating far
/// past it.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_after_2020_in_milliseconds() {
        // 2020-01-01T00:00:00Z in ms: a seconds value would be far below it.
        assert!(super::now_ms() > 1_577_836_800_000);
    }
}
