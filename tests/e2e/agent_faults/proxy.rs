//! A loopback TCP proxy under the test's control, standing for the office's
//! unreliable link: it passes bytes, stalls them (connections stay open,
//! nothing flows), refuses new connections, and drops (FIN) or resets (RST)
//! the open ones.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Accept and hold connections, forward nothing.
    Stall,
    /// Close new connections at once.
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Drop,
    Reset,
}

pub struct FaultyLink {
    pub address: String,
    mode: watch::Sender<Mode>,
    cuts: broadcast::Sender<Cut>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultyLink {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (mode, _) = watch::channel(Mode::Pass);
        let (cuts, _) = broadcast::channel(16);
        let task = tokio::spawn(accept(
            listener,
            Arc::new(upstream),
            mode.subscribe(),
            cuts.clone(),
        ));
        Self {
            address,
            mode,
            cuts,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every open connection (FIN both ways).
    pub fn drop_connections(&self) {
        let _ = self.cuts.send(Cut::Drop);
    }

    /// Resets every open connection (RST both ways).
    pub fn reset_connections(&self) {
        let _ = self.cuts.send(Cut::Reset);
    }
}

impl Drop for FaultyLink {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.cuts.send(Cut::Drop);
    }
}

async fn accept(
    listener: TcpListener,
    upstream: Arc<String>,
    mode: watch::Receiver<Mode>,
    cuts: broadcast::Sender<Cut>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *mode.borrow() == Mode::Refuse {
            drop(client);
            continue;
        }
        let (upstream, mode, cut) = (upstream.clone(), mode.clone(), cuts.subscribe());
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(upstream.as_str()).await {
                relay(client, server, mode, cut).await;
            }
        });
    }
}

/// Copies both ways until either side closes or the test cuts the link.
async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    mode: watch::Receiver<Mode>,
    mut cut: broadcast::Receiver<Cut>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let outcome = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let up = copy(&mut client_read, &mut server_write, mode.clone());
        let down = copy(&mut server_read, &mut client_write, mode);
        tokio::select! {
            _ = async { tokio::join!(up, down) } => None,
            cut = cut.recv() => cut.ok(),
        }
    };
    if outcome == Some(Cut::Reset) {
        // Linger 0 makes close send RST; it does not block with a zero timeout.
        #[allow(deprecated)]
        {
            let _ = client.set_linger(Some(Duration::ZERO));
            let _ = server.set_linger(Some(Duration::ZERO));
        }
    }
}

async fn copy(
    from: &mut tokio::net::tcp::ReadHalf<'_>,
    to: &mut tokio::net::tcp::WriteHalf<'_>,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buffer = vec![0_u8; 32 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        // While stalled, bytes wait here: the connection stays open and silent.
        if mode.wait_for(|mode| *mode != Mode::Stall).await.is_err() {
            break;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
