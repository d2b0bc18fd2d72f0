//! Serving connections: hyper's HTTP/1 and HTTP/2 over the routes, with the
//! limits a server on a hostile network needs and hyper leaves to its user.
//!
//! - A header read timeout: a new connection has that long to send its
//!   first request head; a keep-alive connection has that long from the
//!   first byte of a later request.
//! - A body read timeout between two pieces of a body: a stalled upload is
//!   answered 408 and its connection closed.
//! - A keep-alive idle timeout, which also bounds how long a client may
//!   leave a response unread.
//! - A maximum of open connections. At the limit a new connection closes the
//!   connection that is doing least (idle first, then one still sending its
//!   head, then one stalled in its body; never one whose request is being
//!   answered), so a flood of idle or slow connections cannot lock out the
//!   next client. Only when every connection is being answered is the new
//!   one refused with 503.
//! - Optionally, a maximum of connections per client address.
//!
//! Each connection's state is a few atomics updated on reads, writes and
//! requests; a watchdog task per connection closes it when its deadline
//! passes. Closed and refused connections are counted by reason in
//! `fraud_connections_closed_total` and logged at debug level: a flood must
//! not flood the log too.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use warp::http::{header, HeaderValue, Request, Version};
use warp::reply::Response;

use crate::metrics::{ConnectionEnd, Metrics};

/// The connection limits (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest time to receive a request head.
    pub header_read: Duration,
    /// Longest wait between two pieces of a request body.
    pub body_read: Duration,
    /// Longest idle time of a keep-alive connection (and longest wait for
    /// a client to take a response).
    pub keep_alive: Duration,
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one address; 0 is no limit.
    pub max_per_address: usize,
}

impl ConnectionLimits {
    /// The limits a configuration asks for.
    pub fn from_config(config: &crate::config::Config) -> Self {
        ConnectionLimits {
            header_read: *config.header_read_timeout,
            body_read: *config.body_read_timeout,
            keep_alive: *config.keep_alive_timeout,
            max_connections: config.max_connections.max(1),
            max_per_address: config.max_connections_per_address,
        }
    }
}

/// The client's address, put in each request's extensions (warp's own
/// remote-address extension cannot be set from outside warp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Milliseconds since the first call: a cheap, monotonic clock for atomics.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// No request in flight, no bytes of one received.
const IDLE: u8 = 0;
/// Bytes of a request head received, the head not complete.
const HEAD: u8 = 1;
/// At least one request is being answered.
const BUSY: u8 = 2;

/// One connection's state, shared by its IO, its requests, its watchdog and
/// the registry.
struct Slot {
    id: u64,
    ip: IpAddr,
    phase: AtomicU8,
    /// When the current wait for a request head began (ms).
    head_since: AtomicU64,
    /// Last bytes read or written (ms).
    last_io: AtomicU64,
    /// Whether a request has been answered on this connection.
    served: AtomicBool,
    in_flight: AtomicU32,
    /// Requests whose body is still arriving.
    open_bodies: AtomicU32,
    /// Set when a body timed out, so the end is counted as such.
    body_timed_out: AtomicBool,
    evict: tokio::sync::Notify,
}

impl Slot {
    fn new(id: u64, ip: IpAddr) -> Self {
        let now = now_ms();
        Slot {
            id,
            ip,
            phase: AtomicU8::new(IDLE),
            head_since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            served: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            open_bodies: AtomicU32::new(0),
            body_timed_out: AtomicBool::new(false),
            evict: tokio::sync::Notify::new(),
        }
    }

