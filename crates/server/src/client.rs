//! gRPC channels to other tasknet services: each request carries the
//! caller's trace context and, when configured, its bearer credential; TLS
//! (with an optional client certificate) when the URL is `https://`.

use std::time::Duration;
use tasknet_proto::tonic;

use anyhow::Context;
use tasknet_auth::Token;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::propagation::inject_current_context;

/// Adds `traceparent` and, when it holds one, `authorization: Bearer …`
/// to every outgoing request.
#[derive(Clone, Debug, Default)]
pub struct TraceContextInterceptor {
    authorization: Option<AsciiMetadataValue>,
}

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_current_context(request.metadata_mut());
        if let Some(value) = &self.authorization
            && !request.metadata().contains_key("authorization")
        {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel whose requests carry trace context; wrap it in any generated client.
pub type TracedChannel = InterceptedService<Channel, TraceContextInterceptor>;

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
    let channel = endpoint(url)?.connect_lazy();
    Ok(InterceptedService::new(
        channel,
        TraceContextInterceptor::default(),
    ))
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
        Some(token) => Some(
            MetadataValue::try_from(format!("Bearer {}", token.expose()))
                .context("the credential is not valid metadata text")?,
        ),
        None => None,
    };
    Ok(InterceptedService::new(
        endpoint.connect_lazy(),
        TraceContextInterceptor { authorization },
    ))
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
