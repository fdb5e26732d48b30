//! Helpers for tests of the servers built on this crate (its own, the
//! system's and the end-to-end ones): raw connections that take up a
//! server's connection slots, and the reference units' ids by code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tasknet_proto::tonic;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::TracedChannel;

/// A raw TCP connection from `source` (a loopback address such as
/// `127.0.0.2`, so a test has per-address limits of its own) that sends nothing.
pub async fn idle_socket(source: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let local: SocketAddr = format!("{source}:0")
        .parse()
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
    let socket = TcpSocket::new_v4()?;
    socket.bind(local)?;
    socket.connect(server).await
}

/// Whether the server closes `stream` (end of file or a reset) within
/// `patience`, skipping what it sent before (its HTTP/2 settings).
pub async fn closed_by_server(stream: &mut TcpStream, patience: Duration) -> bool {
    let mut buffer = [0_u8; 1024];
    let closed = async { while let Ok(1..) = stream.read(&mut buffer).await {} };
    tokio::time::timeout(patience, closed).await.is_ok()
}

/// Loads the reference units (a no-op when loaded) and returns their ids
/// by administrative code ("TCTK" for headquarters, "31" for Hải Phòng's
/// office) as of 30 June 2024.
pub async fn reference_unit_ids(
    channel: TracedChannel,
) -> Result<HashMap<String, String>, tonic::Status> {
    let mut organisation = OrganisationServiceClient::new(channel);
    organisation
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await?;
    let request = v1::ListUnitsRequest {
        as_of: Some(v1::Date {
            year: 2024,
            month: 6,
            day: 30,
        }),
        page_size: 1000,
        ..Default::default()
    };
    let response = organisation.list_units(request).await?.into_inner();
    if !response.next_page_token.is_empty() {
        return Err(tonic::Status::out_of_range(
            "more than 1000 reference units",
        ));
    }
    Ok(response
        .units
        .into_iter()
        .map(|unit| (unit.code, unit.id))
        .collect())
}
