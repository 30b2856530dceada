//! Answers to repeated reads, remembered with the catalogue generation they
//! were computed at: every committed write (in this process or another on the
//! same database file) bumps the generation, so a stale answer is never served.
//!
//! Bounded by entries and by an estimate of bytes; when either is full the
//! cache starts over, which keeps it simple and its worst case small.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// A generation-checked cache of read results.
pub(crate) struct ReadCache<K, V> {
    entries: Mutex<Entries<K, V>>,
    max_entries: usize,
    max_bytes: usize,
}

struct Entries<K, V> {
    map: HashMap<K, (i64, V, usize)>,
    bytes: usize,
}

impl<K: Hash + Eq, V: Clone> ReadCache<K, V> {
    /// A cache of at most `max_entries` answers and about `max_bytes`.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        ReadCache {
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
            max_entries,
            max_bytes,
        }
    }

    /// The answer to `key` if it was computed at `generation`.
    pub(crate) fn get(&self, key: &K, generation: i64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .map
            .get(key)
            .filter(|(at, _, _)| *at == generation)
            .map(|(_, value, _)| value.clone())
    }

    /// Remembers an answer of about `bytes`; larger than the whole budget is not kept.
    pub(crate) fn put(&self, key: K, generation: i64, value: V, bytes: usize) {
        if bytes > self.max_bytes {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.map.len() >= self.max_entries || entries.bytes + bytes > self.max_bytes {
            entries.map.clear();
            entries.bytes = 0;
        }
        if let Some((_, _, old)) = entries.map.insert(key, (generation, value, bytes)) {
            entries.bytes -= old;
        }
        entries.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_at_the_generation_they_were_computed_at() {
        let cache = ReadCache::new(4, 100);
        cache.put("q", 7, "answer", 6);
        assert_eq!(cache.get(&"q", 7), Some("answer"));
        assert_eq!(cache.get(&"q", 8), None, "a write happened since");
        assert_eq!(cache.get(&"other", 7), None);
    }

    #[test]
    fn starts_over_when_entries_or_bytes_run_out() {
        let cache = ReadCache::new(2, 100);
        cache.put(1, 0, 'a', 10);
        cache.put(2, 0, 'b', 10);
        cache.put(3, 0, 'c', 10);
        assert_eq!((cache.get(&1, 0), cache.get(&3, 0)), (None, Some('c')));
        cache.put(4, 0, 'd', 95);
        assert_eq!((cache.get(&3, 0), cache.get(&4, 0)), (None, Some('d')));
        cache.put(5, 0, 'e', 101);
        assert_eq!(cache.get(&5, 0), None, "larger than the budget");
        cache.put(4, 0, 'D', 95);
        assert_eq!(cache.get(&4, 0), Some('D'), "replacing frees the old size");
    }
}
