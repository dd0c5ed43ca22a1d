//! Realtime over the WebSocket at /api/v1/ws: refused before the upgrade without valid
//! credentials or from a foreign Origin; every connection of the user gets its events and a
//! subscribed chat's reply deltas; nobody else gets anything; a logout closes the socket with
//! 4401 (on the other instance too); reconnecting with `since` replays what was missed once.

use crate::chat::chat_app;
use crate::helpers::{Backing, TestApp, spawn_on, spawn_with};
use delegate_core::testing::upstream::{Reply, Upstream};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a frame that must come may take.
const FRAME_WAIT: Duration = Duration::from_secs(10);

impl TestApp {
    /// Opens `/api/v1/ws` with the token as the `bearer` subprotocol (or `?token=` when
    /// `in_query`), `query` appended; the upgrade's status on refusal.
    async fn ws(&self, token: &str, query: &str, in_query: bool) -> Result<Socket, u16> {
        let mut url = format!("ws://{}/api/v1/ws?{query}", self.addr);
        if in_query {
            url.push_str(&format!("&token={token}"));
        }
        let mut request = url.into_client_request().unwrap();
        if !in_query {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(&format!("bearer, {token}")).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, response)) => {
                if !in_query {
                    assert_eq!(response.headers()["sec-websocket-protocol"], "bearer");
                }
                Ok(socket)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("websocket: {e}"),
        }
    }
}

/// The next JSON frame (pings skipped); panics on a close or after [`FRAME_WAIT`].
async fn frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket open")
            .expect("a frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Frames until one of `kind`, returning it and what came before.
async fn until(socket: &mut Socket, kind: &str) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let f = frame(socket).await;
        if f["type"] == kind {
            return (f, before);
        }
        before.push(f);
    }
}

/// Proves nothing is queued on `socket`: a ping's pong is the next frame.
async fn nothing_pending(socket: &mut Socket) {
    let ping = json!({"type": "ping"}).to_string();
    socket.send(Message::Text(ping.into())).await.unwrap();
    let next = frame(socket).await;
    assert_eq!(next["type"], "pong", "something else was queued: {next}");
}

