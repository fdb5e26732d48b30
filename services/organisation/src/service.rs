//! The `OrganisationService` gRPC handlers: request validation, then the
//! store. Each handler's logic returns the crate's `Error`, turned into a
//! `Status` in one place (`impl From<Error> for Status`).

use tasknet_domain::FieldError;
use tasknet_proto::tonic::{self, Request, Response, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_server::OrganisationService;

use tasknet_auth::{AuditEntry, AuditLog, AuthContext};

use crate::credentials::{Credentials, NewCredential};
use crate::error::Error;
use crate::model::{canonical_uuid, fields_from_proto, optional_uuid};
use crate::page_token;
use crate::repository::UnitFilter;
use crate::store::{Store, UPDATABLE_PATHS};

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: i32 = 100;
/// Largest page a request may ask for.
pub const MAX_PAGE_SIZE: i32 = 1000;

/// The service implementation; cheap to clone.
#[derive(Debug, Clone)]
pub struct Organisation {
    store: Store,
    credentials: Credentials,
    audit: AuditLog,
}

impl Organisation {
    pub fn new(store: Store, credentials: Credentials, audit: AuditLog) -> Self {
        Self {
            store,
            credentials,
            audit,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    async fn create(
        &self,
        request: v1::CreateUnitRequest,
        context: &AuthContext,
    ) -> Result<v1::Unit, Error> {
        let unit = request.unit.ok_or_else(|| FieldError::missing("unit"))?;
        let id = creation_id(("unit_id", &request.unit_id), ("unit.id", &unit.id))?;
        let fields = fields_from_proto("unit", &unit)?;
        let audit = AuditEntry::accepted(context, format!("unit/{id}"), &id);
        let (stored, created) = self.store.create(&id, fields, Some(audit)).await?;
        tracing::info!(unit_id = %stored.id, code = %stored.fields.code, created, "create unit");
        Ok(stored.to_proto())
    }

    async fn update(
        &self,
        request: v1::UpdateUnitRequest,
        context: &AuthContext,
    ) -> Result<v1::Unit, Error> {
        let unit = request.unit.ok_or_else(|| FieldError::missing("unit"))?;
        let id = canonical_uuid("unit.id", &unit.id)?;
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(FieldError::missing("update_mask").into());
        }
        if let Some(unknown) = paths
            .iter()
            .find(|p| !UPDATABLE_PATHS.contains(&p.as_str()))
        {
            return Err(FieldError::new(
                "update_mask",
                format!(
                    "unknown path {unknown:?} (known: {})",
                    UPDATABLE_PATHS.join(", ")
                ),
            )
            .into());
        }
        let audit = AuditEntry::accepted(context, format!("unit/{id}"), &id);
        let stored = self
            .store
            .update(&id, &paths, &unit, request.expected_version, Some(audit))
            .await?;
        tracing::info!(unit_id = %id, version = stored.version, "update unit");
        Ok(stored.to_proto())
    }

    async fn get(&self, request: v1::GetUnitRequest) -> Result<v1::Unit, Error> {
        let id = canonical_uuid("unit_id", &request.unit_id)?;
        let unit = self
            .store
            .get(&id)
            .await?
            .ok_or_else(|| Error::not_found("unit_id", format!("no unit {id}")))?;
        Ok(unit.to_proto())
    }

    async fn list(&self, request: v1::ListUnitsRequest) -> Result<v1::ListUnitsResponse, Error> {
        let filter = list_filter(&request)?;
        let page_size = page_size(request.page_size)?;
        let cursor = page_token::decode(&filter, &request.page_token)?;
        // One more than a page tells whether another page follows.
        let mut units = self
            .store
            .list(&filter, cursor.as_ref(), i64::from(page_size) + 1)
            .await?;
        let mut next_page_token = String::new();
        if units.len() > page_size as usize {
            units.truncate(page_size as usize);
            if let Some(last) = units.last() {
                let cursor = crate::repository::Cursor {
                    code: last.fields.code.clone(),
                    id: last.id.clone(),
                };
                next_page_token = page_token::encode(&filter, &cursor);
            }
        }
        Ok(v1::ListUnitsResponse {
            units: units.iter().map(|unit| unit.to_proto()).collect(),
            next_page_token,
        })
    }

    /// Loads the built-in reference units; returns (created, total).
    /// `audit`, when given, records the load if it created any.
    pub async fn load_reference(&self, audit: Option<AuditEntry>) -> Result<(usize, usize), Error> {
        let (created, total) = self.store.load_reference(audit).await?;
        tracing::info!(created, total, "loaded reference units");
        Ok((created, total))
    }
}

/// The id a creation uses, from (field, value) pairs: the request's id
/// (`unit_id`), else the resource's own (`unit.id`), else a new UUIDv7.
pub(crate) fn creation_id(
    (outer_field, outer): (&str, &str),
    (inner_field, inner): (&str, &str),
) -> Result<String, FieldError> {
    let outer_id = optional_uuid(outer_field, outer)?;
    let inner_id = optional_uuid(inner_field, inner)?;
    match (outer_id, inner_id) {
        (Some(outer), Some(inner)) if outer != inner => Err(FieldError::new(
            inner_field,
            format!("differs from {outer_field} (set one of them)"),
        )),
        (Some(id), _) | (None, Some(id)) => Ok(id),
        (None, None) => Ok(uuid::Uuid::now_v7().hyphenated().to_string()),
    }
}

fn list_filter(request: &v1::ListUnitsRequest) -> Result<UnitFilter, FieldError> {
    let category = match request.category {
        0 => None,
        value => Some(tasknet_domain::category_from_i32("category", value)?),
    };
    let non_empty = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    Ok(UnitFilter {
        category,
        parent_id: optional_uuid("parent_id", &request.parent_id)?,
        region_code: non_empty(&request.region_code),
        code: non_empty(&request.code),
        as_of: tasknet_domain::optional_date_from_proto("as_of", request.as_of.as_ref())?,
    })
}

pub(crate) fn page_size(requested: i32) -> Result<i32, FieldError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        1..=MAX_PAGE_SIZE => Ok(requested),
        _ => Err(FieldError::new(
            "page_size",
            format!("{requested} is not between 0 and {MAX_PAGE_SIZE}"),
        )),
    }
}

