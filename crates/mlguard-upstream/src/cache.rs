//! The bounded cache for answers that never change (a run's experiment, say), over
//! `quick_cache` (S3-FIFO: entries read again survive a stream of one-off ones).

use mlguard_domain::ExperimentId;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, UnitWeighter};

/// What a lookup asks: the experiment of the `kind` (run, trace, logged model)
/// with this id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ExperimentOf {
    pub(crate) kind: &'static str,
    pub(crate) id: String,
}

pub(crate) type ExperimentCache = Cache<ExperimentOf, ExperimentId>;

/// A cache that never holds more than `capacity` entries. `quick_cache` rounds each
/// shard's share up, so the capacity is split evenly over a power-of-two number of
/// shards of at least 32 entries each, and a remainder is left unused.
pub(crate) fn bounded<K, V>(capacity: usize) -> Cache<K, V>
where
    K: Eq + std::hash::Hash + Clone,
    V: Clone,
{
    let shards = (capacity / 32).clamp(1, 16);
    let shards = if shards.is_power_of_two() {
        shards
    } else {
        shards.next_power_of_two() / 2
    };
    let capacity = capacity - capacity % shards;
    let options = OptionsBuilder::new()
        .shards(shards)
        .estimated_items_capacity(capacity)
        .weight_capacity(capacity as u64)
        .build()
        .unwrap_or_else(|_| unreachable!("shards and capacities are set"));
    Cache::with_options(
        options,
        UnitWeighter,
        DefaultHashBuilder::default(),
        Default::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_hot_entries() {
        let cache = bounded(100);
        cache.insert("hot".to_owned(), 0);
        // S3-FIFO keeps what it admitted while filling until re-read entries push it
        // out; this checks the steady state, so the churn starts on full shards.
        for i in 0..1_000 {
            cache.insert(format!("warm{i}"), -1);
        }
        for i in 0..10_000 {
            cache.insert(format!("k{i}"), i);
            // Touching "hot" keeps it alive across generations.
            assert_eq!(cache.get(&"hot".to_owned()), Some(0));
            assert!(cache.len() <= 100, "grew to {}", cache.len());
        }
        assert_eq!(cache.get(&"k9999".to_owned()), Some(9999));
        assert_eq!(cache.get(&"k0".to_owned()), None);
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        for capacity in [1, 31, 33, 100, 1_000, 10_007, 100_000] {
            let cache = bounded(capacity);
            for i in 0..capacity * 3 {
                cache.insert(i, i);
            }
            assert!(cache.len() <= capacity, "{capacity}: {}", cache.len());
            assert!(
                cache.len() * 10 >= capacity * 9,
                "{capacity}: {}",
                cache.len()
            );
        }
    }
}
