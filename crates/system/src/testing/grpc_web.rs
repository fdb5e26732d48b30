//! A browser's view of a server, for tests: gRPC-Web calls over HTTP/1.1,
//! framed by hand as a browser's client frames them (a 5-byte header per
//! message, the status in a trailer frame), and plain GETs.

use tasknet_proto::prost::Message;

/// A gRPC-Web call's outcome.
#[derive(Debug)]
pub struct WebAnswer {
    /// The response messages, undecoded.
    pub messages: Vec<Vec<u8>>,
    /// `grpc-status`, from the trailer frame or (trailers-only) the headers.
    pub status: i32,
    pub message: String,
    pub headers: http::HeaderMap,
}

impl WebAnswer {
    /// The first message, decoded; panics (a test failure) without one.
    pub fn decode<M: Message + Default>(&self) -> M {
        let first = self
            .messages
            .first()
            .unwrap_or_else(|| panic!("no message: status {} {}", self.status, self.message));
        M::decode(&first[..]).unwrap_or_else(|e| panic!("undecodable message: {e}"))
    }
}

fn status_from(lines: &str) -> (Option<i32>, String) {
    let mut status = None;
    let mut message = String::new();
    for line in lines.split("\r\n") {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "grpc-status" => status = value.trim().parse().ok(),
                "grpc-message" => message = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    (status, message)
}

/// An HTTP/1.1-only client, as a browser on a plain-HTTP origin is.
pub fn http1() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"))
}

/// Calls `rpc` (`/tasknet.v1.ReportingService/StatusBreakdown`) at `url`
/// with gRPC-Web, as a page would: `token` as `authorization: Bearer …`,
/// `origin` as a cross-origin page's `Origin` header.
pub async fn call(
    url: &str,
    rpc: &str,
    request: &impl Message,
    token: Option<&str>,
    origin: Option<&str>,
) -> WebAnswer {
    let payload = request.encode_to_vec();
    let mut body = vec![0u8];
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    body.extend_from_slice(&length.to_be_bytes());
    body.extend_from_slice(&payload);
    let mut call = http1()
        .post(format!("{url}{rpc}"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body);
    if let Some(token) = token {
        call = call.header("authorization", format!("Bearer {token}"));
    }
    if let Some(origin) = origin {
        call = call.header("origin", origin);
    }
    let response = call
        .send()
        .await
        .unwrap_or_else(|e| panic!("gRPC-Web call {rpc}: {e}"));
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert_eq!(response.status(), 200, "gRPC-Web answers in HTTP 200");
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("gRPC-Web body: {e}"));
    let header_lines: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\r\n", v.to_str().unwrap_or_default()))
        .collect();
    let (mut status, mut message) = status_from(&header_lines);
    let mut messages = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 5 {
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let frame = &rest[5..5 + length];
        if rest[0] & 0x80 == 0 {
            messages.push(frame.to_vec());
        } else {
            (status, message) = status_from(&String::from_utf8_lossy(frame));
        }
        rest = &rest[5 + length..];
    }
    assert!(rest.is_empty(), "a truncated gRPC-Web frame");
    WebAnswer {
        messages,
        status: status.unwrap_or_else(|| panic!("no grpc-status in {header_lines}")),
        message,
        headers,
    }
}
