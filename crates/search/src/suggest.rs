//! Autocomplete for a search box: category names and product titles.

use crate::query::{Suggestion, Word};
use crate::text;
use crate::{SearchError, SearchIndex};
use souk_domain::category::Category;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, FuzzyTermQuery, Occur, Query};
use tantivy::schema::{Field, Value};
use tantivy::{TantivyDocument, Term};

impl SearchIndex {
    /// Completions of what a searcher is typing: categories whose name has a word starting
    /// with it, then product titles with every word and the last one as a prefix.
    pub fn suggest(&self, q: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        let limit = limit.clamp(1, 20);
        let needle = q.trim().to_lowercase();
        if needle.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<Suggestion> = Category::all()
            .iter()
            .filter(|c| {
                let name = c.name.to_lowercase();
                name.starts_with(&needle)
                    || name.split(|ch: char| !ch.is_alphanumeric()).any(|w| w.starts_with(&needle))
                    || c.name_zh.contains(q.trim())
            })
            .take(limit.div_ceil(3))
            .map(|c| Suggestion {
                kind: "category".into(),
                text: c.path(),
                id: c.id.into(),
                text_zh: Some(c.path_zh()),
            })
            .collect();
        let mut words = text::query_words(q);
        let typing = !q.ends_with(|c: char| !c.is_alphanumeric());
        let last = if typing { words.pop() } else { None };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .filter_map(|w| self.words(w).ok())
            .flatten()
            .map(|w| (Occur::Must, self.word_query(&Word { fuzzy: Vec::new(), ..w })))
            .collect();
        if let Some(last) = last {
            let mut plain = self.plain_analyzer()?;
            let mut stemmed = self.index.tokenizer_for_field(self.fields.title)?;
            let prefixes: Vec<String> = [text::terms(&mut plain, last), text::terms(&mut stemmed, last)]
                .into_iter()
                .filter_map(|mut t| t.pop())
                .collect();
            let any: Vec<(Occur, Box<dyn Query>)> = prefixes
                .into_iter()
                .map(|p| {
                    let q: Box<dyn Query> =
                        Box::new(FuzzyTermQuery::new_prefix(Term::from_field_text(self.fields.title, &p), 0, false));
                    (Occur::Should, q)
                })
                .collect();
            if !any.is_empty() {
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
            }
        }
        if clauses.is_empty() {
            return Ok(out);
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit * 4))?;
        let mut seen: Vec<String> = Vec::new();
        for (_, addr) in top {
            if out.len() >= limit {
                break;
            }
            let doc: TantivyDocument = searcher.doc(addr)?;
            let get = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let title = get(self.fields.title);
            if seen.contains(&title.to_lowercase()) {
                continue;
            }
            seen.push(title.to_lowercase());
            out.push(Suggestion { kind: "product".into(), text: title, id: get(self.fields.id), text_zh: None });
        }
        Ok(out)
    }
}
