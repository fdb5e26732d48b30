//! Connection limits: how many connections the server holds (in total and
//! per client address), how long a connection may take to begin its first
//! request and may stay idle, HTTP/2 keep-alive pings, and the HTTP/2 window
//! sizes that slow a fast client down instead of disconnecting it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The listener's limits (`connections.*` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Connections held at once; a connection beyond it is closed as soon as
    /// it is accepted, and the connections already open keep working.
    pub max_connections: usize,
    /// Connections held at once from one IP address (behind a proxy or NAT
    /// every client has the proxy's address: raise it there).
    pub max_connections_per_address: usize,
    /// A new connection (TLS handshake included) must begin its first
    /// request within this many seconds, or it is closed. 0: no limit.
    pub handshake_timeout_secs: u64,
    /// A connection with no request in progress for this many seconds is
    /// closed (clients reconnect on their next call). 0: no limit.
    pub idle_timeout_secs: u64,
    /// Seconds between HTTP/2 PINGs the server sends on each connection
    /// (TCP keep-alive probes use the same interval). 0: no pings.
    pub keepalive_interval_secs: u64,
    /// A connection whose peer does not answer a PING within this many
    /// seconds is closed (a vanished client, a half-open connection).
    pub keepalive_timeout_secs: u64,
    /// HTTP/2 streams (calls in progress) per connection; more wait at the client.
    pub max_concurrent_streams: u32,
    /// Bytes a client may send on one stream before the service reads them
    /// (the HTTP/2 stream window): the back-pressure on a fast `Ingest`.
    pub stream_window_bytes: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_connections_per_address: 128,
            handshake_timeout_secs: 10,
            idle_timeout_secs: 300,
            keepalive_interval_secs: 30,
            keepalive_timeout_secs: 20,
            max_concurrent_streams: 64,
            stream_window_bytes: 64 * 1024,
        }
    }
}

/// The HTTP/2 library (h2 ≥ 0.4.16) closes a connection with GOAWAY
/// `ENHANCE_YOUR_CALM` ("too_many_data_frames") when the framing overhead of
/// the small DATA frames it holds unread exceeds a budget of half the
/// connection window; each frame of `n < 256` bytes costs `256 - n`. What a
/// client can make the server hold unread is bounded by the stream windows
/// (`max_concurrent_streams × stream_window_bytes`), so a connection window
/// of twice this factor times that bound keeps a well-behaved client — one
/// sending messages of at least [`SMALLEST_FRAME`] bytes, however fast —
/// within the budget: it is slowed by the stream windows, never cut off.
/// The connection window itself buffers nothing beyond the stream windows.
const OVERHEAD_FACTOR: u64 = (256 - SMALLEST_FRAME) / SMALLEST_FRAME;

/// The smallest DATA frame a well-behaved gRPC client sends: a 5-byte
/// message header and a few bytes of message (an Ingest item is over 80).
pub const SMALLEST_FRAME: u64 = 16;

/// The largest HTTP/2 window (2^31 - 1).
const MAX_WINDOW: u64 = (1 << 31) - 1;

impl ConnectionLimits {
    pub fn handshake_timeout(&self) -> Option<Duration> {
        nonzero_secs(self.handshake_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Option<Duration> {
        nonzero_secs(self.idle_timeout_secs)
    }

    pub fn keepalive_interval(&self) -> Option<Duration> {
        nonzero_secs(self.keepalive_interval_secs)
    }

    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs.max(1))
    }

    /// The connection window that keeps the small-frame budget out of reach
    /// of a well-behaved client (see [`OVERHEAD_FACTOR`]).
    pub fn connection_window_bytes(&self) -> u32 {
        let unread = u64::from(self.max_concurrent_streams) * u64::from(self.stream_window_bytes);
        let window = (2 * OVERHEAD_FACTOR * unread).clamp(1024 * 1024, MAX_WINDOW);
        u32::try_from(window).unwrap_or(u32::MAX >> 1)
    }

    /// Refuses settings the server cannot honour, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_connections > 0,
            "connections.max_connections must be at least 1"
        );
        anyhow::ensure!(
            self.max_connections_per_address > 0,
            "connections.max_connections_per_address must be at least 1"
        );
        anyhow::ensure!(
            self.max_concurrent_streams > 0,
            "connections.max_concurrent_streams must be at least 1"
        );
        anyhow::ensure!(
            (16 * 1024..=16 * 1024 * 1024).contains(&self.stream_window_bytes),
            "connections.stream_window_bytes must be between 16384 and 16777216"
        );
        let unread = u64::from(self.max_concurrent_streams) * u64::from(self.stream_window_bytes);
        anyhow::ensure!(
            2 * OVERHEAD_FACTOR * unread <= MAX_WINDOW,
            "connections.max_concurrent_streams × connections.stream_window_bytes must be at \
             most {} bytes (it is {unread}): more could be cut off by the HTTP/2 layer's \
             small-frame limit instead of slowed down",
            MAX_WINDOW / (2 * OVERHEAD_FACTOR)
        );
        Ok(())
    }
}

fn nonzero_secs(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_keep_the_frame_budget_out_of_reach() {
        let limits = ConnectionLimits::default();
        limits.validate().unwrap();
        let unread =
            u64::from(limits.max_concurrent_streams) * u64::from(limits.stream_window_bytes);
        // Budget (half the window) covers the overhead of everything unread in 16-byte frames.
        let budget = u64::from(limits.connection_window_bytes()) / 2;
        assert!(budget >= unread / SMALLEST_FRAME * (256 - SMALLEST_FRAME));
    }

    #[test]
    fn settings_that_would_outgrow_the_window_are_refused() {
        let limits = ConnectionLimits {
            max_concurrent_streams: 1000,
            stream_window_bytes: 1024 * 1024,
            ..ConnectionLimits::default()
        };
        let error = limits.validate().unwrap_err().to_string();
        assert!(
            error.contains("connections.max_concurrent_streams"),
            "{error}"
        );
    }
}
