//! The transcript search language (`?q=`): words, "phrases", `-exclusions`, `OR`, `prefix*`,
//! parsed once and rendered for SQLite FTS5, PostgreSQL `to_tsquery`, or matched in memory.
//!
//! Grammar, in full: a word is a maximal run of alphanumeric characters, lowercased and
//! accent-folded for Latin letters (`Café` is `cafe`, as every backend indexes it); every
//! other character separates words. `"…"` collects words into a phrase (an unclosed quote
//! runs to the end). `-` right before a word or a quote, at the start of the query or after
//! whitespace, excludes that term. `*` right after a word makes it a prefix, and so does
//! ending the query on a bare word (search as you type). `OR`, uppercase and standing alone
//! between two terms, makes them alternatives and binds tighter than the implicit AND:
//! `a b OR c d` means a AND (b OR c) AND d. Nothing else is an operator.

use crate::error::{Error, Result};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most terms a query keeps; more are ignored.
pub const MAX_TERMS: usize = 16;

/// Shortest word that may be matched as a prefix; shorter ones match whole words only.
const MIN_PREFIX_CHARS: usize = 2;

/// One thing to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A word (lowercased), matched as a prefix when `prefix`.
    Word {
        /// The lowercased word.
        text: String,
        /// Whether any word starting with `text` matches.
        prefix: bool,
    },
    /// Words that must appear next to each other, in order (two or more).
    Phrase(Vec<String>),
}

/// A parsed query: every group in `all` must match (a group matches when any of its terms
/// does), and no term of `none` may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The required groups of alternatives; never empty after [`SearchQuery::parse`].
    pub all: Vec<Vec<Term>>,
    /// The excluded terms.
    pub none: Vec<Term>,
}

impl SearchQuery {
    /// Parses `q`. Never fails on content, only on emptiness and length: an
    /// [`Error::Invalid`] for field `q` when `q` is longer than [`MAX_QUERY_CHARS`]
    /// characters or holds no term to search for (only exclusions, `OR` or punctuation).
    /// Terms past the first [`MAX_TERMS`] are ignored.
    pub fn parse(q: &str) -> Result<Self> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let mut all: Vec<Vec<Term>> = Vec::new();
        let mut none = Vec::new();
        // `OR` joins two terms only when a positive term stands on each side of it.
        let mut after_positive = false;
        let mut join_next = false;
        for item in scan(q) {
            match item {
                Item::Or => {
                    join_next = after_positive;
                    after_positive = false;
                }
                Item::Exclude(term) => {
                    none.push(term);
                    join_next = false;
                    after_positive = false;
                }
                Item::Include(term) => {
                    match all.last_mut() {
                        Some(group) if join_next => group.push(term),
                        _ => all.push(vec![term]),
                    }
                    join_next = false;
                    after_positive = true;
                }
            }
        }
        if all.is_empty() {
            return Err(Error::invalid("q", "must contain a word to search for"));
        }
        Ok(Self { all, none })
    }

    /// The query as an SQLite FTS5 MATCH expression: every word double-quoted, a prefix as
    /// `"word"*`, a phrase as `"a b c"`, alternatives as `("a" OR "b")`, groups joined by
    /// ` AND `, then each exclusion as ` NOT "w"` (the positive part parenthesised when it
    /// holds more than one group). Holds nothing but quoted terms, `*`, parentheses, the
    /// keywords AND, OR, NOT and spaces.
    pub fn to_fts5(&self) -> String {
        let positive: Vec<String> = self
            .all
            .iter()
            .filter(|group| !group.is_empty())
            .map(Vec::as_slice)
            .map(fts5_group)
            .collect();
        let mut out = positive.join(" AND ");
        if !self.none.is_empty() && positive.len() > 1 {
            out = format!("({out})");
        }
        for term in &self.none {
            out.push_str(" NOT ");
            out.push_str(&fts5_term(term));
        }
        out
    }

    /// The query as a PostgreSQL `to_tsquery` text, meant for a bind parameter of
    /// `to_tsquery(regconfig, $1)`: every word single-quoted, a prefix as `'word':*`, a
    /// phrase as `('a' <-> 'b')`, alternatives as `('a' | 'b')`, groups joined by ` & `,
    /// then each exclusion as ` & !'w'` (or ` & !('a' <-> 'b')`).
    pub fn to_tsquery(&self) -> String {
        let mut out = self
            .all
            .iter()
            .filter(|group| !group.is_empty())
            .map(Vec::as_slice)
            .map(ts_group)
            .collect::<Vec<_>>()
            .join(" & ");
        for term in &self.none {
            out.push_str(" & !");
            out.push_str(&ts_term(term));
        }
        out
    }

    /// Every word of the query's positive terms (for highlighting), in query order, with its
    /// prefix flag; phrase words are never prefixes.
    pub fn positive_words(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for term in self.all.iter().flatten() {
            match term {
                Term::Word { text, prefix } => out.push((text.clone(), *prefix)),
                Term::Phrase(words) => out.extend(words.iter().map(|word| (word.clone(), false))),
            }
        }
        out
    }

    /// Whether `text` matches this query without stemming (the in-memory backend's
    /// matcher): `text` is split by [`words`]; a word matches an equal token (or one starting
    /// with it when a prefix), a phrase matches consecutive tokens, a group matches when any
    /// of its terms does, and the query matches when every group does and no exclusion does.
    pub fn matches(&self, text: &str) -> bool {
        let tokens: Vec<String> = words(text).into_iter().map(|(word, _, _)| word).collect();
        self.matches_words(&tokens)
    }

    /// [`SearchQuery::matches`] over text already split by [`words`] (the words only).
    pub(crate) fn matches_words(&self, tokens: &[String]) -> bool {
        self.all
            .iter()
            .all(|group| group.iter().any(|term| term_matches(term, tokens)))
            && !self.none.iter().any(|term| term_matches(term, tokens))
    }
}

