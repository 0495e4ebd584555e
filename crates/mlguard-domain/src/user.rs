use crate::names::Username;
use crate::permission::Permission;
use crate::resource::Resource;

/// A stored account, without its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub is_admin: bool,
}

/// The listing form MLflow returns from `users/list` (no admin flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: i64,
    pub username: Username,
}

/// One user's explicit permission on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub username: Username,
    pub resource: Resource,
    pub permission: Permission,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: Username,
    pub is_admin: bool,
}

impl From<User> for Principal {
    fn from(user: User) -> Self {
        Principal {
            user_id: user.id,
            username: user.username,
            is_admin: user.is_admin,
        }
    }
}
