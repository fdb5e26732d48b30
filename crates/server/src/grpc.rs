//! The gRPC server every service runs: its own services plus health and
//! reflection, a span per RPC (child of the caller's trace), and graceful
//! shutdown (health goes NOT_SERVING, in-flight RPCs drain within a limit).

use std::net::SocketAddr;
use std::time::Duration;
use tasknet_proto::tonic;

use anyhow::Context;
use tasknet_auth::AuthLayer;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tower_http::trace::TraceLayer;

use crate::Shutdown;
use crate::activity::ActivityLayer;
use crate::connections::ConnectionTable;
use crate::limits::ConnectionLimits;
use crate::web::{AssetsLayer, WebOptions, cors_layer};
use futures::StreamExt;

/// Server settings beyond the services themselves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long in-flight RPCs (including open streams) may run after shutdown begins.
    pub drain_timeout: Duration,
    /// Largest request message accepted, in bytes (each service sets its
    /// own, smaller limit on its messages).
    pub max_message_bytes: usize,
    /// Authentication and authorisation of every RPC but health and
    /// reflection. The default is *disabled* (every caller unrestricted),
    /// for tests and embedded servers; the `tasknet` binary always enables it.
    pub auth: AuthLayer,
    /// TLS on the listener; plain TCP when `None`.
    pub tls: Option<ServerTls>,
    /// What each service needs to do its job, checked for its health status.
    pub readiness: crate::Readiness,
    /// Browsers: CORS origins and the dashboard's files (gRPC-Web is always on).
    pub web: WebOptions,
    /// Connection limits, timeouts, keep-alive and HTTP/2 windows.
    pub connections: ConnectionLimits,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(10),
            max_message_bytes: 4 * 1024 * 1024,
            auth: AuthLayer::disabled(),
            tls: None,
            readiness: crate::Readiness::default(),
            web: WebOptions::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

/// A server certificate and key (PEM), and optionally the CA whose client
/// certificates it accepts (mutual TLS, e.g. for office agents).
#[derive(Clone)]
pub struct ServerTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub client_ca_pem: Option<Vec<u8>>,
    /// With a client CA: refuse connections without a client certificate.
    pub require_client_cert: bool,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("client_ca", &self.client_ca_pem.is_some())
            .field("require_client_cert", &self.require_client_cert)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads the PEM files.
    pub fn from_files(
        cert: &std::path::Path,
        key: &std::path::Path,
        client_ca: Option<&std::path::Path>,
        require_client_cert: bool,
    ) -> anyhow::Result<Self> {
        let read = |path: &std::path::Path| {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        };
        Ok(Self {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            client_ca_pem: client_ca.map(read).transpose()?,
            require_client_cert,
        })
    }

    fn config(&self, handshake_timeout: Option<Duration>) -> ServerTlsConfig {
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        if let Some(timeout) = handshake_timeout {
            config = config.timeout(timeout);
        }
        if let Some(ca) = &self.client_ca_pem {
            config = config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(!self.require_client_cert);
        }
        config
    }
}

/// A bound listener, ready to serve. Binding first lets callers (and tests
/// that bind port 0) learn the real address before serving starts.
pub struct GrpcServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    connections: ConnectionTable,
}

