#![doc = include_str!("../README.md")]

mod access_log;
mod auth;
mod authz;
mod health;
mod origin;
mod permissions;
mod rbac;
mod roles;
mod schema;
mod secrets;
mod sessions;
mod signup;
mod sso;
mod state;
mod tokens;
mod user_permissions;
mod users;

use axum::Router;
use axum::routing::get;
use mlguard_http::ApiError;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use access_log::{AccessEntry, AccessSink, log_as_event, set_access_sink};
pub use auth::{AuthSettings, CredentialCache, Fingerprint, ThrottleSettings};
pub use origin::RequestOrigins;
use schema::{SecuritySchemes, document_shared_responses};
pub use sso::OidcLogin;
pub use state::{AccessStore, AppState};

/// The OpenAPI document's fixed parts; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mlguard",
        description = "Authentication and authorization gateway for MLflow: \
                       MLflow-compatible user and permission management.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "users", description = "Accounts (MLflow-compatible)"),
        (name = "permissions", description = "Grants on experiments, registered models, scorers and gateway resources (MLflow-compatible)"),
        (name = "roles", description = "Roles, their grant rows and assignments, and per-user permission rows (MLflow 3.17-compatible; workspaces off)"),
        (name = "tokens", description = "Bearer tokens for the stock client (MLFLOW_TRACKING_TOKEN)"),
        (name = "sessions", description = "Browser sessions opened by single sign-on"),
        (name = "secrets", description = "Write-only secrets, their bindings and routes, per-secret grants and the admin audit trail"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::create_user))
        .routes(routes!(users::get_user))
        .routes(routes!(users::list_users))
        .routes(routes!(users::update_password))
        .routes(routes!(users::update_admin))
        .routes(routes!(users::delete_user))
        .routes(routes!(users::current_user))
        .routes(routes!(tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(tokens::revoke_all_tokens))
        .routes(routes!(sessions::list_sessions))
        .routes(routes!(sessions::end_session))
        .routes(routes!(permissions::create_experiment_permission))
        .routes(routes!(permissions::get_experiment_permission))
        .routes(routes!(permissions::update_experiment_permission))
        .routes(routes!(permissions::delete_experiment_permission))
        .routes(routes!(permissions::create_registered_model_permission))
        .routes(routes!(permissions::get_registered_model_permission))
        .routes(routes!(permissions::update_registered_model_permission))
        .routes(routes!(permissions::delete_registered_model_permission))
        .routes(routes!(permissions::create_scorer_permission))
        .routes(routes!(permissions::get_scorer_permission))
        .routes(routes!(permissions::update_scorer_permission))
        .routes(routes!(permissions::delete_scorer_permission))
        .routes(routes!(permissions::create_gateway_secret_permission))
        .routes(routes!(permissions::get_gateway_secret_permission))
        .routes(routes!(permissions::update_gateway_secret_permission))
        .routes(routes!(permissions::delete_gateway_secret_permission))
        .routes(routes!(permissions::create_gateway_endpoint_permission))
        .routes(routes!(permissions::get_gateway_endpoint_permission))
        .routes(routes!(permissions::update_gateway_endpoint_permission))
        .routes(routes!(permissions::delete_gateway_endpoint_permission))
        .routes(routes!(
            permissions::create_gateway_model_definition_permission
        ))
        .routes(routes!(
            permissions::get_gateway_model_definition_permission
        ))
        .routes(routes!(
            permissions::update_gateway_model_definition_permission
        ))
        .routes(routes!(
            permissions::delete_gateway_model_definition_permission
        ))
        .routes(routes!(roles::create_role))
        .routes(routes!(roles::get_role))
        .routes(routes!(roles::list_roles))
        .routes(routes!(roles::update_role))
        .routes(routes!(roles::delete_role))
        .routes(routes!(roles::add_role_permission))
        .routes(routes!(roles::remove_role_permission))
        .routes(routes!(roles::list_role_permissions))
        .routes(routes!(roles::update_role_permission))
        .routes(routes!(roles::assign_role))
        .routes(routes!(roles::unassign_role))
        .routes(routes!(roles::list_role_users))
        .routes(routes!(roles::list_user_roles))
        .routes(routes!(user_permissions::grant_user_permission))
        .routes(routes!(user_permissions::revoke_user_permission))
        .routes(routes!(user_permissions::get_user_permission))
        .routes(routes!(user_permissions::list_user_permissions))
        .routes(routes!(user_permissions::list_current_user_permissions))
        .routes(routes!(secrets::create_and_bind))
        .routes(routes!(secrets::get_info))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::update))
        .routes(routes!(secrets::delete))
        .routes(routes!(secrets::bind))
        .routes(routes!(secrets::create_route_and_bind))
        .routes(routes!(secrets::unbind))
        .routes(routes!(secrets::list_bindings))
        .routes(routes!(secrets::create_permission))
        .routes(routes!(secrets::get_permission))
        .routes(routes!(secrets::update_permission))
        .routes(routes!(secrets::delete_permission))
        .routes(routes!(secrets::audit))
}

