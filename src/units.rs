//! Finding a unit from what a person types: its id, or its code. Codes are
//! reused over time, so a code names a unit only on a given day.

use anyhow::Context;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::TracedChannel;

/// A client of the organisation service.
pub type Organisation = OrganisationServiceClient<TracedChannel>;

/// A unit id from an id or a code valid today.
pub async fn unit_id_today(
    client: &mut OrganisationServiceClient<TracedChannel>,
    unit: &str,
) -> anyhow::Result<String> {
    if let Ok(id) = uuid::Uuid::parse_str(unit) {
        return Ok(id.hyphenated().to_string());
    }
    let today = tasknet_domain::vietnam_date(chrono::Utc::now());
    let units = client
        .list_units(v1::ListUnitsRequest {
            code: unit.to_owned(),
            as_of: Some(date_to_proto(today)),
            ..Default::default()
        })
        .await
        .context("ListUnits failed")?
        .into_inner()
        .units;
    match units.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => anyhow::bail!("no unit has the code {unit:?} today"),
        _ => anyhow::bail!("several units have the code {unit:?} today; give the unit id"),
    }
}

/// A unit id from an id, or from a code on a day.
pub async fn unit_id_on(
    client: &mut Organisation,
    unit: &str,
    on: chrono::NaiveDate,
) -> anyhow::Result<String> {
    if let Ok(id) = uuid::Uuid::parse_str(unit) {
        return Ok(id.hyphenated().to_string());
    }
    Ok(lookup(client, unit, on).await?.id)
}

pub async fn lookup(
    client: &mut Organisation,
    code: &str,
    on: chrono::NaiveDate,
) -> anyhow::Result<v1::Unit> {
    client
        .lookup_unit(v1::LookupUnitRequest {
            code: code.to_owned(),
            on: Some(date_to_proto(on)),
        })
        .await
        .with_context(|| format!("no unit with the code {code:?} on {on}"))?
        .into_inner()
        .unit
        .context("LookupUnit answered without a unit")
}
