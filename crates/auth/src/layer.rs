//! The tower layer in front of every tasknet service: reads the bearer
//! token, authenticates it (through a cache), checks the RPC against the
//! policy table and the caller's rate limit, and hands the handler an
//! [`AuthContext`] in the request's extensions. Refusals are answered here,
//! before any handler runs, and recorded (rate-limited) in the audit log of
//! the service that was called, as are the refusals handlers return
//! (PERMISSION_DENIED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED). The credential
//! is checked again for the whole life of the call (`revalidate`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tasknet_proto::tonic::{self, Code, Status};
use tasknet_proto::v1::AuditOutcome;
use tower::{Layer, Service};

use crate::audit::{AuditEntry, AuditLog};
use crate::policy::Policy;
use crate::principal::{AuthContext, Authenticate, Principal, role_name};
use crate::rate::{KeyedLimiter, Rate, Take};
use crate::revalidate::{CheckedRequest, CheckedResponse, Revalidation};

/// Requests per second each credential may make by default, and its burst.
pub const DEFAULT_RATE: Rate = Rate {
    per_second: 200.0,
    burst: 400.0,
};

/// What the layer needs.
pub struct AuthConfig {
    pub authenticator: Arc<dyn Authenticate>,
    pub policy: Policy,
    /// Per-credential request rate.
    pub rate: Rate,
    /// Each service's audit log, by its full name (`tasknet.v1.TaskService`).
    pub audit: HashMap<String, AuditLog>,
}

struct Guard {
    authenticator: Arc<dyn Authenticate>,
    policy: Policy,
    limiter: KeyedLimiter,
    audit: HashMap<String, AuditLog>,
}

/// Checks every request (see the module documentation).
#[derive(Clone)]
pub struct AuthLayer {
    /// `None`: authentication is disabled and every caller is unrestricted.
    guard: Option<Arc<Guard>>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl AuthLayer {
    pub fn new(config: AuthConfig) -> Self {
        Self {
            guard: Some(Arc::new(Guard {
                authenticator: config.authenticator,
                policy: config.policy,
                limiter: KeyedLimiter::new(config.rate),
                audit: config.audit,
            })),
        }
    }

    /// No checks: every request runs as [`Principal::unrestricted`]. For
    /// tests and embedded servers; the `tasknet` binary never uses it.
    pub fn disabled() -> Self {
        Self { guard: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.guard.is_some()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    guard: Option<Arc<Guard>>,
}

type HttpResponse = http::Response<tonic::body::Body>;

type HttpRequest = http::Request<tonic::body::Body>;

impl<S> Service<HttpRequest> for AuthService<S>
where
    S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<HttpResponse, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest) -> Self::Future {
        // The clone that was polled ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            if Policy::is_open(&path) {
                return inner.call(request).await;
            }
            let peer = peer_of(&request);
            let Some(guard) = guard else {
                request.extensions_mut().insert(AuthContext {
                    principal: Principal::unrestricted(),
                    peer,
                    rpc: path,
                });
                return inner.call(request).await;
            };
            let (context, revalidation) = match guard.admit(&path, request.headers(), peer).await {
                Ok(admitted) => admitted,
                Err(status) => return Ok(status.into_http()),
            };
            request.extensions_mut().insert(context.clone());
            // The credential is checked again for as long as the call lasts.
            let request = request.map(|body| {
                tonic::body::Body::new(CheckedRequest::new(body, revalidation.clone()))
            });
            let mut response = inner.call(request).await?;
            guard.after(&context, &mut response);
            Ok(response
                .map(|body| tonic::body::Body::new(CheckedResponse::new(body, revalidation))))
        })
    }
}

