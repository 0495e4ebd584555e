use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mlguard_domain::{CredentialCheck, Password, Principal};
use mlguard_extract::{ApiError, parse_authorization};

use crate::state::AppState;

/// Authenticates every request it wraps, or answers 401.
///
/// Every failure (no header, malformed header, unknown user, wrong password) gives
/// the same answer, so a caller cannot tell which one happened.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let credentials = match parse_authorization(request.headers()) {
        Ok(Some(credentials)) => credentials,
        Ok(None) | Err(_) => return ApiError::unauthenticated().into_response(),
    };
    let Ok(password) = Password::offered(&credentials.password) else {
        return ApiError::unauthenticated().into_response();
    };
    let username = credentials.username;
    let check = state
        .blocking(move |store| store.verify_credentials(&username, &password))
        .await;
    match check {
        Ok(Ok(CredentialCheck::Valid(user))) => {
            tracing::Span::current().record("user.name", user.username.as_str());
            request.extensions_mut().insert(Principal::from(user));
            next.run(request).await
        }
        Ok(Ok(CredentialCheck::Invalid)) => ApiError::unauthenticated().into_response(),
        Ok(Err(store_error)) => ApiError::from(store_error).into_response(),
        Err(api_error) => api_error.into_response(),
    }
}
