//! A running tasknet for a test: the three services on their own ephemeral
//! ports, each with a database of its own (`tasknet_system`'s test
//! harness), and what the tests ask of a server.

use tasknet_server::connect_lazy;
pub use tasknet_system::credentials::policy;
pub use tasknet_system::testing::TestSystem;

/// The services a server lists through reflection v1alpha (what grpcurl 1.8 speaks).
pub async fn reflected_services(endpoint: &str) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(connect_lazy(endpoint).unwrap())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    list.service.into_iter().map(|s| s.name).collect()
}

/// Declares each named scenario once per back end, like `test_on_both_backends!`
/// but handing the scenario a running system.
#[macro_export]
macro_rules! system_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = concat!(module_path!(), "::", stringify!($name));
                    let system = $crate::support::TestSystem::start(tasknet_storage::Backend::Sqlite, name)
                        .await
                        .unwrap();
                    super::$name(&system).await;
                    system.stop().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = concat!(module_path!(), "::", stringify!($name));
                    if let Some(system) = $crate::support::TestSystem::start(tasknet_storage::Backend::Postgres, name).await {
                        super::$name(&system).await;
                        system.stop().await;
                    }
                }
            )*
        }
    };
}