    fn on_read(&self) {
        let now = now_ms();
        self.last_io.store(now, Ordering::Relaxed);
        if self.phase.load(Ordering::Relaxed) == IDLE
            && self
                .phase
                .compare_exchange(IDLE, HEAD, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            && self.served.load(Ordering::Relaxed)
        {
            // A new connection's head time counts from the accept; a
            // keep-alive one's from the first byte of the new request.
            self.head_since.store(now, Ordering::Relaxed);
        }
    }

    fn on_write(&self) {
        self.last_io.store(now_ms(), Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.phase.store(BUSY, Ordering::Release);
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let now = now_ms();
            self.served.store(true, Ordering::Relaxed);
            self.last_io.store(now, Ordering::Relaxed);
            self.head_since.store(now, Ordering::Relaxed);
            self.phase.store(IDLE, Ordering::Release);
        }
    }

    /// When this connection must close if nothing changes, and why; `None`
    /// while a request is being answered.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(u64, ConnectionEnd)> {
        let ms = |d: Duration| d.as_millis() as u64;
        match self.phase.load(Ordering::Acquire) {
            IDLE if self.served.load(Ordering::Relaxed) => Some((
                self.last_io.load(Ordering::Relaxed) + ms(limits.keep_alive),
                ConnectionEnd::IdleTimeout,
            )),
            IDLE | HEAD => Some((
                self.head_since.load(Ordering::Relaxed) + ms(limits.header_read),
                ConnectionEnd::HeaderTimeout,
            )),
            _ => None,
        }
    }

    /// Which connections go first when room is needed: lower is sooner.
    /// `None`: never (a request is being answered).
    fn eviction_rank(&self) -> Option<(u8, u64)> {
        match self.phase.load(Ordering::Acquire) {
            IDLE => Some((0, self.last_io.load(Ordering::Relaxed))),
            HEAD => Some((1, self.head_since.load(Ordering::Relaxed))),
            _ if self.open_bodies.load(Ordering::Acquire) > 0 => {
                Some((2, self.last_io.load(Ordering::Relaxed)))
            }
            _ => None,
        }
    }
}

/// Every open connection, and the count per address.
#[derive(Default)]
struct Registry {
    slots: HashMap<u64, Arc<Slot>>,
    per_address: HashMap<IpAddr, usize>,
    next_id: u64,
    refused_since_warning: u64,
    last_warning: Option<Instant>,
}

enum Admission {
    Admitted(Arc<Slot>),
    Refused(ConnectionEnd),
}

impl Registry {
    fn admit(&mut self, ip: IpAddr, limits: &ConnectionLimits) -> Admission {
        if limits.max_per_address > 0
            && self.per_address.get(&ip).copied().unwrap_or(0) >= limits.max_per_address
        {
            return Admission::Refused(ConnectionEnd::RefusedPerAddress);
        }
        if self.slots.len() >= limits.max_connections && !self.evict_one() {
            return Admission::Refused(ConnectionEnd::RefusedLimit);
        }
        self.next_id += 1;
        let slot = Arc::new(Slot::new(self.next_id, ip));
        self.slots.insert(slot.id, Arc::clone(&slot));
        *self.per_address.entry(ip).or_insert(0) += 1;
        Admission::Admitted(slot)
    }

    /// Takes a slot out; false if it was already out (evicted).
    fn remove(&mut self, slot: &Slot) -> bool {
        if self.slots.remove(&slot.id).is_none() {
            return false;
        }
        if let Some(n) = self.per_address.get_mut(&slot.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&slot.ip);
            }
        }
        true
    }

    /// Closes the connection doing least, to free a file descriptor.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .slots
            .values()
            .filter_map(|s| s.eviction_rank().map(|rank| (rank, s)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, s)| Arc::clone(s));
        match victim {
            Some(victim) => {
                // Out of the registry now, so it is not chosen twice and its
                // place is free; its task closes it at once.
                self.remove(&victim);
                victim.evict.notify_one();
                true
            }
            None => false,
        }
    }

    /// Whether to log a warning about refusals now (at most every 10 s, with
    /// the count since the last one).
    fn refusal_warning(&mut self) -> Option<u64> {
        self.refused_since_warning += 1;
        let due = self
            .last_warning
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if !due {
            return None;
        }
        self.last_warning = Some(Instant::now());
        Some(std::mem::take(&mut self.refused_since_warning))
    }
}

/// The registry and what every connection task needs.
struct Shared {
    registry: Mutex<Registry>,
    limits: ConnectionLimits,
    metrics: Metrics,
    /// Set once the server stops accepting.
    closing: AtomicBool,
}

