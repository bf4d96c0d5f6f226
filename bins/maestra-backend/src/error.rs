//! Error answers: one JSON shape for every failure a client can see.

use hyper::StatusCode;

/// A failure answered to the client as
/// `{"error":{"code","message"},"request_id"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Stable machine-readable code, also written to the record.
    pub code: &'static str,
    /// Human-readable explanation; never holds a secret.
    pub message: String,
    /// Seconds for the `Retry-After` header of a 429.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        ApiError { status, code, message, retry_after_s: None }
    }

    /// 400: the request body is not what the endpoint takes.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message.into())
    }

    /// 401: no key, or a wrong one.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer KEY or \
             X-API-Key: KEY)"
                .into(),
        )
    }

    /// 404: no such route.
    pub fn not_found(path: &str) -> Self {
        let shown: String = path.chars().take(100).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {shown:?}"),
        )
    }

    /// 405: a known path with another method.
    pub fn method_not_allowed(allowed: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this path only answers {allowed}"),
        )
    }

    /// 413: the body is over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over {limit} bytes"),
        )
    }

    /// 429: the client's IP is over its request limit.
    pub fn rate_limited(limit: u64, window_s: u64, retry_after_s: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("over {limit} requests in {window_s} s; retry later"),
        );
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// 429: today's spend has reached the daily limit.
    pub fn cost_limited(limit_usd: f64, retry_after_s: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "daily_cost_limit_exceeded",
            format!(
                "the daily cost limit of ${limit_usd:.2} is reached; it \
                 resets at 00:00 UTC"
            ),
        );
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// 502: the upstream failed or answered something unusable.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "upstream_error", message.into())
    }

    /// 500: a fault of ours.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            message.into(),
        )
    }

    /// The JSON body of the answer:
    /// `{"error":{"code":…,"message":…},"request_id":…}`.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        // Written by hand rather than through a `serde_json::Value`,
        // whose maps allocate per key: a flood that is refused by the
        // rate limit gets one of these per request.
        let mut out = Vec::with_capacity(
            64 + self.code.len() + self.message.len() + request_id.len(),
        );
        out.extend_from_slice(b"{\"error\":{\"code\":");
        json::push_str(&mut out, self.code);
        out.extend_from_slice(b",\"message\":");
        json::push_str(&mut out, &self.message);
        out.extend_from_slice(b"},\"request_id\":");
        json::push_str(&mut out, request_id);
        out.push(b'}');
        out
    }
}

/// JSON text written by hand for the answers every request gets, byte
/// for byte as `serde_json` writes it.
pub(crate) mod json {
    /// The length of the start of `bytes` that a JSON string holds as
    /// it is: up to the first quote, backslash or control character.
    pub fn plain_len(bytes: &[u8]) -> usize {
        // Bitwise `|`, not `||`: no branch per byte.
        let special = |b: u8| (b == b'"') | (b == b'\\') | (b < 0x20);
        // Sixteen bytes at a time with no early exit inside a chunk, so
        // that the check compiles to vector compares (a tenth of the
        // instructions of a byte loop); then byte by byte.
        let mut len = 0;
        for chunk in bytes.chunks_exact(16) {
            if chunk.iter().fold(false, |any, &b| any | special(b)) {
                break;
            }
            len += 16;
        }
        len + bytes[len..]
            .iter()
            .position(|&b| special(b))
            .unwrap_or(bytes.len() - len)
    }

    /// Appends `s` as a JSON string.
    pub fn push_str(out: &mut Vec<u8>, s: &str) {
        // Almost every string needs no escape; the rare one that does
        // goes through serde_json itself.
        if plain_len(s.as_bytes()) == s.len() {
            out.reserve(s.len() + 2);
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        } else {
            // Writing to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, s);
        }
    }

    /// Appends `n` in decimal.
    pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[start..]);
    }

    /// Appends `x` as serde_json writes an `f64` (`null` when not
    /// finite).
    pub fn push_f64(out: &mut Vec<u8>, x: f64) {
        let _ = serde_json::to_writer(&mut *out, &x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let e = ApiError::invalid("message is required");
        let v: serde_json::Value =
            serde_json::from_slice(&e.body("req_1")).unwrap();
        assert_eq!(v["error"]["code"], "invalid_request");
        assert_eq!(v["error"]["message"], "message is required");
        assert_eq!(v["request_id"], "req_1");
    }

    #[test]
    fn body_is_what_serde_json_writes() {
        let odd = "quote \" backslash \\ newline \n tab \t nul \u{0} \
                   bell \u{7} del \u{7f} é 😀";
        let errors = [
            ApiError::invalid("message is required"),
            ApiError::invalid(odd),
            ApiError::not_found("/a\"b"),
            ApiError::rate_limited(100, 60, 7),
            ApiError::cost_limited(2.5, 10),
            ApiError::upstream(""),
        ];
        for e in &errors {
            for id in ["req_3f9a0c12b7e4", "", odd] {
                let want = serde_json::to_vec(&serde_json::json!({
                    "error": { "code": e.code, "message": e.message },
                    "request_id": id,
                }))
                .unwrap();
                assert_eq!(
                    String::from_utf8(e.body(id)).unwrap(),
                    String::from_utf8(want).unwrap()
                );
            }
        }
    }

    #[test]
    fn json_text_is_what_serde_json_writes() {
        let mut strings: Vec<String> =
            (0u8..=0x7f).map(|b| format!("a{}b", b as char)).collect();
        strings.extend(
            ["", "plain", "é😀", "\\\"", "\u{1f}", "a\u{2028}b"]
                .map(String::from),
        );
        // Lengths around the vector width, with the escape anywhere.
        for len in 0..40 {
            for at in 0..len {
                let mut s = "x".repeat(len);
                s.replace_range(at..=at, "\"");
                strings.push(s);
            }
        }
        for s in &strings {
            let first_special =
                s.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20);
            assert_eq!(
                json::plain_len(s.as_bytes()),
                first_special.unwrap_or(s.len())
            );
            let mut out = Vec::new();
            json::push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            json::push_u64(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap(), "{n}");
        }
        for x in [0.0, -0.0, 0.000102, 1e-7, 1.5e300, f64::NAN, f64::INFINITY] {
            let mut out = Vec::new();
            json::push_f64(&mut out, x);
            assert_eq!(out, serde_json::to_vec(&x).unwrap(), "{x}");
        }
    }

    #[test]
    fn status_codes() {
        let cases = [
            (ApiError::invalid("x"), 400),
            (ApiError::unauthorized(), 401),
            (ApiError::not_found("/x"), 404),
            (ApiError::method_not_allowed("GET"), 405),
            (ApiError::too_large(1), 413),
            (ApiError::rate_limited(1, 1, 1), 429),
            (ApiError::cost_limited(1.0, 1), 429),
            (ApiError::upstream("x"), 502),
            (ApiError::internal("x"), 500),
        ];
        for (e, status) in cases {
            assert_eq!(e.status.as_u16(), status, "{}", e.code);
        }
    }
}
