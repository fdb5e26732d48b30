//! The shared copy of the unit list and the rules for reloading it: one
//! reload at a time, at most one per second, stale data served (with a
//! warning) when a periodic reload fails, an error when there is no data.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tasknet_proto::tonic;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::{Backoff, TracedChannel};
use tokio::sync::Mutex;

use crate::{DirectoryError, MAX_AGE, MIN_RELOAD_INTERVAL};

/// What one load reads: units by id, regions, lineage links.
type Loaded = (
    HashMap<String, v1::Unit>,
    Vec<v1::Region>,
    Vec<v1::LineageLink>,
);

/// ListUnits page size: the service's maximum, so a load takes few calls.
const PAGE_SIZE: i32 = 1000;

/// One complete load of the organisation service's units and regions.
pub(crate) struct Snapshot {
    pub units: Arc<HashMap<String, v1::Unit>>,
    /// The same units, shareable one by one without copying.
    pub by_id: HashMap<String, Arc<v1::Unit>>,
    pub regions: Arc<Vec<v1::Region>>,
    /// Every lineage link between units (empty from an organisation service
    /// that predates reorganisations).
    pub lineage: Arc<Vec<v1::LineageLink>>,
    loaded_at: Instant,
    generation: u64,
}

impl Snapshot {
    fn is_fresh(&self) -> bool {
        self.loaded_at.elapsed() < MAX_AGE
    }
}

/// Bookkeeping of reload attempts; its mutex also serialises reloads.
#[derive(Default)]
struct ReloadState {
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    generation: u64,
}

impl ReloadState {
    fn attempted_recently(&self) -> bool {
        self.last_attempt
            .is_some_and(|at| at.elapsed() < MIN_RELOAD_INTERVAL)
    }
}

pub(crate) struct Cache {
    client: OrganisationServiceClient<TracedChannel>,
    rpc_timeout: Duration,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    reload: Mutex<ReloadState>,
}

impl Cache {
    pub fn new(channel: TracedChannel, rpc_timeout: Duration) -> Self {
        Self {
            client: OrganisationServiceClient::new(channel),
            rpc_timeout,
            snapshot: RwLock::new(None),
            reload: Mutex::new(ReloadState::default()),
        }
    }

