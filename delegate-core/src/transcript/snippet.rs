//! Snippets for search hits: a window of the content around the best match, and the
//! matched words' character ranges inside it (no markup: a frontend highlights safely).

use super::query::{SearchQuery, words};
use rust_stemmers::{Algorithm, Stemmer};

/// Characters of context a snippet keeps around its first match.
const WINDOW_CHARS: usize = 240;

/// A window of text with highlighted ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The text (`…` marks a cut).
    pub text: String,
    /// `[start, end)` character offsets into `text` of the matched words.
    pub highlights: Vec<[usize; 2]>,
}

impl Snippet {
    /// The snippet of `content` for `query`: the window around the first word the query
    /// matches (the start of the content when none does in the content).
    pub fn of(content: &str, query: &SearchQuery) -> Self {
        let matcher = Matcher::new(query);
        let hit = |word: &str| matcher.hit(word);
        let tokens = words(content);
        let first = tokens
            .iter()
            .find(|(w, _, _)| hit(w))
            .map_or(0, |(_, s, _)| *s);
        let chars: Vec<char> = content.chars().collect();
        let start = first.saturating_sub(WINDOW_CHARS / 4);
        let end = (start + WINDOW_CHARS).min(chars.len());
        let lead = if start > 0 { "…" } else { "" };
        let tail = if end < chars.len() { "…" } else { "" };
        let body: String = chars[start..end].iter().collect();
        let text = format!("{lead}{body}{tail}");
        let shift = lead.chars().count();
        let highlights = tokens
            .iter()
            .filter(|(w, s, e)| *s >= start && *e <= end && hit(w))
            .map(|(_, s, e)| [s - start + shift, e - start + shift])
            .collect();
        Self { text, highlights }
    }
}

/// Which words of a text a query found: the same word, a longer one for a prefix, or one
/// with the same English stem (the stemming backends found "runs" for "running").
struct Matcher {
    stemmer: Stemmer,
    /// Each positive word, its prefix flag and its stem.
    wanted: Vec<(String, bool, String)>,
}

impl Matcher {
    fn new(query: &SearchQuery) -> Self {
        let stemmer = Stemmer::create(Algorithm::English);
        let wanted = query
            .positive_words()
            .into_iter()
            .map(|(word, prefix)| {
                let stem = stemmer.stem(&word).into_owned();
                (word, prefix, stem)
            })
            .collect();
        Self { stemmer, wanted }
    }

    fn hit(&self, word: &str) -> bool {
        self.wanted.iter().any(|(w, prefix, stem)| {
            word == w
                || (*prefix && word.starts_with(w.as_str()))
                || (shares_start(word, stem) && self.stemmer.stem(word) == stem.as_str())
        })
    }
}

/// Whether `word` could stem to `stem`: stems keep the word's start but may change its last
/// letter ("happi" for "happy"), so this cheap check spares stemming every word.
fn shares_start(word: &str, stem: &str) -> bool {
    let mut start = stem.chars();
    start.next_back();
    let start = start.as_str();
    !start.is_empty() && word.starts_with(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The highlighted words of `content`'s snippet for `q`, as written.
    fn marked(content: &str, q: &str) -> Vec<String> {
        let snippet = Snippet::of(content, &SearchQuery::parse(q).unwrap());
        let chars: Vec<char> = snippet.text.chars().collect();
        snippet
            .highlights
            .iter()
            .map(|[s, e]| chars[*s..*e].iter().collect())
            .collect()
    }

    #[test]
    fn highlights_are_character_ranges_of_the_matched_words() {
        assert_eq!(
            marked("Un café et du Rustacean talk", "café rust*"),
            ["café", "Rustacean"]
        );
    }

    #[test]
    fn words_with_the_query_words_stem_are_highlighted() {
        assert_eq!(
            marked("She runs; he ran. Running is happy.", "running happiness "),
            ["runs", "Running", "happy"]
        );
    }

    #[test]
    fn a_long_text_is_cut_around_the_first_match() {
        let content = format!("{} needle {}", "hay ".repeat(200), "hay ".repeat(200));
        let query = SearchQuery::parse("needle").unwrap();
        let snippet = Snippet::of(&content, &query);
        assert!(snippet.text.starts_with('…') && snippet.text.ends_with('…'));
        let [s, e] = snippet.highlights[0];
        let chars: Vec<char> = snippet.text.chars().collect();
        assert_eq!(chars[s..e].iter().collect::<String>(), "needle");
        assert!(snippet.text.chars().count() <= WINDOW_CHARS + 2);
    }
}
