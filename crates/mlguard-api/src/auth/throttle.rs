//! Login throttling: repeated failed password checks for one username or from one
//! client address are refused with 429 for a delay that doubles with every further
//! failure. Only the slow path (a password not already verified) is throttled, so
//! users whose credentials are cached, and other users, are unaffected.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits, all configurable.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures for one username before it is throttled.
    pub max_failures_per_user: u32,
    /// Failures from one client address before it is throttled.
    pub max_failures_per_address: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            max_failures_per_user: 5,
            max_failures_per_address: 50,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            window: Duration::from_secs(900),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Bound on tracked keys; beyond it, stale ones go, then (rarely) all of them.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
struct Counter<K> {
    limit: u32,
    entries: Mutex<HashMap<K, Failures>>,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn blocked_for(&self, key: &K, now: Instant) -> Option<Duration> {
        let entries = self.lock();
        let until = entries.get(key)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&self, key: &K, now: Instant, settings: &ThrottleSettings) {
        let mut entries = self.lock();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(key) {
            entries.retain(|_, f| now.duration_since(f.last) <= settings.window);
            if entries.len() >= MAX_TRACKED {
                tracing::warn!("login throttle table full; forgetting all failures");
                entries.clear();
            }
        }
        let failures = entries.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(failures.last) > settings.window {
            failures.count = 0;
            failures.blocked_until = None;
        }
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
        if failures.count >= self.limit {
            let doublings = (failures.count - self.limit).min(30);
            let delay = settings
                .base_delay
                .saturating_mul(1u32 << doublings)
                .min(settings.max_delay);
            failures.blocked_until = Some(now + delay);
        }
    }

    fn clear(&self, key: &K) {
        self.lock().remove(key);
    }
}

#[derive(Debug)]
pub(crate) struct Throttle {
    settings: ThrottleSettings,
    users: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl Throttle {
    pub(crate) fn new(settings: ThrottleSettings) -> Self {
        Self {
            users: Counter::new(settings.max_failures_per_user.max(1)),
            addresses: Counter::new(settings.max_failures_per_address.max(1)),
            settings,
        }
    }

    /// `Err(retry_after)` when this attempt must not even be checked.
    pub(crate) fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let user = self.users.blocked_for(&username.to_owned(), now);
        let address = address.and_then(|a| self.addresses.blocked_for(&a, now));
        match user.into_iter().chain(address).max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub(crate) fn failed(&self, username: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        self.users.fail(&username.to_owned(), now, &self.settings);
        if let Some(address) = address {
            self.addresses.fail(&address, now, &self.settings);
        }
    }

    /// A correct password clears the username's failures (not the address's: an
    /// attacker must not reset its own count with one account it owns).
    pub(crate) fn succeeded(&self, username: &str) {
        self.users.clear(&username.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            max_failures_per_user: 3,
            max_failures_per_address: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            window: Duration::from_secs(60),
        }
    }

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    #[test]
    fn backs_off_exponentially_per_username() {
        let throttle = Throttle::new(settings());
        for _ in 0..2 {
            throttle.failed("alice", None);
            assert!(throttle.check("alice", None).is_ok());
        }
        throttle.failed("alice", None);
        let first = throttle.check("alice", None).expect_err("throttled");
        assert!(first <= Duration::from_millis(100));
        throttle.failed("alice", None);
        let second = throttle.check("alice", None).expect_err("throttled");
        assert!(second > Duration::from_millis(100) && second <= Duration::from_millis(200));
        for _ in 0..10 {
            throttle.failed("alice", None);
        }
        let capped = throttle.check("alice", None).expect_err("throttled");
        assert!(capped <= Duration::from_millis(350));
        // Other users are unaffected; success clears alice.
        assert!(throttle.check("bob", None).is_ok());
        throttle.succeeded("alice");
        assert!(throttle.check("alice", None).is_ok());
    }

    #[test]
    fn throttles_one_address_spraying_many_usernames() {
        let throttle = Throttle::new(settings());
        for i in 0..5 {
            throttle.failed(&format!("user{i}"), ADDR);
        }
        assert!(throttle.check("someone-else", ADDR).is_err());
        assert!(throttle.check("someone-else", None).is_ok());
    }

    #[test]
    fn the_delay_runs_out() {
        let throttle = Throttle::new(settings());
        for _ in 0..3 {
            throttle.failed("alice", None);
        }
        assert!(throttle.check("alice", None).is_err());
        std::thread::sleep(Duration::from_millis(120));
        assert!(throttle.check("alice", None).is_ok());
    }
}
