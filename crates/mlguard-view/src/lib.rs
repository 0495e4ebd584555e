#![doc = include_str!("../README.md")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use mlguard_domain::{
    AccessChange, AccessChangeSink, AccessSnapshot, AccessState, AccessStateSource,
    CredentialState, GrantKey, Permission, Resolution, ResourcePattern, ResourceType, RoleAccess,
    RowState, StoreError, UserAccess,
};

/// `trusted_until` values: never, or always (a feed that cannot miss a change).
const NEVER: u64 = 0;
const ALWAYS: u64 = u64::MAX;

#[derive(Debug)]
struct UserEntry {
    credentials: CredentialState,
    role_ids: Box<[i64]>,
}

/// The rows of a role in `default`, by type then pattern. Roles of other
/// workspaces are kept without rows: no decision reads them.
#[derive(Debug, Default)]
struct RoleEntry {
    in_default_workspace: bool,
    rows: HashMap<ResourceType, HashMap<Box<str>, Permission>>,
}

impl RoleEntry {
    fn from_access(role: RoleAccess) -> RoleEntry {
        let mut entry = RoleEntry {
            in_default_workspace: role.in_default_workspace,
            rows: HashMap::new(),
        };
        if role.in_default_workspace {
            for (resource_type, pattern, permission) in role.rows {
                entry.set_row(resource_type, &pattern, Some(permission));
            }
        }
        entry
    }

    fn set_row(&mut self, resource_type: ResourceType, pattern: &str, level: Option<Permission>) {
        match level {
            Some(level) => {
                self.rows
                    .entry(resource_type)
                    .or_default()
                    .insert(pattern.into(), level);
            }
            None => {
                if let Some(rows) = self.rows.get_mut(&resource_type) {
                    rows.remove(pattern);
                    if rows.is_empty() {
                        self.rows.remove(&resource_type);
                    }
                }
            }
        }
    }

    fn row(&self, resource_type: ResourceType, pattern: &str) -> Option<Permission> {
        self.rows.get(&resource_type)?.get(pattern).copied()
    }
}

#[derive(Debug, Default)]
struct ViewData {
    users: HashMap<i64, UserEntry>,
    roles: HashMap<i64, RoleEntry>,
    /// Token id to its expiry (seconds since the epoch).
    revoked: HashMap<Box<str>, i64>,
}

impl ViewData {
    fn from_state(state: AccessState) -> ViewData {
        let mut data = ViewData::default();
        for user in state.users {
            data.set_user(user.credentials.user.id, Some(user));
        }
        for role in state.roles {
            data.roles
                .insert(role.role_id, RoleEntry::from_access(role));
        }
        for (token_id, expires_at) in state.revoked_tokens {
            data.revoked.insert(token_id.into(), expires_at);
        }
        data
    }

    fn set_user(&mut self, user_id: i64, access: Option<UserAccess>) {
        match access {
            Some(access) => {
                self.users.insert(
                    user_id,
                    UserEntry {
                        credentials: access.credentials,
                        role_ids: access.role_ids.into(),
                    },
                );
            }
            None => {
                self.users.remove(&user_id);
            }
        }
    }

    fn resolve(&self, user_id: i64, keys: &[GrantKey]) -> Resolution {
        let Some(user) = self.users.get(&user_id) else {
            return Resolution::over_rows(keys, []);
        };
        let roles: Vec<&RoleEntry> = user
            .role_ids
            .iter()
            .filter_map(|id| self.roles.get(id))
            .filter(|role| role.in_default_workspace)
            .collect();
        // The rows a store query would return: each key's own and wildcard rows,
        // and the workspace rows, of every role in `default`.
        let mut rows: Vec<(&str, &str, Permission)> = Vec::new();
        for role in &roles {
            let wildcard = ResourcePattern::WILDCARD;
            if let Some(level) = role.row(ResourceType::Workspace, wildcard) {
                rows.push((ResourceType::Workspace.as_str(), wildcard, level));
            }
            for key in keys {
                let resource_type = key.resource_type;
                if let Some(level) = role.row(resource_type, wildcard) {
                    rows.push((resource_type.as_str(), wildcard, level));
                }
                if let ResourcePattern::Id(id) = &key.id
                    && let Some(level) = role.row(resource_type, id)
                {
                    rows.push((resource_type.as_str(), id.as_str(), level));
                }
            }
        }
        Resolution::over_rows(keys, rows)
    }
}

/// What one change reads from the store, before the view takes its write lock.
enum Reloaded {
    User(i64, Option<UserAccess>),
    Role(i64, Option<RoleAccess>),
    Row(i64, ResourceType, String, RowState),
    /// A row of a type no check can name: only whether its role still exists.
    RoleGone(i64),
    Token(String, Option<i64>),
}

/// The in-process authorization view. See the crate's README.
pub struct AccessView {
    source: Arc<dyn AccessStateSource>,
    data: RwLock<ViewData>,
    /// Held while a reload reads the store and applies what it read: reloads never
    /// interleave, so a later read is never overwritten by an earlier one.
    reloading: Mutex<()>,
    /// Nanoseconds since `epoch` until which answers may be given; `NEVER`/`ALWAYS`.
    trusted_until: AtomicU64,
    /// Set when a reload failed: some change may be missing until the next full
    /// reload, whatever the feed says.
    missing_changes: std::sync::atomic::AtomicBool,
    epoch: Instant,
}

impl std::fmt::Debug for AccessView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessView")
            .field("trusted", &self.is_trusted())
            .finish_non_exhaustive()
    }
}

