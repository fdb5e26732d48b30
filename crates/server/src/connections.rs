//! The connections a server holds: admission against the total and
//! per-address limits on accept, and a watchdog on each connection that
//! closes it when it has not begun a request in time or has been idle too long.
//! The process's metrics count the connections open and those refused.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tasknet_proto::tonic::transport::server::{Connected, TcpConnectInfo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::limits::ConnectionLimits;
use crate::metrics::register;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

/// The connections of every server in the process (one per `tasknet serve`
/// or `tasknet up`; a scrape target is a process).
struct ConnectionMetrics {
    open: Gauge,
    refused: Family<LimitLabel, Counter>,
}

static METRICS: LazyLock<ConnectionMetrics> = LazyLock::new(|| {
    let metrics = ConnectionMetrics {
        open: Gauge::default(),
        refused: Family::default(),
    };
    // Both series exist from the start, so a rate over them is defined.
    for limit in [Refusal::Total, Refusal::PerAddress] {
        let _ = metrics.refused.get_or_create(&limit.label());
    }
    register(
        "tasknet_server_connections",
        "Client connections the gRPC server holds open",
        None,
        metrics.open.clone(),
    );
    register(
        "tasknet_server_refused_connections",
        "Connections closed on accept because a limit was reached, by the limit \
         (connections.max_connections or connections.max_connections_per_address)",
        None,
        metrics.refused.clone(),
    );
    metrics
});

/// Registers the connection metrics (before any connection, so a scrape
/// shows them from the start).
pub(crate) fn register_metrics() {
    LazyLock::force(&METRICS);
}

/// Every connection the server holds, by peer address.
#[derive(Clone, Default)]
pub struct ConnectionTable {
    inner: Arc<Mutex<Table>>,
}

#[derive(Default)]
struct Table {
    by_peer: HashMap<SocketAddr, Arc<Activity>>,
    per_address: HashMap<IpAddr, usize>,
    refused: u64,
    last_refusal_log: Option<Instant>,
}

/// What a connection is doing, for its watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<ActivityState>,
}

#[derive(Debug)]
struct ActivityState {
    /// Requests in progress (a stream counts until its response ends).
    active: usize,
    /// Whether any request has begun on this connection.
    requested: bool,
    /// Since when no request has been in progress.
    idle_since: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(ActivityState {
                active: 0,
                requested: false,
                idle_since: Instant::now(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request began; it is in progress until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> RequestGuard {
        let mut state = self.state();
        state.active += 1;
        state.requested = true;
        RequestGuard(self.clone())
    }
}

/// A request in progress on a connection.
pub(crate) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.active = state.active.saturating_sub(1);
        if state.active == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Total,
    PerAddress,
}

impl Refusal {
    /// The configuration key of the limit.
    fn key(self) -> &'static str {
        match self {
            Refusal::Total => "connections.max_connections",
            Refusal::PerAddress => "connections.max_connections_per_address",
        }
    }

    fn label(self) -> LimitLabel {
        LimitLabel { limit: self.key() }
    }
}

impl ConnectionTable {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().by_peer.len()
    }

    /// Connections closed on accept because a limit was reached, so far.
    pub fn refused(&self) -> u64 {
        self.lock().refused
    }

    /// The activity of the connection from `peer`, when the server holds one.
    pub(crate) fn activity(&self, peer: SocketAddr) -> Option<Arc<Activity>> {
        self.lock().by_peer.get(&peer).cloned()
    }

    /// Admits `stream` within `limits`, or closes it (dropping it closes the socket).
    pub fn admit(&self, stream: TcpStream, limits: &ConnectionLimits) -> Option<LimitedIo> {
        let peer = stream.peer_addr().ok()?;
        let admitted = {
            let mut table = self.lock();
            match table.check(peer.ip(), limits) {
                Ok(()) => {
                    let activity = Arc::new(Activity::new());
                    table.by_peer.insert(peer, activity.clone());
                    *table.per_address.entry(peer.ip()).or_default() += 1;
                    METRICS.open.inc();
                    Some(activity)
                }
                Err(refusal) => {
                    table.refuse(refusal, peer);
                    None
                }
            }
        };
        admitted.map(|activity| LimitedIo {
            inner: stream,
            peer,
            table: self.clone(),
            watchdog: Watchdog::new(activity, limits),
        })
    }