/// The OpenAPI document for every native endpoint.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api_routes()
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document_shared_responses(&mut doc);
    doc
}

/// The whole HTTP application.
///
/// `/health` and `/ready` are open; everything else, the fallback included, sits
/// behind authentication, so an anonymous caller learns nothing about routes.
pub fn app(state: AppState) -> Router {
    let (native, _) = api_routes().split_for_parts();
    let native = native
        // The UI's spellings (MLflow 3.17 serves every users route under both).
        .route("/ajax-api/2.0/mlflow/users/list", get(users::list_users))
        .route("/ajax-api/2.0/mlflow/users/get", get(users::get_user))
        .route(
            "/ajax-api/2.0/mlflow/users/current",
            get(users::current_user),
        )
        .route(
            "/ajax-api/2.0/mlflow/users/create",
            axum::routing::post(users::create_user),
        )
        .route(
            "/ajax-api/2.0/mlflow/users/update-password",
            axum::routing::patch(users::update_password),
        )
        .route(
            "/ajax-api/2.0/mlflow/users/update-admin",
            axum::routing::patch(users::update_admin),
        )
        .route(
            "/ajax-api/2.0/mlflow/users/delete",
            axum::routing::delete(users::delete_user),
        )
        .merge(roles_ui_spellings())
        // MLflow's HTML sign-up form: not JSON, so not in the OpenAPI document.
        .route("/signup", get(signup::signup_form))
        .route(
            "/api/2.0/mlflow/users/create-ui",
            axum::routing::post(signup::create_user_from_form),
        );
    // Behind MLflow's --static-prefix, clients call the native API under it too.
    let protected = match state.static_prefix() {
        Some(prefix) => native.clone().nest(prefix, native),
        None => native,
    };
    let protected = match state.gateway.clone() {
        Some(mount) => protected.fallback_service(mount.service),
        None => protected.fallback(endpoint_not_found),
    };
    let protected = protected
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let (open, _) = OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .split_for_parts();
    // The browser login: before any credential exists, so outside authentication.
    let open = open
        .route("/auth/login", get(sso::login))
        .route("/auth/callback", get(sso::callback))
        .route("/auth/logout", axum::routing::post(sso::logout));

    open.merge(protected)
        // Before anything else, health endpoints included: a foreign Host or a
        // cross-site state change is refused.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::check,
        ))
        .with_state(state)
        .layer(access_log::AccessLogLayer)
}

/// The UI's `/ajax-api/3.0` spellings of the 3.17 role and permission routes.
fn roles_ui_spellings() -> Router<AppState> {
    use axum::routing::{delete, patch, post};
    const UI: &str = "/ajax-api/3.0/mlflow";
    let routes: [(&str, axum::routing::MethodRouter<AppState>); 18] = [
        ("/roles/create", post(roles::create_role)),
        ("/roles/get", get(roles::get_role)),
        ("/roles/list", get(roles::list_roles)),
        ("/roles/update", patch(roles::update_role)),
        ("/roles/delete", delete(roles::delete_role)),
        ("/roles/permissions/add", post(roles::add_role_permission)),
        (
            "/roles/permissions/remove",
            delete(roles::remove_role_permission),
        ),
        ("/roles/permissions/list", get(roles::list_role_permissions)),
        (
            "/roles/permissions/update",
            patch(roles::update_role_permission),
        ),
        ("/roles/assign", post(roles::assign_role)),
        ("/roles/unassign", delete(roles::unassign_role)),
        ("/roles/users/list", get(roles::list_role_users)),
        ("/users/roles/list", get(roles::list_user_roles)),
        (
            "/users/permissions/grant",
            post(user_permissions::grant_user_permission),
        ),
        (
            "/users/permissions/revoke",
            post(user_permissions::revoke_user_permission),
        ),
        (
            "/users/permissions/get",
            get(user_permissions::get_user_permission),
        ),
        (
            "/users/permissions/list",
            get(user_permissions::list_user_permissions),
        ),
        (
            "/users/current/permissions",
            get(user_permissions::list_current_user_permissions),
        ),
    ];
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            router.route(&format!("{UI}{path}"), route)
        })
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Without a gateway, a path that is not mlguard's own names nothing.
async fn endpoint_not_found() -> ApiError {
    ApiError::endpoint_not_found()
}