impl AccessView {
    /// An empty view that answers nothing until a feed loads it and vouches for it.
    pub fn new(source: Arc<dyn AccessStateSource>) -> AccessView {
        AccessView {
            source,
            data: RwLock::new(ViewData::default()),
            reloading: Mutex::new(()),
            trusted_until: AtomicU64::new(NEVER),
            missing_changes: std::sync::atomic::AtomicBool::new(true),
            epoch: Instant::now(),
        }
    }

    /// Whether answers come from memory now.
    pub fn is_trusted(&self) -> bool {
        match self.trusted_until.load(Ordering::Acquire) {
            NEVER => false,
            ALWAYS => true,
            until => self.nanos_since_epoch(Instant::now()) < until,
        }
    }

    /// Accounts, roles and grant rows held: for the health line and the benchmark.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let Ok(data) = self.data.read() else {
            return (0, 0, 0);
        };
        let rows = data
            .roles
            .values()
            .flat_map(|role| role.rows.values())
            .map(HashMap::len)
            .sum();
        (data.users.len(), data.roles.len(), rows)
    }

    fn nanos_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(ALWAYS - 1)
    }

    /// The data, when answers may come from it.
    fn trusted_data(&self) -> Option<std::sync::RwLockReadGuard<'_, ViewData>> {
        if !self.is_trusted() {
            return None;
        }
        self.data.read().ok()
    }

    fn reload(&self, change: &AccessChange) -> Result<Reloaded, StoreError> {
        Ok(match change {
            AccessChange::User(id) => Reloaded::User(*id, self.source.load_user_access(*id)?),
            AccessChange::Role(id) => Reloaded::Role(*id, self.source.load_role_access(*id)?),
            AccessChange::Row(role_id, resource_type, pattern) => {
                let state = self
                    .source
                    .load_role_row(*role_id, resource_type, pattern)?;
                match ResourceType::parse(resource_type) {
                    Ok(parsed) => Reloaded::Row(*role_id, parsed, pattern.clone(), state),
                    Err(_) if state == RowState::RoleGone => Reloaded::RoleGone(*role_id),
                    // No check names such a type: nothing to hold.
                    Err(_) => Reloaded::Role(*role_id, self.source.load_role_access(*role_id)?),
                }
            }
            AccessChange::Token(id) => {
                Reloaded::Token(id.clone(), self.source.token_revocation(id)?)
            }
        })
    }

    fn lost_changes(&self, error: &StoreError) {
        tracing::warn!(error.cause = %error, "authorization view reload failed: reading through the database until a full reload");
        self.missing_changes.store(true, Ordering::Release);
        self.trusted_until.store(NEVER, Ordering::Release);
    }
}

impl AccessChangeSink for AccessView {
    fn apply(&self, changes: &[AccessChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let reloaded = match changes
            .iter()
            .map(|change| self.reload(change))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(reloaded) => reloaded,
            Err(error) => {
                self.lost_changes(&error);
                return Err(error);
            }
        };
        let mut data = self.data.write().unwrap_or_else(|p| p.into_inner());
        for item in reloaded {
            match item {
                Reloaded::User(id, access) => data.set_user(id, access),
                Reloaded::Role(id, Some(role)) => {
                    data.roles.insert(id, RoleEntry::from_access(role));
                }
                Reloaded::Role(id, None) | Reloaded::RoleGone(id) => {
                    data.roles.remove(&id);
                }
                Reloaded::Row(id, _, _, RowState::RoleGone) => {
                    data.roles.remove(&id);
                }
                Reloaded::Row(
                    id,
                    resource_type,
                    pattern,
                    RowState::Row {
                        in_default_workspace,
                        permission,
                    },
                ) => {
                    let role = data.roles.entry(id).or_default();
                    role.in_default_workspace = in_default_workspace;
                    if in_default_workspace {
                        role.set_row(resource_type, &pattern, permission);
                    }
                }
                Reloaded::Token(id, Some(expires_at)) => {
                    data.revoked.insert(id.into(), expires_at);
                }
                Reloaded::Token(id, None) => {
                    data.revoked.remove(id.as_str());
                }
            }
        }
        Ok(())
    }

    fn reload_all(&self) -> Result<(), StoreError> {
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let state = match self.source.load_access_state() {
            Ok(state) => state,
            Err(error) => {
                self.lost_changes(&error);
                return Err(error);
            }
        };
        let fresh = ViewData::from_state(state);
        *self.data.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.missing_changes.store(false, Ordering::Release);
        Ok(())
    }

    fn current_until(&self, until: Option<Instant>) {
        // Under the reload lock: a failed reload cannot slip in between the check
        // and the store.
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        if self.missing_changes.load(Ordering::Acquire) {
            return;
        }
        let value = match until {
            None => ALWAYS,
            Some(until) => self.nanos_since_epoch(until).max(1),
        };
        self.trusted_until.store(value, Ordering::Release);
    }

    fn distrust(&self) {
        self.trusted_until.store(NEVER, Ordering::Release);
    }
}

impl AccessSnapshot for AccessView {
    fn resolve(&self, user_id: i64, keys: &[GrantKey]) -> Option<Resolution> {
        Some(self.trusted_data()?.resolve(user_id, keys))
    }

    fn credential_state(&self, user_id: i64) -> Option<Option<CredentialState>> {
        let data = self.trusted_data()?;
        Some(data.users.get(&user_id).map(|u| u.credentials.clone()))
    }

    fn is_token_revoked(&self, token_id: &str) -> Option<bool> {
        Some(self.trusted_data()?.revoked.contains_key(token_id))
    }
}

#[cfg(test)]
mod tests;
