//! A bounded map for answers that never change (a run's experiment, say).
//!
//! Two generations: inserts go to `young`; when it is full it becomes `old` and the
//! previous `old` is dropped. Lookups promote from `old`. Memory stays under
//! `2 × generation` entries, and hot entries survive.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

#[derive(Debug)]
pub(crate) struct BoundedCache<K, V> {
    generation: usize,
    inner: Mutex<Generations<K, V>>,
}

#[derive(Debug)]
struct Generations<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            generation: (capacity / 2).max(1),
            inner: Mutex::new(Generations {
                young: HashMap::new(),
                old: HashMap::new(),
            }),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(value) = g.young.get(key) {
            return Some(value.clone());
        }
        let value = g.old.remove(key)?;
        self.insert_locked(&mut g, key.clone(), value.clone());
        Some(value)
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.insert_locked(&mut g, key, value);
    }

    fn insert_locked(&self, g: &mut Generations<K, V>, key: K, value: V) {
        if g.young.len() >= self.generation {
            g.old = std::mem::take(&mut g.young);
        }
        g.young.insert(key, value);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        g.young.len() + g.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_hot_entries() {
        let cache = BoundedCache::new(100);
        cache.insert("hot".to_owned(), 0);
        for i in 0..10_000 {
            cache.insert(format!("k{i}"), i);
            // Touching "hot" keeps it alive across generations.
            assert_eq!(cache.get(&"hot".to_owned()), Some(0));
            assert!(cache.len() <= 100, "grew to {}", cache.len());
        }
        assert_eq!(cache.get(&"k9999".to_owned()), Some(9999));
        assert_eq!(cache.get(&"k0".to_owned()), None);
    }
}
