//! The units and regions a report groups by: a snapshot taken from the unit
//! directory for each request, or built by hand in tests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tasknet_directory::{DirectoryError, UnitDirectory};
use tasknet_proto::v1;

/// Units by id and regions, as one request sees them.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    units: Arc<HashMap<String, v1::Unit>>,
    /// Units found by id after missing from `units` (created since it was loaded).
    extra: HashMap<String, Arc<v1::Unit>>,
    regions: Arc<Vec<v1::Region>>,
    /// Lineage links between units (reorganisations), for restating figures.
    lineage: Arc<Vec<v1::LineageLink>>,
}

impl Catalog {
    pub fn new(units: Arc<HashMap<String, v1::Unit>>, regions: Arc<Vec<v1::Region>>) -> Self {
        Self {
            units,
            extra: HashMap::new(),
            regions,
            lineage: Arc::default(),
        }
    }

    /// The same catalog knowing these lineage links.
    pub fn with_lineage(mut self, lineage: Arc<Vec<v1::LineageLink>>) -> Self {
        self.lineage = lineage;
        self
    }

    pub fn lineage(&self) -> &[v1::LineageLink] {
        &self.lineage
    }

    /// A catalog of the given units and regions (for tests and tools).
    pub fn from_units(units: Vec<v1::Unit>, regions: Vec<v1::Region>) -> Self {
        let units = units.into_iter().map(|u| (u.id.clone(), u)).collect();
        Self::new(Arc::new(units), Arc::new(regions))
    }

    /// Every unit loaded (not those found one by one since).
    pub fn units(&self) -> &HashMap<String, v1::Unit> {
        &self.units
    }

    pub fn unit(&self, id: &str) -> Option<&v1::Unit> {
        self.units
            .get(id)
            .or_else(|| self.extra.get(id).map(Arc::as_ref))
    }

    pub fn region(&self, code: &str) -> Option<&v1::Region> {
        self.regions.iter().find(|region| region.code == code)
    }
}

/// Where a report gets its catalog from.
pub trait UnitSource: Send + Sync + 'static {
    /// A catalog that knows every one of `unit_ids` that exists; ids that
    /// exist nowhere are simply absent from it.
    fn catalog(
        &self,
        unit_ids: Vec<String>,
    ) -> impl Future<Output = Result<Catalog, DirectoryError>> + Send;
}

impl UnitSource for UnitDirectory {
    async fn catalog(&self, unit_ids: Vec<String>) -> Result<Catalog, DirectoryError> {
        let mut catalog = Catalog::new(self.all().await?, self.regions().await?)
            .with_lineage(self.lineage().await?);
        let mut unknown = Vec::new();
        for id in unit_ids {
            if catalog.unit(&id).is_some() {
                continue;
            }
            // A unit created since the directory's last load: `get` reloads
            // (at most once a second, however many ids miss).
            match self.get(&id).await? {
                Some(unit) => {
                    catalog.extra.insert(id, unit);
                }
                None => unknown.push(id),
            }
        }
        if !unknown.is_empty() {
            tracing::warn!(
                count = unknown.len(),
                example = %unknown[0],
                "tasks are assigned to units the organisation service does not know; \
                 reporting them as unknown"
            );
        }
        Ok(catalog)
    }
}

/// A fixed catalog serves as its own source.
impl UnitSource for Catalog {
    async fn catalog(&self, _unit_ids: Vec<String>) -> Result<Catalog, DirectoryError> {
        Ok(self.clone())
    }
}