impl Guard {
    /// Authenticates and authorises a request, or says why not (recording it).
    async fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<(AuthContext, Arc<Revalidation>), Status> {
        let reject = |principal: Option<&Principal>, outcome, status: Status| {
            self.record(principal, path, peer, outcome, status.message());
            status
        };
        let token = bearer_token(headers)
            .map_err(|status| reject(None, AuditOutcome::Unauthenticated, status))?;
        let principal = match self.authenticator.authenticate(token).await {
            Ok(principal) => principal,
            Err(error) => {
                let status = Status::from(error);
                if status.code() == Code::Unauthenticated {
                    return Err(reject(None, AuditOutcome::Unauthenticated, status));
                }
                return Err(status);
            }
        };
        if let Err(refusal) = self.policy.check(path, principal.role) {
            let status =
                Status::permission_denied(format!("{}: {}", principal.describe(), refusal.0));
            return Err(reject(Some(&principal), AuditOutcome::Denied, status));
        }
        if self.limiter.take(&principal.credential_id) == Take::Refused {
            let rate = self.limiter.rate();
            let status = Status::resource_exhausted(format!(
                "rate limit: credential {} ({}) may make {} requests per second (bursts of {}); retry later",
                principal.credential_id,
                role_name(principal.role),
                rate.per_second,
                rate.burst
            ));
            return Err(reject(Some(&principal), AuditOutcome::Invalid, status));
        }
        let revalidation = Revalidation::new(self.authenticator.clone(), token, &principal);
        let context = AuthContext {
            principal,
            peer,
            rpc: path.to_owned(),
        };
        Ok((context, revalidation))
    }

    /// Records refusals the handler answered with.
    fn after(&self, context: &AuthContext, response: &mut HttpResponse) {
        let Some(code) = response
            .headers()
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<i32>().ok())
        else {
            return;
        };
        if code == Code::OutOfRange as i32
            && message_of(response).contains("message length too large")
        {
            // tonic answers an oversize message OUT_OF_RANGE; it is a
            // request over a limit, which tasknet answers RESOURCE_EXHAUSTED.
            response.headers_mut().insert(
                "grpc-status",
                http::HeaderValue::from(Code::ResourceExhausted as i32),
            );
        }
        let outcome = match Code::from_i32(code) {
            Code::PermissionDenied => AuditOutcome::Denied,
            Code::InvalidArgument | Code::ResourceExhausted | Code::OutOfRange => {
                AuditOutcome::Invalid
            }
            _ => return,
        };
        let message = message_of(response);
        self.record(
            Some(&context.principal),
            &context.rpc,
            context.peer,
            outcome,
            &message,
        );
    }

    fn record(
        &self,
        principal: Option<&Principal>,
        path: &str,
        peer: Option<SocketAddr>,
        outcome: AuditOutcome,
        message: &str,
    ) {
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let entry = AuditEntry::rejected(
            principal,
            path,
            peer.map(|p| p.to_string()),
            outcome,
            message,
        );
        match self.audit.get(service) {
            Some(log) => log.record_rejection(entry),
            None => {
                tracing::warn!(rpc = %path, %message, "rejected request (no audit log for this service)")
            }
        }
    }
}

/// The (decoded) `grpc-message` of a trailers-only response.
fn message_of(response: &HttpResponse) -> String {
    response
        .headers()
        .get("grpc-message")
        .and_then(|value| value.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default()
}

/// The token of an `authorization: Bearer <token>` header.
fn bearer_token(headers: &http::HeaderMap) -> Result<&str, Status> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
        Status::unauthenticated(
            "missing credential: send the metadata `authorization: Bearer tn_…`",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("the authorization metadata is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Status::unauthenticated(
            "the authorization metadata must be `Bearer <token>`",
        )),
    }
}

/// The caller's address, over plain TCP or TLS.
pub fn peer_of<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        })
}

/// `grpc-message` is percent-encoded (RFC 3986 style, per the gRPC spec).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_metadata() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            bearer_token(&headers).unwrap_err().code(),
            Code::Unauthenticated
        );
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(
            bearer_token(&headers).unwrap_err().code(),
            Code::Unauthenticated
        );
        headers.insert("authorization", "bearer tn_x".parse().unwrap());
        assert_eq!(bearer_token(&headers).unwrap(), "tn_x");
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b%3A c"), "a b: c");
        assert_eq!(percent_decode("Đ%"), "Đ%");
    }
}
