//! Browsers on the gRPC port: gRPC-Web next to native gRPC (HTTP/1.1 and
//! HTTP/2), CORS for allowed origins (off by default), and a single-page
//! app's static files for plain GETs (no credential needed for those).
//!
//! The layers sit outside the auth layer: a gRPC-Web call is translated to
//! gRPC first and then checked exactly as a native call, with the same
//! `authorization: Bearer …` header. A GET is never an RPC (gRPC and
//! gRPC-Web calls are POSTs), so GETs go to the files and never reach a service.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use anyhow::Context as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, VARY,
};
use http::{Method, Request, Response, StatusCode};
use tasknet_proto::tonic::body::Body;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// What browsers get besides native gRPC.
#[derive(Clone, Default)]
pub struct WebOptions {
    /// Origins (`http://host:port`) whose pages may call the services from
    /// another origin. Empty: no CORS headers at all (same-origin pages need none).
    pub cors_allowed_origins: Vec<String>,
    /// The files GETs are answered from; `None`: GETs reach the gRPC router
    /// (which has nothing for them).
    pub assets: Option<StaticAssets>,
}

impl std::fmt::Debug for WebOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebOptions")
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("assets", &self.assets.is_some())
            .finish()
    }
}

/// Reads a file of the app by its path (`index.html`, `assets/index-3f2a.js`).
pub type AssetLookup = dyn Fn(&str) -> Option<Cow<'static, [u8]>> + Send + Sync;

/// A single-page app's files: `index.html` at `/` and for every path that
/// is not a file (the app routes those itself); files under `assets/` are
/// content-hashed (Vite) and cached for a year, `index.html` never.
#[derive(Clone)]
pub struct StaticAssets {
    lookup: Arc<AssetLookup>,
    /// Gzipped copies of the text files, made on first request (the bundle
    /// is megabytes of JavaScript that gzip cuts to about a third).
    gzipped: Arc<Mutex<HashMap<String, bytes::Bytes>>>,
}

impl StaticAssets {
    pub fn new(
        lookup: impl Fn(&str) -> Option<Cow<'static, [u8]>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            lookup: Arc::new(lookup),
            gzipped: Arc::default(),
        }
    }

    /// The gzipped copy of `name`, made once.
    fn gzipped(&self, name: &str, bytes: &[u8]) -> Option<bytes::Bytes> {
        let mut cache = self.gzipped.lock().ok()?;
        if let Some(copy) = cache.get(name) {
            return Some(copy.clone());
        }
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).ok()?;
        let copy = bytes::Bytes::from(encoder.finish().ok()?);
        cache.insert(name.to_owned(), copy.clone());
        Some(copy)
    }

    /// The answer to a GET or HEAD of `path`.
    fn respond(&self, method: &Method, path: &str, accepts_gzip: bool) -> Response<Body> {
        let path = path.trim_start_matches('/');
        let (name, bytes) = match (self.lookup)(path).filter(|_| !path.is_empty()) {
            Some(bytes) => (path, bytes),
            // A name with an extension is a file the page asked for: a
            // missing one is 404, not the page (which would parse as garbage).
            None if is_file_name(path) => return plain(StatusCode::NOT_FOUND, "not found\n"),
            None => match (self.lookup)("index.html") {
                Some(bytes) => ("index.html", bytes),
                None => return plain(StatusCode::NOT_FOUND, "the dashboard is not built in\n"),
            },
        };
        let cache = if name.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let compressible = is_text(name);
        let gzipped = (compressible && accepts_gzip)
            .then(|| self.gzipped(name, &bytes))
            .flatten();
        let encoded = gzipped.is_some();
        let bytes = gzipped.unwrap_or_else(|| bytes::Bytes::from(bytes.into_owned()));
        let length = bytes.len();
        let body = if method == Method::HEAD {
            Body::empty()
        } else {
            Body::new(http_body_util::Full::new(bytes))
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        if encoded {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if compressible {
            headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        response
    }
}

/// Whether the client takes gzip (`accept-encoding: gzip, br`), unless it
/// refuses it (`gzip;q=0`).
fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let gzip = parts
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("gzip"));
            let refused = parts.any(|param| {
                let param: String = param.chars().filter(|c| !c.is_whitespace()).collect();
                param == "q=0" || param == "q=0.0" || param == "q=0.00" || param == "q=0.000"
            });
            gzip && !refused
        })
}

