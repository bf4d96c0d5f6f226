//! API-key checks.
//!
//! A key comes as `Authorization: Bearer KEY`, as `X-API-Key: KEY`, or,
//! for browsers opening the dashboard, as HTTP Basic credentials whose
//! password is the key. Keys are compared in constant time so a client
//! cannot learn a key byte by byte from response times.

use hyper::header::{HeaderMap, AUTHORIZATION};

/// The configured keys.
pub struct Keys {
    keys: Vec<Vec<u8>>,
}

impl Keys {
    /// Keys to accept; an empty list turns auth off.
    pub fn new(keys: &[String]) -> Keys {
        Keys { keys: keys.iter().map(|k| k.as_bytes().to_vec()).collect() }
    }

    /// True when the request may pass: auth is off, or it carries one of
    /// the keys.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if self.keys.is_empty() {
            return true;
        }
        let Some(given) = presented_key(headers) else {
            return false;
        };

        // Every key is compared, whatever matched, so the time taken does
        // not tell which key or how much of it matched.
        let mut ok = false;
        for key in &self.keys {
            ok |= constant_time_eq(key, &given);
        }
        ok
    }
}

/// The key a request presents, if any.
fn presented_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    if let Some(v) = headers.get("x-api-key") {
        return Some(v.as_bytes().to_vec());
    }
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = split_scheme(value)?;
    if scheme.eq_ignore_ascii_case(b"bearer") {
        return Some(rest.to_vec());
    }
    if scheme.eq_ignore_ascii_case(b"basic") {
        let decoded = base64_decode(rest)?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    None
}

fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let rest = &value[space + 1..];
    let start = rest.iter().position(|&b| b != b' ')?;
    Some((&value[..space], &rest[start..]))
}

/// Equality whose running time depends only on the lengths.
fn constant_time_eq(key: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(key.len() != given.len());
    for (i, k) in key.iter().enumerate() {
        diff |= k ^ given.get(i).copied().unwrap_or(!k);
    }
    diff == 0
}

/// Standard base64 (with or without padding); `None` on any other byte.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in input.iter().take_while(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn key_checks() {
        let keys = Keys::new(&["s3cret".to_string(), "other".to_string()]);
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("authorization", "Bearer s3cret")], true),
            (&[("authorization", "bearer   other")], true),
            (&[("authorization", "Bearer s3cre")], false),
            (&[("authorization", "Bearer s3cret2")], false),
            (&[("authorization", "Bearer S3CRET")], false),
            (&[("authorization", "Bearer ")], false),
            (&[("authorization", "s3cret")], false),
            (&[("x-api-key", "s3cret")], true),
            (&[("x-api-key", "")], false),
            // "maestra:s3cret" in base64.
            (&[("authorization", "Basic bWFlc3RyYTpzM2NyZXQ=")], true),
            (&[("authorization", "Basic !!!")], false),
        ];
        for (pairs, ok) in cases {
            assert_eq!(keys.allows(&headers(pairs)), *ok, "{pairs:?}");
        }
    }

    #[test]
    fn no_keys_means_open() {
        assert!(Keys::new(&[]).allows(&HeaderMap::new()));
    }

    #[test]
    fn equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
