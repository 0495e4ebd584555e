//! A stand-in for MLflow that answers `experiments/get` at once, so that
//! `bench/run.sh` can measure mlguard's own ceiling (setup d) without MLflow being
//! the bottleneck. Benchmark use only; it listens on loopback and nowhere else.
//!
//! `cargo run --release -p mlguard-server --example trivial_upstream -- 127.0.0.1:5001`

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The shape MLflow 3.10.1 answers for one experiment.
const EXPERIMENT_JSON: &str = r#"{"experiment":{"experiment_id":"1","name":"bench","artifact_location":"mlflow-artifacts:/1","lifecycle_stage":"active","last_update_time":1700000000000,"creation_time":1700000000000,"tags":[]}}"#;

async fn experiment() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        EXPERIMENT_JSON,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5001".to_owned());
    let address: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // Loopback only: this server answers anyone without authentication.
    if !address.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{address} is not a loopback address"),
        ));
    }
    let app = Router::new()
        .route("/api/2.0/mlflow/experiments/get", get(experiment))
        .route("/health", get(|| async { "OK" }));
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await
}
