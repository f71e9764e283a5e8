//! Arbitrary text as a search's `q`. Parsing never panics; whatever parses
//! renders an FTS5 expression of string literals only (quotes balanced, no
//! operator, column filter or prefix outside a literal), and its words,
//! written plainly, parse to the same search.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_federation::search_query::{MAX_QUERY_BYTES, MAX_TERMS, SearchQuery, SearchQueryError};

/// `"…" "…"`: literals separated by single spaces, `""` the only quote
/// inside one.
fn assert_literals_only(expr: &str) {
    let mut chars = expr.chars().peekable();
    let mut literals = 0;
    loop {
        assert_eq!(chars.next(), Some('"'), "a literal must open: {expr}");
        literals += 1;
        loop {
            match chars.next() {
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                }
                Some('"') => break,
                Some(_) => {}
                None => panic!("unbalanced quotes: {expr}"),
            }
        }
        match chars.next() {
            None => break,
            Some(' ') => {}
            Some(other) => panic!("{other:?} outside a literal: {expr}"),
        }
    }
    assert!(literals >= 1 && literals <= MAX_TERMS, "{expr}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    match SearchQuery::parse(q) {
        Ok(parsed) => {
            assert!(!parsed.terms().is_empty() && parsed.terms().len() <= MAX_TERMS);
            for term in parsed.terms() {
                assert!(
                    !term.is_empty() && term.chars().all(char::is_alphanumeric),
                    "{term:?}"
                );
            }
            let expr = parsed.fts5_match();
            assert_literals_only(&expr);
            assert_eq!(
                expr.matches("\" \"").count() + 1,
                parsed.terms().len(),
                "{expr}"
            );
            let plain = parsed.plain_text();
            if plain.len() <= MAX_QUERY_BYTES {
                let again = SearchQuery::parse(&plain).expect("plain words parse");
                assert_eq!(again, parsed);
                assert_eq!(again.fingerprint(), parsed.fingerprint());
            }
        }
        Err(SearchQueryError::TooLong(n)) => assert!(n > MAX_QUERY_BYTES && n == q.len()),
        Err(SearchQueryError::TooManyTerms(n)) => assert!(n > MAX_TERMS),
        Err(SearchQueryError::NoWords) => {
            assert!(!q.to_lowercase().chars().any(char::is_alphanumeric));
        }
    }
});
