//! Runnable example: a realtime client. It logs in over REST, opens `GET /api/v1/ws` with the
//! access token as the `bearer` subprotocol, and prints every event as it comes; when the
//! connection drops it reconnects with `?since=` the last sequence number it saw, so it
//! misses nothing (or is told `resync`). It stops when the server closes with 4401 (logged
//! out, or the token expired).
//!
//! ```sh
//! # a server: cargo run -p delegate-http --bin delegate-server (DATABASE_URL=sqlite://dev.db …)
//! cargo run -p delegate-examples --example realtime_client -- http://127.0.0.1:3000 ada@example.com
//! # the password is read from DELEGATE_PASSWORD, or asked on stdin
//! ```

use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Close code: unauthenticated, revoked or expired (see the README's Realtime section).
const CLOSE_UNAUTHENTICATED: u16 = 4401;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(email)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: realtime_client BASE_URL EMAIL (password in DELEGATE_PASSWORD or on stdin)"
        );
        std::process::exit(2);
    };
    let password = match std::env::var("DELEGATE_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            eprintln!("password:");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let login: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["accessToken"]
        .as_str()
        .ok_or("the login answer has no accessToken")?
        .to_owned();
    let ws_base = base.replacen("http", "ws", 1);
    let mut since: Option<u64> = None;
    loop {
        let url = match since {
            Some(seq) => format!("{ws_base}/api/v1/ws?since={seq}"),
            None => format!("{ws_base}/api/v1/ws"),
        };
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&format!("bearer, {token}"))?,
        );
        let mut socket = match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => socket,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                return Err(format!("refused: {}", response.status()).into());
            }
            Err(e) => {
                eprintln!("cannot connect ({e}); retrying in 2 s");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    let frame: Value = serde_json::from_str(&text)?;
                    if let Some(seq) = frame["seq"].as_u64() {
                        since = Some(seq);
                    }
                    if frame["type"] == "ready" && since.is_none() {
                        since = frame["data"]["seq"].as_u64();
                    }
                    println!("{text}");
                }
                Ok(Message::Close(Some(close)))
                    if u16::from(close.code) == CLOSE_UNAUTHENTICATED =>
                {
                    println!("closed: {}", close.reason);
                    return Ok(());
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = socket.close(None).await;
        eprintln!("disconnected; reconnecting after seq {since:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