impl Shared {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The answer to a connection refused at a limit, written without reading
/// the request (it may not have arrived).
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 33\r\n\r\n{\"error\":\"Too many connections\"}\n";

/// Serves `filter` on `listener` under `limits` until `shutdown` resolves,
/// then stops accepting and waits for open connections to finish their
/// requests (idle ones close at once).
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    limits: ConnectionLimits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) where
    F: warp::Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let shared = Arc::new(Shared {
        registry: Mutex::new(Registry::default()),
        limits,
        metrics,
        closing: AtomicBool::new(false),
    });
    let service = warp::service(filter);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors (or another resource): make room
                // and try again shortly, instead of spinning.
                let freed = shared.registry().evict_one();
                tracing::warn!(error = %e, freed_a_connection = freed, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let admission = shared.registry().admit(peer.ip(), &shared.limits);
        let slot = match admission {
            Admission::Admitted(slot) => slot,
            Admission::Refused(why) => {
                // Best effort and never blocking: the peer may not read.
                let _ = stream.try_write(REFUSED);
                drop(stream);
                shared.metrics.connection_ended(why, false);
                let warn = shared.registry().refusal_warning();
                if let Some(count) = warn {
                    tracing::warn!(
                        refused = count,
                        reason = why.label(),
                        max_connections = shared.limits.max_connections,
                        max_per_address = shared.limits.max_per_address,
                        "refusing connections at the limit"
                    );
                }
                tracing::debug!(client = %peer.ip(), reason = why.label(), "connection refused");
                continue;
            }
        };
        shared.metrics.connection_opened();
        let conn_shared = Arc::clone(&shared);
        let watcher = graceful.watcher();
        let service = service.clone();
        tokio::spawn(async move {
            let end = connection(stream, peer, &slot, &conn_shared, service, watcher).await;
            // An evicted connection left the registry when it was chosen
            // (so this finds nothing); it counts as open until here.
            conn_shared.registry().remove(&slot);
            conn_shared.metrics.connection_ended(end, true);
            tracing::debug!(client = %peer.ip(), reason = end.label(), "connection ended");
        });
    }
    drop(listener);
    // Connections with no request being answered close now (idle ones would
    // anyway; a slow head would hold the shutdown for the header timeout).
    shared.closing.store(true, Ordering::SeqCst);
    for slot in shared.registry().slots.values() {
        if matches!(slot.eviction_rank(), Some((0 | 1, _))) {
            slot.evict.notify_one();
        }
    }
    graceful.shutdown().await;
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    slot: &Arc<Slot>,
    shared: &Shared,
    service: S,
    watcher: hyper_util::server::graceful::Watcher,
) -> ConnectionEnd
where
    S: tower_service::Service<
            Request<TimedBody>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
{
    let io = TokioIo::new(Tracked {
        stream,
        slot: Arc::clone(slot),
    });
    let service = ConnService {
        inner: service,
        slot: Arc::clone(slot),
        client: ClientAddr(peer),
        body_read: shared.limits.body_read,
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = watcher.watch(builder.serve_connection(io, service));
    let mut conn = std::pin::pin!(conn);
    let limits = shared.limits;
    tokio::select! {
        result = &mut conn => match result {
            Ok(()) if slot.body_timed_out.load(Ordering::Relaxed) => ConnectionEnd::BodyTimeout,
            Ok(()) => ConnectionEnd::Closed,
            Err(e) => classify(&*e, slot),
        },
        end = watchdog(slot, &limits) => match end {
            ConnectionEnd::Evicted if shared.closing.load(Ordering::SeqCst) => ConnectionEnd::Shutdown,
            end => end,
        },
    }
}

/// Resolves when the connection must close: a deadline passed, or it was
/// chosen to make room.
async fn watchdog(slot: &Slot, limits: &ConnectionLimits) -> ConnectionEnd {
    // The phase can change while asleep, so deadlines are checked again at
    // least this often; a timeout fires at most this late.
    const TICK: u64 = 500;
    loop {
        let now = now_ms();
        let wake = match slot.deadline(limits) {
            Some((deadline, end)) if deadline <= now => return end,
            Some((deadline, _)) => deadline.min(now + TICK),
            None => now + TICK,
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wake - now)) => {}
            () = slot.evict.notified() => return ConnectionEnd::Evicted,
        }
    }
}

