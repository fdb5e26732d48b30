//! Connection limits over real sockets: the excess over the total and
//! per-address caps is refused while established clients keep working;
//! connections that never begin a request, that stay idle, or whose peer
//! vanished are closed; a long stream keeps its connection.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tasknet_proto::tonic::service::Routes;
use tasknet_server::{
    ConnectionLimits, ConnectionTable, GrpcServer, ServeOptions, Shutdown, connect_lazy, testing,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// How long a test waits for something that must happen before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

struct Server {
    addr: SocketAddr,
    connections: ConnectionTable,
    shutdown: Shutdown,
    serving: JoinHandle<anyhow::Result<()>>,
}

async fn start(limits: ConnectionLimits) -> Server {
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let connections = server.connections();
    let shutdown = Shutdown::new();
    let options = ServeOptions {
        connections: limits,
        drain_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let serving = tokio::spawn(server.serve(Routes::default(), &[], shutdown.clone(), options));
    Server {
        addr,
        connections,
        shutdown,
        serving,
    }
}

impl Server {
    async fn stop(self) {
        self.shutdown.trigger();
        self.serving.await.unwrap().unwrap();
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server holds `open` connections.
    async fn wait_for_open(&self, open: usize) {
        let connections = self.connections.clone();
        tokio::time::timeout(PATIENCE, async move {
            while connections.open() != open {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the server still holds {} connections, not {open}",
                self.connections.open()
            )
        });
    }
}

async fn check(client: &mut HealthClient<tasknet_server::TracedChannel>) -> bool {
    client
        .check(HealthCheckRequest::default())
        .await
        .is_ok_and(|response| response.into_inner().status == 1)
}

async fn idle_socket(source: &str, server: SocketAddr) -> TcpStream {
    testing::idle_socket(source, server).await.unwrap()
}

async fn closed_by_server(stream: &mut TcpStream) {
    assert!(
        testing::closed_by_server(stream, PATIENCE).await,
        "the server kept the connection open"
    );
}

#[tokio::test]
async fn the_excess_is_refused_while_established_clients_keep_working() {
    let server = start(ConnectionLimits {
        max_connections: 8,
        max_connections_per_address: 4,
        handshake_timeout_secs: 5,
        idle_timeout_secs: 600,
        ..ConnectionLimits::default()
    })
    .await;
    let mut established = HealthClient::new(connect_lazy(&server.endpoint()).unwrap());
    assert!(check(&mut established).await);

    // Three more from 127.0.0.1 fill its share; the fourth is refused at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(idle_socket("127.0.0.1", server.addr).await);
    }
    server.wait_for_open(4).await;
    let mut refused = idle_socket("127.0.0.1", server.addr).await;
    closed_by_server(&mut refused).await;
    assert_eq!(server.connections.refused(), 1);

    // Another address may still connect, up to the total.
    for _ in 0..4 {
        held.push(idle_socket("127.0.0.2", server.addr).await);
    }
    server.wait_for_open(8).await;
    let mut over_total = idle_socket("127.0.0.3", server.addr).await;
    closed_by_server(&mut over_total).await;
    assert_eq!(server.connections.refused(), 2);

    // The established client is served; a new one is not, while the limit holds.
    assert!(check(&mut established).await);
    let mut newcomer = HealthClient::new(connect_lazy(&server.endpoint()).unwrap());
    assert!(!check(&mut newcomer).await);

    // Connections that never begin a request are closed after the handshake
    // timeout, and then newcomers get in.
    for stream in &mut held {
        closed_by_server(stream).await;
    }
    server.wait_for_open(1).await;
    let mut newcomer = HealthClient::new(connect_lazy(&server.endpoint()).unwrap());
    assert!(check(&mut newcomer).await);
    assert!(check(&mut established).await);
    server.stop().await;
}

#[tokio::test]
async fn a_client_trickling_bytes_is_closed_after_the_handshake_timeout() {
    let server = start(ConnectionLimits {
        handshake_timeout_secs: 1,
        ..ConnectionLimits::default()
    })
    .await;
    let mut stream = idle_socket("127.0.0.1", server.addr).await;
    // The HTTP/2 preface, one byte at a time, never finished.
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let trickle = async {
        for byte in preface.iter().take(preface.len() - 1).cycle().take(200) {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, trickle).await.unwrap();
    closed_by_server(&mut stream).await;
    server.wait_for_open(0).await;
    server.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_a_long_stream_keeps_its_own() {
    let server = start(ConnectionLimits {
        idle_timeout_secs: 1,
        ..ConnectionLimits::default()
    })
    .await;
    let mut idle = HealthClient::new(connect_lazy(&server.endpoint()).unwrap());
    assert!(check(&mut idle).await);
    server.wait_for_open(1).await;
    server.wait_for_open(0).await;
    // The client reconnects on its next call.
    assert!(check(&mut idle).await);
    server.wait_for_open(1).await;
    server.wait_for_open(0).await;

    // A stream in progress is not idle, however long it lasts.
    let mut watcher = HealthClient::new(connect_lazy(&server.endpoint()).unwrap());
    let mut updates = watcher
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(updates.message().await.unwrap().is_some());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.connections.open(), 1);
    assert!(check(&mut watcher).await);
    drop(updates);
    server.stop().await;
}

/// A TCP relay that can stop relaying without closing either side: the
/// client has vanished as far as the server can tell (a half-open connection).
struct Relay {
    addr: SocketAddr,
    frozen: Arc<AtomicBool>,
}

async fn relay_to(server: SocketAddr) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let frozen = Arc::new(AtomicBool::new(false));
    let flag = frozen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(upstream) = TcpStream::connect(server).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (upstream_read, upstream_write) = upstream.into_split();
            tokio::spawn(pump(client_read, upstream_write, flag.clone()));
            tokio::spawn(pump(upstream_read, client_write, flag.clone()));
        }
    });
    Relay { addr, frozen }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    while let Ok(read @ 1..) = from.read(&mut buffer).await {
        if frozen.load(Ordering::SeqCst) || to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    // Frozen: hold both halves open, relaying nothing.
    std::future::pending::<()>().await;
    drop((from, to));
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped_even_mid_stream() {
    let server = start(ConnectionLimits {
        keepalive_interval_secs: 1,
        keepalive_timeout_secs: 1,
        idle_timeout_secs: 0,
        ..ConnectionLimits::default()
    })
    .await;
    let relay = relay_to(server.addr).await;
    let mut client = HealthClient::new(connect_lazy(&format!("http://{}", relay.addr)).unwrap());
    let mut updates = client
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(updates.message().await.unwrap().is_some());
    server.wait_for_open(1).await;
    relay.frozen.store(true, Ordering::SeqCst);
    server.wait_for_open(0).await;
    drop(updates);
    server.stop().await;
}
