//! gRPC channels to other tasknet services that carry the caller's trace context.

use std::time::Duration;
use tasknet_proto::tonic;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::propagation::inject_current_context;

/// Adds `traceparent` to every outgoing request.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_current_context(request.metadata_mut());
        Ok(request)
    }
}

/// A channel whose requests carry trace context; wrap it in any generated client.
pub type TracedChannel = InterceptedService<Channel, TraceContextInterceptor>;

/// A channel that connects on first use (and reconnects after failures), so
/// services can start in any order, including inside one process.
pub fn connect_lazy(url: &str) -> Result<TracedChannel, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, TraceContextInterceptor))
}
