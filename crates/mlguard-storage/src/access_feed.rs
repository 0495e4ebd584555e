//! The change feeds that keep an in-process authorization view exact.
//!
//! - SQLite: the triggers append to `access_changes` in commit order. Every write
//!   of this process replays the new entries before it returns, and a poller picks
//!   up other processes' writes (the offline commands) within a second.
//! - PostgreSQL: the triggers `NOTIFY mlguard_access` in the writing transaction.
//!   A listener thread on its own connection applies each change. It proves itself
//!   current with fences: a NOTIFY on its own channel, which PostgreSQL delivers
//!   after every change committed before it. A heartbeat fence answered within the
//!   lease keeps the view trusted; a write of this process waits for its own fence,
//!   so the writing replica is exact at its next request. A lost connection makes
//!   the view read through at once; a silent one, once the lease runs out.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::Text;
use mlguard_domain::{AccessChange, AccessChangeSink, StoreError};

use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::store::{Backend, Store, db_error};

diesel::table! {
    /// SQLite only: the triggers' change log.
    access_changes (seq) {
        seq -> BigInt,
        change -> Text,
    }
}

/// The PostgreSQL channel the triggers announce changes on.
const CHANNEL: &str = "mlguard_access";

/// How a feed keeps its view current.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// PostgreSQL: how often the listener proves itself current.
    pub heartbeat: Duration,
    /// PostgreSQL: how long one proof keeps the view trusted. Also the longest a
    /// replica can serve a decision that misses a change when its connection to
    /// the database dies silently.
    pub lease: Duration,
    /// How often the listener (PostgreSQL) or the poller (SQLite) looks for
    /// changes when no write of this process is waiting.
    pub poll: Duration,
    /// More changes than this at once are not replayed one by one: the view
    /// reloads everything instead.
    pub replay_limit: usize,
    /// How long a write waits for the view to have applied it before it gives up
    /// and makes the view read through.
    pub write_wait: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        FeedSettings {
            heartbeat: Duration::from_millis(200),
            lease: Duration::from_millis(700),
            poll: Duration::from_millis(20),
            replay_limit: 2_000,
            write_wait: Duration::from_secs(2),
        }
    }
}

impl Store {
    /// Loads `view` and keeps it exact from now on; every later write of this
    /// process returns only once `view` has applied it (or stopped answering).
    /// Call once per store.
    pub fn follow_access_changes(
        &self,
        view: Arc<dyn AccessChangeSink>,
        settings: FeedSettings,
    ) -> Result<(), StorageError> {
        let hook: Arc<dyn Fn() + Send + Sync> = match self.backend() {
            Backend::Sqlite => {
                let log = Arc::new(SqliteLog {
                    store: self.clone(),
                    view,
                    settings,
                    position: Mutex::new(LogPosition {
                        last_seq: 0,
                        needs_full_reload: true,
                    }),
                });
                log.catch_up()
                    .map_err(|e| StorageError::Feed(e.to_string()))?;
                let poller = Arc::clone(&log);
                std::thread::Builder::new()
                    .name("mlguard-access-log".into())
                    .spawn(move || poller.poll_forever())
                    .map_err(|e| StorageError::Feed(e.to_string()))?;
                Arc::new(move || {
                    if let Err(error) = log.catch_up() {
                        tracing::warn!(error.cause = %error, "authorization view not caught up after a write");
                    }
                })
            }
            Backend::Postgres => {
                let url = self
                    .postgres_url()
                    .ok_or_else(|| StorageError::Feed("no PostgreSQL URL".into()))?;
                let listener = Arc::new(PgListener::new(self.clone(), url, view, settings));
                listener.first_load()?;
                let runner = Arc::clone(&listener);
                std::thread::Builder::new()
                    .name("mlguard-access-listener".into())
                    .spawn(move || runner.run_forever())
                    .map_err(|e| StorageError::Feed(e.to_string()))?;
                Arc::new(move || listener.wait_for_own_writes())
            }
        };
        self.set_access_written_hook(hook);
        Ok(())
    }
}

fn parse_changes<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<AccessChange> {
    let mut seen = HashSet::new();
    texts
        .into_iter()
        .filter_map(|text| {
            let change = AccessChange::parse(text);
            if change.is_none() {
                tracing::warn!(change = text, "unknown access change ignored");
            }
            change
        })
        .filter(|change| seen.insert(change.clone()))
        .collect()
}

struct LogPosition {
    last_seq: i64,
    needs_full_reload: bool,
}

