//! The `tasknet.v1.NotificationService` gRPC handlers: validate the request
//! (a clear error naming the field, changing nothing), then call the judge
//! or the outbox. Changes an administrator makes (subscriptions, retries)
//! are audited in the same transaction.

use chrono::Utc;
use tasknet_auth::{AuditEntry, AuthContext};
use tasknet_domain::error::parse_uuid;
use tasknet_domain::{FieldError, date_from_proto, date_to_proto, optional_date_from_proto};
use tasknet_proto::tonic::{self, Request, Response, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::notification_service_server::NotificationService;

use crate::clock::SharedClock;
use crate::error::Error;
use crate::judge::Judge;
use crate::metrics;
use crate::outbox::{ListFilter, Outbox, Webhook};
use crate::webhook::new_secret;

/// Longest subscription label kept.
const MAX_LABEL_CHARS: usize = 200;
const MAX_URL_CHARS: usize = 2000;

#[derive(Debug, Clone)]
pub struct NotificationHandler {
    outbox: Outbox,
    judge: Judge,
    clock: SharedClock,
}

impl NotificationHandler {
    pub fn new(outbox: Outbox, judge: Judge, clock: SharedClock) -> Self {
        Self {
            outbox,
            judge,
            clock,
        }
    }
}

/// `<create_time_us>:<id>` of the last row of a page.
fn page_token(entry: &crate::outbox::Entry) -> String {
    format!("{}:{}", entry.create_time_us, entry.id)
}

fn parse_page_token(token: &str) -> Result<Option<(i64, String)>, FieldError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || FieldError::new("page_token", "is not a token this service returned");
    let (time, id) = token.split_once(':').ok_or_else(invalid)?;
    let time = time.parse().map_err(|_| invalid())?;
    Ok(Some((time, id.to_owned())))
}