/// The words of `text` with their character ranges `[start, end)` (char offsets, not bytes),
/// lowercased: the tokeniser shared by the matcher and highlighting.
pub fn words(text: &str) -> Vec<(String, usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphanumeric() {
            let end = run_end(&chars, i);
            let word = lower(&chars[i..end]);
            if !word.is_empty() {
                out.push((word, i, end));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// One piece of a query, in order.
enum Item {
    /// A term that must match.
    Include(Term),
    /// A term that must not match.
    Exclude(Term),
    /// A standalone uppercase `OR`.
    Or,
}

/// Splits `q` into terms and `OR`s, keeping at most [`MAX_TERMS`] terms.
fn scan(q: &str) -> Vec<Item> {
    let chars: Vec<char> = q.chars().collect();
    let mut items = Vec::new();
    let mut terms = 0;
    let mut i = 0;
    while i < chars.len() && terms < MAX_TERMS {
        let at_boundary = i == 0 || chars[i - 1].is_whitespace();
        let excluded = chars[i] == '-'
            && at_boundary
            && chars
                .get(i + 1)
                .is_some_and(|&next| next == '"' || next.is_alphanumeric());
        let start = if excluded { i + 1 } else { i };
        let (term, next) = if chars[start] == '"' {
            let (phrase, next) = read_phrase(&chars, start + 1);
            (phrase_term(phrase), next)
        } else if chars[start].is_alphanumeric() {
            let end = run_end(&chars, start);
            if !excluded
                && at_boundary
                && chars[start..end] == ['O', 'R']
                && chars.get(end).is_none_or(|next| next.is_whitespace())
            {
                items.push(Item::Or);
                i = end;
                continue;
            }
            let text = lower(&chars[start..end]);
            let starred = chars.get(end) == Some(&'*');
            let typing = !excluded && end == chars.len();
            let prefix = (starred || typing) && text.chars().count() >= MIN_PREFIX_CHARS;
            (word_term(text, prefix), end + usize::from(starred))
        } else {
            (None, i + 1)
        };
        i = next;
        if let Some(term) = term {
            items.push(if excluded {
                Item::Exclude(term)
            } else {
                Item::Include(term)
            });
            terms += 1;
        }
    }
    items
}

/// The end of the alphanumeric run starting at `start`.
fn run_end(chars: &[char], start: usize) -> usize {
    chars[start..]
        .iter()
        .position(|c| !c.is_alphanumeric())
        .map_or(chars.len(), |offset| start + offset)
}

/// A run of alphanumeric characters, lowercased and accent-folded ([`fold`]); anything left
/// that is not alphanumeric (a combining mark) is dropped, so words stay alphanumeric.
fn lower(run: &[char]) -> String {
    run.iter()
        .flat_map(|c| c.to_lowercase())
        .map(fold)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// `c` without its accents when it is a Latin letter with a canonical decomposition (`é` is
/// `e`), as SQLite's `remove_diacritics` and the PostgreSQL migration's `transcript_fold` fold
/// (the same blocks: Latin-1, Latin Extended-A/B, Latin Extended Additional); any other
/// character unchanged.
fn fold(c: char) -> char {
    if !matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}') {
        return c;
    }
    let mut parts = std::iter::once(c)
        .nfd()
        .filter(|part| !is_combining_mark(*part));
    match (parts.next(), parts.next()) {
        (Some(base), None) => base,
        _ => c,
    }
}

/// The words from `start` to the closing quote (or the end), and where scanning resumes.
fn read_phrase(chars: &[char], start: usize) -> (Vec<String>, usize) {
    let mut words = Vec::new();
    let mut i = start;
    while i < chars.len() && chars[i] != '"' {
        if chars[i].is_alphanumeric() {
            let end = run_end(chars, i);
            let word = lower(&chars[i..end]);
            if !word.is_empty() {
                words.push(word);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    (words, (i + 1).min(chars.len()))
}

/// A word term, unless the word is empty.
fn word_term(text: String, prefix: bool) -> Option<Term> {
    (!text.is_empty()).then_some(Term::Word { text, prefix })
}

/// A phrase term: none when empty, a plain word when it holds one word.
fn phrase_term(mut words: Vec<String>) -> Option<Term> {
    match words.len() {
        0 => None,
        1 => words.pop().map(|text| Term::Word {
            text,
            prefix: false,
        }),
        _ => Some(Term::Phrase(words)),
    }
}

/// Whether `term` occurs in `tokens`.
fn term_matches(term: &Term, tokens: &[String]) -> bool {
    term_hits(term, tokens) > 0
}

/// How often `term` occurs in `tokens`: a word counts each equal token (or each starting with
/// it, when a prefix), a phrase each run of consecutive tokens equal to its words.
pub(crate) fn term_hits(term: &Term, tokens: &[String]) -> usize {
    match term {
        Term::Word { text, prefix } => tokens
            .iter()
            .filter(|&token| token == text || (*prefix && token.starts_with(text.as_str())))
            .count(),
        Term::Phrase(words) if words.is_empty() => 0,
        Term::Phrase(words) => tokens
            .windows(words.len())
            .filter(|&window| window == words.as_slice())
            .count(),
    }
}

/// An FTS5 string: double-quoted, inner `"` doubled.
fn fts5_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// One term in FTS5 syntax.
fn fts5_term(term: &Term) -> String {
    match term {
        Term::Word { text, prefix } => {
            let mut out = fts5_quote(text);
            if *prefix {
                out.push('*');
            }
            out
        }
        Term::Phrase(words) => fts5_quote(&words.join(" ")),
    }
}

/// A group of alternatives in FTS5 syntax.
fn fts5_group(group: &[Term]) -> String {
    match group {
        [term] => fts5_term(term),
        _ => {
            let terms: Vec<String> = group.iter().map(fts5_term).collect();
            format!("({})", terms.join(" OR "))
        }
    }
}

/// A tsquery lexeme: single-quoted, `'` doubled and `\` escaped.
fn ts_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// One term in tsquery syntax.
fn ts_term(term: &Term) -> String {
    match term {
        Term::Word { text, prefix } => {
            let mut out = ts_quote(text);
            if *prefix {
                out.push_str(":*");
            }
            out
        }
        Term::Phrase(words) => {
            let words: Vec<String> = words.iter().map(String::as_str).map(ts_quote).collect();
            format!("({})", words.join(" <-> "))
        }
    }
}

/// A group of alternatives in tsquery syntax.
fn ts_group(group: &[Term]) -> String {
    match group {
        [term] => ts_term(term),
        _ => {
            let terms: Vec<String> = group.iter().map(ts_term).collect();
            format!("({})", terms.join(" | "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Term {
        Term::Word {
            text: text.to_owned(),
            prefix: false,
        }
    }

    fn pre(text: &str) -> Term {
        Term::Word {
            text: text.to_owned(),
            prefix: true,
        }
    }

    fn phrase(words: &[&str]) -> Term {
        Term::Phrase(words.iter().map(|word| (*word).to_owned()).collect())
    }

    fn parsed(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap_or_else(|e| panic!("{q:?} should parse: {e:?}"))
    }

    fn query(all: Vec<Vec<Term>>, none: Vec<Term>) -> SearchQuery {
        SearchQuery { all, none }
    }

    fn error_message(q: &str) -> String {
        match SearchQuery::parse(q) {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, "q");
                message
            }
            other => panic!("{q:?} should be refused, got {other:?}"),
        }
    }

    const EMPTY: &str = "must contain a word to search for";

    #[test]
    fn words_are_all_required_and_the_last_one_is_typed() {
        assert_eq!(
            parsed("rust async"),
            query(vec![vec![w("rust")], vec![pre("async")]], vec![])
        );
        assert_eq!(
            parsed("Rust ASYNC "),
            query(vec![vec![w("rust")], vec![w("async")]], vec![])
        );
        assert_eq!(
            parsed("hello wor"),
            query(vec![vec![w("hello")], vec![pre("wor")]], vec![])
        );
        assert_eq!(
            parsed("hello wor\t"),
            query(vec![vec![w("hello")], vec![w("wor")]], vec![])
        );
        // A separator other than whitespace also finishes the word.
        assert_eq!(
            parsed("hello wor."),
            query(vec![vec![w("hello")], vec![w("wor")]], vec![])
        );
        // One-character prefixes would match nearly everything.
        assert_eq!(
            parsed("hello w"),
            query(vec![vec![w("hello")], vec![w("w")]], vec![])
        );
    }

    #[test]
    fn phrases_exclusions_and_stars() {
        let q = parsed("\"Exact phrase\" word");
        assert_eq!(
            q,
            query(
                vec![vec![phrase(&["exact", "phrase"])], vec![pre("word")]],
                vec![]
            )
        );
        let q = parsed("-exclude word");
        assert_eq!(q, query(vec![vec![pre("word")]], vec![w("exclude")]));
        let q = parsed("-\"two words\" x ");
        assert_eq!(
            q,
            query(vec![vec![w("x")]], vec![phrase(&["two", "words"])])
        );
        let q = parsed("deleg* -old* a* ");
        assert_eq!(
            q,
            query(vec![vec![pre("deleg")], vec![w("a")]], vec![pre("old")])
        );
        // `-` excludes only at the start of a word; elsewhere it separates.
        let q = parsed("e-mail --word x -");
        assert_eq!(
            q,
            query(
                vec![vec![w("e")], vec![w("mail")], vec![w("word")], vec![w("x")]],
                vec![]
            )
        );
        // An exclusion at the end is not a prefix.
        assert_eq!(parsed("a -bc"), query(vec![vec![w("a")]], vec![w("bc")]));
    }

    #[test]
    fn quotes() {
        assert_eq!(
            parsed("x \"hello wor"),
            query(vec![vec![w("x")], vec![phrase(&["hello", "wor"])]], vec![])
        );
        assert_eq!(parsed("\"solo"), query(vec![vec![w("solo")]], vec![]));
        assert_eq!(parsed("\"\" a "), query(vec![vec![w("a")]], vec![]));
        assert_eq!(
            parsed("\"a OR b*\" "),
            query(vec![vec![phrase(&["a", "or", "b"])]], vec![])
        );
    }

    #[test]
    fn or_binds_tighter_than_and() {
        let q = parsed("cats OR dogs food");
        assert_eq!(
            q,
            query(vec![vec![w("cats"), w("dogs")], vec![pre("food")]], vec![])
        );
        let q = parsed("a b OR c d ");
        assert_eq!(
            q,
            query(
                vec![vec![w("a")], vec![w("b"), w("c")], vec![w("d")]],
                vec![]
            )
        );
        let q = parsed("a OR b OR \"c d\" ");
        assert_eq!(
            q,
            query(vec![vec![w("a"), w("b"), phrase(&["c", "d"])]], vec![])
        );
    }

    #[test]
    fn only_a_standalone_uppercase_or_is_an_operator() {
        let q = parsed("cats or dogs Or x ");
        let expected = ["cats", "or", "dogs", "or", "x"].map(|word| vec![w(word)]);
        assert_eq!(q, query(expected.to_vec(), vec![]));
        assert_eq!(parsed("ORANGE"), query(vec![vec![pre("orange")]], vec![]));
        assert_eq!(parsed("-OR x "), query(vec![vec![w("x")]], vec![w("or")]));
        assert_eq!(
            parsed("a OR* b "),
            query(vec![vec![w("a")], vec![pre("or")], vec![w("b")]], vec![])
        );
        // Dangling ORs are ignored.
        for q in ["OR cats ", "cats OR", "cats OR ", "OR cats OR"] {
            assert_eq!(parsed(q), query(vec![vec![w("cats")]], vec![]), "{q:?}");
        }
        let q = parsed("cats OR OR dogs ");
        assert_eq!(q, query(vec![vec![w("cats")], vec![w("dogs")]], vec![]));
        let q = parsed("cats OR -dogs x ");
        assert_eq!(
            q,
            query(vec![vec![w("cats")], vec![w("x")]], vec![w("dogs")])
        );
        let q = parsed("cats -x OR dogs ");
        assert_eq!(
            q,
            query(vec![vec![w("cats")], vec![w("dogs")]], vec![w("x")])
        );
    }

    #[test]
    fn everything_else_is_literal() {
        let q = parsed("NEAR(a b) title:x a AND b NOT c; DROP ");
        let expected = [
            "near", "a", "b", "title", "x", "a", "and", "b", "not", "c", "drop",
        ];
        assert_eq!(
            q,
            query(expected.map(|word| vec![w(word)]).to_vec(), vec![])
        );
        // Latin accents fold; other scripts (and ß, which has no decomposition) stay.
        let q = parsed("Straße ÉCOLE 中文 한국 が a😀b ");
        let expected = ["straße", "ecole", "中文", "한국", "が", "a", "b"];
        assert_eq!(
            q,
            query(expected.map(|word| vec![w(word)]).to_vec(), vec![])
        );
    }

    #[test]
    fn terms_past_the_cap_are_ignored() {
        let many: Vec<String> = (0..20).map(|n| format!("w{n}")).collect();
        let q = parsed(&many.join(" "));
        assert_eq!(q.all.len(), MAX_TERMS);
        assert_eq!(q.all[15], vec![w("w15")]);
        let q = parsed("-a -b -c -d -e -f -g -h -i -j k l m n o p q r s t");
        assert_eq!((q.all.len(), q.none.len()), (6, 10));
        assert_eq!(q.all[5], vec![w("p")]);
    }

    #[test]
    fn refused_queries() {
        for q in [
            "",
            "   ",
            "---",
            "\"\" OR",
            "-only",
            "OR",
            "OR OR",
            "-a -\"b c\"",
            "*** () ;",
            "😀",
        ] {
            assert_eq!(error_message(q), EMPTY, "{q:?}");
        }
        let too_long = "must be at most 256 characters";
        assert_eq!(error_message(&"a".repeat(257)), too_long);
        assert_eq!(error_message(&"é".repeat(257)), too_long);
        assert_eq!(error_message(&" ".repeat(257)), too_long);
        assert_eq!(
            parsed(&"a".repeat(256)).all,
            vec![vec![pre(&"a".repeat(256))]]
        );
        assert_eq!(parsed(&"é".repeat(256)).all.len(), 1);
    }

    #[test]
    fn renders_fts5() {
        assert_eq!(parsed("rust async").to_fts5(), "\"rust\" AND \"async\"*");
        let q = parsed("cats OR dogs \"wet food\" -fish -\"cat food\"");
        assert_eq!(
            q.to_fts5(),
            "((\"cats\" OR \"dogs\") AND \"wet food\") NOT \"fish\" NOT \"cat food\""
        );
        assert_eq!(parsed("deleg* -x").to_fts5(), "\"deleg\"* NOT \"x\"");
        assert_eq!(parsed("a OR b -c").to_fts5(), "(\"a\" OR \"b\") NOT \"c\"");
        let odd = query(vec![vec![w("it's \"x\"")]], vec![]);
        assert_eq!(odd.to_fts5(), "\"it's \"\"x\"\"\"");
    }

    #[test]
    fn renders_tsquery() {
        assert_eq!(parsed("rust async").to_tsquery(), "'rust' & 'async':*");
        let q = parsed("cats OR dogs \"wet food\" -fish -\"cat food\"");
        assert_eq!(
            q.to_tsquery(),
            "('cats' | 'dogs') & ('wet' <-> 'food') & !'fish' & !('cat' <-> 'food')"
        );
        assert_eq!(
            parsed("deleg* -xy* y ").to_tsquery(),
            "'deleg':* & 'y' & !'xy':*"
        );
        let odd = query(vec![vec![w("it's \\x")]], vec![]);
        assert_eq!(odd.to_tsquery(), "'it''s \\\\x'");
    }

    #[test]
    fn positive_words_for_highlighting() {
        let q = parsed("a OR \"b c\" -d ef");
        let expected = [("a", false), ("b", false), ("c", false), ("ef", true)];
        let expected: Vec<(String, bool)> =
            expected.iter().map(|&(s, p)| (s.to_owned(), p)).collect();
        assert_eq!(q.positive_words(), expected);
    }

    #[test]
    fn words_give_char_ranges() {
        let expected = [
            ("hello", 0, 5),
            ("world", 7, 12),
            ("中文", 13, 15),
            ("x1", 17, 19),
        ];
        let expected: Vec<(String, usize, usize)> = expected
            .iter()
            .map(|&(s, a, b)| (s.to_owned(), a, b))
            .collect();
        assert_eq!(words("Hello, Wörld 中文!😀X1"), expected);
        assert!(words(" -- ").is_empty());
    }

    #[test]
    fn matches_in_memory() {
        let q = parsed("rust async");
        assert!(q.matches("Rust and ASYNCHRONOUS code"));
        assert!(!q.matches("rust code"));
        assert!(!q.matches("rusty async"));
        let q = parsed("\"exact phrase\" ");
        assert!(q.matches("an exact, phrase here"));
        assert!(!q.matches("phrase exact"));
        assert!(!q.matches("exact other phrase"));
        let q = parsed("-exclude word ");
        assert!(q.matches("word"));
        assert!(!q.matches("word Exclude"));
        let q = parsed("cats OR dogs food ");
        assert!(q.matches("dogs food"));
        assert!(q.matches("food for cats"));
        assert!(!q.matches("cats dogs"));
        let q = parsed("deleg* ");
        assert!(q.matches("Delegated"));
        assert!(!q.matches("undelegated"));
        assert!(!parsed("x -\"a b\" ").matches("x a b"));
        assert!(parsed("x -\"a b\" ").matches("x b a"));
    }

    #[test]
    fn term_hits_count_every_occurrence() {
        let tokens: Vec<String> = words("Release notes: the release notes, notes released.")
            .into_iter()
            .map(|(word, _, _)| word)
            .collect();
        assert_eq!(term_hits(&w("notes"), &tokens), 3);
        assert_eq!(term_hits(&w("releas"), &tokens), 0);
        assert_eq!(term_hits(&pre("releas"), &tokens), 3);
        assert_eq!(term_hits(&phrase(&["release", "notes"]), &tokens), 2);
        assert_eq!(term_hits(&phrase(&["notes", "release"]), &tokens), 0);
        assert_eq!(term_hits(&phrase(&[]), &tokens), 0);
    }

    /// xorshift64: deterministic pseudo-random numbers for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        fn query(&mut self) -> String {
            const PIECES: &[&str] = &[
                "a", "b", "z", "Q", "7", "0", "é", "É", "ß", "中", "😀", "İ", "ab", "de", " ", " ",
                " ", "\t", "\"", "-", "*", "(", ")", ":", "'", ";", "\\", "^", "NEAR", "OR", "OR",
                "AND", "NOT", "or", "--", "/*",
            ];
            let pieces = if self.below(10) == 0 {
                150 + self.below(180)
            } else {
                self.below(30)
            };
            (0..pieces)
                .map(|_| PIECES[self.below(PIECES.len())])
                .collect()
        }
    }

    fn check_fts5(fts: &str, q: &str) {
        let parts: Vec<&str> = fts.split('"').collect();
        assert!(
            parts.len() % 2 == 1,
            "unbalanced quotes in {fts:?} from {q:?}"
        );
        for (index, part) in parts.iter().enumerate() {
            if index % 2 == 1 {
                let ok = !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == ' ');
                assert!(ok, "quoted {part:?} in {fts:?} from {q:?}");
            } else {
                let ok = part
                    .split(['(', ')', '*', ' '])
                    .all(|piece| matches!(piece, "" | "AND" | "OR" | "NOT"));
                assert!(ok, "outside quotes {part:?} in {fts:?} from {q:?}");
            }
        }
        check_parentheses(fts, q);
    }

    fn check_tsquery(ts: &str, q: &str) {
        let parts: Vec<&str> = ts.split('\'').collect();
        assert!(
            parts.len() % 2 == 1,
            "unbalanced quotes in {ts:?} from {q:?}"
        );
        for (index, part) in parts.iter().enumerate() {
            let ok = if index % 2 == 1 {
                !part.is_empty() && part.chars().all(char::is_alphanumeric)
            } else {
                part.chars().all(|c| "():*&|!<-> ".contains(c))
            };
            assert!(ok, "{part:?} in {ts:?} from {q:?}");
        }
        check_parentheses(ts, q);
    }

    fn check_parentheses(rendered: &str, q: &str) {
        let mut depth = 0_i32;
        for c in rendered.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0, "{rendered:?} from {q:?}");
        }
        assert_eq!(depth, 0, "{rendered:?} from {q:?}");
    }

    #[test]
    fn random_queries_parse_render_and_match_safely() {
        let too_long = format!("must be at most {MAX_QUERY_CHARS} characters");
        let (mut parsed_ok, mut empty, mut long) = (0, 0, 0);
        for seed in [0x9E37_79B9_7F4A_7C15_u64, 0x0123_4567_89AB_CDEF] {
            let mut rng = Rng(seed);
            for _ in 0..2_500 {
                let q = rng.query();
                let length = q.chars().count();
                match SearchQuery::parse(&q) {
                    Ok(query) => {
                        parsed_ok += 1;
                        assert!(length <= MAX_QUERY_CHARS, "{q:?}");
                        assert!(!query.all.is_empty(), "{q:?}");
                        assert!(query.all.iter().all(|group| !group.is_empty()), "{q:?}");
                        let terms =
                            query.all.iter().map(Vec::len).sum::<usize>() + query.none.len();
                        assert!(terms <= MAX_TERMS, "{q:?}");
                        check_fts5(&query.to_fts5(), &q);
                        check_tsquery(&query.to_tsquery(), &q);
                        let positive: Vec<String> = query
                            .positive_words()
                            .into_iter()
                            .map(|(word, _)| word)
                            .collect();
                        assert!(positive.iter().all(|word| !word.is_empty()), "{q:?}");
                        let text = positive.join(" ");
                        if query.none.is_empty() {
                            assert!(query.matches(&text), "{q:?} should match {text:?}");
                        }
                    }
                    Err(Error::Invalid {
                        field: "q",
                        message,
                    }) if message == EMPTY => {
                        empty += 1;
                        assert!(length <= MAX_QUERY_CHARS, "{q:?}");
                    }
                    Err(Error::Invalid {
                        field: "q",
                        message,
                    }) if message == too_long => {
                        long += 1;
                        assert!(length > MAX_QUERY_CHARS, "{q:?}");
                    }
                    Err(other) => panic!("{q:?} gave {other:?}"),
                }
            }
        }
        // The generator must exercise every outcome, or this test proves little.
        assert!(
            parsed_ok > 2_000 && empty > 100 && long > 50,
            "{parsed_ok} {empty} {long}"
        );
    }
}