struct SqliteLog {
    store: Store,
    view: Arc<dyn AccessChangeSink>,
    settings: FeedSettings,
    position: Mutex<LogPosition>,
}

impl SqliteLog {
    /// Applies every change committed since the last call.
    fn catch_up(&self) -> Result<(), StoreError> {
        let mut position = self.position.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = self.store.conn()?;
        let limit = i64::try_from(self.settings.replay_limit).unwrap_or(i64::MAX);
        let pending: Vec<(i64, String)> = access_changes::table
            .filter(access_changes::seq.gt(position.last_seq))
            .order(access_changes::seq.asc())
            .limit(limit.saturating_add(1))
            .load(&mut conn)
            .map_err(|e| db_error("read the access change log", &e))?;
        if position.needs_full_reload || pending.len() > self.settings.replay_limit {
            let newest: Option<i64> = access_changes::table
                .select(diesel::dsl::max(access_changes::seq))
                .first(&mut conn)
                .map_err(|e| db_error("read the access change log", &e))?;
            drop(conn);
            // Everything committed by now, which covers every entry up to `newest`.
            self.view.reload_all()?;
            position.last_seq = newest.unwrap_or(position.last_seq);
            position.needs_full_reload = false;
        } else if let Some((newest, _)) = pending.last() {
            let newest = *newest;
            drop(conn);
            let changes = parse_changes(pending.iter().map(|(_, text)| text.as_str()));
            if let Err(error) = self.view.apply(&changes) {
                position.needs_full_reload = true;
                return Err(error);
            }
            position.last_seq = newest;
        }
        // One process writes this file: no change can be missing.
        self.view.current_until(None);
        Ok(())
    }

    fn poll_forever(&self) {
        let mut pruned_through = 0;
        loop {
            std::thread::sleep(self.settings.poll.max(Duration::from_millis(250)));
            if let Err(error) = self.catch_up() {
                tracing::warn!(error.cause = %error, "access change log not read");
                continue;
            }
            let applied = self
                .position
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .last_seq;
            if applied > pruned_through
                && let Ok(mut conn) = self.store.conn()
            {
                let pruned =
                    diesel::delete(access_changes::table.filter(access_changes::seq.le(applied)))
                        .execute(&mut conn);
                if pruned.is_ok() {
                    pruned_through = applied;
                }
            }
        }
    }
}

/// Fences this process has sent and seen: a fence seen means every change
/// committed before it was sent has been applied.
struct Fences {
    seen: Mutex<u64>,
    seen_changed: Condvar,
    next: AtomicU64,
}

struct PgListener {
    store: Store,
    url: String,
    /// This process's own fence channel: no other replica listens to it.
    fence_channel: String,
    view: Arc<dyn AccessChangeSink>,
    settings: FeedSettings,
    /// LISTEN is in place: changes committed from now on will be delivered.
    listening: AtomicBool,
    fences: Fences,
    /// Writes waiting for their fence: the listener polls without pause meanwhile.
    waiting_writes: AtomicUsize,
    wake: (Mutex<()>, Condvar),
}

impl PgListener {
    fn new(
        store: Store,
        url: String,
        view: Arc<dyn AccessChangeSink>,
        settings: FeedSettings,
    ) -> PgListener {
        let suffix: u64 = rand::random();
        // libpq options: a name the operator can find in pg_stat_activity, and
        // keepalives so a dead connection is noticed rather than waited on.
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!(
            "{url}{separator}application_name=mlguard-access-{pid}&keepalives=1&keepalives_idle=5&keepalives_interval=2&keepalives_count=2&tcp_user_timeout=10000",
            pid = std::process::id()
        );
        PgListener {
            store,
            url,
            fence_channel: format!("mlguard_fence_{suffix:016x}"),
            view,
            settings,
            listening: AtomicBool::new(false),
            fences: Fences {
                seen: Mutex::new(0),
                seen_changed: Condvar::new(),
                next: AtomicU64::new(1),
            },
            waiting_writes: AtomicUsize::new(0),
            wake: (Mutex::new(()), Condvar::new()),
        }
    }

    /// The load at start: the view is complete before the server takes requests.
    /// It still reads through until the listener's first fence comes back.
    fn first_load(&self) -> Result<(), StorageError> {
        self.view
            .reload_all()
            .map_err(|e| StorageError::Feed(e.to_string()))
    }

