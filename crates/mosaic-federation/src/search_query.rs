//! The `q` of a search, from hostile text to words.
//!
//! A search is words only. Anything that is not a letter or a digit
//! (Unicode-aware) separates words, and words are lower-cased. Full-text
//! syntax is never obeyed: quotes, `*`, `^`, `:`, `-`, parentheses and the
//! like vanish as separators, and `OR`, `AND`, `NOT`, `NEAR` are words like
//! any other, matched literally. A row matches when it holds every word.
//!
//! From the words this module renders what each backend's full-text search
//! takes, always as one bound parameter and never pasted into SQL: the SQLite
//! FTS5 `MATCH` expression (each word a quoted string, quotes doubled, side by
//! side for an implicit AND) and the text for PostgreSQL's `plainto_tsquery`
//! (the words joined by spaces).
//!
//! ```
//! use mosaic_federation::search_query::SearchQuery;
//!
//! let q = SearchQuery::parse(r#"NEAR(deploy "prod*") OR -rollback"#).unwrap();
//! assert_eq!(q.terms(), ["near", "deploy", "prod", "or", "rollback"]);
//! assert_eq!(q.fts5_match(), r#""near" "deploy" "prod" "or" "rollback""#);
//! assert_eq!(q.plain_text(), "near deploy prod or rollback");
//! assert!(SearchQuery::parse("  ()*  ").is_err());
//! ```

/// Longest `q` accepted, in bytes of UTF-8.
pub const MAX_QUERY_BYTES: usize = 1000;

/// Most distinct words one search may hold.
pub const MAX_TERMS: usize = 32;

/// A `q` that cannot be searched for; the message names `q`, says what is
/// wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchQueryError {
    /// Empty, blank, or only separators and punctuation.
    #[error(
        "q must contain at least one word: letters or digits (punctuation and search operators are not words)"
    )]
    NoWords,
    /// Over [`MAX_QUERY_BYTES`].
    #[error("q is {0} bytes; at most 1000: search for fewer or shorter words")]
    TooLong(usize),
    /// Over [`MAX_TERMS`] distinct words.
    #[error("q has {0} distinct words; at most 32: search for fewer words")]
    TooManyTerms(usize),
}

