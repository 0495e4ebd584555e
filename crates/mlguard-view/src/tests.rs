//! The view against an in-memory source: it answers what the source holds, only
//! once vouched for, and stops answering when a reload fails or the lease ends.

use std::sync::Mutex;
use std::time::Duration;

use mlguard_domain::{User, Username};

use super::*;

/// The store's tables, as plainly as possible: the reference the view must match.
#[derive(Default)]
struct Tables {
    users: Vec<(i64, bool, i64)>,
    /// `(user_id, role_id)`.
    assignments: Vec<(i64, i64)>,
    /// `(role_id, in_default)`.
    roles: Vec<(i64, bool)>,
    /// `(role_id, type, pattern, level)`.
    rows: Vec<(i64, ResourceType, String, Permission)>,
    revoked: Vec<(String, i64)>,
    broken: bool,
}

#[derive(Default)]
struct Source(Mutex<Tables>);

impl Source {
    fn with<T>(&self, f: impl FnOnce(&mut Tables) -> T) -> T {
        f(&mut self.0.lock().expect("tables"))
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.with(|t| t.broken) {
            Err(StoreError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }

    /// What the store's own query resolves `keys` to.
    fn reference(&self, user_id: i64, keys: &[GrantKey]) -> Resolution {
        self.with(|t| {
            let roles: Vec<i64> = t
                .assignments
                .iter()
                .filter(|(u, r)| *u == user_id && t.roles.contains(&(*r, true)))
                .map(|(_, r)| *r)
                .collect();
            let rows: Vec<(&str, &str, Permission)> = t
                .rows
                .iter()
                .filter(|row| roles.contains(&row.0))
                .map(|(_, ty, pattern, level)| (ty.as_str(), pattern.as_str(), *level))
                .collect();
            Resolution::over_rows(keys, rows)
        })
    }
}

fn user_access(t: &Tables, id: i64) -> Option<UserAccess> {
    let (id, is_admin, version) = *t.users.iter().find(|u| u.0 == id)?;
    Some(UserAccess {
        credentials: CredentialState {
            user: User {
                id,
                username: Username::parse(&format!("user{id}")).expect("name"),
                is_admin,
            },
            version,
        },
        role_ids: t
            .assignments
            .iter()
            .filter(|a| a.0 == id)
            .map(|a| a.1)
            .collect(),
    })
}

fn role_access(t: &Tables, role_id: i64) -> Option<RoleAccess> {
    let (_, in_default) = *t.roles.iter().find(|r| r.0 == role_id)?;
    Some(RoleAccess {
        role_id,
        in_default_workspace: in_default,
        rows: t
            .rows
            .iter()
            .filter(|r| r.0 == role_id)
            .map(|(_, ty, p, l)| (*ty, p.clone(), *l))
            .collect(),
    })
}

impl AccessStateSource for Source {
    fn load_access_state(&self) -> Result<AccessState, StoreError> {
        self.check()?;
        Ok(self.with(|t| AccessState {
            users: t.users.iter().filter_map(|u| user_access(t, u.0)).collect(),
            roles: t.roles.iter().filter_map(|r| role_access(t, r.0)).collect(),
            revoked_tokens: t.revoked.clone(),
        }))
    }

    fn load_user_access(&self, user_id: i64) -> Result<Option<UserAccess>, StoreError> {
        self.check()?;
        Ok(self.with(|t| user_access(t, user_id)))
    }

    fn load_role_access(&self, role_id: i64) -> Result<Option<RoleAccess>, StoreError> {
        self.check()?;
        Ok(self.with(|t| role_access(t, role_id)))
    }

    fn load_role_row(
        &self,
        role_id: i64,
        resource_type: &str,
        pattern: &str,
    ) -> Result<RowState, StoreError> {
        self.check()?;
        Ok(
            self.with(|t| match t.roles.iter().find(|r| r.0 == role_id) {
                None => RowState::RoleGone,
                Some((_, in_default)) => RowState::Row {
                    in_default_workspace: *in_default,
                    permission: t
                        .rows
                        .iter()
                        .find(|r| r.0 == role_id && r.1.as_str() == resource_type && r.2 == pattern)
                        .map(|r| r.3),
                },
            }),
        )
    }

    fn token_revocation(&self, token_id: &str) -> Result<Option<i64>, StoreError> {
        self.check()?;
        Ok(self.with(|t| t.revoked.iter().find(|r| r.0 == token_id).map(|r| r.1)))
    }
}

fn key(resource_type: ResourceType, id: &str) -> GrantKey {
    GrantKey {
        resource_type,
        id: ResourcePattern::Id(id.into()),
    }
}

fn loaded(source: &Arc<Source>) -> AccessView {
    let view = AccessView::new(source.clone());
    view.reload_all().expect("load");
    view.current_until(None);
    view
}

fn seeded() -> Arc<Source> {
    let source = Arc::new(Source::default());
    source.with(|t| {
        t.users = vec![(1, false, 0), (2, false, 3)];
        t.roles = vec![(10, true), (11, true), (12, false)];
        t.assignments = vec![(1, 10), (1, 11), (1, 12), (2, 11)];
        t.rows = vec![
            (10, ResourceType::Experiment, "7".into(), Permission::Read),
            (11, ResourceType::Experiment, "7".into(), Permission::Edit),
            (11, ResourceType::Experiment, "8".into(), Permission::Deny),
            (11, ResourceType::Run, "*".into(), Permission::Read),
            (12, ResourceType::Experiment, "9".into(), Permission::Manage),
            (12, ResourceType::Workspace, "*".into(), Permission::Manage),
        ];
        t.revoked = vec![("tok-1".into(), 99)];
    });
    source
}

fn keys() -> Vec<GrantKey> {
    vec![
        key(ResourceType::Experiment, "7"),
        key(ResourceType::Experiment, "8"),
        key(ResourceType::Experiment, "9"),
        key(ResourceType::Run, "r1"),
        key(ResourceType::Prompt, "p"),
        GrantKey {
            resource_type: ResourceType::Run,
            id: ResourcePattern::Wildcard,
        },
    ]
}

#[test]
fn answers_nothing_until_loaded_and_vouched_for() {
    let source = seeded();
    let view = AccessView::new(source.clone());
    assert_eq!(view.resolve(1, &keys()), None);
    view.current_until(None);
    assert_eq!(view.resolve(1, &keys()), None, "not loaded yet");
    view.reload_all().expect("load");
    assert_eq!(view.resolve(1, &keys()), None, "loaded but not vouched for");
    view.current_until(None);
    assert!(view.resolve(1, &keys()).is_some());
}

#[test]
fn resolves_as_the_stores_query_does() {
    let source = seeded();
    let view = loaded(&source);
    for user in [1, 2, 3] {
        assert_eq!(
            view.resolve(user, &keys()),
            Some(source.reference(user, &keys())),
            "user {user}"
        );
    }
    // Other workspaces' roles count for nothing, their workspace row included.
    assert!(!view.resolve(1, &[]).expect("trusted").workspace_admin);
    assert_eq!(
        view.credential_state(2)
            .expect("trusted")
            .map(|c| c.version),
        Some(3)
    );
    assert_eq!(view.credential_state(3), Some(None));
    assert_eq!(view.is_token_revoked("tok-1"), Some(true));
    assert_eq!(view.is_token_revoked("tok-2"), Some(false));
}

#[test]
fn each_change_reloads_exactly_what_it_names() {
    let source = seeded();
    let view = loaded(&source);
    // A revoke and a DENY on one role, a new assignment, a deleted role, a
    // password change, a revoked token and a deleted user.
    source.with(|t| {
        t.rows.retain(|r| !(r.0 == 10 && r.2 == "7"));
        t.rows
            .push((11, ResourceType::Prompt, "p".into(), Permission::Deny));
        t.assignments.push((2, 10));
        t.rows
            .push((10, ResourceType::Run, "r1".into(), Permission::Manage));
        t.roles.retain(|r| r.0 != 11);
        t.users[1].2 = 4;
        t.revoked.push(("tok-2".into(), 5));
    });
    // Not yet told: the view still answers what it held.
    assert_ne!(view.resolve(1, &keys()), Some(source.reference(1, &keys())));
    view.apply(&[
        AccessChange::Row(10, "experiment".into(), "7".into()),
        AccessChange::Row(11, "prompt".into(), "p".into()),
        AccessChange::User(2),
        AccessChange::Row(10, "run".into(), "r1".into()),
        AccessChange::Role(11),
        AccessChange::Token("tok-2".into()),
    ])
    .expect("apply");
    for user in [1, 2] {
        assert_eq!(
            view.resolve(user, &keys()),
            Some(source.reference(user, &keys()))
        );
    }
    assert_eq!(
        view.credential_state(2)
            .expect("trusted")
            .map(|c| c.version),
        Some(4)
    );
    assert_eq!(view.is_token_revoked("tok-2"), Some(true));
    source.with(|t| t.users.retain(|u| u.0 != 2));
    view.apply(&[AccessChange::User(2)]).expect("apply");
    assert_eq!(view.credential_state(2), Some(None));
    assert_eq!(view.sizes().0, 1);
}

#[test]
fn a_failed_reload_reads_through_until_a_full_reload() {
    let source = seeded();
    let view = loaded(&source);
    source.with(|t| t.broken = true);
    assert!(view.apply(&[AccessChange::User(1)]).is_err());
    assert_eq!(view.resolve(1, &keys()), None);
    // The feed's next vouching changes nothing: a change may be missing.
    view.current_until(None);
    assert_eq!(view.resolve(1, &keys()), None);
    source.with(|t| t.broken = false);
    view.reload_all().expect("reload");
    view.current_until(None);
    assert_eq!(view.resolve(1, &keys()), Some(source.reference(1, &keys())));
}

#[test]
fn a_lease_ends_and_distrust_is_immediate() {
    let source = seeded();
    let view = loaded(&source);
    view.current_until(Some(Instant::now() + Duration::from_millis(40)));
    assert!(view.is_trusted());
    std::thread::sleep(Duration::from_millis(60));
    assert!(!view.is_trusted());
    assert_eq!(view.credential_state(1), None);
    view.current_until(None);
    view.distrust();
    assert_eq!(view.is_token_revoked("tok-1"), None);
}
