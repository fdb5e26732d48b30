//! Who may call each NotificationService RPC: administrators only (the
//! outbox names people's addresses; subscriptions hold signing secrets).

use tasknet_auth::RpcRule;
use tasknet_auth::principal::Role;

const ADMIN: &[Role] = &[Role::Administrator];

macro_rules! rpc {
    ($method:literal) => {
        concat!("/tasknet.v1.NotificationService/", $method)
    };
}

/// The NotificationService policy table.
pub const POLICY: &[RpcRule] = &[
    RpcRule {
        rpc: rpc!("GetNotificationStatus"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("JudgeDay"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("ListNotifications"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("RetryNotification"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("CreateWebhookSubscription"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("ListWebhookSubscriptions"),
        roles: ADMIN,
    },
    RpcRule {
        rpc: rpc!("DeleteWebhookSubscription"),
        roles: ADMIN,
    },
];
