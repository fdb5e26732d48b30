//! The connection to the centre: a fresh HTTP/2 connection per session (a
//! stalled link must not be reused), with the office's bearer token on every
//! call, each call a client span that carries its trace context.

use std::time::Duration;

use tasknet_proto::tonic;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::TracedChannel;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use secrecy::{ExposeSecret, SecretString};

use crate::config::AgentConfig;
use crate::error::{Error, Result};

pub type Client = TaskServiceClient<InterceptedService<TracedChannel, Credentials>>;

/// Adds `authorization: Bearer …` (when configured); the channel below adds
/// `traceparent`, inside the call's client span.
#[derive(Clone, Default)]
pub struct Credentials {
    authorization: Option<MetadataValue<Ascii>>,
}

impl Credentials {
    pub fn new(token: Option<&SecretString>) -> Result<Self> {
        let authorization = token
            .map(|token| {
                MetadataValue::try_from(format!("Bearer {}", token.expose_secret())).map_err(|_| {
                    Error::invalid("token", "contains characters a gRPC header cannot carry")
                })
            })
            .transpose()?;
        Ok(Self { authorization })
    }
}

impl tonic::service::Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Checks the endpoint URL (and reads the CA file) once, when the agent opens.
pub fn endpoint(config: &AgentConfig) -> Result<Endpoint> {
    let settings = &config.push;
    let invalid = |error: &dyn std::error::Error| Error::Endpoint {
        endpoint: config.endpoint.clone(),
        message: chain(error),
    };
    let mut endpoint = Endpoint::from_shared(config.endpoint.clone()).map_err(|e| invalid(&e))?;
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|source| Error::Io {
            action: "read the CA certificate",
            path: path.clone(),
            source,
        })?;
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
        endpoint = endpoint.tls_config(tls).map_err(|e| invalid(&e))?;
    }
    Ok(endpoint
        .connect_timeout(settings.connect_timeout())
        .tcp_nodelay(true)
        // Pings notice a dead link even while no answer is due.
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(settings.ack_timeout())
        .keep_alive_while_idle(true))
}

/// Connects now (not lazily), within the connect timeout.
pub async fn connect(
    endpoint: &Endpoint,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<Client, String> {
    match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(TaskServiceClient::with_interceptor(
            TracedChannel::from_channel(channel),
            credentials.clone(),
        )),
        Ok(Err(error)) => Err(format!(
            "cannot connect to {}: {}",
            endpoint.uri(),
            chain(&error)
        )),
        Err(_) => Err(format!(
            "cannot connect to {}: timed out after {timeout:?}",
            endpoint.uri()
        )),
    }
}

/// An error with its causes, on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