    fn peek(&self) -> Option<Arc<Snapshot>> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc;
        // the value inside is still a complete snapshot.
        let guard = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        guard.clone()
    }

    fn store(&self, snapshot: Arc<Snapshot>) {
        let mut guard = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        *guard = Some(snapshot);
    }

    /// A snapshot no older than [`MAX_AGE`], or an older one when reloading
    /// fails (the unit list changes rarely; refusing every request because
    /// the organisation service blinked would be worse).
    pub async fn current(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        if let Some(snapshot) = self.peek().filter(|s| s.is_fresh()) {
            return Ok(snapshot);
        }
        let mut state = self.reload.lock().await;
        // Another caller may have reloaded while this one waited for the lock.
        let existing = self.peek();
        if let Some(snapshot) = existing.as_ref().filter(|s| s.is_fresh()) {
            return Ok(Arc::clone(snapshot));
        }
        if state.attempted_recently() {
            return match (existing, &state.last_error) {
                (Some(snapshot), _) => Ok(snapshot),
                (None, Some(error)) => Err(DirectoryError::Unavailable(error.clone())),
                (None, None) => Err(DirectoryError::Unavailable("no units loaded".into())),
            };
        }
        match self.load_into(&mut state).await {
            Ok(snapshot) => Ok(snapshot),
            Err(error) => match existing {
                Some(snapshot) => {
                    tracing::warn!(%error, "reloading units failed; using the previous copy");
                    Ok(snapshot)
                }
                None => Err(error),
            },
        }
    }

    /// After a lookup in `seen` missed: a newer snapshot (reloading unless
    /// one was loaded since `seen`, or a reload was attempted within the last
    /// second). Fails when the reload fails, since the unit may well exist.
    pub async fn reload_after_miss(
        &self,
        seen: &Arc<Snapshot>,
    ) -> Result<Arc<Snapshot>, DirectoryError> {
        let mut state = self.reload.lock().await;
        let existing = self.peek().unwrap_or_else(|| Arc::clone(seen));
        if existing.generation != seen.generation {
            return Ok(existing);
        }
        if state.attempted_recently() {
            return match &state.last_error {
                Some(error) => Err(DirectoryError::Unavailable(error.clone())),
                None => Ok(existing),
            };
        }
        self.load_into(&mut state).await
    }

    /// Loads everything, records the attempt, and publishes the result.
    async fn load_into(&self, state: &mut ReloadState) -> Result<Arc<Snapshot>, DirectoryError> {
        state.last_attempt = Some(Instant::now());
        let loaded = self.load_retrying().await;
        let (units, regions, lineage) = match loaded {
            Ok(loaded) => loaded,
            Err(status) => {
                let error = format!("{}: {}", status.code(), status.message());
                state.last_error = Some(error.clone());
                return Err(DirectoryError::Unavailable(error));
            }
        };
        state.last_error = None;
        state.generation += 1;
        let by_id = units
            .iter()
            .map(|(id, unit)| (id.clone(), Arc::new(unit.clone())))
            .collect();
        let snapshot = Arc::new(Snapshot {
            units: Arc::new(units),
            by_id,
            regions: Arc::new(regions),
            lineage: Arc::new(lineage),
            loaded_at: Instant::now(),
            generation: state.generation,
        });
        self.store(Arc::clone(&snapshot));
        tracing::debug!(units = snapshot.units.len(), "loaded the unit directory");
        Ok(snapshot)
    }

    /// [`Self::load`], tried again after a short pause (the project's
    /// [`Backoff`]) when the call failed in transport: the connection went
    /// away under it (Cancelled, Unavailable). Reading the units is
    /// idempotent, and the request that needed them would otherwise fail, and
    /// every other for the next second.
    async fn load_retrying(&self) -> Result<Loaded, tonic::Status> {
        let mut backoff = Backoff::new(TRANSPORT_RETRY_FIRST_PAUSE, TRANSPORT_RETRY_MAX_PAUSE);
        loop {
            match self.load().await {
                Err(status)
                    if is_transport_failure(&status) && backoff.failures() < TRANSPORT_RETRIES =>
                {
                    tracing::debug!(%status, "loading units failed in transport; trying again");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                loaded => return loaded,
            }
        }
    }

    async fn load(&self) -> Result<Loaded, tonic::Status> {
        let mut client = self.client.clone();
        let mut units = HashMap::new();
        let mut page_token = String::new();
        loop {
            let mut request = tonic::Request::new(v1::ListUnitsRequest {
                page_size: PAGE_SIZE,
                page_token: std::mem::take(&mut page_token),
                ..Default::default()
            });
            request.set_timeout(self.rpc_timeout);
            let page = client.list_units(request).await?.into_inner();
            units.extend(page.units.into_iter().map(|unit| (unit.id.clone(), unit)));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let mut request = tonic::Request::new(v1::ListRegionsRequest {});
        request.set_timeout(self.rpc_timeout);
        let regions = client.list_regions(request).await?.into_inner().regions;
        let lineage = self.load_lineage().await?;
        Ok((units, regions, lineage))
    }

    async fn load_lineage(&self) -> Result<Vec<v1::LineageLink>, tonic::Status> {
        let mut request = tonic::Request::new(v1::ListReorganisationsRequest {});
        request.set_timeout(self.rpc_timeout);
        match self.client.clone().list_reorganisations(request).await {
            Ok(response) => Ok(response.into_inner().links),
            // An organisation service older than reorganisations has no lineage.
            Err(status) if status.code() == tonic::Code::Unimplemented => Ok(Vec::new()),
            Err(status) => Err(status),
        }
    }

    /// One reorganisation and its links, read from the service (not cached:
    /// callers act on it right after it was applied).
    pub async fn reorganisation(
        &self,
        reorganisation: &str,
    ) -> Result<Option<v1::GetReorganisationResponse>, tonic::Status> {
        let mut request = tonic::Request::new(v1::GetReorganisationRequest {
            reorganisation: reorganisation.to_owned(),
        });
        request.set_timeout(self.rpc_timeout);
        match self.client.clone().get_reorganisation(request).await {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }
}

/// Attempts after the first when a load fails in transport, and the pauses
/// before them.
const TRANSPORT_RETRIES: u32 = 2;
const TRANSPORT_RETRY_FIRST_PAUSE: Duration = Duration::from_millis(50);
const TRANSPORT_RETRY_MAX_PAUSE: Duration = Duration::from_millis(250);

/// Whether a call failed before the server could answer it.
fn is_transport_failure(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Cancelled
    )
}
