//! Login throttling: repeated failed password checks for one username or from one
//! client address are refused with 429 for a delay that doubles with every further
//! failure. Only the slow path (a password not already verified) is throttled, so
//! users whose credentials are cached, and other users, are unaffected.
//!
//! The budget is taken *before* the hash runs: [`Throttle::reserve`] counts the
//! attempt as in flight, and in-flight attempts count against both limits, so a
//! burst of simultaneous guesses gets at most the limit verified, never more. An
//! attempt beyond the budget waits for the running ones to settle rather than being
//! refused at once: if they failed, it is throttled; if one was the right password
//! (a client opening several connections at once), it goes ahead. The [`Attempt`]
//! it returns is settled by the verification: a wrong password turns it into a
//! failure, a correct one refunds it; dropped unsettled (a store error, a request
//! that went away before the hash) it is refunded without counting.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quick_cache::unsync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, UnitWeighter};
use tokio::sync::Notify;

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
    /// Attempts reserved whose verification has not finished.
    in_flight: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Failures {
    fn is_empty(&self) -> bool {
        self.count == 0 && self.in_flight == 0
    }

    /// Takes one attempt from this budget of `limit`, or says how long to wait.
    fn reserve(
        &mut self,
        limit: u32,
        now: Instant,
        settings: &ThrottleSettings,
    ) -> Result<(), Refusal> {
        if now.duration_since(self.last) > settings.window {
            self.count = 0;
            self.blocked_until = None;
        }
        if let Some(until) = self.blocked_until
            && until > now
        {
            return Err(Refusal::Blocked(until - now));
        }
        let budget = limit.saturating_sub(self.count).max(1);
        if self.in_flight >= budget {
            return Err(Refusal::Busy);
        }
        self.in_flight += 1;
        Ok(())
    }
}

/// Bound on tracked keys; beyond it, the coldest keys without an attempt in flight
/// are forgotten.
const MAX_TRACKED: usize = 100_000;

/// A throttled login name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UserKey(String);

/// A throttled client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AddressKey(IpAddr);

/// Keys with an attempt in flight are never evicted: their reservations must be
/// settled against the same counts they were taken from. When every key is in
/// flight the table grows past its bound rather than drop one.
#[derive(Debug, Clone, Copy, Default)]
struct KeepInFlight;

impl<K> Lifecycle<K, Failures> for KeepInFlight {
    type RequestState = ();

    fn is_pinned(&self, _key: &K, failures: &Failures) -> bool {
        failures.in_flight > 0
    }
}

type FailureTable<K> = Cache<K, Failures, UnitWeighter, DefaultHashBuilder, KeepInFlight>;

/// Why an attempt may not run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Throttled for this long.
    Blocked(Duration),
    /// The budget is held by checks still running: wait for them.
    Busy,
}

/// How a reserved attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Wrong password: the reservation becomes a failure.
    Failed,
    /// Correct password: the reservation is refunded and the failures forgotten.
    Cleared,
    /// No verdict (or a correct password for an address): only the refund.
    Refunded,
}

