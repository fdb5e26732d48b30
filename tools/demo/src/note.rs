//! The note that goes with the seed period's reports: which published figure
//! the data set cannot reproduce, and why.

use anyhow::Context;
use tasknet_proto::v1;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;

use crate::{SEED_NOTE_EN, SEED_NOTE_VI};

/// A fixed id, so loading the demo data twice adds the note once.
const SEED_NOTE_ID: &str = "0190b7a0-0000-7000-8000-000000000001";

/// Attaches [`SEED_NOTE_VI`] / [`SEED_NOTE_EN`] to the reports of 2024-H1
/// through the reporting service at `endpoint`.
pub async fn add_seed_note(
    endpoint: &str,
    client: &tasknet_server::ClientOptions,
) -> anyhow::Result<()> {
    let channel = tasknet_server::connect_lazy_with(endpoint, client)
        .with_context(|| format!("invalid endpoint {endpoint}"))?;
    ReportingServiceClient::new(channel)
        .add_report_note(v1::AddReportNoteRequest {
            note_id: SEED_NOTE_ID.to_owned(),
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2024-H1".to_owned())),
            }),
            text_vi: SEED_NOTE_VI.to_owned(),
            text_en: SEED_NOTE_EN.to_owned(),
        })
        .await
        .context("AddReportNote failed")?;
    Ok(())
}
