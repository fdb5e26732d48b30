//! Sign-in links for the dashboard: the page's address with the credential
//! in the URL's fragment (`#/signin?token=…`), which browsers never send to
//! the server, so the token stays out of request lines and access logs.

/// The sign-in link for `token` on the dashboard served at `base`
/// (`http://HOST:PORT`, as `tasknet up` prints it).
pub fn sign_in_link(base: &str, token: &str) -> String {
    format!(
        "{}/#/signin?token={}",
        base.trim_end_matches('/'),
        percent_encode(token)
    )
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_in_the_fragment() {
        assert_eq!(
            sign_in_link("http://127.0.0.1:50051/", "tn_ab.c_d"),
            "http://127.0.0.1:50051/#/signin?token=tn_ab.c_d"
        );
        assert_eq!(
            sign_in_link("https://h", "a+b/c="),
            "https://h/#/signin?token=a%2Bb%2Fc%3D"
        );
    }
}
