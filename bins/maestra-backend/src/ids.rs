//! Identifiers: validation of those clients send, and making new ones.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use time::OffsetDateTime;

/// Longest identifier accepted from a client.
pub const MAX_ID_LEN: usize = 128;

/// True when `s` matches `[A-Za-z0-9_.:@-]{1,128}`, the shape of every
/// identifier the server accepts from a client. Anything else could carry
/// newlines or markup into logs, records and alerts.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes().all(|b| ID_BYTES[usize::from(b)])
}

/// The bytes [`is_valid_id`] allows, as a table: every chat request has
/// three or four identifiers to check, and a lookup is a third of the
/// cost of the comparisons.
const ID_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'_' | b'.' | b':' | b'@' | b'-');
        b += 1;
    }
    table
};

/// A new request id such as `req_3f9a0c12b7e4`.
pub fn new_request_id() -> String {
    // Every request that carries no id of its own gets one, /health
    // included: written out by hand, as `format!("req_{:012x}")` would
    // write it, because the formatting machinery costs several times as
    // much as the random bits.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = random_u64();
    let mut id = String::with_capacity(REQUEST_ID_LEN);
    id.push_str("req_");
    for shift in (0..12).rev() {
        id.push(char::from(HEX[(bits >> (shift * 4)) as usize & 0xf]));
    }
    id
}

/// Length of the ids [`new_request_id`] makes.
const REQUEST_ID_LEN: usize = "req_3f9a0c12b7e4".len();

/// A new conversation id such as `conv_2025-12-28_jh_abc12345`: the UTC
/// date, two letters taken from the user id (its first two letters or
/// digits, lowercased, `x` when there are fewer), and eight random
/// lowercase letters and digits.
pub fn new_conversation_id(user_id: &str, now: OffsetDateTime) -> String {
    let mut initials: String = user_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(2)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    while initials.len() < 2 {
        initials.push('x');
    }

    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bits = random_u64();
    let suffix: String = (0..8)
        .map(|_| {
            let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize];
            bits /= ALPHABET.len() as u64;
            c as char
        })
        .collect();

    let date = now.date();
    format!(
        "conv_{:04}-{:02}-{:02}_{initials}_{suffix}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// 64 random-looking bits without a dependency: a per-thread counter run
/// through SipHash with keys the standard library draws from the OS.
/// Good enough for identifiers; not for secrets.
fn random_u64() -> u64 {
    thread_local! {
        static STATE: (RandomState, Cell<u64>) =
            (RandomState::new(), Cell::new(0));
    }
    STATE.with(|(keys, counter)| {
        let n = counter.get().wrapping_add(1);
        counter.set(n);
        let mut h = keys.build_hasher();
        h.write_u64(n);
        h.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_shape() {
        let cases = [
            ("windsurf", true),
            ("user.name@example.com", true),
            ("a:b-c_d", true),
            ("", false),
            ("has space", false),
            ("line\nbreak", false),
            ("ünï", false),
            ("quote\"", false),
        ];
        for (id, ok) in cases {
            assert_eq!(is_valid_id(id), ok, "{id:?}");
        }
        for b in 0..=255u8 {
            let allowed = b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'.' | b':' | b'@' | b'-');
            let s = String::from_utf8_lossy(&[b]).into_owned();
            assert_eq!(is_valid_id(&s), allowed && s.len() == 1, "{b}");
            assert_eq!(ID_BYTES[usize::from(b)], allowed, "{b}");
        }
        assert!(is_valid_id(&"a".repeat(128)));
        assert!(!is_valid_id(&"a".repeat(129)));
    }

    #[test]
    fn request_ids_are_twelve_hex_digits() {
        for _ in 0..1000 {
            let id = new_request_id();
            assert_eq!(id.len(), REQUEST_ID_LEN, "{id}");
            assert_eq!(id.capacity(), REQUEST_ID_LEN, "{id}");
            let hex = id.strip_prefix("req_").unwrap();
            assert!(
                hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
            // The same text as the format! it replaces.
            let n = u64::from_str_radix(hex, 16).unwrap();
            assert_eq!(id, format!("req_{n:012x}"));
        }
    }

    #[test]
    fn request_ids_are_valid_and_distinct() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), "req_3f9a0c12b7e4".len());
        assert!(is_valid_id(&a));
    }

    #[test]
    fn conversation_id_shape() {
        let now = time::macros::datetime!(2025-12-28 15:30 UTC);
        let id = new_conversation_id("justinharmon", now);
        assert!(id.starts_with("conv_2025-12-28_ju_"), "{id}");
        assert_eq!(id.len(), "conv_2025-12-28_jh_abc12345".len());
        assert!(is_valid_id(&id));
        let id = new_conversation_id("@", now);
        assert!(id.starts_with("conv_2025-12-28_xx_"), "{id}");
    }
}
