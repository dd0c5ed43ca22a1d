//! Incremental sentence splitting for the voice pipeline: a streamed AI reply is cut into
//! sentences as they complete, so text-to-speech can start on the first one early.

/// The longest piece, in characters, a [`SentenceSplitter::default`] hands out.
pub const DEFAULT_MAX_CHARS: usize = 400;

/// Marks that end a sentence when whitespace follows them.
const MARKS: [char; 4] = ['.', '!', '?', '…'];
/// CJK full stops: they end a sentence with no whitespace after them.
const CJK_MARKS: [char; 4] = ['。', '！', '？', '．'];
/// Closing quotes and brackets that belong to the sentence their mark ends.
const CLOSERS: [char; 11] = ['"', '\'', '”', '’', ')', ']', '»', '」', '』', '）', '】'];
/// Where an over-long sentence may be cut when no whitespace is closer to the limit.
const SOFT_BREAKS: [char; 3] = [',', ';', ':'];
/// Words (lowercase, inner dots kept) whose trailing dot never ends a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "approx",
    "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "mt", "ft", "dept", "est", "a.m", "p.m", "u.s", "u.k",
];
/// Words that abbreviate only before a number ("No. 5", "Fig. 3"), yet often end a sentence.
const BEFORE_NUMBER: &[&str] = &["no", "fig"];

/// Splits streamed text into sentences as they complete.
#[derive(Debug, Clone)]
pub struct SentenceSplitter {
    /// Text received and not yet handed out (drained at the end of each push).
    buf: String,
    /// The longest piece handed out, in characters.
    max_chars: usize,
    /// Where the current sentence begins (its first non-whitespace character).
    start: usize,
    /// How far the text is decided: no sentence ends between `start` and here.
    pos: usize,
    /// Characters in `start..pos`.
    chars: usize,
    /// The latest place in `start..pos` where an over-long sentence may be cut.
    last_break: Option<usize>,
    /// Whether the current sentence begins a line (so `1.` there is a list marker).
    line_start: bool,
}

impl SentenceSplitter {
    /// A splitter that also cuts a sentence longer than `max_chars` characters (at the last
    /// whitespace, or a comma/semicolon/colon, before the limit; hard cut at the limit when
    /// there is none), so a run-on reply cannot hold back speech or exceed the speech
    /// provider's input limit. `max_chars` is at least 1 (clamp).
    pub fn new(max_chars: usize) -> Self {
        Self {
            buf: String::new(),
            max_chars: max_chars.max(1),
            start: 0,
            pos: 0,
            chars: 0,
            last_break: None,
            line_start: true,
        }
    }

