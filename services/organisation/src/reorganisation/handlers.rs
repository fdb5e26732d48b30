//! The reorganisation and lineage RPCs, free of the transport: validation,
//! then the store. `service.rs` wires them to the generated trait.

use std::collections::{HashSet, VecDeque};

use tasknet_auth::{AuditEntry, AuthContext};
use tasknet_domain::FieldError;
use tasknet_proto::v1;

use super::Plan;
use super::apply::{Applied, apply};
use super::reference::{REFERENCE_REORGANISATIONS, reference_reorganisation};
use crate::error::Error;
use crate::lineage;
use crate::model::canonical_uuid;
use crate::reference::{HEADQUARTERS_CODE, reference_unit_id};
use crate::repository::UnitFilter;
use crate::service::Organisation;

fn response(applied: Applied) -> v1::ApplyReorganisationResponse {
    v1::ApplyReorganisationResponse {
        reorganisation: Some(applied.reorganisation),
        links: applied.links,
        units_ended: i32::try_from(applied.ended).unwrap_or(i32::MAX),
        units_created: i32::try_from(applied.created).unwrap_or(i32::MAX),
        validated_only: applied.validated_only,
    }
}

impl Organisation {
    /// ApplyReorganisation.
    pub(crate) async fn apply_reorganisation(
        &self,
        request: &v1::ApplyReorganisationRequest,
        context: &AuthContext,
    ) -> Result<v1::ApplyReorganisationResponse, Error> {
        let reorganisation = request
            .reorganisation
            .as_ref()
            .ok_or_else(|| FieldError::missing("reorganisation"))?;
        self.apply_plan(reorganisation, request.validate_only, context)
            .await
    }

    /// ApplyReferenceReorganisation: a built-in reorganisation, through the
    /// same checks. The reference units must be loaded.
    pub(crate) async fn apply_reference_reorganisation(
        &self,
        request: &v1::ApplyReferenceReorganisationRequest,
        context: &AuthContext,
    ) -> Result<v1::ApplyReorganisationResponse, Error> {
        if request.name.is_empty() {
            return Err(FieldError::missing("name").into());
        }
        let reorganisation = reference_reorganisation(&request.name)?.ok_or_else(|| {
            let known = REFERENCE_REORGANISATIONS.join(", ");
            let message = format!(
                "no built-in reorganisation {:?} (known: {known})",
                request.name
            );
            Error::not_found("name", message)
        })?;
        let headquarters = reference_unit_id(v1::UnitCategory::Headquarters, HEADQUARTERS_CODE);
        if self.store().get(&headquarters).await?.is_none() {
            let message = "the reference units are not loaded; call LoadReferenceUnits first";
            return Err(Error::failed_precondition("name", message));
        }
        self.apply_plan(&reorganisation, request.validate_only, context)
            .await
    }

    async fn apply_plan(
        &self,
        reorganisation: &v1::Reorganisation,
        validate_only: bool,
        context: &AuthContext,
    ) -> Result<v1::ApplyReorganisationResponse, Error> {
        let plan = Plan::from_proto(reorganisation)?;
        let audit = (!validate_only)
            .then(|| AuditEntry::accepted(context, format!("reorganisation/{}", plan.id), ""));
        let applied = apply(self.store(), &plan, validate_only, audit).await?;
        tracing::info!(
            reorganisation = %plan.name, id = %plan.id, effective = %plan.effective,
            ended = applied.ended, created = applied.created, validate_only,
            "applied reorganisation"
        );
        Ok(response(applied))
    }

    /// GetReorganisation, by id or name.
    pub(crate) async fn get_reorganisation(
        &self,
        request: &v1::GetReorganisationRequest,
    ) -> Result<v1::GetReorganisationResponse, Error> {
        let wanted = request.reorganisation.trim();
        if wanted.is_empty() {
            return Err(FieldError::missing("reorganisation").into());
        }
        let id = canonical_uuid("reorganisation", wanted).unwrap_or_default();
        let mut conn = self.store().database().pool().acquire().await?;
        let stored = lineage::find_reorganisation(&mut conn, &id, wanted)
            .await?
            .ok_or_else(|| {
                Error::not_found("reorganisation", format!("no reorganisation {wanted:?}"))
            })?;
        let links = lineage::list_links(&mut conn, Some(&stored.reorganisation.id)).await?;
        Ok(v1::GetReorganisationResponse {
            reorganisation: Some(stored.reorganisation),
            links,
        })
    }

