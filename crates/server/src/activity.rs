//! A tower layer that tells each connection's watchdog when requests are in
//! progress: from the moment a request arrives until its response (a whole
//! stream, for streaming calls) has been sent or abandoned.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

use crate::connections::{ConnectionTable, RequestGuard};

/// Marks requests in progress in the [`ConnectionTable`].
#[derive(Clone)]
pub struct ActivityLayer {
    table: ConnectionTable,
}

impl ActivityLayer {
    pub fn new(table: ConnectionTable) -> Self {
        Self { table }
    }
}

impl<S> Layer<S> for ActivityLayer {
    type Service = ActivityService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ActivityService {
            inner,
            table: self.table.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ActivityService<S> {
    inner: S,
    table: ConnectionTable,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ActivityService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<GuardedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let guard = tasknet_auth::layer::peer_of(&request)
            .and_then(|peer| self.table.activity(peer))
            .map(|activity| activity.begin());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| GuardedBody { body, guard }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as in progress until
    /// it is dropped.
    pub struct GuardedBody<B> {
        #[pin]
        body: B,
        guard: Option<RequestGuard>,
    }
}

impl<B: Body> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