#[tonic::async_trait]
impl OrganisationService for Organisation {
    #[tracing::instrument(skip_all, fields(unit_id = %request.get_ref().unit_id))]
    async fn create_unit(
        &self,
        request: Request<v1::CreateUnitRequest>,
    ) -> Result<Response<v1::CreateUnitResponse>, Status> {
        let context = AuthContext::of(&request)?.clone();
        let unit = self.create(request.into_inner(), &context).await?;
        Ok(Response::new(v1::CreateUnitResponse { unit: Some(unit) }))
    }

    #[tracing::instrument(skip_all, fields(unit_id = request.get_ref().unit.as_ref().map(|u| u.id.as_str())))]
    async fn update_unit(
        &self,
        request: Request<v1::UpdateUnitRequest>,
    ) -> Result<Response<v1::UpdateUnitResponse>, Status> {
        let context = AuthContext::of(&request)?.clone();
        let unit = self.update(request.into_inner(), &context).await?;
        Ok(Response::new(v1::UpdateUnitResponse { unit: Some(unit) }))
    }

    #[tracing::instrument(skip_all, fields(unit_id = %request.get_ref().unit_id))]
    async fn get_unit(
        &self,
        request: Request<v1::GetUnitRequest>,
    ) -> Result<Response<v1::GetUnitResponse>, Status> {
        let unit = self.get(request.into_inner()).await?;
        Ok(Response::new(v1::GetUnitResponse { unit: Some(unit) }))
    }

    #[tracing::instrument(skip_all, fields(page_size = request.get_ref().page_size))]
    async fn list_units(
        &self,
        request: Request<v1::ListUnitsRequest>,
    ) -> Result<Response<v1::ListUnitsResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_regions(
        &self,
        _request: Request<v1::ListRegionsRequest>,
    ) -> Result<Response<v1::ListRegionsResponse>, Status> {
        let regions = self.store.regions().await?;
        Ok(Response::new(v1::ListRegionsResponse { regions }))
    }

