//! A credential checked for the whole life of a call, not only when it
//! opens: an `Ingest` or `WatchChanges` stream held for hours must stop when
//! its credential is revoked or expires. The request body re-checks the
//! credential (through the cache) before a frame it hands the handler once
//! the last confirmation is [`RECHECK_INTERVAL`] old, the cache has learned
//! of a refused credential since, or the credential's expiry has passed; the
//! response body re-checks it every [`RECHECK_INTERVAL`] while the call
//! lasts, so a server stream that only sends is stopped too. A refused
//! credential ends the call with UNAUTHENTICATED (UNAVAILABLE when it can no
//! longer be verified at all).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tasknet_proto::tonic::{self, Status};
use tokio::time::{Instant, Sleep};

use crate::principal::{AuthError, Authenticate, Principal};

/// How often a call in progress re-checks its credential through the cache.
/// A revocation therefore ends streams within the cache's lifetime plus this.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Re-checks one call's credential.
pub(crate) struct Revalidation {
    authenticator: Arc<dyn Authenticate>,
    token: Arc<str>,
    /// The credential's expiry, when it has one: the check is due then too.
    expire_at: Option<Instant>,
    /// When a check last confirmed the credential, and the authenticator's
    /// refusal count before it. Frames arriving sooner than
    /// [`RECHECK_INTERVAL`] after it, with no refusal learned since, pass
    /// without a check: a fast client's stream sends tens of thousands of
    /// frames a second.
    confirmed: std::sync::Mutex<Confirmation>,
}

#[derive(Debug, Clone, Copy)]
struct Confirmation {
    at: Instant,
    refusals_seen: u64,
}

impl Revalidation {
    pub(crate) fn new(
        authenticator: Arc<dyn Authenticate>,
        token: &str,
        principal: &Principal,
    ) -> Arc<Self> {
        let expire_at = principal.expire_time.map(|expiry| {
            let left = (expiry - chrono::Utc::now()).to_std().unwrap_or_default();
            Instant::now() + left
        });
        Arc::new(Self {
            token: token.into(),
            expire_at,
            confirmed: std::sync::Mutex::new(Confirmation {
                at: Instant::now(),
                refusals_seen: authenticator.refusals_seen(),
            }),
            authenticator,
        })
    }

    fn check(self: &Arc<Self>) -> BoxFuture<'static, Result<Principal, AuthError>> {
        let this = self.clone();
        Box::pin(async move {
            // Counted before asking: a refusal learned meanwhile makes the
            // next frame ask again.
            let refusals_seen = this.authenticator.refusals_seen();
            let principal = this.authenticator.authenticate(&this.token).await?;
            this.set_confirmed(Confirmation {
                at: Instant::now(),
                refusals_seen,
            });
            Ok(principal)
        })
    }

    /// Whether a frame must wait for a check: the last confirmation is
    /// [`RECHECK_INTERVAL`] old, the authenticator has learned of a refused
    /// credential since (perhaps this one), or the credential has expired.
    fn check_due(&self) -> bool {
        let now = Instant::now();
        if self.expire_at.is_some_and(|expiry| expiry <= now) {
            return true;
        }
        let confirmed = match self.confirmed.lock() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        };
        now.duration_since(confirmed.at) >= RECHECK_INTERVAL
            || self.authenticator.refusals_seen() != confirmed.refusals_seen
    }

    fn set_confirmed(&self, confirmation: Confirmation) {
        match self.confirmed.lock() {
            Ok(mut guard) => *guard = confirmation,
            Err(poisoned) => *poisoned.into_inner() = confirmation,
        }
    }

    /// When the next timed check is due.
    fn next_due(&self) -> Instant {
        let next = Instant::now() + RECHECK_INTERVAL;
        match self.expire_at {
            // Just after the expiry, so the check sees it expired.
            Some(expiry) if expiry > Instant::now() => next.min(expiry + Duration::from_millis(10)),
            _ => next,
        }
    }
}

/// Why a call's credential no longer admits it.
fn refusal(error: AuthError) -> Status {
    match error {
        AuthError::Invalid(reason) => Status::unauthenticated(format!(
            "the credential no longer admits this call: {reason}"
        )),
        AuthError::Unavailable(reason) => Status::unavailable(format!(
            "the credential of this call can no longer be verified: {reason}"
        )),
    }
}

/// A check in progress, polled by the body that started it.
type Check = BoxFuture<'static, Result<Principal, AuthError>>;

fn poll_check(check: &mut Option<Check>, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
    let Some(future) = check.as_mut() else {
        return Poll::Ready(Ok(()));
    };
    let result = std::task::ready!(future.as_mut().poll(cx));
    *check = None;
    Poll::Ready(result.map(drop).map_err(refusal))
}

/// The request body of a call: the credential is re-checked before a frame
/// when a check is due, and a refusal is the body's error (the handler's
/// stream yields it).
pub(crate) struct CheckedRequest {
    inner: tonic::body::Body,
    revalidation: Arc<Revalidation>,
    /// A frame read from the client, held until its check answers.
    held: Option<Frame<tonic::codegen::Bytes>>,
    check: Option<Check>,
    refused: bool,
}

impl CheckedRequest {
    pub(crate) fn new(inner: tonic::body::Body, revalidation: Arc<Revalidation>) -> Self {
        Self {
            inner,
            revalidation,
            held: None,
            check: None,
            refused: false,
        }
    }
}

impl Body for CheckedRequest {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if this.refused {
            return Poll::Ready(None);
        }
        if this.held.is_none() {
            // The frame is taken first (it is what waits for the client),
            // then held until the credential is confirmed (cached answers
            // are ready at once).
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) if frame.is_data() => {
                    if !this.revalidation.check_due() {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    this.held = Some(frame);
                    this.check = Some(this.revalidation.check());
                }
                other => return other,
            }
        }
        match std::task::ready!(poll_check(&mut this.check, cx)) {
            Ok(()) => Poll::Ready(this.held.take().map(Ok)),
            Err(status) => {
                this.held = None;
                this.refused = true;
                Poll::Ready(Some(Err(status)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.refused || (self.held.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body of a call: ends with UNAUTHENTICATED trailers as soon as
/// a timed re-check refuses the credential.
pub(crate) struct CheckedResponse {
    inner: tonic::body::Body,
    revalidation: Arc<Revalidation>,
    sleep: Pin<Box<Sleep>>,
    check: Option<Check>,
    done: bool,
}

impl CheckedResponse {
    pub(crate) fn new(inner: tonic::body::Body, revalidation: Arc<Revalidation>) -> Self {
        let sleep = Box::pin(tokio::time::sleep_until(revalidation.next_due()));
        Self {
            inner,
            revalidation,
            sleep,
            check: None,
            done: false,
        }
    }

    /// Ready with the refusal once a timed check refuses the credential.
    fn poll_refused(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        loop {
            match poll_check(&mut self.check, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(status)) => return Poll::Ready(status),
                Poll::Ready(Ok(())) => {}
            }
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.check = Some(self.revalidation.check());
            let due = self.revalidation.next_due();
            self.sleep.as_mut().reset(due);
        }
    }
}

impl Body for CheckedResponse {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(status) = this.poll_refused(cx) {
            this.done = true;
            let mut trailers = http::HeaderMap::new();
            if let Err(error) = status.add_header(&mut trailers) {
                tracing::warn!(%error, "cannot encode the refusal of a call");
            }
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = &polled {
            this.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
