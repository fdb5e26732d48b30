//! `tasknet notify …`: the notification service's outbox (status, list,
//! retry a dead letter), judging a day on demand, and webhook subscriptions.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::notification_service_client::NotificationServiceClient;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::TracedChannel;

use crate::connect::{EndpointArgs, channel};
use crate::endpoints::Service;
use crate::output::{OutputFormat, render_table, show_date, show_time};
use crate::units::unit_id_today;

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// The outbox by channel and state, the last day judged, the dead letters.
    Status(StatusArgs),
    /// Judge one Vietnam civil day now (adds only what was not decided before).
    JudgeDay(JudgeDayArgs),
    /// What was decided, newest first.
    List(ListArgs),
    /// Put a dead letter back in the queue.
    Retry(RetryArgs),
    /// Webhook subscribers.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Subscribe a URL; prints the signing secret (shown only once).
    Add(WebhookAddArgs),
    List(WebhookListArgs),
    Remove(WebhookRemoveArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct JudgeDayArgs {
    /// The day (YYYY-MM-DD).
    pub day: chrono::NaiveDate,
    /// Judge once reporting has applied the task change log up to this cursor.
    #[arg(long, default_value_t = 0)]
    pub min_cursor: i64,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Pending,
    Sent,
    Dead,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only about this unit's tasks (id, or code today).
    #[arg(long)]
    pub unit: Option<String>,
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Only decided for this day.
    #[arg(long)]
    pub day: Option<chrono::NaiveDate>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The notification id (as `notify list` or `notify status` shows it).
    pub notification_id: String,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LanguageArg {
    Vi,
    En,
}

#[derive(Debug, Args)]
pub struct WebhookAddArgs {
    /// Where deliveries are POSTed (http:// or https://).
    #[arg(long)]
    pub url: String,
    /// Only this unit's notifications (id, or code today); repeat for several.
    #[arg(long)]
    pub unit: Vec<String>,
    #[arg(long, default_value = "")]
    pub label: String,
    #[arg(long, value_enum, default_value = "vi")]
    pub language: LanguageArg,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct WebhookListArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct WebhookRemoveArgs {
    pub subscription_id: String,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

pub async fn run(command: NotifyCommand) -> anyhow::Result<()> {
    match command {
        NotifyCommand::Status(args) => status(args).await,
        NotifyCommand::JudgeDay(args) => judge_day(args).await,
        NotifyCommand::List(args) => list(args).await,
        NotifyCommand::Retry(args) => retry(args).await,
        NotifyCommand::Webhooks(WebhooksCommand::Add(args)) => add_webhook(args).await,
        NotifyCommand::Webhooks(WebhooksCommand::List(args)) => list_webhooks(args).await,
        NotifyCommand::Webhooks(WebhooksCommand::Remove(args)) => remove_webhook(args).await,
    }
}

fn client(args: &EndpointArgs) -> anyhow::Result<NotificationServiceClient<TracedChannel>> {
    Ok(NotificationServiceClient::new(channel(
        args,
        Service::Notification,
    )?))
}

/// A rule, channel or state as people read it (`DELIVERY_STATE_DEAD` → `dead`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

fn rule_name(rule: i32) -> String {
    v1::NotificationRule::try_from(rule).map_or_else(
        |_| rule.to_string(),
        |rule| short(rule.as_str_name(), "NOTIFICATION_RULE_"),
    )
}

fn channel_name(channel: i32) -> String {
    v1::NotificationChannel::try_from(channel).map_or_else(
        |_| channel.to_string(),
        |channel| short(channel.as_str_name(), "NOTIFICATION_CHANNEL_"),
    )
}

fn state_name(state: i32) -> String {
    v1::DeliveryState::try_from(state).map_or_else(
        |_| state.to_string(),
        |state| short(state.as_str_name(), "DELIVERY_STATE_"),
    )
}

#[derive(Serialize)]
struct NotificationRow {
    id: String,
    day: String,
    rule: String,
    days: i32,
    channel: String,
    recipient: String,
    state: String,
    attempts: i32,
    task_id: String,
    unit_id: String,
    next_attempt: String,
    sent: String,
    last_error: String,
}

fn notification_row(notification: &v1::Notification) -> NotificationRow {
    NotificationRow {
        id: notification.id.clone(),
        day: show_date(notification.day.as_ref()),
        rule: rule_name(notification.rule),
        days: notification.days,
        channel: channel_name(notification.channel),
        recipient: notification.recipient.clone(),
        state: state_name(notification.state),
        attempts: notification.attempts,
        task_id: notification.task_id.clone(),
        unit_id: notification.unit_id.clone(),
        next_attempt: show_time(notification.next_attempt_time.as_ref()),
        sent: show_time(notification.sent_time.as_ref()),
        last_error: notification.last_error.clone(),
    }
}

fn notification_table(rows: &[NotificationRow]) -> String {
    let mut lines = vec![
        [
            "id",
            "day",
            "rule",
            "days",
            "channel",
            "recipient",
            "state",
            "attempts",
            "last error",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for row in rows {
        lines.push(vec![
            row.id.clone(),
            row.day.clone(),
            row.rule.clone(),
            row.days.to_string(),
            row.channel.clone(),
            row.recipient.clone(),
            row.state.clone(),
            row.attempts.to_string(),
            row.last_error.clone(),
        ]);
    }
    render_table(&lines)
}

#[derive(Serialize)]
struct StatusOutput {
    last_judged_day: String,
    judged_cursor: i64,
    channels: Vec<ChannelRow>,
    dead_letters: Vec<NotificationRow>,
}

#[derive(Serialize)]
struct ChannelRow {
    channel: String,
    pending: i64,
    sent: i64,
    dead: i64,
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let response = client(&args.endpoint)?
        .get_notification_status(v1::GetNotificationStatusRequest {})
        .await
        .context("GetNotificationStatus failed")?
        .into_inner();
    let output = StatusOutput {
        last_judged_day: show_date(response.last_judged_day.as_ref()),
        judged_cursor: response.judged_cursor,
        channels: response
            .channels
            .iter()
            .map(|c| ChannelRow {
                channel: channel_name(c.channel),
                pending: c.pending,
                sent: c.sent,
                dead: c.dead,
            })
            .collect(),
        dead_letters: response.dead_letters.iter().map(notification_row).collect(),
    };
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    let last = if output.last_judged_day.is_empty() {
        "never".to_owned()
    } else {
        format!(
            "{} (reporting cursor {})",
            output.last_judged_day, output.judged_cursor
        )
    };
    println!("last judged day: {last}");
    let mut lines = vec![
        ["channel", "pending", "sent", "dead"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for row in &output.channels {
        lines.push(vec![
            row.channel.clone(),
            row.pending.to_string(),
            row.sent.to_string(),
            row.dead.to_string(),
        ]);
    }
    print!("{}", render_table(&lines));
    if output.dead_letters.is_empty() {
        println!("no dead letters");
    } else {
        println!("dead letters (retry with `tasknet notify retry ID`):");
        print!("{}", notification_table(&output.dead_letters));
    }
    Ok(())
}

async fn judge_day(args: JudgeDayArgs) -> anyhow::Result<()> {
    let response = client(&args.endpoint)?
        .judge_day(v1::JudgeDayRequest {
            day: Some(date_to_proto(args.day)),
            min_cursor: args.min_cursor,
        })
        .await
        .context("JudgeDay failed")?
        .into_inner();
    println!(
        "judged {}: {} decided, {} already decided",
        args.day, response.decided, response.already_decided
    );
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let unit_id = match &args.unit {
        Some(unit) => {
            let mut organisation =
                OrganisationServiceClient::new(channel(&args.endpoint, Service::Organisation)?);
            unit_id_today(&mut organisation, unit).await?
        }
        None => String::new(),
    };
    let state = match args.state {
        None => v1::DeliveryState::Unspecified,
        Some(StateArg::Pending) => v1::DeliveryState::Pending,
        Some(StateArg::Sent) => v1::DeliveryState::Sent,
        Some(StateArg::Dead) => v1::DeliveryState::Dead,
    };
    let mut client = client(&args.endpoint)?;
    let mut rows = Vec::new();
    let mut page_token = String::new();
    while rows.len() < args.limit {
        let page = client
            .list_notifications(v1::ListNotificationsRequest {
                unit_id: unit_id.clone(),
                state: state as i32,
                day: args.day.map(date_to_proto),
                page_size: 1000,
                page_token,
            })
            .await
            .context("ListNotifications failed")?
            .into_inner();
        rows.extend(page.notifications.iter().map(notification_row));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    rows.truncate(args.limit);
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", notification_table(&rows));
    }
    Ok(())
}

async fn retry(args: RetryArgs) -> anyhow::Result<()> {
    let notification = client(&args.endpoint)?
        .retry_notification(v1::RetryNotificationRequest {
            notification_id: args.notification_id,
        })
        .await
        .context("RetryNotification failed")?
        .into_inner()
        .notification
        .unwrap_or_default();
    println!(
        "notification {} is {} again ({} to {})",
        notification.id,
        state_name(notification.state),
        channel_name(notification.channel),
        notification.recipient
    );
    Ok(())
}

async fn add_webhook(args: WebhookAddArgs) -> anyhow::Result<()> {
    let mut unit_ids = Vec::new();
    if !args.unit.is_empty() {
        let mut organisation =
            OrganisationServiceClient::new(channel(&args.endpoint, Service::Organisation)?);
        for unit in &args.unit {
            unit_ids.push(unit_id_today(&mut organisation, unit).await?);
        }
    }
    let language = match args.language {
        LanguageArg::Vi => v1::Language::Vi,
        LanguageArg::En => v1::Language::En,
    };
    let response = client(&args.endpoint)?
        .create_webhook_subscription(v1::CreateWebhookSubscriptionRequest {
            subscription: Some(v1::WebhookSubscription {
                url: args.url,
                unit_ids,
                label: args.label,
                language: language as i32,
                ..Default::default()
            }),
        })
        .await
        .context("CreateWebhookSubscription failed")?
        .into_inner();
    let subscription = response.subscription.unwrap_or_default();
    eprintln!(
        "subscribed {} as {}; its signing secret is shown only now:",
        subscription.url, subscription.id
    );
    println!("{}", response.secret);
    Ok(())
}

#[derive(Serialize)]
struct WebhookRow {
    id: String,
    url: String,
    units: Vec<String>,
    label: String,
    language: String,
    created: String,
}

async fn list_webhooks(args: WebhookListArgs) -> anyhow::Result<()> {
    let response = client(&args.endpoint)?
        .list_webhook_subscriptions(v1::ListWebhookSubscriptionsRequest {})
        .await
        .context("ListWebhookSubscriptions failed")?
        .into_inner();
    let rows: Vec<WebhookRow> = response
        .subscriptions
        .iter()
        .map(|s| WebhookRow {
            id: s.id.clone(),
            url: s.url.clone(),
            units: s.unit_ids.clone(),
            label: s.label.clone(),
            language: if s.language == v1::Language::En as i32 {
                "en".to_owned()
            } else {
                "vi".to_owned()
            },
            created: show_time(s.create_time.as_ref()),
        })
        .collect();
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut lines = vec![
        ["id", "url", "units", "language", "created", "label"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for row in rows {
        let units = if row.units.is_empty() {
            "all".to_owned()
        } else {
            row.units.join(",")
        };
        lines.push(vec![
            row.id,
            row.url,
            units,
            row.language,
            row.created,
            row.label,
        ]);
    }
    print!("{}", render_table(&lines));
    Ok(())
}

async fn remove_webhook(args: WebhookRemoveArgs) -> anyhow::Result<()> {
    client(&args.endpoint)?
        .delete_webhook_subscription(v1::DeleteWebhookSubscriptionRequest {
            subscription_id: args.subscription_id.clone(),
        })
        .await
        .context("DeleteWebhookSubscription failed")?;
    println!("removed webhook subscription {}", args.subscription_id);
    Ok(())
}
