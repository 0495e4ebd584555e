//! `/api/2.0/mlguard/tokens/*`: bearer tokens for the stock client
//! (`MLFLOW_TRACKING_TOKEN`), and their revocation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mlguard_domain::{TokenClaims, TokenError, Username};
use mlguard_http::{ApiError, Caller, ErrorBody, ErrorCode, Mlflow, MlflowParams};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::TokenIssuer;
use crate::authz::{Account, require_self_or_admin};
use crate::schema::EmptyResponse;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    /// Send as `Authorization: Bearer <token>` (or set `MLFLOW_TRACKING_TOKEN`).
    pub token: String,
    /// Milliseconds since the epoch, as MLflow writes times.
    pub expires_at: i64,
    /// The handle for revoking this token alone.
    pub token_id: String,
}

// No Debug: it holds a token.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RevokeTokenRequest {
    /// The token to revoke (it may already have expired).
    #[schema(min_length = 1)]
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RevokeAllTokensRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
}

fn issuer(state: &AppState) -> Result<&TokenIssuer, ApiError> {
    state.auth.tokens.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::FeatureDisabled,
            "Bearer tokens are not enabled on this server.",
        )
    })
}

fn token_failure(error: TokenError) -> ApiError {
    match error {
        TokenError::Invalid => ApiError::invalid_parameter("The token is not valid."),
        TokenError::Unavailable(cause) => ApiError::internal(&cause),
    }
}

/// Issue a bearer token for the caller.
#[utoipa::path(post, path = "/api/2.0/mlguard/tokens/create", tag = "tokens",
    operation_id = "createToken", security(("basic" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A new token", body = TokenResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Never: any authenticated user may ask", body = ErrorBody),
        (status = 501, description = "Tokens are not enabled", body = ErrorBody),
    ))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    proof: Option<axum::Extension<crate::auth::Proof>>,
) -> Result<Json<TokenResponse>, ApiError> {
    let issuer = issuer(&state)?.clone();
    let user_id = caller.user_id;
    let current = state
        .blocking(move |store| store.credential_state(user_id))
        .await??
        .ok_or_else(ApiError::unauthenticated)?;
    let issued_at = mlguard_domain::now_ms() / 1000;
    let lifetime = i64::try_from(issuer.lifetime.as_secs()).unwrap_or(i64::MAX);
    let claims = TokenClaims {
        user_id,
        username: caller.username.as_str().to_owned(),
        version: current.version,
        token_id: format!("{:032x}", rand::random::<u128>()),
        issued_at,
        expires_at: match proof {
            Some(axum::Extension(crate::auth::Proof::Password)) => {
                issued_at.saturating_add(lifetime)
            }
            // A token minted with a token never outlives it; so a leaked token
            // cannot renew itself forever.
            Some(axum::Extension(
                crate::auth::Proof::Token { expires_at }
                | crate::auth::Proof::Session { expires_at, .. },
            )) => issued_at.saturating_add(lifetime).min(expires_at),
            None => return Err(ApiError::unauthenticated()),
        },
    };
    let token = issuer.codec.issue(&claims).map_err(token_failure)?;
    tracing::info!(user.name = %caller.username, token.id = %claims.token_id, "token issued");
    Ok(Json(TokenResponse {
        token,
        expires_at: claims.expires_at.saturating_mul(1000),
        token_id: claims.token_id,
    }))
}

/// Revoke one token: its owner or an admin.
#[utoipa::path(post, path = "/api/2.0/mlguard/tokens/revoke", tag = "tokens",
    operation_id = "revokeToken", security(("basic" = []), ("bearer" = [])),
    request_body = RevokeTokenRequest,
    responses(
        (status = 200, description = "Revoked", body = EmptyResponse),
        (status = 400, description = "Not a token this server issued", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Someone else's token", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "Tokens are not enabled", body = ErrorBody),
    ))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    // Without tokens there is nothing to revoke, whatever the request holds.
    let issuer = issuer(&state)?;
    let request: RevokeTokenRequest = params.parse()?;
    let claims = issuer
        .codec
        .verify_ignoring_expiry(&request.token)
        .map_err(token_failure)?;
    require_self_or_admin(&caller, Account::Id(claims.user_id))?;
    let (token_id, expires_at) = (claims.token_id.clone(), claims.expires_at);
    state
        .blocking(move |store| store.revoke_token(&token_id, expires_at))
        .await??;
    tracing::info!(token.id = %claims.token_id, "token revoked");
    Ok(Json(EmptyResponse {}))
}

/// Revoke every token (and cached login) of a user: the user or an admin.
#[utoipa::path(post, path = "/api/2.0/mlguard/tokens/revoke-all", tag = "tokens",
    operation_id = "revokeAllTokens", security(("basic" = []), ("bearer" = [])),
    request_body = RevokeAllTokensRequest,
    responses(
        (status = 200, description = "Every token of the user revoked", body = EmptyResponse),
        (status = 400, description = "Missing or invalid username", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Another user's tokens", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn revoke_all_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(RevokeAllTokensRequest { username: raw }): Mlflow<RevokeAllTokensRequest>,
) -> Result<Json<EmptyResponse>, ApiError> {
    if !caller.is_admin && caller.username.as_str() != raw {
        return Err(ApiError::permission_denied());
    }
    let username = Username::parse(&raw)?;
    let target = username.clone();
    state
        .blocking(move |store| store.revoke_all_credentials(&target))
        .await??;
    tracing::info!(target.user = %username, "all tokens revoked");
    Ok(Json(EmptyResponse {}))
}
