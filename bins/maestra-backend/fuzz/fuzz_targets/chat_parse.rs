//! Arbitrary bytes as a chat request body: parsing never panics, and what
//! it accepts obeys the contract's limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use maestra_backend::chat::{parse, MAX_MESSAGE_CHARS};
use maestra_backend::ids::is_valid_id;

fuzz_target!(|body: &[u8]| {
    match parse(body) {
        Ok(req) => {
            let chars = req.message.chars().count();
            assert!((1..=MAX_MESSAGE_CHARS).contains(&chars));
            assert!(is_valid_id(&req.user_id));
            assert!(is_valid_id(&req.surface_id));
            assert!(is_valid_id(&req.mode));
            assert!(req.conversation_id.as_deref().is_none_or(is_valid_id));
        }
        Err(refusal) => {
            let (err, known) = *refusal;
            assert_eq!(err.status.as_u16(), 400);
            assert_eq!(err.code, "invalid_request");
            // The message is written to logs: one line, no control bytes.
            assert!(!err.message.chars().any(char::is_control));
            for id in [
                &known.user_id,
                &known.surface_id,
                &known.conversation_id,
                &known.mode,
            ] {
                assert!(id.as_deref().is_none_or(is_valid_id));
            }
        }
    }
});