/// One table of failures; a mutex around it, as a reservation reads and updates
/// an entry in one step.
#[derive(Debug)]
struct Counter<K> {
    limit: u32,
    entries: Mutex<FailureTable<K>>,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Self::with_capacity(limit, MAX_TRACKED)
    }

    fn with_capacity(limit: u32, capacity: usize) -> Self {
        let options = OptionsBuilder::new()
            .estimated_items_capacity(capacity)
            .weight_capacity(capacity as u64)
            .build()
            .unwrap_or_else(|_| unreachable!("capacities are set"));
        Self {
            limit,
            entries: Mutex::new(Cache::with_options(
                options,
                UnitWeighter,
                DefaultHashBuilder::default(),
                KeepInFlight,
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FailureTable<K>> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Takes one attempt from `key`'s budget, or says how long to wait. Below the
    /// limit the budget is what is left of it; at or past the limit (once the delay
    /// has run out) it is one attempt at a time.
    fn reserve(&self, key: &K, now: Instant, settings: &ThrottleSettings) -> Result<(), Refusal> {
        let mut entries = self.lock();
        let mut failures = entries.get(key).copied().unwrap_or(Failures {
            count: 0,
            in_flight: 0,
            last: now,
            blocked_until: None,
        });
        let reserved = failures.reserve(self.limit, now, settings);
        if failures.is_empty() {
            entries.remove(key);
        } else {
            entries.insert(key.clone(), failures);
        }
        reserved
    }

    fn settle(&self, key: &K, outcome: Outcome, now: Instant, settings: &ThrottleSettings) {
        let mut entries = self.lock();
        let Some(mut failures) = entries.peek(key).copied() else {
            return;
        };
        failures.in_flight = failures.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Refunded => {}
            Outcome::Cleared => {
                failures.count = 0;
                failures.blocked_until = None;
            }
            Outcome::Failed => {
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
        }
        if failures.is_empty() {
            entries.remove(key);
        } else {
            entries.insert(key.clone(), failures);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Throttle {
    settings: ThrottleSettings,
    users: Counter<UserKey>,
    addresses: Counter<AddressKey>,
    /// Woken whenever an attempt settles, for the ones waiting on a busy budget.
    settled: Notify,
}

impl Throttle {
    pub(crate) fn new(settings: ThrottleSettings) -> Self {
        Self {
            users: Counter::new(settings.max_failures_per_user.max(1)),
            addresses: Counter::new(settings.max_failures_per_address.max(1)),
            settled: Notify::new(),
            settings,
        }
    }

    /// Reserves one password check for `username` from `address`, before it runs,
    /// waiting while the budget is held by checks still running; `Err(retry_after)`
    /// when it must not run at all.
    pub(crate) async fn reserve(
        self: &Arc<Self>,
        username: &str,
        address: Option<IpAddr>,
    ) -> Result<Attempt, Duration> {
        loop {
            let settled = self.settled.notified();
            let mut settled = std::pin::pin!(settled);
            // Registered before looking, so a settle in between is not missed.
            settled.as_mut().enable();
            match self.try_reserve(username, address) {
                Ok(attempt) => return Ok(attempt),
                Err(Refusal::Blocked(wait)) => return Err(wait),
                Err(Refusal::Busy) => settled.await,
            }
        }
    }

    /// [`Throttle::reserve`] without the waiting.
    pub(crate) fn try_reserve(
        self: &Arc<Self>,
        username: &str,
        address: Option<IpAddr>,
    ) -> Result<Attempt, Refusal> {
        let now = Instant::now();
        let user = UserKey(username.to_owned());
        self.users.reserve(&user, now, &self.settings)?;
        if let Some(address) = address
            && let Err(wait) = self
                .addresses
                .reserve(&AddressKey(address), now, &self.settings)
        {
            self.users
                .settle(&user, Outcome::Refunded, now, &self.settings);
            return Err(wait);
        }
        Ok(Attempt {
            throttle: Arc::clone(self),
            user,
            address,
            settled: false,
        })
    }

    fn settle(&self, user: &UserKey, address: Option<IpAddr>, verdict: Option<bool>) {
        let now = Instant::now();
        let (for_user, for_address) = match verdict {
            Some(false) => (Outcome::Failed, Outcome::Failed),
            // A correct password clears the username's failures (not the
            // address's: an attacker must not reset its own count with one
            // account it owns).
            Some(true) => (Outcome::Cleared, Outcome::Refunded),
            None => (Outcome::Refunded, Outcome::Refunded),
        };
        self.users.settle(user, for_user, now, &self.settings);
        if let Some(address) = address {
            self.addresses
                .settle(&AddressKey(address), for_address, now, &self.settings);
        }
        self.settled.notify_waiters();
    }
}

/// One reserved password check. Settle it with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropping it unsettled refunds it without a failure.
#[derive(Debug)]
pub(crate) struct Attempt {
    throttle: Arc<Throttle>,
    user: UserKey,
    address: Option<IpAddr>,
    settled: bool,
}

impl Attempt {
    /// The password was wrong: the reservation counts as a failure.
    pub(crate) fn failed(mut self) {
        self.settled = true;
        self.throttle.settle(&self.user, self.address, Some(false));
    }

    /// The password was right: refunded, and the username's failures forgotten.
    pub(crate) fn succeeded(mut self) {
        self.settled = true;
        self.throttle.settle(&self.user, self.address, Some(true));
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.settle(&self.user, self.address, None);
        }
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

    fn throttle() -> Arc<Throttle> {
        Arc::new(Throttle::new(settings()))
    }

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    fn blocked(refusal: Refusal) -> Duration {
        match refusal {
            Refusal::Blocked(wait) => wait,
            Refusal::Busy => panic!("busy, not blocked"),
        }
    }

    fn fail(throttle: &Arc<Throttle>, user: &str, address: Option<IpAddr>) {
        throttle
            .try_reserve(user, address)
            .expect("not throttled")
            .failed();
    }

    #[test]
    fn backs_off_exponentially_per_username() {
        let throttle = throttle();
        for _ in 0..3 {
            fail(&throttle, "alice", None);
        }
        let first = blocked(throttle.try_reserve("alice", None).expect_err("throttled"));
        assert!(first <= Duration::from_millis(100));
        std::thread::sleep(first);
        fail(&throttle, "alice", None);
        let second = blocked(throttle.try_reserve("alice", None).expect_err("throttled"));
        assert!(second > Duration::from_millis(100) && second <= Duration::from_millis(200));
        // Other users are unaffected; success clears alice.
        throttle.try_reserve("bob", None).expect("bob").succeeded();
        std::thread::sleep(second);
        throttle
            .try_reserve("alice", None)
            .expect("delay over")
            .succeeded();
        for _ in 0..3 {
            throttle
                .try_reserve("alice", None)
                .expect("cleared")
                .failed();
        }
    }

    #[test]
    fn the_delay_is_capped() {
        let throttle = throttle();
        for _ in 0..3 {
            fail(&throttle, "alice", None);
        }
        for _ in 0..3 {
            let wait = blocked(throttle.try_reserve("alice", None).expect_err("throttled"));
            std::thread::sleep(wait);
            fail(&throttle, "alice", None);
        }
        let capped = blocked(throttle.try_reserve("alice", None).expect_err("throttled"));
        assert!(capped <= Duration::from_millis(350));
    }

    #[test]
    fn checks_in_flight_use_up_the_budget() {
        let throttle = throttle();
        let held: Vec<_> = (0..3)
            .map(|_| {
                throttle
                    .try_reserve("alice", None)
                    .expect("within the budget")
            })
            .collect();
        assert!(
            throttle.try_reserve("alice", None).is_err(),
            "the budget is taken"
        );
        assert!(
            throttle.try_reserve("bob", None).is_ok(),
            "others are unaffected"
        );
        // Refunds (no verdict) give the budget back without a failure.
        drop(held);
        let held: Vec<_> = (0..3)
            .map(|_| throttle.try_reserve("alice", None).expect("refunded"))
            .collect();
        for attempt in held {
            attempt.failed();
        }
        assert!(
            throttle.try_reserve("alice", None).is_err(),
            "three failures"
        );
    }

    #[test]
    fn past_the_limit_one_check_at_a_time() {
        let throttle = throttle();
        for _ in 0..3 {
            fail(&throttle, "alice", None);
        }
        std::thread::sleep(Duration::from_millis(110));
        let one = throttle.try_reserve("alice", None).expect("delay over");
        assert_eq!(
            throttle.try_reserve("alice", None).unwrap_err(),
            Refusal::Busy,
            "one at a time"
        );
        one.failed();
        assert!(
            throttle.try_reserve("alice", None).is_err(),
            "doubled delay"
        );
    }

    #[test]
    fn throttles_one_address_spraying_many_usernames() {
        let throttle = throttle();
        for i in 0..5 {
            fail(&throttle, &format!("user{i}"), ADDR);
        }
        assert!(throttle.try_reserve("someone-else", ADDR).is_err());
        assert!(throttle.try_reserve("someone-else", None).is_ok());
    }

    #[test]
    fn an_address_in_flight_counts_and_its_refusal_refunds_the_user() {
        let throttle = throttle();
        let held: Vec<_> = (0..5)
            .map(|i| {
                throttle
                    .try_reserve(&format!("user{i}"), ADDR)
                    .expect("budget")
            })
            .collect();
        assert!(throttle.try_reserve("victim", ADDR).is_err());
        // The refused attempt did not keep victim's budget.
        for _ in 0..3 {
            fail(&throttle, "victim", None);
        }
        // A correct password refunds the address without clearing its count.
        for attempt in held {
            attempt.succeeded();
        }
        fail(&throttle, "x", ADDR);
        assert!(throttle.try_reserve("y", ADDR).is_ok());
    }

    #[test]
    fn the_delay_runs_out() {
        let throttle = throttle();
        for _ in 0..3 {
            fail(&throttle, "alice", None);
        }
        assert!(throttle.try_reserve("alice", None).is_err());
        std::thread::sleep(Duration::from_millis(120));
        assert!(throttle.try_reserve("alice", None).is_ok());
    }

    #[test]
    fn keys_in_flight_survive_a_full_table() {
        let settings = settings();
        let now = Instant::now();
        let counter = Counter::with_capacity(3, 10);
        let alice = UserKey("alice".to_owned());
        for _ in 0..3 {
            counter.reserve(&alice, now, &settings).expect("budget");
        }
        for i in 0..1_000 {
            let other = UserKey(format!("user{i}"));
            counter.reserve(&other, now, &settings).ok();
            counter.settle(&other, Outcome::Failed, now, &settings);
        }
        assert!(counter.lock().len() <= 10 + 1);
        assert_eq!(
            counter.reserve(&alice, now, &settings),
            Err(Refusal::Busy),
            "alice's reservations are still counted"
        );
        for _ in 0..3 {
            counter.settle(&alice, Outcome::Failed, now, &settings);
        }
        assert!(matches!(
            counter.reserve(&alice, now, &settings),
            Err(Refusal::Blocked(_))
        ));
    }

    #[tokio::test]
    async fn a_wait_on_a_busy_budget_ends_with_its_outcome() {
        let throttle = throttle();
        // Held by a right password: the waiter goes ahead.
        let held: Vec<_> = (0..3)
            .map(|_| throttle.try_reserve("alice", None).expect("budget"))
            .collect();
        let waiter = {
            let throttle = Arc::clone(&throttle);
            tokio::spawn(async move { throttle.reserve("alice", None).await.map(drop) })
        };
        tokio::task::yield_now().await;
        let mut held = held.into_iter();
        held.next().expect("one").succeeded();
        assert!(waiter.await.expect("task").is_ok());
        // Held by wrong ones: the waiter is throttled once they have failed.
        drop(held);
        let held: Vec<_> = (0..3)
            .map(|_| throttle.try_reserve("bob", None).expect("budget"))
            .collect();
        let waiter = {
            let throttle = Arc::clone(&throttle);
            tokio::spawn(async move { throttle.reserve("bob", None).await.map(drop) })
        };
        tokio::task::yield_now().await;
        for attempt in held {
            attempt.failed();
        }
        assert!(waiter.await.expect("task").is_err());
    }
}
