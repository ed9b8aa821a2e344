//! The small HTTP/1.1 servers Bindery runs beside gRPC (`bindery dev`'s presigned-URL server and
//! `/metrics`), hardened the same way: a cap on open connections, a deadline for the request
//! head and between body frames, and a pause after a failed accept (e.g. out of file
//! descriptors) instead of a hot loop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Bounds on one HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Time allowed to send a request's head.
    pub header_timeout: Duration,
    /// Longest silence between frames of a request body (see [`next_frame`]).
    pub body_idle_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves HTTP/1.1 on `listener` with `handle` until the task is dropped.
pub async fn serve_http1<H, F, B>(listener: TcpListener, limits: HttpLimits, handle: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_https1(listener, None, limits, handle).await;
}

/// [`serve_http1`], over TLS when `tls` is set (HTTPS: a connection that does not complete its
/// handshake within the head deadline is dropped).
pub async fn serve_https1<H, F, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: HttpLimits,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut pause = Duration::from_millis(10);
    loop {
        // Wait for a free slot before accepting: excess clients queue in the kernel's backlog.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                pause = Duration::from_millis(10);
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?pause, "accepting an HTTP connection failed");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let handle = handle.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                None => serve_connection(stream, limits, handle).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(tls, limits, handle).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve_connection<S, H, F, B>(stream: S, limits: HttpLimits, handle: H)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = hyper::service::service_fn(move |req| {
        let handle = handle.clone();
        async move { Ok::<_, Infallible>(handle(req).await) }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    let served = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "HTTP connection ended");
    }
}

/// The next frame of `body`, or an error when none comes within `idle` (a stalled upload must
/// not hold its connection forever).
pub async fn next_frame(
    body: &mut Incoming,
    idle: Duration,
) -> std::io::Result<Option<hyper::body::Frame<bytes::Bytes>>> {
    use http_body_util::BodyExt;
    match tokio::time::timeout(idle, body.frame()).await {
        Ok(Some(frame)) => frame.map(Some).map_err(std::io::Error::other),
        Ok(None) => Ok(None),
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no data for {idle:?}"))),
    }
}

/// Why a bounded body read stopped.
#[derive(Debug)]
pub enum BodyError {
    /// The body could not be read (reset, malformed, or idle past the deadline).
    Read(std::io::Error),
    /// The body is larger than the bound.
    TooLarge { max: usize },
}

/// The whole of a request body, at most `max` bytes, with `idle` allowed between frames (the
/// front ends' JSON bodies and small uploads; large files stream instead).
pub async fn read_body(mut body: Incoming, idle: Duration, max: usize) -> Result<bytes::Bytes, BodyError> {
    let mut buf = Vec::new();
    while let Some(frame) = next_frame(&mut body, idle).await.map_err(BodyError::Read)? {
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(BodyError::TooLarge { max });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(bytes::Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn server(limits: HttpLimits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_http1(listener, limits, |_req| async {
            Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"ok")))
        }));
        addr
    }

    #[tokio::test]
    async fn a_slow_request_head_is_cut_off_and_connections_are_capped() {
        let limits = HttpLimits {
            max_connections: 2,
            header_timeout: Duration::from_secs(1),
            body_idle_timeout: Duration::from_secs(1),
        };
        let addr = server(limits).await;
        // Half a request head, then silence: the server hangs up after the header timeout.
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "a slow client kept its connection past the header timeout");

        // Two idle connections fill the server; a third is answered only once one leaves.
        let idle: Vec<_> =
            futures_util::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr)))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        third.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        let waited = tokio::time::timeout(Duration::from_millis(300), third.read_to_end(&mut answer)).await;
        assert!(waited.is_err(), "a third connection was served while two were open");
        drop(idle);
        let answered = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer)).await;
        assert!(answered.is_ok() && String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    }
}
