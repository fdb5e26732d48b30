//! Which service each client command talks to, and where it is: one address
//! for `tasknet up` (`--endpoint`), or per-service addresses for a split
//! deployment (`--organisation-endpoint`, `--task-endpoint`,
//! `--reporting-endpoint`, read from the same `TASKNET_…_ENDPOINT`
//! variables the services use), each falling back to `--endpoint`.

use clap::Args;

/// The services a client may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Organisation,
    Task,
    Reporting,
    Notification,
}

/// Per-service addresses, flattened into every client command's arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct ServiceEndpoints {
    /// The organisation service (credentials, units, audit), if apart.
    #[arg(long, env = "TASKNET_ORGANISATION_ENDPOINT")]
    pub organisation_endpoint: Option<String>,
    /// The task service (plans, tasks, agents), if apart.
    #[arg(long, env = "TASKNET_TASK_ENDPOINT")]
    pub task_endpoint: Option<String>,
    /// The reporting service (reports), if apart.
    #[arg(long, env = "TASKNET_REPORTING_ENDPOINT")]
    pub reporting_endpoint: Option<String>,
    /// The notification service (`tasknet notify`), if apart.
    #[arg(long, env = "TASKNET_NOTIFICATION_ENDPOINT")]
    pub notification_endpoint: Option<String>,
}

impl ServiceEndpoints {
    /// The address of `service`: its own if given, else `fallback` (the one
    /// address of `tasknet up`).
    pub fn resolve<'a>(&'a self, service: Service, fallback: &'a str) -> &'a str {
        let own = match service {
            Service::Organisation => &self.organisation_endpoint,
            Service::Task => &self.task_endpoint,
            Service::Reporting => &self.reporting_endpoint,
            Service::Notification => &self.notification_endpoint,
        };
        own.as_deref().unwrap_or(fallback)
    }
}

impl crate::connect::EndpointArgs {
    /// The address of `service` for this command.
    pub fn of(&self, service: Service) -> &str {
        self.services.resolve(service, &self.endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_falls_back_to_the_single_address() {
        let endpoints = ServiceEndpoints {
            task_endpoint: Some("http://task:50051".into()),
            ..ServiceEndpoints::default()
        };
        let up = "http://127.0.0.1:50051";
        assert_eq!(endpoints.resolve(Service::Task, up), "http://task:50051");
        assert_eq!(endpoints.resolve(Service::Organisation, up), up);
        assert_eq!(endpoints.resolve(Service::Reporting, up), up);
    }
}