    /// Adds streamed text; returns the sentences it completed, in order, each trimmed and
    /// non-empty.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        while let Some(c) = self.buf[self.pos..].chars().next() {
            if !self.step(c, &mut out) {
                break;
            }
        }
        self.buf.drain(..self.start);
        self.pos -= self.start;
        self.last_break = self.last_break.map(|at| at - self.start);
        self.start = 0;
        out
    }

    /// The rest (the last sentence, which may lack its final punctuation), trimmed; None when
    /// only whitespace remains. Leaves the splitter empty.
    pub fn finish(&mut self) -> Option<String> {
        let rest = self.buf[self.start..].trim().to_owned();
        *self = Self::new(self.max_chars);
        (!rest.is_empty()).then_some(rest)
    }

    /// Decides the character `c` at `pos`; false when that needs text not received yet.
    fn step(&mut self, c: char, out: &mut Vec<String>) -> bool {
        let pos = self.pos;
        if c == '\n' {
            self.cut(pos, out);
            self.pos = pos + 1;
            self.start = self.pos;
            self.line_start = true;
            return true;
        }
        if pos == self.start && c.is_whitespace() {
            self.pos += c.len_utf8();
            self.start = self.pos;
            return true;
        }
        if self.chars == self.max_chars {
            let at = if c.is_whitespace() {
                pos
            } else {
                self.last_break.unwrap_or(pos)
            };
            self.cut(at, out);
            self.line_start = false;
            return true;
        }
        let cjk = CJK_MARKS.contains(&c);
        if cjk || MARKS.contains(&c) {
            let (end, run_chars) = self.run(pos, if cjk { &CJK_MARKS } else { &MARKS });
            // A run that would overflow the limit is read as plain text, so the limit cuts it.
            if self.chars + run_chars <= self.max_chars {
                let Some(next) = self.buf[end..].chars().next() else {
                    return false;
                };
                let ends = match (cjk, next.is_whitespace()) {
                    (true, _) => Some(true),
                    (false, true) => self.ends_at(pos, end),
                    (false, false) => Some(false),
                };
                match ends {
                    None => return false,
                    Some(true) => {
                        self.cut(end, out);
                        self.line_start = false;
                    }
                    Some(false) => {
                        self.pos = end;
                        self.chars += run_chars;
                    }
                }
                return true;
            }
        }
        if c.is_whitespace() {
            self.last_break = Some(pos);
        } else if SOFT_BREAKS.contains(&c) {
            self.last_break = Some(pos + c.len_utf8());
        }
        self.chars += 1;
        self.pos += c.len_utf8();
        true
    }

    /// The run of `marks` then closers starting at `from`: its end and its length in
    /// characters, the count stopping once the run could no longer fit the limit.
    fn run(&self, from: usize, marks: &[char]) -> (usize, usize) {
        let (mut end, mut count, mut closing) = (from, 0, false);
        for c in self.buf[from..]
            .chars()
            .take(self.max_chars - self.chars + 1)
        {
            closing |= !marks.contains(&c);
            if closing && !CLOSERS.contains(&c) {
                break;
            }
            end += c.len_utf8();
            count += 1;
        }
        (end, count)
    }

    /// Whether the run `from..end`, with whitespace after it, ends the sentence; None while the
    /// text that decides it has not arrived.
    fn ends_at(&self, from: usize, end: usize) -> Option<bool> {
        let run = &self.buf[from..end];
        if run == "." {
            let head = &self.buf[self.start..from];
            let word = head.rsplit(char::is_whitespace).next().unwrap_or("");
            let bare = word.trim_start_matches(|c: char| !c.is_alphanumeric());
            let marker = self.line_start
                && word.len() == head.len()
                && !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_digit());
            if marker
                || is_initial(bare)
                || ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(bare))
            {
                return Some(false);
            }
            if BEFORE_NUMBER.iter().any(|a| a.eq_ignore_ascii_case(bare)) {
                return self.next_visible(end).map(|c| !c.is_ascii_digit());
            }
            return Some(true);
        }
        let marks = run.trim_end_matches(CLOSERS);
        if marks != "." && marks.chars().all(|c| c == '.' || c == '…') {
            // An ellipsis ends the sentence unless the text carries on in lowercase.
            return self.next_visible(end).map(|c| !c.is_lowercase());
        }
        Some(true)
    }

    /// The first newline or non-whitespace character from `from` on; None when there is none
    /// yet.
    fn next_visible(&self, from: usize) -> Option<char> {
        self.buf[from..]
            .chars()
            .find(|&c| c == '\n' || !c.is_whitespace())
    }

    /// Hands out `start..at` (when not blank) and starts the next sentence at `at`.
    fn cut(&mut self, at: usize, out: &mut Vec<String>) {
        let sentence = self.buf[self.start..at].trim();
        if !sentence.is_empty() {
            out.push(sentence.to_owned());
        }
        self.start = at;
        self.pos = at;
        self.chars = 0;
        self.last_break = None;
    }
}

impl Default for SentenceSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CHARS)
    }
}

