//! Connection limits of the gRPC server: at most `max_connections` at once
//! (connections beyond are accepted and closed at once), a handshake timeout
//! for connections that never send the HTTP/2 preface and first SETTINGS
//! frame, and an idle timeout for connections without an open stream.
//!
//! tonic owns each hyper connection, so the timeouts live in the IO it is
//! given: [`GuardedStream`] fails its next read once a deadline passes, which
//! ends the connection. The streams open on a connection are counted by
//! [`Tracked`] around each service, which finds its connection through the
//! connect info tonic puts in every request's extensions.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The preface and the header of the frame after it, which must be SETTINGS.
const HANDSHAKE_HEADER: usize = PREFACE.len() + 9;
/// Frame type of SETTINGS.
const SETTINGS: u8 = 0x4;

/// Default of [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default of [`ConnectionLimits::handshake_timeout`]: long for a handshake
/// even across continents, short for a connection that holds a slot idle.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default of [`ConnectionLimits::idle_timeout`]: a client between bursts
/// keeps its connection; one that went away frees its slot.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Per-connection limits; `None` turns a timeout off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more are closed as soon as accepted.
    pub max_connections: usize,
    /// Time from accept until the client has sent the HTTP/2 preface and its
    /// first SETTINGS frame (with TLS: until its first request).
    pub handshake_timeout: Option<Duration>,
    /// Time a connection may stay open without an open stream.
    pub idle_timeout: Option<Duration>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// What a connection's IO and the services on it share.
#[derive(Debug)]
struct ConnState {
    accepted: Instant,
    limits: ConnectionLimits,
    open_streams: AtomicUsize,
    handshake_done: AtomicBool,
    /// When the last stream ended, in milliseconds after `accepted`.
    idle_since_ms: AtomicU64,
}

impl ConnState {
    fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.open_streams.fetch_add(1, Ordering::SeqCst);
        // A request proves the handshake; with TLS it is the only proof seen.
        self.handshake_done.store(true, Ordering::SeqCst);
        StreamGuard(Arc::clone(self))
    }

    /// Why the connection must close now, or when to look again.
    fn check(&self, now: Instant) -> Result<Instant, &'static str> {
        if self.open_streams.load(Ordering::SeqCst) > 0 {
            // Looked at again after the idle timeout: a stream may end meanwhile.
            return Ok(later(now, self.limits.idle_timeout.unwrap_or(FAR)));
        }
        let mut next = later(now, FAR);
        if !self.handshake_done.load(Ordering::SeqCst)
            && let Some(timeout) = self.limits.handshake_timeout
        {
            let deadline = later(self.accepted, timeout);
            if now >= deadline {
                return Err("no HTTP/2 handshake before the handshake timeout");
            }
            next = next.min(deadline);
        }
        if let Some(idle) = self.limits.idle_timeout {
            let since = Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
            let deadline = later(later(self.accepted, since), idle);
            if now >= deadline {
                return Err("idle: no open stream before the idle timeout");
            }
            next = next.min(deadline);
        }
        Ok(next)
    }
}

/// When nothing is due, deadlines are looked at again after this.
const FAR: Duration = Duration::from_secs(86_400);

/// `at + after`, or a day after `at` when that is past what `Instant` holds
/// (timeouts from flags may be huge).
fn later(at: Instant, after: Duration) -> Instant {
    at.checked_add(after)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

/// One open stream; dropped when its response body ends or is dropped.
#[derive(Debug)]
struct StreamGuard(Arc<ConnState>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let state = &self.0;
        if state.open_streams.fetch_sub(1, Ordering::SeqCst) == 1 {
            let since = state.accepted.elapsed().as_millis();
            state
                .idle_since_ms
                .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::SeqCst);
        }
    }
}

/// Connect info of a [`GuardedStream`]: the TCP addresses and the connection's
/// shared state.
#[derive(Debug, Clone)]
pub struct GuardedConnectInfo {
    /// Local and remote address, as tonic gives for a plain `TcpStream`.
    pub tcp: TcpConnectInfo,
    state: Arc<ConnState>,
}

/// An accepted connection holding one of the connection slots, closed (its
/// next read fails) when a handshake or idle deadline passes.
#[derive(Debug)]
pub struct GuardedStream {
    io: TcpStream,
    state: Arc<ConnState>,
    deadline: Pin<Box<Sleep>>,
    /// Bytes of the preface and first frame header seen so far.
    handshake: [u8; HANDSHAKE_HEADER],
    /// How many bytes the client has sent, up to the end of its first frame.
    received: usize,
    /// Whether the handshake is still followed by [`Self::observe`].
    watching: bool,
    _slot: OwnedSemaphorePermit,
}

impl GuardedStream {
    fn new(io: TcpStream, slot: OwnedSemaphorePermit, limits: ConnectionLimits) -> Self {
        let accepted = Instant::now();
        let state = Arc::new(ConnState {
            accepted,
            limits,
            open_streams: AtomicUsize::new(0),
            handshake_done: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
        });
        // Zero timeouts (not settable from flags) would close at once.
        let first = state.check(accepted).unwrap_or(accepted);
        Self {
            io,
            state,
            deadline: Box::pin(tokio::time::sleep_until(first)),
            handshake: [0; HANDSHAKE_HEADER],
            received: 0,
            watching: true,
            _slot: slot,
        }
    }

