//! Signed webhook deliveries: the JSON body POSTed with
//! `X-Tasknet-Timestamp` and `X-Tasknet-Signature: v1=<hex HMAC-SHA256 of
//! "<timestamp>.<body>">` under the subscriber's secret, and the
//! notification id as `Idempotency-Key` so a receiver can drop a repeat.

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "X-Tasknet-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Tasknet-Signature";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// How old a delivery's timestamp receivers should accept.
pub const TOLERANCE_SECONDS: i64 = 300;

/// A new signing secret: 32 bytes from a CSPRNG (rand's thread generator,
/// ChaCha seeded from the operating system), hex.
pub fn new_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// The `X-Tasknet-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a receiver checks: the signature matches (in constant time) and the
/// timestamp is within [`TOLERANCE_SECONDS`] of `now`.
pub fn verify(secret: &str, timestamp: i64, body: &str, header: &str, now: i64) -> bool {
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return false;
    }
    let Some(hex_signature) = header.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// POSTs deliveries; any answer other than 2xx, and a timeout, is a failure.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("tasknet-notification")
            .build()?;
        Ok(Self { client })
    }

    pub async fn send(
        &self,
        url: &str,
        secret: &str,
        notification_id: &str,
        body: String,
        timestamp: i64,
    ) -> Result<(), String> {
        let signature = signature(secret, timestamp, &body);
        let response = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, notification_id)
            .body(body)
            .send()
            .await
            .map_err(|error| format!("webhook request failed: {error}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered HTTP {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_expire() {
        let secret = new_secret();
        assert_eq!(secret.len(), "whsec_".len() + 64);
        let body = r#"{"id":"x"}"#;
        let header = signature(&secret, 1_700_000_000, body);
        assert!(verify(&secret, 1_700_000_000, body, &header, 1_700_000_100));
        // Too old, another body, another secret.
        assert!(!verify(
            &secret,
            1_700_000_000,
            body,
            &header,
            1_700_000_301
        ));
        assert!(!verify(
            &secret,
            1_700_000_000,
            "{}",
            &header,
            1_700_000_000
        ));
        assert!(!verify(
            &new_secret(),
            1_700_000_000,
            body,
            &header,
            1_700_000_000
        ));
        // A known vector (Python: hmac.new(b"key", b"1.{}", hashlib.sha256)).
        assert_eq!(
            signature("key", 1, "{}"),
            "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