fn validate_subscription(
    subscription: Option<&v1::WebhookSubscription>,
) -> Result<v1::WebhookSubscription, FieldError> {
    let subscription = subscription.ok_or_else(|| FieldError::missing("subscription"))?;
    let url = subscription.url.trim();
    if url.is_empty() {
        return Err(FieldError::missing("subscription.url"));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| FieldError::new("subscription.url", format!("{url:?}: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || url.chars().count() > MAX_URL_CHARS {
        return Err(FieldError::new(
            "subscription.url",
            format!(
                "{url:?}: use an http:// or https:// URL of at most {MAX_URL_CHARS} characters"
            ),
        ));
    }
    for (index, unit_id) in subscription.unit_ids.iter().enumerate() {
        parse_uuid(&format!("subscription.unit_ids[{index}]"), unit_id)?;
    }
    if subscription.label.chars().count() > MAX_LABEL_CHARS {
        return Err(FieldError::new(
            "subscription.label",
            format!("at most {MAX_LABEL_CHARS} characters"),
        ));
    }
    let language = v1::Language::try_from(subscription.language).map_err(|_| {
        FieldError::new(
            "subscription.language",
            format!("{} is not a language", subscription.language),
        )
    })?;
    Ok(v1::WebhookSubscription {
        url: url.to_owned(),
        language: match language {
            v1::Language::En => v1::Language::En,
            _ => v1::Language::Vi,
        } as i32,
        ..subscription.clone()
    })
}

#[tonic::async_trait]
impl NotificationService for NotificationHandler {
    #[tracing::instrument(skip_all)]
    async fn get_notification_status(
        &self,
        _request: Request<v1::GetNotificationStatusRequest>,
    ) -> Result<Response<v1::GetNotificationStatusResponse>, Status> {
        let status = self.outbox.status().await.map_err(Error::from)?;
        metrics::outbox(&status.counts);
        let channels = [
            v1::NotificationChannel::Email,
            v1::NotificationChannel::Webhook,
        ]
        .into_iter()
        .map(|channel| {
            let count = |state: v1::DeliveryState| {
                status
                    .counts
                    .iter()
                    .filter(|(c, s, _)| *c == channel as i32 && *s == state as i32)
                    .map(|(_, _, n)| n)
                    .sum()
            };
            v1::ChannelCounts {
                channel: channel as i32,
                pending: count(v1::DeliveryState::Pending),
                sent: count(v1::DeliveryState::Sent),
                dead: count(v1::DeliveryState::Dead),
            }
        })
        .collect();
        Ok(Response::new(v1::GetNotificationStatusResponse {
            last_judged_day: status.last_judged.map(|(day, _)| date_to_proto(day)),
            channels,
            dead_letters: status.dead_letters.iter().map(|e| e.to_proto()).collect(),
            judged_cursor: status.last_judged.map_or(0, |(_, cursor)| cursor),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn judge_day(
        &self,
        request: Request<v1::JudgeDayRequest>,
    ) -> Result<Response<v1::JudgeDayResponse>, Status> {
        let request = request.into_inner();
        let day = date_from_proto("day", request.day.as_ref()).map_err(Error::from)?;
        if request.min_cursor < 0 {
            return Err(Error::from(FieldError::new("min_cursor", "must not be negative")).into());
        }
        let written = self.judge.judge_day(day, request.min_cursor).await?;
        Ok(Response::new(v1::JudgeDayResponse {
            decided: written.decided,
            already_decided: written.already_decided,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_notifications(
        &self,
        request: Request<v1::ListNotificationsRequest>,
    ) -> Result<Response<v1::ListNotificationsResponse>, Status> {
        let request = request.into_inner();
        let state = match v1::DeliveryState::try_from(request.state) {
            Ok(v1::DeliveryState::Unspecified) => None,
            Ok(state) => Some(state),
            Err(_) => {
                return Err(Error::from(FieldError::new(
                    "state",
                    format!("{} is not a delivery state", request.state),
                ))
                .into());
            }
        };
        if request.page_size < 0 {
            return Err(Error::from(FieldError::new("page_size", "must not be negative")).into());
        }
        let filter = ListFilter {
            unit_id: (!request.unit_id.is_empty()).then(|| request.unit_id.clone()),
            state,
            day: optional_date_from_proto("day", request.day.as_ref()).map_err(Error::from)?,
            page_size: ListFilter::page_size(request.page_size),
            after: parse_page_token(&request.page_token).map_err(Error::from)?,
        };
        let entries = self.outbox.list(&filter).await.map_err(Error::from)?;
        let next_page_token = match entries.last() {
            Some(last) if entries.len() as i64 == filter.page_size => page_token(last),
            _ => String::new(),
        };
        Ok(Response::new(v1::ListNotificationsResponse {
            notifications: entries.iter().map(|e| e.to_proto()).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn retry_notification(
        &self,
        request: Request<v1::RetryNotificationRequest>,
    ) -> Result<Response<v1::RetryNotificationResponse>, Status> {
        let id = request.get_ref().notification_id.clone();
        parse_uuid("notification_id", &id).map_err(Error::from)?;
        let audit = AuditEntry::accepted(AuthContext::of(&request)?, id.clone(), "");
        let Some(current) = self.outbox.get(&id).await.map_err(Error::from)? else {
            return Err(
                Error::not_found("notification_id", format!("no notification {id}")).into(),
            );
        };
        let retried = self
            .outbox
            .retry(&id, self.clock.now(), audit)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| {
                Error::failed_precondition(
                    "notification_id",
                    format!(
                        "{id} is {}, not a dead letter: only dead letters are retried",
                        current.state.as_str_name()
                    ),
                )
            })?;
        self.judge.wake_senders();
        Ok(Response::new(v1::RetryNotificationResponse {
            notification: Some(retried.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_webhook_subscription(
        &self,
        request: Request<v1::CreateWebhookSubscriptionRequest>,
    ) -> Result<Response<v1::CreateWebhookSubscriptionResponse>, Status> {
        let subscription =
            validate_subscription(request.get_ref().subscription.as_ref()).map_err(Error::from)?;
        let id = uuid::Uuid::now_v7().to_string();
        let audit = AuditEntry::accepted(AuthContext::of(&request)?, id.clone(), "");
        let webhook = Webhook {
            id,
            url: subscription.url,
            unit_ids: subscription.unit_ids,
            label: subscription.label,
            language: v1::Language::try_from(subscription.language).unwrap_or_default(),
            secret: new_secret(),
            create_time_us: Utc::now().timestamp_micros(),
        };
        self.outbox
            .create_webhook(&webhook, audit)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(v1::CreateWebhookSubscriptionResponse {
            subscription: Some(webhook.to_proto()),
            secret: webhook.secret,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_webhook_subscriptions(
        &self,
        _request: Request<v1::ListWebhookSubscriptionsRequest>,
    ) -> Result<Response<v1::ListWebhookSubscriptionsResponse>, Status> {
        let webhooks = self.outbox.webhooks().await.map_err(Error::from)?;
        Ok(Response::new(v1::ListWebhookSubscriptionsResponse {
            subscriptions: webhooks.iter().map(Webhook::to_proto).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_webhook_subscription(
        &self,
        request: Request<v1::DeleteWebhookSubscriptionRequest>,
    ) -> Result<Response<v1::DeleteWebhookSubscriptionResponse>, Status> {
        let id = request.get_ref().subscription_id.clone();
        parse_uuid("subscription_id", &id).map_err(Error::from)?;
        let audit = AuditEntry::accepted(AuthContext::of(&request)?, id.clone(), "");
        if !self
            .outbox
            .delete_webhook(&id, audit)
            .await
            .map_err(Error::from)?
        {
            return Err(
                Error::not_found("subscription_id", format!("no subscription {id}")).into(),
            );
        }
        Ok(Response::new(v1::DeleteWebhookSubscriptionResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_validated_field_by_field() {
        let field = |subscription: v1::WebhookSubscription| {
            validate_subscription(Some(&subscription))
                .unwrap_err()
                .field
        };
        assert_eq!(
            validate_subscription(None).unwrap_err().field,
            "subscription"
        );
        let good = v1::WebhookSubscription {
            url: "https://hooks.example.vn/tasknet".into(),
            ..Default::default()
        };
        assert_eq!(
            validate_subscription(Some(&good)).unwrap().language,
            v1::Language::Vi as i32
        );
        assert_eq!(
            field(v1::WebhookSubscription {
                url: "ftp://x".into(),
                ..good.clone()
            }),
            "subscription.url"
        );
        assert_eq!(
            field(v1::WebhookSubscription {
                url: String::new(),
                ..good.clone()
            }),
            "subscription.url"
        );
        assert_eq!(
            field(v1::WebhookSubscription {
                unit_ids: vec!["x".into()],
                ..good.clone()
            }),
            "subscription.unit_ids[0]"
        );
        assert_eq!(
            field(v1::WebhookSubscription {
                language: 9,
                ..good
            }),
            "subscription.language"
        );
        assert!(parse_page_token("nonsense").is_err());
        assert_eq!(
            parse_page_token("12:abc").unwrap(),
            Some((12, "abc".to_owned()))
        );
    }
}
