//! A cached, read-only view of the organisation service's units, regions and
//! lineage (reorganisations), for the services that need to know a unit's category, parent or region
//! (task validates assignees, reporting groups by category and region).
//!
//! The whole unit list is small (about a hundred units, a few thousand at
//! most after reorganisations), so the directory loads all of it at once and
//! answers lookups from memory. It reloads when its copy is older than
//! [`MAX_AGE`], and on a lookup miss (a unit created since the last load), at
//! most once per [`MIN_RELOAD_INTERVAL`] so that lookups of ids that do not
//! exist cannot hammer the organisation service.

mod cache;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tasknet_proto::v1;
use tasknet_server::TracedChannel;

use cache::Cache;

/// How long a loaded copy is used before it is reloaded.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// The least time between two reloads.
pub const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// How long one ListUnits/ListRegions call may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the directory could not answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("organisation service unavailable: {0}")]
    Unavailable(String),
}

/// A cheap-to-clone handle on one shared cache.
#[derive(Clone)]
pub struct UnitDirectory {
    cache: Arc<Cache>,
}

impl std::fmt::Debug for UnitDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitDirectory").finish_non_exhaustive()
    }
}

impl UnitDirectory {
    /// A directory reading through `channel` (see `tasknet_server::connect_lazy`).
    pub fn new(channel: TracedChannel) -> Self {
        Self {
            cache: Arc::new(Cache::new(channel, RPC_TIMEOUT)),
        }
    }

    /// A directory of the organisation service at `endpoint` (`http://host:port`);
    /// connects on first use.
    pub fn connect_lazy(endpoint: &str) -> anyhow::Result<Self> {
        let channel = tasknet_server::connect_lazy(endpoint)
            .with_context(|| format!("invalid organisation endpoint {endpoint:?}"))?;
        Ok(Self::new(channel))
    }

    /// [`UnitDirectory::connect_lazy`] sending a credential (and TLS settings).
    pub fn connect_lazy_with(
        endpoint: &str,
        options: &tasknet_server::ClientOptions,
    ) -> anyhow::Result<Self> {
        let channel = tasknet_server::connect_lazy_with(endpoint, options)
            .with_context(|| format!("invalid organisation endpoint {endpoint:?}"))?;
        Ok(Self::new(channel))
    }

    /// The unit with this id; on a miss, reloads all units (at most once per
    /// second) and looks again.
    pub async fn get(&self, unit_id: &str) -> Result<Option<Arc<v1::Unit>>, DirectoryError> {
        let snapshot = self.cache.current().await?;
        if let Some(unit) = snapshot.by_id.get(unit_id) {
            return Ok(Some(Arc::clone(unit)));
        }
        let snapshot = self.cache.reload_after_miss(&snapshot).await?;
        Ok(snapshot.by_id.get(unit_id).cloned())
    }

    /// Every unit, loaded through ListUnits pages (cached; reloaded when older
    /// than 60 s or after a miss).
    pub async fn all(&self) -> Result<Arc<HashMap<String, v1::Unit>>, DirectoryError> {
        Ok(Arc::clone(&self.cache.current().await?.units))
    }

    /// Every region, loaded with the units.
    pub async fn regions(&self) -> Result<Arc<Vec<v1::Region>>, DirectoryError> {
        Ok(Arc::clone(&self.cache.current().await?.regions))
    }

    /// Every lineage link between units (reorganisations), loaded with the units.
    pub async fn lineage(&self) -> Result<Arc<Vec<v1::LineageLink>>, DirectoryError> {
        Ok(Arc::clone(&self.cache.current().await?.lineage))
    }

    /// A reorganisation (by id or name) and its links, read fresh from the
    /// organisation service; `None` when there is no such reorganisation.
    pub async fn reorganisation(
        &self,
        reorganisation: &str,
    ) -> Result<Option<v1::GetReorganisationResponse>, DirectoryError> {
        self.cache
            .reorganisation(reorganisation)
            .await
            .map_err(|status| {
                DirectoryError::Unavailable(format!("{}: {}", status.code(), status.message()))
            })
    }
}