    /// ListReorganisations: all of them, with every link.
    pub(crate) async fn list_reorganisations(
        &self,
    ) -> Result<v1::ListReorganisationsResponse, Error> {
        let mut conn = self.store().database().pool().acquire().await?;
        let reorganisations = lineage::list_reorganisations(&mut conn)
            .await?
            .into_iter()
            .map(|stored| stored.reorganisation)
            .collect();
        let links = lineage::list_links(&mut conn, None).await?;
        Ok(v1::ListReorganisationsResponse {
            reorganisations,
            links,
        })
    }

    /// GetLineage: the links into and out of a unit, optionally transitively.
    pub(crate) async fn get_lineage(
        &self,
        request: &v1::GetLineageRequest,
    ) -> Result<v1::GetLineageResponse, Error> {
        let id = canonical_uuid("unit_id", &request.unit_id)?;
        let unit = self
            .store()
            .get(&id)
            .await?
            .ok_or_else(|| Error::not_found("unit_id", format!("no unit {id}")))?;
        let mut conn = self.store().database().pool().acquire().await?;
        let links = lineage::list_links(&mut conn, None).await?;
        let (predecessors, successors) = if request.transitive {
            (
                walk(&links, &id, Direction::Back),
                walk(&links, &id, Direction::Forward),
            )
        } else {
            (
                links
                    .iter()
                    .filter(|l| l.successor_unit_id == id)
                    .cloned()
                    .collect(),
                links
                    .iter()
                    .filter(|l| l.predecessor_unit_id == id)
                    .cloned()
                    .collect(),
            )
        };
        Ok(v1::GetLineageResponse {
            unit: Some(unit.to_proto()),
            predecessors,
            successors,
        })
    }

    /// LookupUnit: the one unit with a code on a date.
    pub(crate) async fn lookup_unit(
        &self,
        request: &v1::LookupUnitRequest,
    ) -> Result<v1::LookupUnitResponse, Error> {
        if request.code.is_empty() {
            return Err(FieldError::missing("code").into());
        }
        let Some(on) = request.on.as_ref() else {
            let message = "is required: codes are reused over time (52 is Bình Định until \
                           2025-06-30 and the merged Gia Lai after), so a code names a unit only on a date";
            return Err(FieldError::new("on", message).into());
        };
        let on = tasknet_domain::date_from_proto("on", Some(on))?;
        let filter = UnitFilter {
            code: Some(request.code.clone()),
            as_of: Some(on),
            ..UnitFilter::default()
        };
        let mut units = self.store().list(&filter, None, 2).await?;
        match units.len() {
            1 => Ok(v1::LookupUnitResponse {
                unit: units.pop().map(|unit| unit.to_proto()),
            }),
            0 => Err(Error::not_found(
                "code",
                format!("no unit has the code {:?} on {on}", request.code),
            )),
            // The write paths keep codes unique per day; this is a stored inconsistency.
            _ => Err(Error::Corrupt {
                id: request.code.clone(),
                problem: format!("two units have this code on {on}"),
            }),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Back,
    Forward,
}

/// Every link reachable from `start` in one direction, breadth first.
fn walk(links: &[v1::LineageLink], start: &str, direction: Direction) -> Vec<v1::LineageLink> {
    let mut seen: HashSet<String> = HashSet::from([start.to_owned()]);
    let mut queue = VecDeque::from([start.to_owned()]);
    let mut found = Vec::new();
    while let Some(unit) = queue.pop_front() {
        for link in links {
            let (from, to) = match direction {
                Direction::Back => (&link.successor_unit_id, &link.predecessor_unit_id),
                Direction::Forward => (&link.predecessor_unit_id, &link.successor_unit_id),
            };
            if *from != unit {
                continue;
            }
            found.push(link.clone());
            if !to.is_empty() && seen.insert(to.clone()) {
                queue.push_back(to.clone());
            }
        }
    }
    found
}
