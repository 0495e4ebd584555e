//! MLflow's sign-up form, for admins: `GET /signup` renders it and
//! `POST /api/2.0/mlflow/users/create-ui` creates the user it names. As in MLflow,
//! creating users is for admins, and the form is protected against cross-site
//! requests: here with a double-submit token (a random value in a `SameSite=Strict`,
//! `HttpOnly` cookie that the form must repeat), so it works on every replica.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_domain::{Password, Username};
use mlguard_http::{Admin, ApiError};
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::state::AppState;

const CSRF_COOKIE: &str = "mlguard_signup_csrf";
/// The page loads nothing and runs nothing; it may only post to this origin.
const PAGE_POLICY: &str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'";

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: StatusCode, body: &str, cookie: Option<String>) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>MLflow sign-up</title>\
         </head><body>{body}</body></html>"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /signup`: the form, with a fresh token in the page and in the cookie.
pub(crate) async fn signup_form(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let action = format!(
        "{}/api/2.0/mlflow/users/create-ui",
        state.static_prefix().unwrap_or_default()
    );
    let form = format!(
        "<form action=\"{}\" method=\"post\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
         <label for=\"username\">Username:</label><br>\
         <input type=\"text\" id=\"username\" name=\"username\" minlength=\"4\"><br>\
         <label for=\"password\">Password:</label><br>\
         <input type=\"password\" id=\"password\" name=\"password\" minlength=\"12\"><br><br>\
         <input type=\"submit\" value=\"Sign up\"></form>",
        escape(&action)
    );
    let cookie = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    Ok(page(StatusCode::OK, &form, Some(cookie)))
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignupForm {
    username: String,
    password: String,
    csrf_token: String,
}

fn failure(error: &ApiError) -> Response {
    page(
        error.status(),
        &format!(
            "<p>{}</p><p><a href=\"signup\">Back</a></p>",
            escape(error.message())
        ),
        None,
    )
}

/// `POST /api/2.0/mlflow/users/create-ui`: creates the user the form names.
pub(crate) async fn create_user_from_form(
    State(state): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(ApiError::unsupported_media_type());
    }
    let form: SignupForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::bad_request("The sign-up form is incomplete."))?;
    let expected = cookie_value(&headers, CSRF_COOKIE).unwrap_or_default();
    let matches: bool = expected.as_bytes().ct_eq(form.csrf_token.as_bytes()).into();
    if expected.is_empty() || !matches {
        tracing::info!("denied: sign-up form without its CSRF token");
        return Err(ApiError::bad_request(
            "The CSRF token is missing or does not match; reload the sign-up form.",
        ));
    }
    let created = async {
        let username = Username::parse(&form.username)?;
        let password = Password::new(&form.password)?;
        let user = state
            .blocking(move |store| store.create_user(&username, &password, false))
            .await??;
        Ok::<_, ApiError>(user)
    }
    .await;
    match created {
        Ok(user) => {
            tracing::info!(target.user = %user.username, "user created from the sign-up form");
            Ok(page(
                StatusCode::OK,
                &format!(
                    "<p>Successfully signed up user: {}</p><p><a href=\"/\">Home</a></p>",
                    escape(user.username.as_str())
                ),
                None,
            ))
        }
        Err(error) => Ok(failure(&error)),
    }
}