    #[tracing::instrument(skip_all)]
    async fn load_reference_units(
        &self,
        request: Request<v1::LoadReferenceUnitsRequest>,
    ) -> Result<Response<v1::LoadReferenceUnitsResponse>, Status> {
        let context = AuthContext::of(&request)?;
        let audit = AuditEntry::accepted(context, "reference-units".to_owned(), "");
        let (created, total) = self.load_reference(Some(audit)).await?;
        Ok(Response::new(v1::LoadReferenceUnitsResponse {
            created: i32::try_from(created).unwrap_or(i32::MAX),
            total: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    #[tracing::instrument(skip_all, fields(role = request.get_ref().role, unit_id = %request.get_ref().unit_id))]
    async fn issue_credential(
        &self,
        request: Request<v1::IssueCredentialRequest>,
    ) -> Result<Response<v1::IssueCredentialResponse>, Status> {
        let context = AuthContext::of(&request)?.clone();
        let (credential, token) = self.issue(request.get_ref(), &context).await?;
        Ok(Response::new(v1::IssueCredentialResponse {
            credential: Some(credential),
            token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_credentials(
        &self,
        request: Request<v1::ListCredentialsRequest>,
    ) -> Result<Response<v1::ListCredentialsResponse>, Status> {
        Ok(Response::new(
            self.list_credentials(request.get_ref()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(credential_id = %request.get_ref().credential_id))]
    async fn revoke_credential(
        &self,
        request: Request<v1::RevokeCredentialRequest>,
    ) -> Result<Response<v1::RevokeCredentialResponse>, Status> {
        let context = AuthContext::of(&request)?.clone();
        let id = canonical_uuid("credential_id", &request.get_ref().credential_id)
            .map_err(Error::from)?;
        let audit = AuditEntry::accepted(&context, format!("credential/{id}"), "");
        let revoked = self.credentials.revoke(&id, Some(audit)).await?;
        tracing::info!(credential_id = %id, "revoked credential");
        Ok(Response::new(v1::RevokeCredentialResponse {
            credential: Some(revoked.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn authenticate_token(
        &self,
        request: Request<v1::AuthenticateTokenRequest>,
    ) -> Result<Response<v1::AuthenticateTokenResponse>, Status> {
        let response = match self
            .credentials
            .introspect(&request.get_ref().token)
            .await?
        {
            Ok(credential) => v1::AuthenticateTokenResponse {
                active: true,
                credential: Some(credential),
                reason: String::new(),
            },
            Err(reason) => v1::AuthenticateTokenResponse {
                active: false,
                credential: None,
                reason,
            },
        };
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn list_audit_records(
        &self,
        request: Request<v1::ListAuditRecordsRequest>,
    ) -> Result<Response<v1::ListAuditRecordsResponse>, Status> {
        Ok(Response::new(self.audit.list_rpc(request.get_ref()).await?))
    }

    #[tracing::instrument(skip_all, fields(name = request.get_ref().reorganisation.as_ref().map(|r| r.name.as_str())))]
    async fn apply_reorganisation(
        &self,
        request: Request<v1::ApplyReorganisationRequest>,
    ) -> Result<Response<v1::ApplyReorganisationResponse>, Status> {
        let context = AuthContext::of(&request)?;
        let response = Organisation::apply_reorganisation(self, request.get_ref(), context).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn apply_reference_reorganisation(
        &self,
        request: Request<v1::ApplyReferenceReorganisationRequest>,
    ) -> Result<Response<v1::ApplyReorganisationResponse>, Status> {
        let context = AuthContext::of(&request)?;
        let response =
            Organisation::apply_reference_reorganisation(self, request.get_ref(), context).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(reorganisation = %request.get_ref().reorganisation))]
    async fn get_reorganisation(
        &self,
        request: Request<v1::GetReorganisationRequest>,
    ) -> Result<Response<v1::GetReorganisationResponse>, Status> {
        let response = Organisation::get_reorganisation(self, request.get_ref()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn list_reorganisations(
        &self,
        _request: Request<v1::ListReorganisationsRequest>,
    ) -> Result<Response<v1::ListReorganisationsResponse>, Status> {
        Ok(Response::new(
            Organisation::list_reorganisations(self).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(unit_id = %request.get_ref().unit_id))]
    async fn get_lineage(
        &self,
        request: Request<v1::GetLineageRequest>,
    ) -> Result<Response<v1::GetLineageResponse>, Status> {
        Ok(Response::new(
            Organisation::get_lineage(self, request.get_ref()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(code = %request.get_ref().code))]
    async fn lookup_unit(
        &self,
        request: Request<v1::LookupUnitRequest>,
    ) -> Result<Response<v1::LookupUnitResponse>, Status> {
        Ok(Response::new(
            Organisation::lookup_unit(self, request.get_ref()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(unit_id = request.get_ref().contact.as_ref().map(|c| c.unit_id.as_str())))]
    async fn create_unit_contact(
        &self,
        request: Request<v1::CreateUnitContactRequest>,
    ) -> Result<Response<v1::CreateUnitContactResponse>, Status> {
        let context = AuthContext::of(&request)?;
        let contact = self.create_contact(request.get_ref(), context).await?;
        Ok(Response::new(v1::CreateUnitContactResponse {
            contact: Some(contact),
        }))
    }

    #[tracing::instrument(skip_all, fields(contact_id = request.get_ref().contact.as_ref().map(|c| c.id.as_str())))]
    async fn update_unit_contact(
        &self,
        request: Request<v1::UpdateUnitContactRequest>,
    ) -> Result<Response<v1::UpdateUnitContactResponse>, Status> {
        let context = AuthContext::of(&request)?;
        let contact = self.update_contact(request.get_ref(), context).await?;
        Ok(Response::new(v1::UpdateUnitContactResponse {
            contact: Some(contact),
        }))
    }

    #[tracing::instrument(skip_all, fields(contact_id = %request.get_ref().contact_id))]
    async fn delete_unit_contact(
        &self,
        request: Request<v1::DeleteUnitContactRequest>,
    ) -> Result<Response<v1::DeleteUnitContactResponse>, Status> {
        let context = AuthContext::of(&request)?;
        self.delete_contact(request.get_ref(), context).await?;
        Ok(Response::new(v1::DeleteUnitContactResponse {}))
    }

    #[tracing::instrument(skip_all, fields(contact_id = %request.get_ref().contact_id))]
    async fn get_unit_contact(
        &self,
        request: Request<v1::GetUnitContactRequest>,
    ) -> Result<Response<v1::GetUnitContactResponse>, Status> {
        let contact = self.get_contact(request.get_ref()).await?;
        Ok(Response::new(v1::GetUnitContactResponse {
            contact: Some(contact),
        }))
    }

    #[tracing::instrument(skip_all, fields(unit_id = %request.get_ref().unit_id))]
    async fn list_unit_contacts(
        &self,
        request: Request<v1::ListUnitContactsRequest>,
    ) -> Result<Response<v1::ListUnitContactsResponse>, Status> {
        Ok(Response::new(self.list_contacts(request.get_ref()).await?))
    }
}

impl Organisation {
    async fn issue(
        &self,
        request: &v1::IssueCredentialRequest,
        context: &AuthContext,
    ) -> Result<(v1::Credential, String), Error> {
        let new = NewCredential::from_request(request)?;
        let subject = new.unit_id.clone().unwrap_or_default();
        let audit = AuditEntry::accepted(context, "credential".to_owned(), &subject);
        let issuer = context.principal.credential_id.clone();
        let (credential, token) = self.credentials.issue(&new, &issuer, Some(audit)).await?;
        tracing::info!(credential_id = %credential.id, role = ?credential.role, "issued credential");
        Ok((credential.to_proto(), token))
    }

    async fn list_credentials(
        &self,
        request: &v1::ListCredentialsRequest,
    ) -> Result<v1::ListCredentialsResponse, Error> {
        let unit_id = optional_uuid("unit_id", &request.unit_id)?;
        let limit = page_size(request.page_size)?;
        let after = match request.page_token.as_str() {
            "" => String::new(),
            token => canonical_uuid("page_token", token)?,
        };
        let mut credentials = self
            .credentials
            .list(
                unit_id.as_deref(),
                request.include_revoked,
                &after,
                i64::from(limit) + 1,
            )
            .await?;
        let mut next_page_token = String::new();
        if credentials.len() > limit as usize {
            credentials.truncate(limit as usize);
            next_page_token = credentials.last().map(|c| c.id.clone()).unwrap_or_default();
        }
        Ok(v1::ListCredentialsResponse {
            credentials: credentials.iter().map(|c| c.to_proto()).collect(),
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_are_bounded() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(1000).unwrap(), 1000);
        assert_eq!(page_size(1001).unwrap_err().field, "page_size");
        assert_eq!(page_size(-1).unwrap_err().field, "page_size");
    }

    #[test]
    fn creation_ids_come_from_either_field_or_are_generated() {
        let id = "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b";
        let of = |outer: &str, inner: &str| {
            creation_id(("unit_id", outer), ("unit.id", inner)).map_err(|e| e.field)
        };
        assert_eq!(of(id, "").unwrap(), id);
        assert_eq!(of("", &id.to_uppercase()).unwrap(), id);
        assert_eq!(of(id, id).unwrap(), id);
        assert_eq!(of("x", "").unwrap_err(), "unit_id");
        let other = "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7c";
        assert_eq!(of(id, other).unwrap_err(), "unit.id");
        let generated = uuid::Uuid::parse_str(&of("", "").unwrap()).unwrap();
        assert_eq!(generated.get_version_num(), 7);
    }
}
