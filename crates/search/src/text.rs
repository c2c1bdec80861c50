//! Text analysis shared by indexing and querying. Text splits into runs of Han/kana/Hangul
//! characters, which jieba segments into words, and runs of other letters and digits, which are
//! words as they are. Every word is then lower-cased, accent-folded and (for English) stemmed,
//! so `Dresses`, `dress` and `DRESS` meet, `café` finds `cafe`, and 连衣裙 finds
//! "2024新款夏季碎花连衣裙女".

use jieba_rs::Jieba;
use std::sync::LazyLock;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// The analyzer of the searchable text fields.
pub const ANALYZER: &str = "souk";
/// The same without stemming: for completing word prefixes.
pub const PLAIN_ANALYZER: &str = "souk_plain";

/// Loading the dictionary takes a few hundred milliseconds, so it happens once per process.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // kana
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // compatibility ideographs
        | 0x20000..=0x2FA1F) // supplementary ideographs
}

/// A run of text: its byte range and whether it is CJK.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub from: usize,
    pub to: usize,
    pub cjk: bool,
}

/// Splits text into word-bearing runs; punctuation and spaces separate them and are dropped.
pub fn runs(text: &str) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut current: Option<Run> = None;
    for (i, c) in text.char_indices() {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (kind, current.as_mut()) {
            (Some(cjk), Some(run)) if run.cjk == cjk => run.to = i + c.len_utf8(),
            (Some(cjk), _) => {
                out.extend(current.take());
                current = Some(Run { from: i, to: i + c.len_utf8(), cjk });
            }
            (None, _) => out.extend(current.take()),
        }
    }
    out.extend(current);
    out
}

/// Byte offset of `part`, a slice of `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Segments a CJK run for indexing: whole words and, for long ones, the shorter dictionary
/// words inside them (search mode), each with its byte range in `text`.
/// Sorted by position (longer first), as highlighting expects.
fn cjk_words(text: &str, run: Run) -> Vec<(usize, &str)> {
    let slice = &text[run.from..run.to];
    let mut words: Vec<(usize, &str)> =
        JIEBA.cut_for_search(slice, true).into_iter().map(|w| (run.from + offset_in(slice, w), w)).collect();
    words.sort_by_key(|(from, w)| (*from, std::cmp::Reverse(w.len())));
    words
}

/// Words of a query as the searcher meant them: a CJK run is cut into words without the
/// search-mode sub-words (those become alternatives of each word instead).
pub fn query_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for run in runs(text) {
        let slice = &text[run.from..run.to];
        if run.cjk {
            out.extend(JIEBA.cut(slice, true).into_iter().filter(|w| !w.trim().is_empty()));
        } else {
            out.push(slice);
        }
    }
    out
}

#[derive(Clone, Default)]
pub struct SoukTokenizer {
    tokens: Vec<Token>,
}

pub struct VecTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl Tokenizer for SoukTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        let mut position = 0;
        let mut push = |tokens: &mut Vec<Token>, from: usize, word: &str| {
            tokens.push(Token {
                offset_from: from,
                offset_to: from + word.len(),
                position,
                text: word.to_string(),
                position_length: 1,
            });
            position += 1;
        };
        for run in runs(text) {
            if run.cjk {
                for (from, word) in cjk_words(text, run) {
                    push(&mut self.tokens, from, word);
                }
            } else {
                push(&mut self.tokens, run.from, &text[run.from..run.to]);
            }
        }
        VecTokenStream { tokens: &mut self.tokens, next: 0 }
    }
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SoukTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

pub fn plain_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SoukTokenizer::default()).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// The indexed terms of `text` under an analyzer.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mixed_text_into_runs() {
        let r = runs("iPhone15 手机壳, café!");
        let words: Vec<(&str, bool)> = r.iter().map(|r| (&"iPhone15 手机壳, café!"[r.from..r.to], r.cjk)).collect();
        assert_eq!(words, vec![("iPhone15", false), ("手机壳", true), ("café", false)]);
    }

    #[test]
    fn folds_case_accents_and_stems_english() {
        let mut a = analyzer();
        assert_eq!(terms(&mut a, "Dresses CAFÉ running"), vec!["dress", "cafe", "run"]);
        assert_eq!(terms(&mut plain_analyzer(), "Dresses"), vec!["dresses"]);
    }

    #[test]
    fn segments_chinese_so_a_word_finds_a_long_title() {
        let mut a = analyzer();
        let indexed = terms(&mut a, "2024新款夏季碎花连衣裙女");
        assert!(indexed.contains(&"连衣裙".to_string()), "{indexed:?}");
        assert!(indexed.contains(&"2024".to_string()), "{indexed:?}");
        assert_eq!(query_words("碎花连衣裙"), vec!["碎花", "连衣裙"]);
        let text = "蓝牙 headphones 耳机";
        let mut stream = a.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            assert!(text.get(t.offset_from..t.offset_to).is_some(), "offsets are byte ranges of the text");
        }
    }
}