/// The words of a valid search: at least one, at most [`MAX_TERMS`], each
/// non-empty, lower-case, made of letters and digits only, without
/// repeats, in the order first given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// Parses a peer's or a user's `q`.
    pub fn parse(q: &str) -> Result<Self, SearchQueryError> {
        if q.len() > MAX_QUERY_BYTES {
            return Err(SearchQueryError::TooLong(q.len()));
        }
        // Lower-case first, then split: lower-casing can yield a combining
        // mark (`İ` becomes `i` and U+0307), which must separate like any
        // other character that is not a letter or digit.
        let lower = q.to_lowercase();
        let mut terms: Vec<String> = Vec::new();
        for word in lower.split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() && !terms.iter().any(|t| t == word) {
                terms.push(word.to_owned());
            }
        }
        if terms.is_empty() {
            return Err(SearchQueryError::NoWords);
        }
        if terms.len() > MAX_TERMS {
            return Err(SearchQueryError::TooManyTerms(terms.len()));
        }
        Ok(Self { terms })
    }

    /// The words.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The words joined by single spaces: the text handed to PostgreSQL's
    /// `plainto_tsquery`, and how the search is shown (in logs, the audit).
    pub fn plain_text(&self) -> String {
        self.terms.join(" ")
    }

    /// The SQLite FTS5 `MATCH` expression: every word a string literal
    /// (`"word"`, a `"` inside doubled), separated by spaces, which FTS5
    /// reads as AND. A string literal is never an operator, a column filter
    /// or a prefix query, whatever it holds.
    pub fn fts5_match(&self) -> String {
        let quoted: Vec<String> = self
            .terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect();
        quoted.join(" ")
    }

    /// A stable fingerprint of the words (64-bit FNV-1a), which a search
    /// cursor carries so that it is refused by any other search. Not a
    /// secret and not a security boundary: a cursor only positions a page
    /// within rows the caller may read anyway.
    pub fn fingerprint(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        for term in &self.terms {
            // 0xFF never occurs in UTF-8, so it separates words unambiguously.
            for byte in term.bytes().chain(std::iter::once(0xFF)) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(PRIME);
            }
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn terms(q: &str) -> Vec<String> {
        SearchQuery::parse(q).unwrap().terms
    }

    #[test]
    fn operators_are_separators_or_literal_words() {
        for (q, want) in [
            ("deploy", vec!["deploy"]),
            ("Deploy PROD", vec!["deploy", "prod"]),
            (r#""quoted phrase""#, vec!["quoted", "phrase"]),
            ("prod*", vec!["prod"]),
            ("NEAR(a b)", vec!["near", "a", "b"]),
            ("NEAR(a b, 5)", vec!["near", "a", "b", "5"]),
            ("a OR b", vec!["a", "or", "b"]),
            ("a AND NOT b", vec!["a", "and", "not", "b"]),
            ("(unbalanced", vec!["unbalanced"]),
            ("title:secret", vec!["title", "secret"]),
            ("^start -minus +plus", vec!["start", "minus", "plus"]),
            ("{title description}: x", vec!["title", "description", "x"]),
            ("'; DROP TABLE tasks; --", vec!["drop", "table", "tasks"]),
            ("snake_case kebab-case", vec!["snake", "case", "kebab"]),
            ("Élan ÜBER naïve", vec!["élan", "über", "naïve"]),
            ("日本語 テキスト", vec!["日本語", "テキスト"]),
            ("v1.2.3 x2", vec!["v1", "2", "3", "x2"]),
            ("a a A", vec!["a"]),
            // Lower-casing `İ` yields a combining mark, which separates.
            ("İstanbul", vec!["i", "stanbul"]),
        ] {
            assert_eq!(terms(q), want, "{q}");
        }
    }

    #[test]
    fn renders_quoted_terms_for_fts5_and_plain_words_for_postgres() {
        let q = SearchQuery::parse(r#"NEAR("x" y) OR z*"#).unwrap();
        assert_eq!(q.fts5_match(), r#""near" "x" "y" "or" "z""#);
        assert_eq!(q.plain_text(), "near x y or z");
    }

    #[test]
    fn refusals_say_what_is_wrong_and_how_to_fix_it() {
        for q in ["", "   ", "\"\"", "*", "() : ^ -", "\u{0307}\u{0301}"] {
            assert_eq!(
                SearchQuery::parse(q),
                Err(SearchQueryError::NoWords),
                "{q:?}"
            );
        }
        assert_eq!(
            SearchQueryError::NoWords.to_string(),
            "q must contain at least one word: letters or digits (punctuation and search operators are not words)"
        );
        let long = "word ".repeat(2048);
        assert_eq!(
            SearchQuery::parse(&long),
            Err(SearchQueryError::TooLong(10240))
        );
        assert_eq!(
            SearchQueryError::TooLong(10240).to_string(),
            "q is 10240 bytes; at most 1000: search for fewer or shorter words"
        );
        assert!(SearchQuery::parse(&"x".repeat(MAX_QUERY_BYTES)).is_ok());
        assert_eq!(
            SearchQuery::parse(&"x".repeat(MAX_QUERY_BYTES + 1)),
            Err(SearchQueryError::TooLong(1001))
        );
        let many: Vec<String> = (0..33).map(|i| format!("w{i}")).collect();
        assert_eq!(
            SearchQuery::parse(&many.join(" ")),
            Err(SearchQueryError::TooManyTerms(33))
        );
        assert_eq!(
            SearchQueryError::TooManyTerms(33).to_string(),
            "q has 33 distinct words; at most 32: search for fewer words"
        );
        assert!(SearchQuery::parse(&many[..32].join(" ")).is_ok());
        // Repeats do not count twice.
        assert!(SearchQuery::parse(&"again ".repeat(100)).is_ok());
    }

    #[test]
    fn fingerprints_tell_searches_apart() {
        let fp = |q: &str| SearchQuery::parse(q).unwrap().fingerprint();
        assert_eq!(fp("Deploy prod"), fp("deploy, PROD!"));
        assert_ne!(fp("deploy prod"), fp("prod deploy"));
        assert_ne!(fp("ab c"), fp("a bc"));
        assert_ne!(fp("deploy"), fp("deploys"));
    }

    /// What every rendered expression must be, whatever the input: string
    /// literals only, separated by single spaces, quotes balanced, nothing
    /// outside a literal, so no operator can be bare.
    fn assert_literals_only(expr: &str) {
        let mut in_literal = false;
        let mut chars = expr.chars().peekable();
        let mut literals = 0;
        while let Some(c) = chars.next() {
            if in_literal {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                    } else {
                        in_literal = false;
                    }
                }
            } else {
                match c {
                    '"' => {
                        in_literal = true;
                        literals += 1;
                    }
                    ' ' => assert_eq!(chars.peek(), Some(&'"'), "{expr}"),
                    other => panic!("{other:?} outside a string literal in {expr}"),
                }
            }
        }
        assert!(!in_literal, "unbalanced quotes in {expr}");
        assert!(literals >= 1, "{expr}");
    }

    proptest! {
        #[test]
        fn any_input_is_refused_cleanly_or_rendered_as_literals(q in "\\PC{0,300}") {
            match SearchQuery::parse(&q) {
                Ok(parsed) => {
                    prop_assert!(!parsed.terms().is_empty() && parsed.terms().len() <= MAX_TERMS);
                    for t in parsed.terms() {
                        prop_assert!(t.chars().all(char::is_alphanumeric), "{t:?}");
                    }
                    assert_literals_only(&parsed.fts5_match());
                    // The words, written plainly, are the same search.
                    let plain = parsed.plain_text();
                    if plain.len() <= MAX_QUERY_BYTES {
                        prop_assert_eq!(SearchQuery::parse(&plain), Ok(parsed));
                    }
                }
                Err(SearchQueryError::TooLong(n)) => prop_assert!(n > MAX_QUERY_BYTES),
                Err(SearchQueryError::TooManyTerms(n)) => prop_assert!(n > MAX_TERMS),
                Err(SearchQueryError::NoWords) => {
                    prop_assert!(!q.to_lowercase().chars().any(char::is_alphanumeric));
                }
            }
        }

        #[test]
        fn operator_soup_never_escapes_its_quotes(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\"".to_owned()), Just("*".to_owned()), Just("(".to_owned()),
                    Just(")".to_owned()), Just("NEAR".to_owned()), Just("OR".to_owned()),
                    Just("AND".to_owned()), Just("NOT".to_owned()), Just(":".to_owned()),
                    Just("^".to_owned()), Just("-".to_owned()), Just("{".to_owned()),
                    Just("+".to_owned()), "[a-z]{1,6}",
                ],
                1..40,
            )
        ) {
            let q = parts.join(" ");
            if let Ok(parsed) = SearchQuery::parse(&q) {
                assert_literals_only(&parsed.fts5_match());
            }
        }
    }
}
