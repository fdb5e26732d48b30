//! Authentication through the organisation service's `AuthenticateToken`:
//! what the task and reporting services use (behind a
//! `tasknet_auth::CachedAuthenticator`) when they run as processes of their own.

use std::time::Duration;

use futures::future::BoxFuture;
use tasknet_auth::{AuthError, Authenticate, Principal};
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;

use crate::TracedChannel;

/// How long one introspection call may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the organisation service about each token (through a channel
/// carrying this service's own SERVICE credential).
#[derive(Clone)]
pub struct RemoteAuthenticator {
    client: OrganisationServiceClient<TracedChannel>,
}

impl RemoteAuthenticator {
    pub fn new(channel: TracedChannel) -> Self {
        Self {
            client: OrganisationServiceClient::new(channel),
        }
    }

    async fn introspect(&self, token: &str) -> Result<Principal, AuthError> {
        let mut request = tasknet_proto::tonic::Request::new(v1::AuthenticateTokenRequest {
            token: token.to_owned(),
        });
        request.set_timeout(TIMEOUT);
        let response = match self.client.clone().authenticate_token(request).await {
            Ok(response) => response.into_inner(),
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                // This service's own credential is refused: a configuration
                // fault, not the caller's; say so loudly and admit no one.
                tracing::error!(%status, "the organisation service refuses this service's credential");
                return Err(AuthError::Unavailable(
                    "this service cannot verify credentials (its own credential is refused)".into(),
                ));
            }
            Err(status) => {
                return Err(AuthError::Unavailable(format!(
                    "credentials cannot be verified now: {}",
                    status.message()
                )));
            }
        };
        if !response.active {
            return Err(AuthError::Invalid(invalid_message(&response.reason)));
        }
        response
            .credential
            .as_ref()
            .and_then(Principal::from_credential)
            .ok_or_else(|| {
                AuthError::Unavailable(
                    "the organisation service described the credential oddly".into(),
                )
            })
    }
}

fn invalid_message(reason: &str) -> String {
    if reason.is_empty() {
        "invalid credential".to_owned()
    } else {
        reason.to_owned()
    }
}

impl Authenticate for RemoteAuthenticator {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(self.introspect(token))
    }
}
