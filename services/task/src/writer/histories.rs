//! The histories of recently changed tasks, kept by the writer between
//! batches. Without it every batch reads and decodes the whole change log of
//! each task it updates, so a task with many changes (an office's running
//! notes) costs more with every update. An entry is used only while the
//! task's stored version is the one it was kept at: another replica's write,
//! or a batch that did not commit, makes it stale and it is read again.

use std::collections::HashMap;
use std::sync::Mutex;

use tasknet_domain::TaskHistory;

/// Most histories kept, unless one batch changes more; past it the cache
/// starts again empty (a busy office's tasks come straight back, the rest
/// are read once more).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub struct HistoryCache {
    entries: Mutex<HashMap<String, (i64, TaskHistory)>>,
}

impl HistoryCache {
    /// Takes the kept histories of `ids` whose version is still `version_of`
    /// theirs; the rest stay in `ids` to be read from the database.
    pub fn take_current(
        &self,
        ids: &mut Vec<String>,
        version_of: impl Fn(&str) -> Option<i64>,
    ) -> HashMap<String, TaskHistory> {
        let mut entries = self.lock();
        let mut taken = HashMap::new();
        ids.retain(|id| match entries.remove(id) {
            Some((version, history)) if version_of(id) == Some(version) => {
                taken.insert(id.clone(), history);
                false
            }
            _ => true,
        });
        taken
    }

    /// Leaves in `ids` those whose histories are not kept (at any version):
    /// the ones to read.
    pub fn retain_unkept(&self, ids: &mut Vec<String>) {
        let entries = self.lock();
        ids.retain(|id| !entries.contains_key(id));
    }

    /// Keeps the histories a committed batch produced, at the versions it
    /// stored: all of them, even past the capacity, since the next batch
    /// (read while this one committed) finds its tasks' histories here.
    pub fn keep(&self, committed: Vec<(String, i64, TaskHistory)>) {
        let mut entries = self.lock();
        if entries.len() + committed.len() > CAPACITY {
            entries.clear();
        }
        for (id, version, history) in committed {
            entries.insert(id, (version, history));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, TaskHistory)>> {
        // A panic while holding it leaves whole entries behind: still usable.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasknet_domain::testing::ymd;
    use tasknet_domain::{TaskOrigin, vietnam_start_of_day};

    fn history(update_id: &str) -> TaskHistory {
        TaskHistory::new(TaskOrigin {
            update_id: update_id.to_owned(),
            effective_time: vietnam_start_of_day(ymd(2024, 1, 2)),
            assigned_date: ymd(2024, 1, 2),
            deadline: ymd(2024, 2, 1),
            assignee_unit_id: "u".to_owned(),
        })
    }

    #[test]
    fn only_histories_at_the_stored_version_are_used() {
        let cache = HistoryCache::default();
        cache.keep(vec![
            ("a".to_owned(), 3, history("a")),
            ("b".to_owned(), 5, history("b")),
        ]);
        let mut unkept = vec!["a".to_owned(), "c".to_owned()];
        cache.retain_unkept(&mut unkept);
        assert_eq!(unkept, vec!["c".to_owned()]);
        let mut ids = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        // b was written elsewhere since: version 6 in the database.
        let taken = cache.take_current(&mut ids, |id| match id {
            "a" => Some(3),
            "b" => Some(6),
            _ => Some(1),
        });
        assert_eq!(taken.keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(ids, vec!["b".to_owned(), "c".to_owned()]);
        // Taken or stale entries are gone until a commit keeps them again.
        let mut again = vec!["a".to_owned(), "b".to_owned()];
        assert!(cache.take_current(&mut again, |_| Some(3)).is_empty());
    }
}
