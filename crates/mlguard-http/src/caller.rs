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