    fn run_forever(&self) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            let error = self.listen();
            self.listening.store(false, Ordering::Release);
            self.view.distrust();
            self.fences.seen_changed.notify_all();
            tracing::warn!(error.cause = %error, "authorization change feed lost: reading through the database until it is back");
            if started.elapsed() > Duration::from_secs(10) {
                backoff = Duration::from_millis(50);
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// One session: LISTEN, reload, then apply changes and fences until it fails.
    fn listen(&self) -> String {
        let mut conn = match PgConnection::establish(&self.url) {
            Ok(conn) => conn,
            Err(error) => return format!("connect: {error}"),
        };
        for channel in [CHANNEL, self.fence_channel.as_str()] {
            if let Err(error) = diesel::sql_query(format!("LISTEN {channel}")).execute(&mut conn) {
                return format!("listen: {error}");
            }
        }
        self.listening.store(true, Ordering::Release);
        // Whatever committed before LISTEN is in this reload; whatever commits
        // after it is delivered.
        if let Err(error) = self.view.reload_all() {
            return format!("reload: {error}");
        }
        tracing::info!("authorization change feed listening");
        let mut heartbeats: VecDeque<(u64, Instant)> = VecDeque::new();
        let mut last_heartbeat: Option<Instant> = None;
        loop {
            let mut texts = Vec::new();
            let mut fences = Vec::new();
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(n) if n.channel == CHANNEL => texts.push(n.payload),
                    Ok(n) => fences.extend(n.payload.parse::<u64>().ok()),
                    Err(error) => return format!("receive: {error}"),
                }
            }
            if texts.len() > self.settings.replay_limit {
                if let Err(error) = self.view.reload_all() {
                    return format!("reload: {error}");
                }
            } else if !texts.is_empty() {
                let changes = parse_changes(texts.iter().map(String::as_str));
                if let Err(error) = self.view.apply(&changes) {
                    return format!("apply: {error}");
                }
            }
            if let Some(&newest) = fences.iter().max() {
                let mut proven = None;
                while heartbeats.front().is_some_and(|(seq, _)| *seq <= newest) {
                    proven = heartbeats.pop_front().map(|(_, sent)| sent);
                }
                if let Some(sent) = proven {
                    self.view.current_until(Some(sent + self.settings.lease));
                }
                let mut seen = self.fences.seen.lock().unwrap_or_else(|p| p.into_inner());
                *seen = (*seen).max(newest);
                self.fences.seen_changed.notify_all();
            }
            if last_heartbeat.is_none_or(|at| at.elapsed() >= self.settings.heartbeat) {
                let seq = self.fences.next.fetch_add(1, Ordering::AcqRel);
                let sent = Instant::now();
                if let Err(error) = self.send_fence(&mut conn, seq) {
                    return format!("heartbeat: {error}");
                }
                heartbeats.push_back((seq, sent));
                last_heartbeat = Some(sent);
            }
            let pause = if self.waiting_writes.load(Ordering::Acquire) > 0 {
                Duration::from_millis(1)
            } else {
                self.settings.poll
            };
            let guard = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            let _ = self.wake.1.wait_timeout(guard, pause);
        }
    }

    fn send_fence(&self, conn: &mut PgConnection, seq: u64) -> QueryResult<usize> {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(&self.fence_channel)
            .bind::<Text, _>(seq.to_string())
            .execute(conn)
    }

    /// Called after every write of this process: returns once the listener has
    /// applied everything committed so far (the write included), or has stopped
    /// listening (the view then reads through anyway).
    fn wait_for_own_writes(&self) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        self.waiting_writes.fetch_add(1, Ordering::AcqRel);
        let seq = self.fences.next.fetch_add(1, Ordering::AcqRel);
        let sent = self.store.conn().and_then(|mut pooled| match &mut *pooled {
            DbConnection::Postgres(conn) => self
                .send_fence(conn, seq)
                .map_err(|e| db_error("send a fence", &e)),
            DbConnection::Sqlite(_) => Ok(0),
        });
        if let Err(error) = sent {
            tracing::warn!(error.cause = %error, "authorization view not confirmed after a write: reading through");
            self.view.distrust();
        } else {
            self.wake.1.notify_one();
            let deadline = Instant::now() + self.settings.write_wait;
            let mut seen = self.fences.seen.lock().unwrap_or_else(|p| p.into_inner());
            while *seen < seq && self.listening.load(Ordering::Acquire) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    tracing::warn!(
                        "authorization view did not confirm a write in time: reading through"
                    );
                    self.view.distrust();
                    break;
                }
                seen = self
                    .fences
                    .seen_changed
                    .wait_timeout(seen, left.min(Duration::from_millis(5)))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        self.waiting_writes.fetch_sub(1, Ordering::AcqRel);
    }
}
