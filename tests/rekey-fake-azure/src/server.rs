//! The HTTPS listener: accepts TCP connections on loopback, completes the
//! TLS handshake with the test certificate and serves each connection with
//! the axum router over HTTP/1.1.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Serves `router` over TLS on `listener` until the task is aborted.
pub(crate) fn spawn(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
) -> JoinHandle<()> {
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                // A client that fails the handshake (it does not trust the
                // CA) just loses its connection, as with a real server.
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