fn classify(e: &(dyn std::error::Error + 'static), slot: &Slot) -> ConnectionEnd {
    if slot.body_timed_out.load(Ordering::Relaxed) {
        return ConnectionEnd::BodyTimeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() {
                return ConnectionEnd::ProtocolError;
            }
            if h.is_timeout() {
                return ConnectionEnd::HeaderTimeout;
            }
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                return ConnectionEnd::ClientGone;
            }
        }
        if err.downcast_ref::<io::Error>().is_some() {
            return ConnectionEnd::ClientGone;
        }
        source = err.source();
    }
    ConnectionEnd::ClientGone
}

/// The TCP stream, reporting reads and writes to its slot.
struct Tracked {
    stream: TcpStream,
    slot: Arc<Slot>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.slot.on_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.slot.on_write();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.slot.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The routes as one connection's hyper service: marks the connection busy
/// while a request is answered, hands the routes a body with a read
/// timeout, and asks the client to close when the answer came before the
/// whole body was read (an early 401, 413 or 415), so the client does not
/// send its next request into a connection that is about to close.
#[derive(Clone)]
struct ConnService<S> {
    inner: S,
    slot: Arc<Slot>,
    client: ClientAddr,
    body_read: Duration,
}

/// Marks a request finished when dropped (answered, failed or cancelled).
struct InFlight(Arc<Slot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

impl<S> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: tower_service::Service<
            Request<TimedBody>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.slot.request_started();
        let in_flight = InFlight(Arc::clone(&self.slot));
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(self.client);
        let progress = Arc::new(BodyProgress::default());
        let body = TimedBody::new(body, self.body_read, Arc::clone(&progress), &self.slot);
        let http1 = parts.version < Version::HTTP_2;
        let mut inner = self.inner.clone();
        let answer = inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            if http1 && !progress.complete.load(Ordering::Acquire) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            drop(in_flight);
            Ok(response)
        })
    }
}

/// What the service learns of a request body.
#[derive(Default)]
struct BodyProgress {
    /// The whole body arrived (or there was none).
    complete: AtomicBool,
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Nothing arrived for the body read timeout.
    #[error("no part of the request body arrived for {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The connection failed (the client went away).
    #[error(transparent)]
    Read(#[from] hyper::Error),
}

/// A request body that fails with [`BodyError::TimedOut`] when no part of it
/// arrives for the body read timeout while it is being read.
pub struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    progress: Arc<BodyProgress>,
    slot: Option<Arc<Slot>>,
}

impl TimedBody {
    fn new(
        inner: Incoming,
        timeout: Duration,
        progress: Arc<BodyProgress>,
        slot: &Arc<Slot>,
    ) -> Self {
        let open = !inner.is_end_stream();
        if open {
            slot.open_bodies.fetch_add(1, Ordering::AcqRel);
        } else {
            progress.complete.store(true, Ordering::Release);
        }
        TimedBody {
            inner,
            timeout,
            stall: None,
            progress,
            slot: open.then(|| Arc::clone(slot)),
        }
    }

    fn finished(&mut self) {
        self.progress.complete.store(true, Ordering::Release);
        if let Some(slot) = self.slot.take() {
            slot.open_bodies.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for TimedBody {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.open_bodies.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.stall = None;
                if this.inner.is_end_stream() {
                    this.finished();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Read(e)))),
            Poll::Ready(None) => {
                this.finished();
                Poll::Ready(None)
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match stall.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        if let Some(slot) = &this.slot {
                            slot.body_timed_out.store(true, Ordering::Relaxed);
                        }
                        Poll::Ready(Some(Err(BodyError::TimedOut(timeout))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
