//! Judging a day: read the tasks open at its end from reporting's read
//! model (the state the reports use, after reporting has applied the task
//! change log up to the cursor asked for), the units' contacts from the
//! organisation service and the webhook subscribers from the outbox, apply
//! the rules, and write what they call for to the outbox in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use tasknet_domain::{date_from_proto, date_to_proto};
use tasknet_proto::tonic;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_server::TracedChannel;
use tokio::sync::{Mutex, Notify};

use crate::clock::SharedClock;
use crate::error::Error;
use crate::outbox::{Outbox, Written};
use crate::quiet::QuietHours;
use crate::rules::{self, Contact, Facts, OpenTask, Rules, Subscriber, UnitInfo};

/// The first day of the period asked about: every task assigned since.
const ALL_TIME_START: (i32, u32, u32) = (1900, 1, 1);
const PAGE_SIZE: i32 = 1000;
/// How long reporting may take to reach the cursor asked for.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Judges days; one day at a time in a replica (replicas judging the same
/// day at once add nothing twice: the outbox's ids are unique).
#[derive(Debug, Clone)]
pub struct Judge {
    outbox: Outbox,
    reporting: ReportingServiceClient<TracedChannel>,
    organisation: OrganisationServiceClient<TracedChannel>,
    rules: Arc<Rules>,
    clock: SharedClock,
    /// Wakes the senders once a day's rows are written.
    wake: Arc<Notify>,
    one_at_a_time: Arc<Mutex<()>>,
}

fn upstream(what: &str) -> impl Fn(tonic::Status) -> Error + '_ {
    move |status| {
        Error::Upstream(format!(
            "{what}: {} ({:?})",
            status.message(),
            status.code()
        ))
    }
}

impl Judge {
    pub fn new(
        outbox: Outbox,
        reporting: TracedChannel,
        organisation: TracedChannel,
        rules: Rules,
        clock: SharedClock,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            outbox,
            reporting: ReportingServiceClient::new(reporting),
            organisation: OrganisationServiceClient::new(organisation),
            rules: Arc::new(rules),
            clock,
            wake,
            one_at_a_time: Arc::default(),
        }
    }

    /// Tells the senders there is something to send.
    pub fn wake_senders(&self) {
        self.wake.notify_one();
    }

    /// Judges `day` once reporting has applied the change log up to
    /// `min_cursor` (0: as far as it has).
    #[tracing::instrument(skip(self))]
    pub async fn judge_day(&self, day: NaiveDate, min_cursor: i64) -> Result<Written, Error> {
        let _turn = self.one_at_a_time.lock().await;
        let (tasks, units, cursor) = self.open_tasks(day, min_cursor).await?;
        let contacts = self.contacts().await?;
        let subscribers = self
            .outbox
            .webhooks()
            .await?
            .into_iter()
            .map(|webhook| Subscriber {
                id: webhook.id,
                unit_ids: webhook.unit_ids,
                language: webhook.language,
            })
            .collect();
        let facts = Facts {
            tasks,
            units,
            contacts,
            subscribers,
        };
        let now = self.clock.now();
        let decisions = rules::judge(&self.rules, day, now, &facts);
        let written = self.outbox.write_day(day, cursor, &decisions, now).await?;
        tracing::info!(
            %day,
            open_tasks = facts.tasks.len(),
            decided = written.decided,
            already_decided = written.already_decided,
            "day judged"
        );
        self.wake.notify_one();
        Ok(written)
    }

    /// The tasks open at the end of `day` (within their deadline or
    /// overdue), the units they name, and reporting's cursor.
    async fn open_tasks(
        &self,
        day: NaiveDate,
        min_cursor: i64,
    ) -> Result<(Vec<OpenTask>, BTreeMap<String, UnitInfo>, i64), Error> {
        let (year, month, first) = ALL_TIME_START;
        let start = NaiveDate::from_ymd_opt(year, month, first).unwrap_or(day);
        let mut tasks = Vec::new();
        let mut units = BTreeMap::new();
        let mut cursor = 0;
        for class in [
            v1::StatusClass::OpenWithinDeadline,
            v1::StatusClass::OpenOverdue,
        ] {
            let mut page_token = String::new();
            loop {
                let mut request = tonic::Request::new(v1::ListGroupTasksRequest {
                    period: Some(v1::Period {
                        kind: Some(v1::period::Kind::Range(v1::DateRange {
                            start: Some(date_to_proto(start)),
                            end: Some(date_to_proto(day)),
                        })),
                    }),
                    as_of: Some(date_to_proto(day)),
                    group_by: v1::GroupBy::None as i32,
                    status_class: class as i32,
                    page_size: PAGE_SIZE,
                    page_token: page_token.clone(),
                    min_cursor,
                    ..Default::default()
                });
                request.set_timeout(SYNC_WAIT);
                let response = self
                    .reporting
                    .clone()
                    .list_group_tasks(request)
                    .await
                    .map_err(upstream("reporting ListGroupTasks"))?
                    .into_inner();
                cursor = cursor.max(response.applied_cursor);
                for unit in response.units {
                    units.insert(
                        unit.id,
                        UnitInfo {
                            name_vi: unit.name_vi,
                            name_en: unit.name_en,
                            category: unit.category,
                        },
                    );
                }
                for task in response.tasks {
                    let deadline = date_from_proto("deadline", task.deadline.as_ref())?;
                    tasks.push(OpenTask {
                        task_id: task.task_id,
                        title: task.title,
                        assignee_unit_id: task.assignee_unit_id,
                        assigning_unit_id: task.assigning_unit_id,
                        deadline,
                    });
                }
                if response.next_page_token.is_empty() {
                    break;
                }
                page_token = response.next_page_token;
            }
        }
        Ok((tasks, units, cursor))
    }

    /// Every unit's contacts.
    async fn contacts(&self) -> Result<Vec<Contact>, Error> {
        let mut contacts = Vec::new();
        let mut page_token = String::new();
        loop {
            let response = self
                .organisation
                .clone()
                .list_unit_contacts(v1::ListUnitContactsRequest {
                    unit_id: String::new(),
                    page_size: PAGE_SIZE,
                    page_token: page_token.clone(),
                })
                .await
                .map_err(upstream("organisation ListUnitContacts"))?
                .into_inner();
            contacts.extend(response.contacts.into_iter().map(|contact| {
                Contact {
                    head: contact.role == v1::ContactRole::Head as i32,
                    language: v1::Language::try_from(contact.language).unwrap_or_default(),
                    quiet_hours: contact
                        .quiet_hours
                        .and_then(|quiet| QuietHours::new(quiet.start_minute, quiet.end_minute)),
                    unit_id: contact.unit_id,
                    name: contact.name,
                    email: contact.email,
                    opted_out: contact.opted_out,
                }
            }));
            if response.next_page_token.is_empty() {
                break;
            }
            page_token = response.next_page_token;
        }
        Ok(contacts)
    }
}
