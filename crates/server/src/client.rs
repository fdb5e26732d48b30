//! gRPC channels to other tasknet services: each call gets a client span
//! (`tasknet.v1.OrganisationService/AuthenticateToken`, kind client, with
//! the `rpc.*` attributes and the status code it ended with) whose trace
//! context the request carries, and is counted in the process's
//! `rpc_client_call_duration_seconds`; requests carry, when configured, the
//! caller's bearer credential; TLS (with an optional client certificate)
//! when the URL is `https://`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::HeaderValue;
use pin_project_lite::pin_project;
use tasknet_auth::Token;
use tasknet_proto::tonic;
use tonic::body::Body;
use tonic::transport::channel::ResponseFuture as ChannelFuture;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tracing::Span;

use crate::metrics::record_client_call;
use crate::propagation::inject_context;
use crate::rpc_span::{client_span, record_code, record_transport_error};

/// A channel whose calls each get a client span, carry its trace context
/// and (when it holds one) `authorization: Bearer …`; wrap it in any
/// generated client.
#[derive(Clone, Debug)]
pub struct TracedChannel {
    inner: Channel,
    /// Marked sensitive, so it never shows in debug output.
    authorization: Option<HeaderValue>,
}

impl TracedChannel {
    fn new(inner: Channel, authorization: Option<HeaderValue>) -> Self {
        Self {
            inner,
            authorization,
        }
    }

    /// Traces the calls on a channel its caller connected itself (with
    /// settings of its own); sends no credential: add one with an
    /// interceptor around it, which runs before the client span begins.
    pub fn from_channel(channel: Channel) -> Self {
        Self::new(channel, None)
    }
}

impl tower::Service<http::Request<Body>> for TracedChannel {
    type Response = http::Response<TracedBody>;
    type Error = tonic::transport::Error;
    type Future = TracedFuture;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // A child of whatever span the caller is in (the server span of the
        // RPC being answered, for service-to-service calls); the callee's
        // server span becomes this span's child.
        let path = request.uri().path().to_owned();
        let span = client_span(&path);
        inject_context(&span, request.headers_mut());
        if let Some(value) = &self.authorization
            && !request.headers().contains_key(http::header::AUTHORIZATION)
        {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value.clone());
        }
        // Not called inside the span: the channel's buffer would keep a
        // handle to it (the current span) until its worker is done with the
        // request, so the span could end after the response — after a CLI
        // has flushed its spans and exited, losing it.
        let inner = self.inner.call(request);
        TracedFuture {
            inner,
            call: Some(CallSpan::new(span, path)),
        }
    }
}

/// The client span of one call, until the call's status is known. Dropped
/// before that (the caller gave up on a stream, or its deadline passed),
/// the call counts as CANCELLED.
struct CallSpan {
    span: Span,
    path: String,
    started: Instant,
    ended: bool,
}

impl CallSpan {
    fn new(span: Span, path: String) -> Self {
        Self {
            span,
            path,
            started: Instant::now(),
            ended: false,
        }
    }

    /// The call ended with `code`: recorded in its span and the metrics, once.
    fn end(&mut self, code: i32) {
        if !self.ended {
            self.ended = true;
            record_code(&self.span, code);
            record_client_call(&self.path, code, self.started);
        }
    }
}

impl Drop for CallSpan {
    fn drop(&mut self) {
        self.end(tonic::Code::Cancelled as i32);
    }
}

pin_project! {
    /// The response headers of a traced call.
    pub struct TracedFuture {
        #[pin]
        inner: ChannelFuture,
        call: Option<CallSpan>,
    }
}

impl Future for TracedFuture {
    type Output = Result<http::Response<TracedBody>, tonic::transport::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.call.as_ref() {
            Some(call) => call.span.in_scope(|| this.inner.poll(cx)),
            None => this.inner.poll(cx),
        };
        let result = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                // A call that fails before any message answers with its
                // status in the headers (trailers-only); otherwise it comes
                // in the trailers, at the end of the body.
                if let (Some(call), Some(code)) = (call.as_mut(), header_code(response.headers())) {
                    call.end(code);
                }
                Ok(response.map(|body| TracedBody { inner: body, call }))
            }
            Err(error) => {
                if let Some(call) = call.as_mut() {
                    // What the caller sees: UNAVAILABLE.
                    call.end(tonic::Code::Unavailable as i32);
                    record_transport_error(&call.span, &error);
                }
                Err(error)
            }
        })
    }
}

/// `grpc-status` from response headers or trailers, when present.
fn header_code(headers: &http::HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

pin_project! {
    /// A traced call's response body: ends the client span with the status
    /// its trailers carry.
    pub struct TracedBody {
        #[pin]
        inner: Body,
        call: Option<CallSpan>,
    }
}

/// An empty body with no call: what a client answers when an interceptor
/// in front of this channel refuses a request before it is sent.
impl Default for TracedBody {
    fn default() -> Self {
        Self {
            inner: Body::empty(),
            call: None,
        }
    }
}

impl http_body::Body for TracedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let (Poll::Ready(frame), Some(call)) = (&polled, this.call.as_mut()) {
            match frame {
                Some(Ok(frame)) => {
                    if let Some(code) = frame.trailers_ref().and_then(header_code) {
                        call.end(code);
                    }
                }
                Some(Err(status)) => call.end(status.code() as i32),
                // Ended without trailers: tonic reports that as an error of its own.
                None => call.end(tonic::Code::Unknown as i32),
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// TLS for outgoing calls: the CA that signed the servers' certificates,
/// and a client certificate for servers that ask for one (mutual TLS).
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    pub ca_pem: Option<Vec<u8>>,
    /// (certificate, key) in PEM.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name to expect in the server's certificate, when not the URL's host.
    pub domain: Option<String>,
}

/// How a client authenticates to the services it calls.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    pub token: Option<Token>,
    pub tls: Option<ClientTls>,
}

impl ClientOptions {
    /// Options that send `token`.
    pub fn with_token(token: Token) -> Self {
        Self {
            token: Some(token),
            tls: None,
        }
    }
}

/// A channel that connects on first use (and reconnects after failures), so
/// services can start in any order, including inside one process. Sends no
/// credential: see [`connect_lazy_with`].
pub fn connect_lazy(url: &str) -> Result<TracedChannel, tonic::transport::Error> {
    Ok(TracedChannel::new(endpoint(url)?.connect_lazy(), None))
}

/// [`connect_lazy`] with a credential and TLS settings.
pub fn connect_lazy_with(url: &str, options: &ClientOptions) -> anyhow::Result<TracedChannel> {
    let mut endpoint = endpoint(url).with_context(|| format!("invalid endpoint {url:?}"))?;
    if let Some(tls) = &options.tls {
        endpoint = endpoint
            .tls_config(client_tls_config(tls))
            .with_context(|| format!("invalid TLS settings for {url}"))?;
    }
    let authorization = match &options.token {
        Some(token) => {
            let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                .context("the credential is not valid metadata text")?;
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    Ok(TracedChannel::new(endpoint.connect_lazy(), authorization))
}

fn endpoint(url: &str) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true))
}

fn client_tls_config(tls: &ClientTls) -> ClientTlsConfig {
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = &tls.ca_pem {
        config = config.ca_certificate(Certificate::from_pem(ca));
    }
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(Identity::from_pem(cert, key));
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    config
}
