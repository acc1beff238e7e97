//! The accept loop: hyper serving the router, closing a connection without an answer when
//! a fault says so, and a graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a shutdown waits for requests in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Marks a response whose connection must be closed without answering.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

/// The error that makes hyper abort a connection.
#[derive(Debug)]
pub(crate) struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for ConnectionDropped {}

/// The hyper service: the router, except that a response marked [`DropConnection`]
/// becomes an error, which makes hyper close the connection without answering.
#[derive(Clone)]
struct Service {
    router: Router,
}

impl hyper::service::Service<http::Request<Incoming>> for Service {
    type Response = Response;
    type Error = ConnectionDropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response, ConnectionDropped>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let mut router = self.router.clone();
        Box::pin(async move {
            let response = match tower_service::Service::call(&mut router, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        })
    }
}

/// Accepts connections until `stop` fires (or its sender is dropped), then lets requests
/// in flight finish (for at most [`SHUTDOWN_GRACE`]) and closes every connection.
pub(crate) async fn serve(listener: TcpListener, router: Router, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).keep_alive(true);
    let service = Service { router };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let connection = http.serve_connection(TokioIo::new(stream), service.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                // Out of file descriptors or a connection reset before accept: go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// The address clients should use: an unspecified bind address becomes loopback.
pub(crate) fn public_addr(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addr_replaces_unspecified_ips() {
        let a: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(public_addr(a).to_string(), "127.0.0.1:80");
        let b: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(public_addr(b).to_string(), "[::1]:80");
        let c: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(public_addr(c), c);
    }
}
