use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mlguard_domain::Principal;

use crate::error::ApiError;

/// The authenticated caller. The authentication layer inserts the [`Principal`];
/// without it the request is answered 401, so a handler taking `Caller` can never
/// run for an anonymous request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// An authenticated admin. Anyone else is answered 403 (401 without credentials)
/// before the handler reads anything of the request.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        if caller.is_admin {
            Ok(Admin(caller))
        } else {
            Err(ApiError::permission_denied())
        }
    }
}
