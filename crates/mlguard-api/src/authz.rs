//! Self-service routes: the account's owner or an admin. Admin-only routes take the
//! `mlguard_http::Admin` extractor; capabilities on resources are checked by
//! `mlguard_http::Grants`.

use mlguard_domain::Principal;
use mlguard_http::ApiError;

/// The account a self-service route acts on, as the request names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Account<'a> {
    Name(&'a str),
    Id(i64),
}

/// Self-service routes: the account's owner or an admin. Checked before the target's
/// existence, so a non-admin cannot probe for other accounts.
pub(crate) fn require_self_or_admin(
    caller: &Principal,
    account: Account<'_>,
) -> Result<(), ApiError> {
    let is_self = match account {
        Account::Name(name) => caller.username.as_str() == name,
        Account::Id(id) => caller.user_id == id,
    };
    if caller.is_admin || is_self {
        Ok(())
    } else {
        Err(ApiError::permission_denied())
    }
}
