//! Verified credentials: after one successful argon2 check, a keyed fingerprint of
//! (username, password) maps to the account and its credential version. The
//! password itself is never stored. An entry counts only while the account's
//! version in the store is unchanged, so a password change, demotion, deletion or
//! revoke-all on any replica invalidates it at the next request.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, UnitWeighter};
use sha2::Sha256;

/// HMAC-SHA256 of (username, password) under the process key: the cache key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    user_id: i64,
    version: i64,
    /// `quick_cache` has no expiry: an entry older than the TTL is a miss.
    verified_at: Instant,
}

pub struct CredentialCache {
    /// Per-process random key: fingerprints mean nothing outside this process.
    key: [u8; 32],
    ttl: Duration,
    capacity: usize,
    /// `None` when the capacity is 0.
    entries: Option<Cache<Fingerprint, Entry>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// A cache that never holds more than `capacity` entries. `quick_cache` rounds each
/// shard's share up, so the capacity is split evenly over a power-of-two number of
/// shards of at least 32 entries each, and a remainder is left unused.
fn bounded(capacity: usize) -> Cache<Fingerprint, Entry> {
    let shards = (capacity / 32).clamp(1, 16);
    let shards = if shards.is_power_of_two() {
        shards
    } else {
        shards.next_power_of_two() / 2
    };
    let capacity = capacity - capacity % shards;
    let options = OptionsBuilder::new()
        .shards(shards)
        .estimated_items_capacity(capacity)
        .weight_capacity(capacity as u64)
        .build()
        .unwrap_or_else(|_| unreachable!("shards and capacities are set"));
    Cache::with_options(
        options,
        UnitWeighter,
        DefaultHashBuilder::default(),
        Default::default(),
    )
}

impl CredentialCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            key: rand::random(),
            ttl,
            capacity,
            entries: (capacity > 0).then(|| bounded(capacity)),
        }
    }

    pub fn fingerprint(&self, username: &str, password: &str) -> Fingerprint {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        mac.update(&(username.len() as u64).to_le_bytes());
        mac.update(username.as_bytes());
        mac.update(password.as_bytes());
        Fingerprint(mac.finalize().into_bytes().into())
    }

    /// The account and version a fingerprint was verified for, if still fresh.
    pub fn get(&self, fingerprint: &Fingerprint) -> Option<(i64, i64)> {
        let entries = self.entries.as_ref()?;
        let entry = entries.get(fingerprint)?;
        if entry.verified_at.elapsed() > self.ttl {
            entries.remove(fingerprint);
            return None;
        }
        Some((entry.user_id, entry.version))
    }

    pub fn insert(&self, fingerprint: Fingerprint, user_id: i64, version: i64) {
        if let Some(entries) = &self.entries {
            entries.insert(
                fingerprint,
                Entry {
                    user_id,
                    version,
                    verified_at: Instant::now(),
                },
            );
        }
    }

    pub fn remove(&self, fingerprint: &Fingerprint) {
        if let Some(entries) = &self.entries {
            entries.remove(fingerprint);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_depend_on_both_parts_and_the_process_key() {
        let cache = CredentialCache::new(10, Duration::from_secs(60));
        let a = cache.fingerprint("ab", "c");
        assert_ne!(a, cache.fingerprint("a", "bc"));
        assert_ne!(a, cache.fingerprint("ab", "d"));
        assert_eq!(a, cache.fingerprint("ab", "c"));
        let other = CredentialCache::new(10, Duration::from_secs(60));
        assert_ne!(a, other.fingerprint("ab", "c"));
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = CredentialCache::new(100, Duration::from_millis(50));
        let fp = cache.fingerprint("alice", "pw");
        cache.insert(fp, 1, 7);
        assert_eq!(cache.get(&fp), Some((1, 7)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&fp), None);
        let cache = CredentialCache::new(100, Duration::from_secs(60));
        for i in 0..1000 {
            cache.insert(cache.fingerprint(&format!("u{i}"), "pw"), i, 0);
            assert!(cache.len() <= 100);
        }
    }

    #[test]
    fn a_zero_capacity_cache_remembers_nothing() {
        let cache = CredentialCache::new(0, Duration::from_secs(60));
        let fp = cache.fingerprint("alice", "pw");
        cache.insert(fp, 1, 1);
        assert_eq!(cache.get(&fp), None);
    }
}