/// Files worth compressing (images and fonts are compressed already).
fn is_text(name: &str) -> bool {
    let content_type = content_type(name);
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/json" | "application/manifest+json" | "image/svg+xml"
        )
}

fn is_file_name(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(
        bytes::Bytes::from_static(text.as_bytes()),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The content type of a file the dashboard's build produces.
pub fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// The CORS layer for `origins`, `None` when there are none. Preflights are
/// answered here (before authentication, which a preflight never carries);
/// the gRPC-Web headers a connect-es client sends and reads are allowed.
pub fn cors_layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/'))
                .with_context(|| format!("invalid CORS origin {origin:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request_headers = [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "connect-protocol-version",
        "traceparent",
    ];
    let response_headers = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
            .allow_headers(request_headers.map(http::HeaderName::from_static))
            .expose_headers(response_headers.map(http::HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

/// Answers GETs and HEADs from the app's files; passes everything else on.
#[derive(Clone)]
pub struct AssetsLayer {
    assets: Option<StaticAssets>,
}

impl AssetsLayer {
    pub fn new(assets: Option<StaticAssets>) -> Self {
        Self { assets }
    }
}

impl<S> Layer<S> for AssetsLayer {
    type Service = AssetsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AssetsService {
            inner,
            assets: self.assets.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AssetsService<S> {
    inner: S,
    assets: Option<StaticAssets>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for AssetsService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<tasknet_proto::tonic::codegen::StdError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method();
        if let Some(assets) = &self.assets
            && (method == Method::GET || method == Method::HEAD)
        {
            let gzip = accepts_gzip(request.headers());
            let response = assets.respond(method, request.uri().path(), gzip);
            return Box::pin(async move { Ok(response) });
        }
        let future = self.inner.call(request);
        Box::pin(async move { Ok(future.await?.map(Body::new)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn assets() -> StaticAssets {
        StaticAssets::new(|path| match path {
            "index.html" => Some(Cow::Borrowed(b"<!doctype html>page".as_slice())),
            "assets/app-1a2b.js" => Some(Cow::Borrowed(b"console.log(1)".as_slice())),
            _ => None,
        })
    }

    async fn text(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_page_is_served_for_every_route_and_files_by_name() {
        let assets = assets();
        for path in ["/", "/index.html", "/units", "/drill/abc"] {
            let response = assets.respond(&Method::GET, path, false);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
            assert_eq!(text(response).await, "<!doctype html>page");
        }
        let response = assets.respond(&Method::GET, "/assets/app-1a2b.js", false);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(
            response.headers()[CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(text(response).await, "console.log(1)");
        let missing = assets.respond(&Method::GET, "/assets/gone-0000.js", false);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let head = assets.respond(&Method::HEAD, "/", false);
        assert_eq!(head.headers()[CONTENT_LENGTH], "19");
        assert_eq!(text(head).await, "");
    }

    #[tokio::test]
    async fn text_files_go_gzipped_to_clients_that_take_it() {
        use std::io::Read;
        let assets = assets();
        let response = assets.respond(&Method::GET, "/assets/app-1a2b.js", true);
        assert_eq!(response.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[VARY], "accept-encoding");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "console.log(1)");
        let plain = assets.respond(&Method::GET, "/assets/app-1a2b.js", false);
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());

        let mut headers = http::HeaderMap::new();
        assert!(!accepts_gzip(&headers));
        headers.insert("accept-encoding", "br, GZIP;q=0.8".parse().unwrap());
        assert!(accepts_gzip(&headers));
        headers.insert("accept-encoding", "gzip; q=0, br".parse().unwrap());
        assert!(!accepts_gzip(&headers));
        headers.insert("accept-encoding", "deflate".parse().unwrap());
        assert!(!accepts_gzip(&headers));
    }

    #[test]
    fn cors_is_off_without_origins_and_refuses_bad_ones() {
        assert!(cors_layer(&[]).unwrap().is_none());
        assert!(
            cors_layer(&["http://127.0.0.1:5173/".into()])
                .unwrap()
                .is_some()
        );
        assert!(cors_layer(&["bad\norigin".into()]).is_err());
    }
}
