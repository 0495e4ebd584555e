//! `/api/2.0/mlguard/sessions/*`: the browser sessions single sign-on opened. Each
//! user lists and ends their own; an admin lists and ends anyone's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mlguard_domain::{Username, now_ms};
use mlguard_http::{ApiError, Caller, ErrorBody, ErrorCode, MlflowParams};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Proof;
use crate::authz::{Account, require_self_or_admin};
use crate::schema::EmptyResponse;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionInfo {
    pub session_id: i64,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub expires_at: i64,
    /// The session this request was made with.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListSessionsResponse {
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListSessionsQuery {
    /// Whose sessions (an admin's question); the caller's own when absent.
    #[param(min_length = 1, max_length = 255)]
    pub username: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EndSessionRequest {
    pub session_id: i64,
}

fn no_such_session() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ResourceDoesNotExist,
        "No such session.",
    )
}

/// List open browser sessions: the caller's own, or (admins) a named user's.
#[utoipa::path(get, path = "/api/2.0/mlguard/sessions/list", tag = "sessions",
    operation_id = "listSessions", security(("basic" = []), ("bearer" = []), ("session" = [])),
    params(ListSessionsQuery),
    responses(
        (status = 200, description = "Open sessions, oldest first", body = ListSessionsResponse),
        (status = 400, description = "Invalid username", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Another user's sessions", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    proof: Option<axum::Extension<Proof>>,
    params: MlflowParams,
) -> Result<Json<ListSessionsResponse>, ApiError> {
    let query: ListSessionsQuery = params.parse()?;
    let user_id = match query.username.as_deref() {
        None => caller.user_id,
        Some(raw) => {
            require_self_or_admin(&caller, Account::Name(raw))?;
            let username = Username::parse(raw)?;
            state
                .blocking(move |store| store.get_user(&username))
                .await??
                .id
        }
    };
    let current = match proof {
        Some(axum::Extension(Proof::Session { session_id, .. })) => Some(session_id),
        _ => None,
    };
    let sessions = state
        .blocking(move |store| store.sessions_of_user(user_id, now_ms()))
        .await??;
    Ok(Json(ListSessionsResponse {
        sessions: sessions
            .into_iter()
            .map(|session| SessionInfo {
                current: current == Some(session.id),
                session_id: session.id,
                created_at: session.created_at,
                expires_at: session.expires_at,
            })
            .collect(),
    }))
}

/// End a browser session: one of the caller's own, or (admins) anyone's.
#[utoipa::path(post, path = "/api/2.0/mlguard/sessions/end", tag = "sessions",
    operation_id = "endSession", security(("basic" = []), ("bearer" = []), ("session" = [])),
    request_body = EndSessionRequest,
    responses(
        (status = 200, description = "Ended", body = EmptyResponse),
        (status = 400, description = "Missing or invalid session_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Never: another user's session is not found", body = ErrorBody),
        (status = 404, description = "No such session of the caller's (or, for admins, of anyone's)", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let request: EndSessionRequest = params.parse()?;
    let (session_id, user_id, is_admin) = (request.session_id, caller.user_id, caller.is_admin);
    let ended = state
        .blocking(move |store| {
            // Someone else's session is not there, for a non-admin: the same 404.
            if !is_admin
                && !store
                    .sessions_of_user(user_id, now_ms())?
                    .iter()
                    .any(|s| s.id == session_id)
            {
                return Ok(false);
            }
            store.delete_session(session_id)
        })
        .await??;
    if !ended {
        return Err(no_such_session());
    }
    tracing::info!(session.id = session_id, "session ended");
    Ok(Json(EmptyResponse {}))
}