impl GrpcServer {
    pub async fn bind(addr: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("failed to listen on {addr}"))?;
        let local_addr = listener
            .local_addr()
            .context("failed to read the bound address")?;
        Ok(Self {
            listener,
            local_addr,
            connections: ConnectionTable::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The connections this server holds (how many are open, how many were refused).
    pub fn connections(&self) -> ConnectionTable {
        self.connections.clone()
    }

    /// Serves `routes` (whose fully qualified names are `service_names`) plus
    /// health and reflection until `shutdown` fires, then drains.
    pub async fn serve(
        self,
        routes: Routes,
        service_names: &[&str],
        shutdown: Shutdown,
        options: ServeOptions,
    ) -> anyhow::Result<()> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        for name in service_names {
            health_reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        health_reporter
            .set_service_status("", ServingStatus::Serving)
            .await;

        let reflection_v1 = reflection_builder().build_v1().context("reflection v1")?;
        let reflection_v1alpha = reflection_builder()
            .build_v1alpha()
            .context("reflection v1alpha")?;

        let routes = routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        let trace_layer = TraceLayer::new_for_grpc()
            .make_span_with(crate::rpc_span::make_span)
            .on_response(crate::rpc_span::on_response)
            .on_failure(crate::rpc_span::on_failure);

        tokio::spawn(
            options
                .readiness
                .clone()
                .watch(health_reporter.clone(), shutdown.clone()),
        );
        let names: Vec<String> = service_names.iter().map(|s| (*s).to_owned()).collect();
        let drain_start = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.wait().await;
                // Load balancers and probes see NOT_SERVING before connections close.
                for name in &names {
                    health_reporter
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
                health_reporter
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
                tracing::info!("shutting down: draining in-flight requests");
            }
        };

        if !options.auth.is_enabled() {
            tracing::warn!(
                "authentication is disabled on this server: every caller is unrestricted"
            );
        }
        let limits = &options.connections;
        limits.validate()?;
        let cors = cors_layer(&options.web.cors_allowed_origins)?;
        // HTTP/1.1 too: browsers' gRPC-Web and the dashboard's files.
        let mut builder = Server::builder()
            .accept_http1(true)
            .http2_keepalive_interval(limits.keepalive_interval())
            .http2_keepalive_timeout(Some(limits.keepalive_timeout()))
            .max_concurrent_streams(limits.max_concurrent_streams)
            .initial_stream_window_size(limits.stream_window_bytes)
            .initial_connection_window_size(limits.connection_window_bytes());
        if let Some(tls) = &options.tls {
            builder = builder
                .tls_config(tls.config(limits.handshake_timeout()))
                .context("invalid TLS settings")?;
        }
        // The builder's tcp_nodelay applies only to listeners it binds itself;
        // without it on accepted sockets, a response of more than one segment
        // waits ~40 ms for the client's delayed ACK (Nagle).
        let table = self.connections.clone();
        let admission = limits.clone();
        let incoming = TcpIncoming::from(self.listener)
            .with_nodelay(Some(true))
            .with_keepalive(limits.keepalive_interval())
            .filter_map(move |accepted| {
                let admitted = accepted.map(|stream| table.admit(stream, &admission));
                async move {
                    match admitted {
                        Ok(admitted) => admitted.map(Ok::<_, std::io::Error>),
                        Err(error) if is_transient(&error) => None,
                        Err(error) => {
                            // Out of file descriptors (or similar): the
                            // listener stays readable, so pause instead of
                            // spinning on accept.
                            tracing::warn!(%error, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            None
                        }
                    }
                }
            });
        // Layers added later wrap closer to the services: the auth check
        // runs inside the RPC's span.
        let server = builder
            .layer(ActivityLayer::new(self.connections.clone()))
            .layer(AssetsLayer::new(options.web.assets.clone()))
            .layer(trace_layer)
            .layer(crate::metrics::RpcMetricsLayer)
            .layer(tower::util::option_layer(cors))
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(options.auth.clone())
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, drain_start);

        tokio::pin!(server);
        tokio::select! {
            result = &mut server => {
                // The streams' own tasks (ingest, change feeds) end with them.
                if shutdown.is_triggered() {
                    shutdown.finished(options.drain_timeout).await;
                }
                result.context("gRPC server failed")
            }
            () = async {
                shutdown.wait().await;
                tokio::time::sleep(options.drain_timeout).await;
            } => {
                tracing::warn!(
                    limit = ?options.drain_timeout,
                    "in-flight requests did not drain in time; closing them"
                );
                Ok(())
            }
        }
    }
}

/// Accept errors about one connection only (it went away before it was accepted).
fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    )
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tasknet_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}
