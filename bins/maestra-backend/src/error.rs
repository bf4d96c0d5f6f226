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

    /// The JSON body of the answer.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        let doc = serde_json::json!({
            "error": { "code": self.code, "message": self.message },
            "request_id": request_id,
        });
        serde_json::to_vec(&doc).unwrap_or_default()
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
