//! The REST API of a running job (axum): status and config, checkpoint
//! statistics and history, savepoints (also of earlier runs, read from
//! storage), and the verbs that drive the job — trigger a checkpoint or a
//! savepoint (asynchronous: a trigger id to poll), stop with a savepoint, cancel.
//!
//! It listens on loopback by default. Mutating endpoints (every `POST`) require
//! `Authorization: Bearer <token>` when the token is set (environment variable
//! [`TOKEN_ENV`]); on any address but loopback the job refuses to start without
//! it, and there every read of the job's data needs the same token (the page's
//! static files and the OpenAPI document excepted). Configuration is shown with
//! its secrets redacted ([`crate::spec::redacted`]).
//! The OpenAPI document is served at `/v1/openapi.json`, the web view at `/`
//! and the Prometheus metrics at `/metrics`.

mod body;
mod metrics;
mod routes;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::checkpoint::Storage;
use crate::dataflow::JobControl;
use crate::spec::Pipeline;

/// The environment variable holding the API's bearer token.
pub const TOKEN_ENV: &str = "CAIRN_API_TOKEN";

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Why the API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not loopback, and no token.
    #[error("`api.listen: {0}` is not a loopback address: set {TOKEN_ENV} to the bearer token that every request for the job's data must carry")]
    NoToken(SocketAddr),
    /// The address cannot be bound.
    #[error("the REST API cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The pipeline's storage cannot be opened.
    #[error(transparent)]
    Storage(#[from] crate::checkpoint::StorageError),
}

/// What the handlers read.
#[derive(Clone)]
struct ApiState {
    ctl: Arc<JobControl>,
    pipeline: Arc<Pipeline>,
    storage: Storage,
    token: Option<String>,
    /// Off loopback, reads need the token as well as writes.
    reads_need_token: bool,
    started_at: String,
}

/// A running API server; it stops when dropped.
pub struct ApiServer {
    addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl ApiServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Starts the API of the job driven by `ctl` on `rt`, as `pipeline.api` says;
/// `None` when the API is disabled.
pub fn serve(pipeline: &Pipeline, ctl: Arc<JobControl>, rt: &tokio::runtime::Handle) -> Result<Option<ApiServer>, ApiError> {
    let spec = &pipeline.spec.api;
    if !spec.enabled {
        return Ok(None);
    }
    let addr: SocketAddr = spec.listen.parse().expect("validated by the spec");
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty());
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(ApiError::NoToken(addr));
    }
    let listener = rt.block_on(async {
        match tokio::net::TcpListener::bind(addr).await {
            // A busy default port on loopback (another job) must not stop this one.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && addr.ip().is_loopback() && addr.port() != 0 => {
                tracing::warn!(address = %addr, "the REST API address is in use; listening on a free port instead");
                tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await
            }
            other => other,
        }
    });
    let listener = listener.map_err(|source| ApiError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ApiError::Bind { addr, source })?;
    let state = ApiState {
        ctl,
        pipeline: Arc::new(pipeline.clone()),
        storage: Storage::open(&pipeline.spec.storage, &pipeline.base_dir)?,
        token,
        reads_need_token: !addr.ip().is_loopback(),
        started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = routes::router(state);
    rt.spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "the REST API stopped");
        }
    });
    tracing::info!(event = "api", url = %format!("http://{bound}"), "REST API listening on http://{bound}");
    Ok(Some(ApiServer { addr: bound, _shutdown: tx }))
}
