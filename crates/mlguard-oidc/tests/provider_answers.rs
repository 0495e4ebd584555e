//! What the adapter does with a provider that answers badly: junk discovery, a
//! discovery naming another issuer, junk keys, an endpoint that is down. Each is a
//! clear `Unavailable`, and a token is never accepted on the strength of one. (The
//! good paths run against a real provider in tests/e2e/test_oidc.py.)

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use mlguard_domain::{IdentityError, IdentityProvider};
use mlguard_oidc::{OidcClient, OidcSettings};

/// A provider on loopback that answers discovery with `discovery(issuer)` and the
/// key set with `jwks`.
async fn provider(discovery: fn(&str) -> String, jwks: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let answer = discovery(&issuer);
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { answer }),
        )
        .route("/jwks", get(move || async move { jwks }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

fn client(issuer: &str) -> OidcClient {
    OidcClient::new(OidcSettings {
        issuer: issuer.to_owned(),
        client_id: "mlguard".to_owned(),
        client_secret: "secret".to_owned(),
        redirect_url: "http://127.0.0.1:1/auth/callback".to_owned(),
        scopes: vec!["openid".to_owned()],
        username_claim: "preferred_username".to_owned(),
        groups_claim: "groups".to_owned(),
        audiences: vec!["mlguard".to_owned()],
        timeout: Duration::from_secs(5),
        jwks_refetch_interval: Duration::from_secs(0),
        jwks_max_age: Duration::from_secs(600),
    })
    .expect("client")
}

fn good_discovery(issuer: &str) -> String {
    format!(
        r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth","token_endpoint":"{issuer}/token","jwks_uri":"{issuer}/jwks"}}"#
    )
}

/// A syntactically fine RS256 token naming key `k1`, for mlguard's audience.
const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJ4IiwiYXVkIjoibWxndWFyZCIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln";

fn unavailable(result: Result<impl std::fmt::Debug, IdentityError>) -> String {
    match result {
        Err(IdentityError::Unavailable(why)) => why,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn junk_discovery_is_unavailable() {
    let issuer = provider(|_| "<html>not json</html>".to_owned(), "{}").await;
    let why = unavailable(client(&issuer).begin_login("/").await);
    assert!(why.contains("discovery"), "{why}");
}

#[tokio::test]
async fn a_discovery_naming_another_issuer_is_refused() {
    let issuer = provider(|_| good_discovery("https://impostor.example"), "{}").await;
    let why = unavailable(client(&issuer).begin_login("/").await);
    assert!(why.contains("another issuer"), "{why}");
}

#[tokio::test]
async fn junk_keys_accept_no_token() {
    let issuer = provider(good_discovery, r#"{"keys": "nope"}"#).await;
    let why = unavailable(client(&issuer).verify_bearer(TOKEN).await);
    assert!(why.contains("JWKS"), "{why}");
    // An empty key set is no key for the token: rejected, not trusted.
    let issuer = provider(good_discovery, r#"{"keys": []}"#).await;
    assert!(matches!(
        client(&issuer).verify_bearer(TOKEN).await,
        Err(IdentityError::Rejected(_))
    ));
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    unavailable(client(&issuer).begin_login("/").await);
    unavailable(client(&issuer).verify_bearer(TOKEN).await);
}

#[tokio::test]
async fn a_login_goes_to_the_provider_with_pkce_state_and_nonce() {
    let issuer = provider(good_discovery, "{}").await;
    let client = client(&issuer);
    let start = client.begin_login("/#/experiments").await.expect("login");
    let url = reqwest::Url::parse(&start.authorize_url).expect("url");
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{issuer}/auth").as_str())
    );
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "mlguard");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], start.state);
    assert_eq!(query["nonce"], start.pending.nonce);
    assert_ne!(query["code_challenge"], start.pending.code_verifier);
    assert_eq!(start.pending.next_path, "/#/experiments");
    // Every login is fresh.
    let again = client.begin_login("/").await.expect("login");
    assert_ne!(again.state, start.state);
    assert_ne!(again.pending.nonce, start.pending.nonce);
    // No end-session endpoint: no provider logout.
    assert_eq!(client.logout_url("http://127.0.0.1:1/").await, Ok(None));
}