    /// An error once the connection must close; otherwise registers the
    /// deadline's waker with `cx`.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        while self.deadline.as_mut().poll(cx).is_ready() {
            match self.state.check(Instant::now()) {
                Ok(next) => self.deadline.as_mut().reset(next),
                Err(why) => {
                    tracing::debug!(why, "closing connection");
                    return Some(io::Error::new(io::ErrorKind::TimedOut, why));
                }
            }
        }
        None
    }

    /// Follows the client's first bytes until the preface and a whole
    /// SETTINGS frame have arrived (plaintext only; with TLS these bytes are
    /// ciphertext and never match, so the first request marks the handshake).
    fn observe(&mut self, bytes: &[u8]) {
        if self.state.handshake_done.load(Ordering::Relaxed) {
            self.watching = false;
            return;
        }
        for &byte in bytes {
            if let Some(slot) = self.handshake.get_mut(self.received) {
                *slot = byte;
            }
            self.received += 1;
            if self.received == PREFACE.len() && self.handshake[..PREFACE.len()] != PREFACE[..] {
                // Not HTTP/2: hyper rejects it; the handshake timeout stays.
                self.watching = false;
                return;
            }
            if self.received < HANDSHAKE_HEADER {
                continue;
            }
            let &[l0, l1, l2, kind, ..] = &self.handshake[PREFACE.len()..] else {
                return;
            };
            if kind != SETTINGS {
                self.watching = false;
                return;
            }
            let length = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            if self.received >= HANDSHAKE_HEADER + length {
                self.state.handshake_done.store(true, Ordering::SeqCst);
                self.watching = false;
                return;
            }
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(error) = self.poll_expired(cx) {
            return Poll::Ready(Err(error));
        }
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if result.is_ready() && this.watching {
            this.observe(buf.filled().get(before..).unwrap_or_default());
        }
        result
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Connected for GuardedStream {
    type ConnectInfo = GuardedConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        GuardedConnectInfo {
            tcp: self.io.connect_info(),
            state: Arc::clone(&self.state),
        }
    }
}

/// Accepted connections of `listener`, with TCP_NODELAY (without it Nagle's
/// algorithm holds the tail of each response until the client's delayed ACK),
/// each holding one of `limits.max_connections` slots; a connection accepted
/// while none is free is closed at once. Accept errors (e.g. out of file
/// descriptors) are logged and retried after a pause, never returned.
pub fn guarded_incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
) -> impl Stream<Item = Result<GuardedStream, io::Error>> + Send {
    let acceptor = Acceptor {
        listener,
        slots: Arc::new(Semaphore::new(
            limits.max_connections.min(Semaphore::MAX_PERMITS),
        )),
        limits,
        refused: 0,
        reported: None,
    };
    futures::stream::unfold(acceptor, |mut acceptor| async move {
        let stream = acceptor.next().await;
        Some((Ok(stream), acceptor))
    })
}

/// The accept loop's state.
struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    limits: ConnectionLimits,
    /// Connections closed for want of a slot since the last warning.
    refused: u64,
    reported: Option<Instant>,
}

impl Acceptor {
    async fn next(&mut self) -> GuardedStream {
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                drop(stream);
                self.refused += 1;
                // One warning per minute at most: a flood must not flood the log.
                if self
                    .reported
                    .is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
                {
                    tracing::warn!(
                        max_connections = self.limits.max_connections,
                        refused = self.refused,
                        "connection limit reached: new connections are closed"
                    );
                    self.refused = 0;
                    self.reported = Some(Instant::now());
                }
                continue;
            };
            let _ = stream.set_nodelay(true);
            return GuardedStream::new(stream, slot, self.limits);
        }
    }
}

/// A service whose calls count as open streams of their connection from the
/// request until the response body ends, so that the idle timeout spares
/// connections with calls in flight (streaming ones included).
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
}

impl<S> Tracked<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S: NamedService> NamedService for Tracked<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Tracked<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let extensions = request.extensions();
        let plain = extensions.get::<GuardedConnectInfo>().cloned();
        let state = plain
            .as_ref()
            .map(|info| Arc::clone(&info.state))
            .or_else(|| {
                extensions
                    .get::<TlsConnectInfo<GuardedConnectInfo>>()
                    .map(|info| Arc::clone(&info.get_ref().state))
            });
        if let Some(info) = plain {
            // Keeps `Request::remote_addr()` working for plaintext connections.
            request.extensions_mut().insert(info.tcp);
        }
        let guard = state.map(|state| state.stream_opened());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| {
                Body::new(GuardedBody {
                    inner: body,
                    _guard: guard,
                })
            }))
        })
    }
}

/// A response body that holds its stream's guard until it is dropped.
struct GuardedBody {
    inner: Body,
    _guard: Option<StreamGuard>,
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}
