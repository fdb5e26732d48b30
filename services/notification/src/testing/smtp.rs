//! A real SMTP server for tests, on loopback: it speaks the protocol
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) over TCP, accepts every
//! message and keeps it, so tests see exactly what a mail server would have
//! been handed. It can be told to hold its reply to DATA (to kill a sender
//! while its message is in flight); a message whose sender disconnected
//! before the reply is not kept.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA (headers and body, CRLF lines, dot-unstuffed).
    pub data: String,
    /// When the server accepted it.
    pub received_at: std::time::SystemTime,
}

impl ReceivedMail {
    /// A header's value (folded lines joined), matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = value.as_mut() {
                    value.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMail>,
    /// While set, replies to DATA wait (and a held message counts as
    /// `in_flight` until then).
    hold_data_reply: bool,
    in_flight: usize,
}

/// The server; stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Signalled when a message has been stored.
    received: Arc<Notify>,
    release: Arc<Notify>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let received = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let task = tokio::spawn({
            let (state, received, release) = (state.clone(), received.clone(), release.clone());
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (state, received, release) =
                        (state.clone(), received.clone(), release.clone());
                    tokio::spawn(async move {
                        let _ = session(stream, state, received, release).await;
                    });
                }
            }
        });
        Self {
            addr,
            state,
            received,
            release,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().messages.clone()
    }

    /// Messages whose DATA reply is being held.
    pub fn in_flight(&self) -> usize {
        self.state.lock().unwrap().in_flight
    }

    /// Waits until a message's reply is being held.
    pub async fn wait_in_flight(&self, timeout: std::time::Duration) {
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.received.notified();
                if self.in_flight() > 0 {
                    return;
                }
                notified.await;
            }
        })
        .await
        .expect("a message in flight");
    }

    /// Holds (true) or releases (false) the replies to DATA.
    pub fn hold_data_reply(&self, hold: bool) {
        self.state.lock().unwrap().hold_data_reply = hold;
        if !hold {
            self.release.notify_waiters();
        }
    }

    /// Waits until at least `count` messages are stored.
    pub async fn wait_for(&self, count: usize, timeout: std::time::Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.received.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "the SMTP sink got {} messages, not {count}, within {timeout:?}",
                    self.messages().len()
                );
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    stream: TcpStream,
    state: Arc<Mutex<State>>,
    received: Arc<Notify>,
    release: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 tasknet-test-sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-tasknet-test-sink\r\n250 8BITMIME\r\n",
            "HELO" => b"250 tasknet-test-sink\r\n",
            "MAIL" => {
                from = address(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&command));
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                let hold = state.lock().unwrap().hold_data_reply;
                if hold {
                    let released = release.notified();
                    state.lock().unwrap().in_flight += 1;
                    received.notify_waiters();
                    if state.lock().unwrap().hold_data_reply {
                        released.await;
                    }
                    state.lock().unwrap().in_flight -= 1;
                    // A client that went away while the reply was held never
                    // heard the message accepted: it is not kept (as a mail
                    // server that had not yet answered would not deliver it).
                    line.clear();
                    let gone = tokio::time::timeout(
                        std::time::Duration::from_millis(50),
                        lines.read_line(&mut line),
                    )
                    .await
                    .is_ok_and(|read| matches!(read, Ok(0) | Err(_)));
                    if gone {
                        return Ok(());
                    }
                }
                state.lock().unwrap().messages.push(ReceivedMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                    received_at: std::time::SystemTime::now(),
                });
                received.notify_waiters();
                b"250 OK: queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The address in `MAIL FROM:<a@b>` / `RCPT TO:<a@b>`.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command.get(start..end).unwrap_or("").to_owned()
}
