//! A webhook receiver for tests, on loopback, that does what the docs tell
//! receivers to do: verify `X-Tasknet-Signature` (HMAC-SHA256 of
//! "<timestamp>.<body>" under the subscription's secret), refuse
//! timestamps older than five minutes, and refuse an `Idempotency-Key` it
//! has already accepted (a replay). It can be told to answer 500 to the
//! first attempts, and records every request it saw.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::task::JoinHandle;

/// One request as the receiver saw it, and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub idempotency_key: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub status: u16,
}

#[derive(Default)]
struct State {
    secret: String,
    /// Attempts answered 500 before the receiver accepts (per key).
    fail_first: usize,
    failures: std::collections::HashMap<String, usize>,
    accepted: HashSet<String>,
    seen: Vec<SeenRequest>,
}

/// The receiver; stops when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The subscription's secret, as CreateWebhookSubscription returned it.
    pub fn set_secret(&self, secret: &str) {
        self.state.lock().unwrap().secret = secret.to_owned();
    }

    /// Answer 500 to the first `attempts` deliveries of each notification.
    pub fn fail_first(&self, attempts: usize) {
        self.state.lock().unwrap().fail_first = attempts;
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Ids accepted (2xx), each once.
    pub fn accepted(&self) -> HashSet<String> {
        self.state.lock().unwrap().accepted.clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The receiver's check, written from the docs' recipe.
pub fn signature_ok(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(given) = signature
        .strip_prefix("v1=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

async fn receive(
    Extract(state): Extract<Arc<Mutex<State>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let key = header(&headers, "Idempotency-Key");
    let timestamp = header(&headers, "X-Tasknet-Timestamp");
    let signature = header(&headers, "X-Tasknet-Signature");
    let mut state = state.lock().unwrap();
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    let status = if !fresh || !signature_ok(&state.secret, &timestamp, &body, &signature) {
        StatusCode::UNAUTHORIZED
    } else if state.accepted.contains(&key) {
        // A replay (or a repeat after a crash): refused, already handled.
        StatusCode::CONFLICT
    } else if state.failures.get(&key).copied().unwrap_or(0) < state.fail_first {
        *state.failures.entry(key.clone()).or_default() += 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        state.accepted.insert(key.clone());
        StatusCode::OK
    };
    state.seen.push(SeenRequest {
        idempotency_key: key,
        timestamp,
        signature,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: status.as_u16(),
    });
    status
}