async fn send_json(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The close code the server ends `socket` with.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        let message = tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .expect("a close in time");
        match message {
            Some(Ok(Message::Close(Some(close)))) => return close.code.into(),
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn events_reach_every_connection_of_the_user_and_nobody_else() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 10).await;
    let ada = app.register("ada-rt@example.com").await;
    let bob = app.register("bob-rt@example.com").await;
    let mut phone = app.ws(&ada.access, "", false).await.unwrap();
    let mut laptop = app.ws(&ada.access, "", true).await.unwrap();
    let mut other = app.ws(&bob.access, "", false).await.unwrap();
    for socket in [&mut phone, &mut laptop, &mut other] {
        assert_eq!(frame(socket).await["type"], "ready");
    }

    let chat = app.new_chat(&ada.access, json!({"title": "Trip"})).await;
    let id = chat["id"].as_str().unwrap();
    for socket in [&mut phone, &mut laptop] {
        let created = frame(socket).await;
        assert_eq!(created["type"], "chat.session.created");
        assert_eq!(created["data"], chat, "the REST shape");
        assert!(created["seq"].as_u64().unwrap() >= 1);
    }

    send_json(
        &mut laptop,
        json!({"type": "subscribe", "data": {"sessionId": id}}),
    )
    .await;
    assert_eq!(frame(&mut laptop).await["type"], "subscribed");
    upstream.script(Reply::new("Pack light and bring a map").in_chunks(5));
    let res = app
        .send(&ada.access, id, json!({"content": "Tips?", "stream": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let _ = res.text().await.unwrap();

    let (done, before) = until(&mut laptop, "chat.reply.done").await;
    assert_eq!(done["data"]["content"], "Pack light and bring a map");
    assert_eq!(done["data"]["status"], "complete");
    let created: Vec<&Value> = before
        .iter()
        .filter(|f| f["type"] == "chat.message.created")
        .collect();
    assert_eq!(created.len(), 2, "{before:?}");
    assert_eq!(created[0]["data"]["content"], "Tips?");
    let deltas: Vec<&Value> = before
        .iter()
        .filter(|f| f["type"] == "chat.reply.delta")
        .collect();
    let text: String = deltas
        .iter()
        .map(|d| d["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Pack light and bring a map");
    for (i, delta) in deltas.iter().enumerate() {
        assert_eq!(delta["data"]["seq"], i as u64 + 1);
        assert_eq!(delta["data"]["sessionId"], id);
    }
    // The phone did not subscribe: the events, no deltas.
    let (_, before) = until(&mut phone, "chat.reply.done").await;
    assert!(before.iter().all(|f| f["type"] != "chat.reply.delta"));
    // Sequence numbers increase by one per event.
    let seqs: Vec<u64> = before.iter().filter_map(|f| f["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // Bob received nothing of it.
    nothing_pending(&mut other).await;
}

#[tokio::test]
async fn connections_without_valid_credentials_or_from_a_foreign_origin_are_refused() {
    let app = spawn_with(|c| c.server.cors_origin = "https://app.example.com".into()).await;
    let ada = app.register("gate@example.com").await;
    assert_eq!(app.ws("", "", true).await.err(), Some(401));
    assert_eq!(app.ws("not-a-token", "", false).await.err(), Some(401));
    assert_eq!(
        app.ws(&ada.access, "since=abc", false).await.err(),
        Some(400)
    );

    let mut request = format!("ws://{}/api/v1/ws?token={}", app.addr, ada.access)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_static("https://evil.example.com"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403)
        }
        other => panic!("a foreign origin connected: {:?}", other.map(|_| ())),
    }
    let mut request = format!("ws://{}/api/v1/ws?token={}", app.addr, ada.access)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_static("https://app.example.com"),
    );
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());

    // A token whose login session ended is refused before the upgrade.
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &ada.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.ws(&ada.access, "", false).await.err(), Some(401));
}

#[tokio::test]
async fn a_logout_closes_the_sockets_of_that_login_session_with_4401() {
    let app = spawn_with(|_| {}).await;
    let ada = app.register("bye@example.com").await;
    let mut socket = app.ws(&ada.access, "", false).await.unwrap();
    assert_eq!(frame(&mut socket).await["type"], "ready");
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &ada.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let (revoked, _) = until(&mut socket, "session.revoked").await;
    assert_eq!(revoked["data"]["sessionId"], ada.session_id.as_str());
    assert_eq!(close_code(&mut socket).await, 4401);
}

#[tokio::test]
async fn reconnecting_with_since_replays_what_was_missed_exactly_once() {
    let app = spawn_with(|c| c.realtime.log_keep = 5).await;
    let ada = app.register("again@example.com").await;
    let mut socket = app.ws(&ada.access, "", false).await.unwrap();
    let ready = frame(&mut socket).await;
    let start = ready["data"]["seq"].as_u64().unwrap();
    drop(socket);

    let mut titles = Vec::new();
    for i in 0..3 {
        let title = format!("Missed {i}");
        app.new_chat(&ada.access, json!({ "title": title })).await;
        titles.push(title);
    }
    let mut socket = app
        .ws(&ada.access, &format!("since={start}"), false)
        .await
        .unwrap();
    assert_eq!(frame(&mut socket).await["type"], "ready");
    for (i, title) in titles.iter().enumerate() {
        let event = frame(&mut socket).await;
        assert_eq!(event["type"], "chat.session.created");
        assert_eq!(event["seq"], start + 1 + i as u64);
        assert_eq!(event["data"]["title"], title.as_str());
    }
    nothing_pending(&mut socket).await;

    // Past what the log keeps (5 events): resync, then live events again.
    for i in 0..6 {
        app.new_chat(&ada.access, json!({ "title": format!("More {i}") }))
            .await;
    }
    let mut late = app
        .ws(&ada.access, &format!("since={start}"), false)
        .await
        .unwrap();
    assert_eq!(frame(&mut late).await["type"], "ready");
    assert_eq!(frame(&mut late).await["type"], "resync");
    nothing_pending(&mut late).await;
}

#[tokio::test]
async fn across_instances_events_and_revocations_reach_every_socket() {
    let backing = Backing::scaleout_default().await;
    let one = spawn_on(&backing, |_| {}, None).await;
    let two = spawn_on(&backing, |_| {}, None).await;
    let ada = one.register("far@example.com").await;
    let mut there = two.ws(&ada.access, "", false).await.unwrap();
    assert_eq!(frame(&mut there).await["type"], "ready");
    let chat = one.new_chat(&ada.access, json!({"title": "Here"})).await;
    let (created, _) = until(&mut there, "chat.session.created").await;
    assert_eq!(created["data"]["id"], chat["id"]);

    // Reconnecting on the first instance replays from the shared log.
    let seq = created["seq"].as_u64().unwrap();
    drop(there);
    one.new_chat(&ada.access, json!({"title": "While away"}))
        .await;
    let mut back = one
        .ws(&ada.access, &format!("since={seq}"), false)
        .await
        .unwrap();
    assert_eq!(frame(&mut back).await["type"], "ready");
    let missed = frame(&mut back).await;
    assert_eq!(missed["data"]["title"], "While away");
    assert_eq!(missed["seq"], seq + 1);

    // A logout on the second instance closes the socket on the first.
    assert_eq!(
        two.post_auth("/api/v1/auth/logout", &ada.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(close_code(&mut back).await, 4401);
}
