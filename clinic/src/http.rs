//! HTTP: `POST /v1/sync` (`Content-Type: application/cairn-sync`) answers
//! every protocol outcome with status 200 and the signed reply;
//! `GET /healthz` says the process is up. Bodies over 1 MiB get 413, a
//! request taking over 30 s gets 408, a server error 500 (503 when the
//! database stayed locked and no reply could be signed).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::limit::ConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::{Server, handle, handler};

/// The largest request body.
pub const MAX_BODY: usize = 1024 * 1024;
/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Requests handled at once (the rest wait).
pub const CONCURRENCY: usize = 64;
/// The protocol's media type.
pub const CONTENT_TYPE: &str = "application/cairn-sync";

/// The server's routes and limits.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/v1/sync", post(sync))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            TIMEOUT,
        ))
        .layer(ConcurrencyLimitLayer::new(CONCURRENCY))
        .with_state(server)
}

async fn sync(State(server): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Response {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !media.is_some_and(|m| m.eq_ignore_ascii_case(CONTENT_TYPE)) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/cairn-sync\n",
        )
            .into_response();
    }
    let now = crate::now_ms();
    match tokio::task::spawn_blocking(move || handle(&server, &body, now)).await {
        Ok(Ok(reply)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            reply,
        )
            .into_response(),
        Ok(Err(busy @ crate::Error::Busy)) => {
            tracing::warn!(error = %busy, "the database is busy");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, handler::BUSY_RETRY_SECONDS.to_string())],
                "busy\n",
            )
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
        Err(_) => {
            tracing::error!("the request's task panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// Serves on `listener` until `shutdown` completes; prunes request ids
/// older than the replay window every hour.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let pruner = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                let server = server.clone();
                let before = crate::now_ms().saturating_sub(handler::REQUEST_RETENTION_MS);
                match tokio::task::spawn_blocking(move || server.storage().prune_requests(before))
                    .await
                {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(pruned = n, "old request ids forgotten"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning request ids failed"),
                    Err(_) => tracing::warn!("pruning request ids panicked"),
                }
            }
        })
    };
    let result = axum::serve(listener, router(server))
        .with_graceful_shutdown(shutdown)
        .await;
    pruner.abort();
    result
}
