//! Arbitrary strings as a peer's list cursor. Decoding never panics, and a
//! decoded cursor re-encodes to one that decodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_federation::cursor::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cursor) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }
});