/// Whether `word` is a single capital letter, as in `J. R. R. Tolkien`.
fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;

    /// Every sentence from feeding `pieces` in turn, then the rest.
    fn sentences(max_chars: usize, pieces: &[&str]) -> Vec<String> {
        let mut splitter = SentenceSplitter::new(max_chars);
        let mut out: Vec<String> = pieces.iter().flat_map(|p| splitter.push(p)).collect();
        out.extend(splitter.finish());
        out
    }

    /// The sentences of `text` fed at once, joined by ` | `.
    fn split(max_chars: usize, text: &str) -> String {
        sentences(max_chars, &[text]).join(" | ")
    }

    fn whole(text: &str) -> String {
        split(DEFAULT_MAX_CHARS, text)
    }

    /// Asserts each `"text => a | b"` case splits (at the default limit) into `a`, `b`.
    fn check(cases: &[&str]) {
        for case in cases {
            let (text, expected) = case.split_once(" => ").expect("a case has ` => `");
            assert_eq!(whole(text), expected, "{text:?}");
        }
    }

    fn squash(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    const MIXED: &str = "Dr. Smith paid $3.50 at 5 p.m. Really?! \"Yes.\" Steps:\n1. Open it.\n\
        2. Close it... then rest. Wait… What? 你好。「好」。See https://x.io/a.b?c=1 now. \
        J. R. R. Tolkien, no. 5, etc. 🦀 done. Is it? No. Mail me@x.org. Bye";

    #[test]
    fn abbreviations_numbers_and_initials_do_not_end_a_sentence() {
        check(&[
            "Dr. Smith arrived. He sat. => Dr. Smith arrived. | He sat.",
            "It costs $3.50 today. Yes. => It costs $3.50 today. | Yes.",
            "We use v2.0, e.g. this. Ok => We use v2.0, e.g. this. | Ok",
            "J. R. R. Tolkien wrote. Then. => J. R. R. Tolkien wrote. | Then.",
            "See No. 5 here. Is it? No. Fine. => See No. 5 here. | Is it? | No. | Fine.",
        ]);
    }

    #[test]
    fn list_markers_stay_with_their_item_and_newlines_end_sentences() {
        check(&[
            "Steps:\n1. Open it.\n2. Close it. => Steps: | 1. Open it. | 2. Close it.",
            "I count to 10. Then 12. Done\n\n \nNext => I count to 10. | Then 12. | Done | Next",
        ]);
    }

    #[test]
    fn cjk_full_stops_need_no_whitespace() {
        check(&[
            "你好。今天天气很好！你呢？ => 你好。 | 今天天气很好！ | 你呢？",
            "他说：「好。」然后走了． => 他说：「好。」 | 然后走了．",
        ]);
        let mut splitter = SentenceSplitter::default();
        // A closing bracket may still come.
        assert!(splitter.push("你好。").is_empty());
        assert_eq!(splitter.push("我"), ["你好。"]);
    }

    #[test]
    fn closing_quotes_and_brackets_belong_to_the_sentence() {
        check(&[
            "He said \"Go.\" Then left. => He said \"Go.\" | Then left.",
            "(It works!) Really?! Yes…” ok => (It works!) | Really?! | Yes…” ok",
            "«Non.» Oui. => «Non.» | Oui.",
        ]);
    }

    #[test]
    fn an_ellipsis_ends_a_sentence_only_before_a_capital() {
        check(&[
            "Wait... what? Hmm... OK then. => Wait... what? | Hmm... | OK then.",
            "So… Yes. Well… no. => So… | Yes. | Well… no.",
        ]);
        let mut splitter = SentenceSplitter::default();
        assert!(splitter.push("Hmm... ").is_empty(), "the next word decides");
        assert_eq!(splitter.push("Right"), ["Hmm..."]);
    }

    #[test]
    fn urls_and_emails_are_not_split() {
        check(&["See https://a.example/b.c?d=1!e or me@x.org. Ok! => \
            See https://a.example/b.c?d=1!e or me@x.org. | Ok!"]);
    }

    #[test]
    fn a_run_on_sentence_is_cut_at_whitespace_within_the_limit() {
        let text = "word ".repeat(200);
        let pieces = sentences(48, &[&text]);
        assert!(pieces.len() >= 1000 / 48, "{pieces:?}");
        for p in &pieces {
            assert!(p.chars().count() <= 48, "{p:?}");
            assert!(p.starts_with("word") && p.ends_with("word"), "{p:?}");
        }
        assert_eq!(squash(&pieces.concat()), squash(&text));
    }

    #[test]
    fn a_cut_prefers_the_last_comma_and_falls_back_to_a_hard_cut() {
        assert_eq!(split(10, "one,two,three,four"), "one,two, | three,four");
        let a25 = "a".repeat(25);
        assert_eq!(split(10, &a25), "aaaaaaaaaa | aaaaaaaaaa | aaaaa");
        assert_eq!(split(0, "abc"), "a | b | c", "the limit is clamped to 1");
        assert_eq!(split(5, "abcd?!? Next"), "abcd? | !? | Next");
    }

    #[test]
    fn finish_returns_the_rest_and_empties_the_splitter() {
        let mut splitter = SentenceSplitter::default();
        assert_eq!(splitter.finish(), None);
        assert!(splitter.push("  \n \t").is_empty());
        assert_eq!(splitter.finish(), None);
        assert!(splitter.push("Hi.").is_empty(), "a final dot waits");
        assert_eq!(splitter.push(" There etc."), ["Hi."]);
        assert_eq!(splitter.finish().as_deref(), Some("There etc."));
        assert_eq!(splitter.finish(), None);
        assert!(splitter.push("1. ").is_empty(), "a line start again");
        assert_eq!(splitter.finish().as_deref(), Some("1."));
    }

    #[test]
    fn nothing_is_lost_or_duplicated() {
        let inputs = [
            MIXED,
            "",
            "   ",
            "No punctuation at all",
            "...!!!???\n\n...",
            "A. B. C. d. E… f… G?!\" (h.) i",
            "Tab\tseparated.\tSentences.\r\nWith CRLF.\r\n",
        ];
        for input in inputs {
            for max_chars in [DEFAULT_MAX_CHARS, 9, 1] {
                let out = sentences(max_chars, &[input]);
                for s in &out {
                    assert!(!s.is_empty() && s.trim() == s, "{out:?}");
                    assert!(s.chars().count() <= max_chars, "{out:?}");
                }
                assert_eq!(squash(&out.concat()), squash(input), "{out:?}");
            }
        }
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        for max_chars in [DEFAULT_MAX_CHARS, 24, 7] {
            let expected = sentences(max_chars, &[MIXED]);
            for (at, _) in MIXED.char_indices().skip(1) {
                let split = sentences(max_chars, &[&MIXED[..at], &MIXED[at..]]);
                assert_eq!(split, expected, "split at byte {at}, limit {max_chars}");
            }
            let chars: Vec<String> = MIXED.chars().map(String::from).collect();
            let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
            assert_eq!(sentences(max_chars, &chars), expected, "char by char");
            let (mut seed, mut rest, mut random) = (7_u64, MIXED, Vec::new());
            while !rest.is_empty() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let n = (seed >> 33) as usize % 6 + 1;
                let at = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
                random.push(&rest[..at]);
                rest = &rest[at..];
            }
            assert_eq!(sentences(max_chars, &random), expected, "random pieces");
        }
        let expected = "Dr. Smith paid $3.50 at 5 p.m. Really?! | \"Yes.\" | Steps: | 1. Open it. \
            | 2. Close it... then rest. | Wait… | What? | 你好。 | 「好」。 \
            | See https://x.io/a.b?c=1 now. | J. R. R. Tolkien, no. 5, etc. 🦀 done. \
            | Is it? | No. | Mail me@x.org. | Bye";
        assert_eq!(whole(MIXED), expected);
    }

    #[test]
    fn multibyte_text_is_never_sliced_inside_a_character() {
        check(&["I ❤️ Rust. 🦀 is great! Ok => I ❤️ Rust. | 🦀 is great! | Ok"]);
        assert_eq!(split(3, &"😀".repeat(7)), "😀😀😀 | 😀😀😀 | 😀");
        let text = "Ünïcödé… Ça va? Ja.";
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(sentences(4, &chars), sentences(4, &[text]));
    }
}
