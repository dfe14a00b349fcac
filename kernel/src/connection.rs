//! ZeroMQ sockets and the wire format (jupyter-zmq-client 3, jupyter-protocol 2.0.3).
//!
//! Every incoming message has its HMAC checked by `RawMessage::from_multipart`. One with a
//! missing or wrong signature, or frames that do not form a message, is logged and dropped; it
//! never reaches a handler. Content that jupyter-protocol cannot type (an unknown `msg_type`, or a
//! lenient client leaving out optional fields) is kept as raw JSON next to the typed message.

use anyhow::{bail, Context, Result};
use jupyter_protocol::{ConnectionInfo, Header, JupyterMessage, JupyterMessageContent};
use jupyter_protocol::{IoPubWelcome, UnknownMessage};
use jupyter_zmq_client::{Connection, RawMessage, SubscriptionEvent};
use serde_json::Value;
use tokio::sync::mpsc;
use zeromq::{SocketRecv, SocketSend};

/// Everything published on IOPub goes through this channel to the one task owning the socket.
pub type Iopub = mpsc::UnboundedSender<JupyterMessage>;

/// A verified incoming message, with its content also as raw JSON.
pub struct Incoming {
    pub msg: JupyterMessage,
    pub raw: Value,
}

/// Reads the connection file Jupyter wrote for this kernel.
pub fn read_connection_file(path: &std::path::Path) -> Result<ConnectionInfo> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read connection file {}", path.display()))?;
    let info: ConnectionInfo = serde_json::from_str(&text)
        .with_context(|| format!("connection file {} is not valid", path.display()))?;
    if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
        bail!(
            "signature scheme {:?} is not supported; use hmac-sha256",
            info.signature_scheme
        );
    }
    Ok(info)
}

/// Receives the next valid message; drops (and logs) forged or malformed ones.
pub async fn recv<S: SocketRecv>(conn: &mut Connection<S>, channel: &str) -> Result<Incoming> {
    loop {
        let frames = conn.socket.recv().await.context("socket closed")?;
        match decode(frames, conn) {
            Ok(incoming) => return Ok(incoming),
            Err(error) => eprintln!("ferrolab-kernel: dropped a message on {channel}: {error:#}"),
        }
    }
}

fn decode<S>(frames: zeromq::ZmqMessage, conn: &Connection<S>) -> Result<Incoming> {
    let raw = RawMessage::from_multipart(frames, &conn.mac).context("bad signature or frames")?;
    let header: Header = serde_json::from_slice(&raw.jparts[0]).context("bad header")?;
    let content: Value = serde_json::from_slice(&raw.jparts[3]).context("bad content")?;
    let typed = JupyterMessageContent::from_type_and_content(&header.msg_type, content.clone())
        .unwrap_or_else(|_| {
            JupyterMessageContent::UnknownMessage(UnknownMessage {
                msg_type: header.msg_type.clone(),
                content: content.clone(),
            })
        });
    let msg = JupyterMessage {
        zmq_identities: raw.zmq_identities,
        parent_header: serde_json::from_slice(&raw.jparts[1]).ok(),
        metadata: serde_json::from_slice(&raw.jparts[2]).unwrap_or(Value::Null),
        header,
        content: typed,
        buffers: raw.jparts[4..].to_vec(),
        channel: None,
    };
    Ok(Incoming { msg, raw: content })
}

/// Sends a message; a failure (client gone) is logged, never fatal.
pub async fn send<S: SocketSend>(conn: &mut Connection<S>, msg: JupyterMessage) {
    if let Err(error) = conn.send(msg).await {
        eprintln!("ferrolab-kernel: send failed: {error}");
    }
}

/// Owns the XPUB IOPub socket: publishes queued messages and greets each new subscriber with
/// `iopub_welcome` (JEP 65).
pub async fn iopub_task(
    mut conn: jupyter_zmq_client::KernelIoPubXPubConnection,
    mut queue: mpsc::UnboundedReceiver<JupyterMessage>,
) {
    loop {
        tokio::select! {
            msg = queue.recv() => match msg {
                Some(msg) => send(&mut conn, msg).await,
                None => return,
            },
            event = conn.recv_subscription() => {
                if let Ok(SubscriptionEvent::Subscribe(topic)) = event {
                    send(&mut conn, IoPubWelcome::new(topic).into()).await;
                }
            }
        }
    }
}

/// Echoes heartbeat pings back unchanged.
pub async fn heartbeat_task(mut hb: jupyter_zmq_client::KernelHeartbeatConnection) {
    while let Ok(ping) = hb.socket.recv().await {
        if hb.socket.send(ping).await.is_err() {
            return;
        }
    }
}
