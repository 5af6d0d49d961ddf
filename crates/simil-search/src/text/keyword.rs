//! BM25 keyword search (the `bm25` crate's scorer, k1 = 1.2, b = 0.75) over the text fields
//! of items. Text is split into lower-case words at every character that is not a letter or
//! a digit, so "Red-Apple_2" gives `red`, `apple`, `2`; no stemming and no stop words, so
//! results do not depend on a language guess.

use ::bm25::{Document, SearchEngine, SearchEngineBuilder, Tokenizer};

/// Lower-case words: runs of letters and digits (any script).
#[derive(Clone, Copy, Debug, Default)]
pub struct Words;

impl Tokenizer for Words {
    fn tokenize(&self, text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }
}

/// An in-memory BM25 index of items' text, by item id (`String`, as the vector index's ids,
/// or any hashable, ordered id).
pub struct KeywordIndex<K = String> {
    engine: SearchEngine<K, u32, Words>,
}

impl<K> std::fmt::Debug for KeywordIndex<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordIndex").finish_non_exhaustive()
    }
}

impl<K: Eq + std::hash::Hash + Clone + Ord> KeywordIndex<K> {
    /// Indexes `(id, fields)` items; an item's fields (name, labels, caption, …) are searched
    /// as one text. The average document length BM25 normalises by is fitted to these items.
    pub fn build<I, F, S>(items: I) -> Self
    where
        I: IntoIterator<Item = (K, F)>,
        F: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let docs: Vec<Document<K>> = items
            .into_iter()
            .map(|(id, fields)| Document::new(id, join(fields)))
            .collect();
        KeywordIndex {
            engine: SearchEngineBuilder::<K, u32, Words>::with_tokenizer_and_documents(Words, docs)
                .build(),
        }
    }

    /// Adds an item or replaces its text (the average length stays as fitted by
    /// [`Self::build`]).
    pub fn upsert<F, S>(&mut self, id: K, fields: F)
    where
        F: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.engine.upsert(Document::new(id, join(fields)));
    }

    /// Removes an item (no-op when absent).
    pub fn remove(&mut self, id: &K) {
        self.engine.remove(id);
    }

    /// The at most `k` items whose text matches a word of `query`, best BM25 score first:
    /// `(id, score)`. Ties are broken by id, so results are deterministic.
    pub fn search(&self, query: &str, k: usize) -> Vec<(K, f32)> {
        let mut hits: Vec<(K, f32)> = self
            .engine
            .search(query, None)
            .into_iter()
            .filter(|r| r.score > 0.0)
            .map(|r| (r.document.id, r.score))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        hits.truncate(k);
        hits
    }
}

fn join<F, S>(fields: F) -> String
where
    F: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    fields
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> KeywordIndex<u64> {
        KeywordIndex::build([
            (1, vec!["Red Apple", "fruit"]),
            (2, vec!["Banana", "yellow fruit"]),
            (3, vec!["Fire engine", "red vehicle"]),
            (4, vec!["Blue whale"]),
            (5, vec!["Strawberry"]),
        ])
    }

    #[test]
    fn words_split_on_non_alphanumerics_and_lowercase() {
        assert_eq!(
            Words.tokenize("Red-Apple_2, ÉTÉ 東京"),
            ["red", "apple", "2", "été", "東京"]
        );
    }

    #[test]
    fn both_words_beat_one_word_and_misses_are_absent() {
        let hits = index().search("red fruit", 10);
        let ids: Vec<u64> = hits.iter().map(|h| h.0).collect();
        assert_eq!(ids[0], 1, "{hits:?}");
        assert_eq!(ids.len(), 3);
        assert!(ids.contains(&2) && ids.contains(&3));
        assert!(index().search("kangaroo", 10).is_empty());
        assert_eq!(index().search("RED", 1).len(), 1);
    }

    #[test]
    fn rare_words_weigh_more() {
        // "whale" occurs once, "fruit" twice: IDF makes the whale match score higher.
        let idx = index();
        let whale = idx.search("whale", 1)[0].1;
        let fruit = idx.search("fruit", 1)[0].1;
        assert!(whale > fruit, "{whale} vs {fruit}");
    }

    #[test]
    fn string_ids() {
        let idx = KeywordIndex::build([
            ("cat.jpg".to_string(), ["a cat"]),
            ("dog.jpg".into(), ["a dog"]),
        ]);
        assert_eq!(idx.search("dog", 5)[0].0, "dog.jpg");
    }

    #[test]
    fn upsert_and_remove() {
        let mut idx = index();
        idx.upsert(5, ["Strawberry", "red fruit"]);
        assert!(idx.search("red fruit", 10).iter().any(|h| h.0 == 5));
        idx.remove(&1);
        assert!(idx.search("apple", 10).is_empty());
    }
}
