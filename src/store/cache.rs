//! The content of SKPs (their RHK with indicators, and their behaviour values) kept in memory by
//! each replica, keyed by the SKP's id and version.
//!
//! Every change of an SKP's content bumps the SKP's version in the same transaction (`touch` in
//! `store::skp`), and a read always takes the SKP's row from the database first (for the version,
//! the state and the authorization facts). Content cached for that version is therefore exactly
//! what the database holds for it, whichever replica made the change: no invalidation messages
//! between replicas, and a replica never serves content older than the row it just read.
//!
//! Only reads outside transactions use the cache (they see committed data only): content read
//! inside a write transaction may still be rolled back, so it is never stored. Content loaded
//! after the row was read may be newer than the row's version, never older; the entry is then
//! replaced at the next version. The cache holds at most `capacity` SKPs (least recently used
//! first out) and is emptied when the server is idle, so it costs no memory between bursts.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use super::skp::{BehaviourRow, RhkDoc};

/// What an SKP contains besides its own row, as of one version.
#[derive(Debug)]
pub struct SkpContent {
    /// The RHK in document order, each with its indicators in order.
    pub rhk: Vec<RhkDoc>,
    /// The behaviour values in the official order.
    pub behaviours: Vec<BehaviourRow>,
}

/// SKP id -> (version, content of that version), least recently used first out.
type Entries = lru::LruCache<String, (i64, Arc<SkpContent>)>;

/// The cache of SKP content of one replica (see the module).
#[derive(Debug)]
pub struct ContentCache {
    /// The entries; `None` when disabled (capacity 0).
    entries: Option<Mutex<Entries>>,
}

impl ContentCache {
    /// A cache of at most `capacity` SKPs; 0 turns it off.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(lru::LruCache::new(c))),
        }
    }

    /// The content of SKP `id` at `version`, when cached.
    pub fn get(&self, id: &str, version: i64) -> Option<Arc<SkpContent>> {
        let mut entries = self.entries.as_ref()?.lock().ok()?;
        match entries.get(id) {
            Some((v, c)) if *v == version => Some(c.clone()),
            _ => None,
        }
    }

    /// The version of SKP `id` cached now, if any (without making it more recently used): a
    /// point read asks the database for the stored content only when it may be of another.
    pub fn version_of(&self, id: &str) -> Option<i64> {
        let entries = self.entries.as_ref()?.lock().ok()?;
        entries.peek(id).map(|(v, _)| *v)
    }

    /// Keeps `content` as SKP `id`'s content at `version` (an entry of a later version stays).
    pub fn put(&self, id: &str, version: i64, content: Arc<SkpContent>) {
        let Some(Ok(mut entries)) = self.entries.as_ref().map(|m| m.lock()) else {
            return;
        };
        match entries.get_mut(id) {
            Some(e) if e.0 > version => {}
            Some(e) => *e = (version, content),
            None => {
                entries.put(id.to_owned(), (version, content));
            }
        }
    }

    /// SKPs cached now.
    pub fn len(&self) -> usize {
        self.entries
            .as_ref()
            .and_then(|m| m.lock().ok().map(|e| e.len()))
            .unwrap_or(0)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (the server went idle).
    pub fn clear(&self) {
        if let Some(Ok(mut entries)) = self.entries.as_ref().map(|m| m.lock()) {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(n: usize) -> Arc<SkpContent> {
        Arc::new(SkpContent {
            rhk: Vec::with_capacity(n),
            behaviours: Vec::new(),
        })
    }

    #[test]
    fn serves_only_the_version_it_holds() {
        let c = ContentCache::new(4);
        assert!(c.get("a", 1).is_none());
        c.put("a", 1, content(1));
        assert_eq!(c.get("a", 1).map(|x| x.rhk.capacity()), Some(1));
        assert!(c.get("a", 2).is_none(), "a newer version is a miss");
        c.put("a", 2, content(2));
        assert!(c.get("a", 1).is_none(), "the older version is gone");
        assert_eq!(c.get("a", 2).map(|x| x.rhk.capacity()), Some(2));
        // A slower reader that loaded the older version does not overwrite the newer one.
        c.put("a", 1, content(3));
        assert_eq!(c.get("a", 2).map(|x| x.rhk.capacity()), Some(2));
        assert!(c.get("a", 1).is_none());
        assert_eq!(c.version_of("a"), Some(2));
        assert_eq!(c.version_of("b"), None);
    }

    #[test]
    fn bounded_cleared_and_switchable_off() {
        let c = ContentCache::new(2);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            c.put(id, 1, content(i));
        }
        assert_eq!(c.len(), 2);
        assert!(
            c.get("a", 1).is_none(),
            "the least recently used entry left"
        );
        c.clear();
        assert!(c.is_empty());
        let off = ContentCache::new(0);
        off.put("a", 1, content(0));
        assert!(off.get("a", 1).is_none());
        assert!(off.is_empty());
        assert_eq!(off.version_of("a"), None);
    }

    #[test]
    fn asking_for_the_version_keeps_the_order_of_use() {
        let c = ContentCache::new(2);
        c.put("a", 1, content(0));
        c.put("b", 1, content(0));
        assert_eq!(c.version_of("a"), Some(1));
        c.put("c", 1, content(0));
        assert_eq!(
            c.version_of("a"),
            None,
            "a was still the least recently used"
        );
        assert_eq!(c.version_of("b"), Some(1));
    }
}