    fn release(&self, peer: SocketAddr) {
        let mut table = self.lock();
        if table.by_peer.remove(&peer).is_some() {
            METRICS.open.dec();
        }
        if let Some(count) = table.per_address.get_mut(&peer.ip()) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.per_address.remove(&peer.ip());
            }
        }
    }
}

impl Table {
    fn check(&self, ip: IpAddr, limits: &ConnectionLimits) -> Result<(), Refusal> {
        if self.by_peer.len() >= limits.max_connections {
            return Err(Refusal::Total);
        }
        if self.per_address.get(&ip).copied().unwrap_or(0) >= limits.max_connections_per_address {
            return Err(Refusal::PerAddress);
        }
        Ok(())
    }

    /// Counts a refusal and logs it, at most every ten seconds (a flood of
    /// connections must not become a flood of log lines).
    fn refuse(&mut self, refusal: Refusal, peer: SocketAddr) {
        self.refused += 1;
        METRICS.refused.get_or_create(&refusal.label()).inc();
        let now = Instant::now();
        let due = self
            .last_refusal_log
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(10));
        if due {
            self.last_refusal_log = Some(now);
            let limit = refusal.key();
            tracing::warn!(
                %peer,
                limit,
                refused_so_far = self.refused,
                open = self.by_peer.len(),
                "connection refused: limit reached"
            );
        }
    }
}

/// Closes its connection when it has not begun a request within the
/// handshake timeout, or has had none in progress for the idle timeout.
struct Watchdog {
    activity: Arc<Activity>,
    handshake: Option<Duration>,
    idle: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Watchdog {
    fn new(activity: Arc<Activity>, limits: &ConnectionLimits) -> Self {
        let handshake = limits.handshake_timeout();
        let idle = limits.idle_timeout();
        let sleep = handshake
            .or(idle)
            .map(|first| Box::pin(tokio::time::sleep(first)));
        Self {
            activity,
            handshake,
            idle,
            sleep,
        }
    }

    /// When the connection should be closed, or `Err(next)`: look again then.
    fn deadline(&self, now: Instant) -> Result<(), Option<Instant>> {
        let state = self.activity.state();
        let limit = if state.requested {
            self.idle
        } else {
            self.handshake
        };
        let Some(limit) = limit else {
            return Err(None);
        };
        if state.active > 0 {
            return Err(Some(now + limit));
        }
        let due = state.idle_since + limit;
        if now >= due { Ok(()) } else { Err(Some(due)) }
    }

    /// Ready when the connection must close; otherwise registers the wake-up.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Some(sleep) = self.sleep.as_mut() else {
                return Poll::Pending;
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            match self.deadline(Instant::now()) {
                Ok(()) => return Poll::Ready(()),
                Err(Some(next)) => {
                    if let Some(sleep) = self.sleep.as_mut() {
                        sleep.as_mut().reset(next);
                    }
                }
                Err(None) => self.sleep = None,
            }
        }
    }
}

/// An admitted connection: released from the table when dropped, and
/// ended by its watchdog (reads fail with `TimedOut`).
pub struct LimitedIo {
    inner: TcpStream,
    peer: SocketAddr,
    table: ConnectionTable,
    watchdog: Watchdog,
}

impl Drop for LimitedIo {
    fn drop(&mut self) {
        self.table.release(self.peer);
    }
}

impl Connected for LimitedIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for LimitedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Checked before every read, so a client trickling bytes cannot
        // keep a connection that never begins a request.
        if self.watchdog.poll_expired(cx).is_ready() {
            tracing::debug!(peer = %self.peer, "closing a connection: no request in time");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            )));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
