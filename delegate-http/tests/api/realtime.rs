//! Realtime over the WebSocket at /api/v1/ws: refused before the upgrade without valid
//! credentials or from a foreign Origin; every connection of the user gets its events and a
//! subscribed chat's reply deltas; nobody else gets anything; a logout closes the socket with
//! 4401 (on the other instance too); reconnecting with `since` replays what was missed once.

use crate::chat::chat_app;
use crate::helpers::{Backing, TestApp, spawn_on, spawn_with, within};
use crate::redis_server::RedisServer;
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

/// Frames until one of `kind` (within twice [`FRAME_WAIT`] in all, pings or not), returning
/// it and what came before.
async fn until(socket: &mut Socket, kind: &str) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    let wait = async {
        loop {
            let f = frame(socket).await;
            if f["type"] == kind {
                return f;
            }
            before.push(f);
        }
    };
    let found = tokio::time::timeout(FRAME_WAIT * 2, wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} frame in time"));
    (found, before)
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

/// Server-sent events read from `res` as they come: `(event, id, data)` per complete event,
/// until `enough` says to stop (the rest is dropped with the connection) or the stream ends.
async fn read_events(
    res: reqwest::Response,
    enough: impl Fn(&[(String, Option<String>, Value)]) -> bool,
) -> Vec<(String, Option<String>, Value)> {
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    while !enough(&events) {
        let Some(chunk) = tokio::time::timeout(FRAME_WAIT, body.next())
            .await
            .expect("events in time")
        else {
            break;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut id, mut data) = (None, None, String::new());
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_owned());
                } else if let Some(i) = line.strip_prefix("id: ") {
                    id = Some(i.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if let (Some(event), Ok(data)) = (event, serde_json::from_str(&data)) {
                events.push((event, id, data));
            }
        }
    }
    events
}

impl TestApp {
    async fn follow(
        &self,
        token: &str,
        chat: &str,
        reply: &str,
        after: Option<u64>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .get(self.url(&format!("/api/v1/sessions/{chat}/messages/{reply}/stream")))
            .bearer_auth(token);
        if let Some(after) = after {
            request = request.header("last-event-id", after.to_string());
        }
        request.send().await.unwrap()
    }
}

/// Starts a slow reply on `sender` (a JSON send, which keeps it going) and returns the
/// reply's id once it is stored, and the send.
async fn slow_reply(
    sender: &TestApp,
    upstream: &Upstream,
    token: &str,
    chat: &str,
    text: &str,
) -> (String, tokio::task::JoinHandle<reqwest::Response>) {
    upstream.script(Reply::new(text).delay_between(Duration::from_millis(120)));
    let (client, url, token_owned) = (
        sender.client.clone(),
        sender.url(&format!("/api/v1/sessions/{chat}/messages")),
        token.to_owned(),
    );
    let sending = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(token_owned)
            .json(&json!({"content": "count slowly"}))
            .send()
            .await
            .unwrap()
    });
    // Polled gently: every poll counts against the user's rate limit (100 a window), and on a
    // loaded machine the reply may take seconds to start.
    let mut reply = None;
    for _ in 0..200 {
        let messages = sender.messages(token, chat).await;
        if messages.len() == 2 {
            reply = Some(messages[1]["id"].as_str().unwrap().to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (reply.expect("the reply was stored"), sending)
}

fn deltas_of(events: &[(String, Option<String>, Value)]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter(|(e, _, _)| e == "delta")
        .map(|(_, id, d)| {
            let seq = d["seq"].as_u64().unwrap();
            assert_eq!(
                id.as_deref(),
                Some(seq.to_string().as_str()),
                "id is the seq"
            );
            (seq, d["text"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Follows a reply on `follower`, drops after three deltas, resumes with `Last-Event-ID`,
/// and checks the text is whole, in order, with nothing twice.
async fn resume_checks(sender: &TestApp, follower: &TestApp, upstream: &Upstream) {
    let ada = sender.register("resume@example.com").await;
    let chat = sender.new_chat(&ada.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let text = "one two three four five six seven eight nine ten";
    let (reply, sending) = slow_reply(sender, upstream, &ada.access, id, text).await;

    let first = read_events(follower.follow(&ada.access, id, &reply, None).await, |e| {
        deltas_of(e).len() >= 3
    })
    .await;
    let first = deltas_of(&first);
    let last = first.last().unwrap().0;
    let rest = read_events(
        follower.follow(&ada.access, id, &reply, Some(last)).await,
        |e| e.iter().any(|(name, _, _)| name == "done"),
    )
    .await;
    let (done, rest) = (rest.last().unwrap().clone(), deltas_of(&rest));
    let all: Vec<(u64, String)> = first.into_iter().chain(rest).collect();
    let seqs: Vec<u64> = all.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let whole: String = all.into_iter().map(|(_, t)| t).collect();
    assert_eq!(whole, text);
    assert_eq!(done.0, "done");
    assert_eq!(done.2["content"], text);
    assert_eq!(done.2["status"], "complete");
    assert_eq!(sending.await.unwrap().status(), StatusCode::CREATED);

    // Once ended: the whole reply from its log, and `done`, at once.
    let again = read_events(follower.follow(&ada.access, id, &reply, None).await, |e| {
        e.iter().any(|(name, _, _)| name == "done")
    })
    .await;
    let whole: String = deltas_of(&again).into_iter().map(|(_, t)| t).collect();
    assert_eq!(whole, text);
    // Nobody else's, and nothing that is not a reply.
    let bob = follower.register("resume-other@example.com").await;
    let res = follower.follow(&bob.access, id, &reply, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let user_message = sender.messages(&ada.access, id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = follower.follow(&ada.access, id, &user_message, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = follower
        .client
        .get(follower.url(&format!("/api/v1/sessions/{id}/messages/{reply}/stream")))
        .bearer_auth(&ada.access)
        .header("last-event-id", "seven")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_reply_resumes_after_a_lost_connection_with_no_gap_or_duplicate() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 30).await;
    resume_checks(&app, &app, &upstream).await;
}

/// Two instances on one scale-out backing, both calling `upstream` for replies.
async fn two_chat_instances(upstream: &Upstream) -> (TestApp, TestApp) {
    let backing = Backing::scaleout_default().await;
    let base = upstream.base_url();
    let adjust = move |c: &mut delegate_core::Config| {
        c.ai.base_url = Some(base.clone());
        c.ai.api_key = Some(delegate_core::Secret::new("sk-test-key"));
        c.ai.timeout_secs = 30;
    };
    let one = spawn_on(&backing, adjust.clone(), None).await;
    let two = spawn_on(&backing, adjust, None).await;
    (one, two)
}

#[tokio::test]
async fn a_reply_resumes_on_another_instance() {
    let upstream = Upstream::start().await;
    let (one, two) = two_chat_instances(&upstream).await;
    resume_checks(&one, &two, &upstream).await;
}

#[tokio::test]
async fn a_reply_streams_to_a_subscribed_socket_on_the_other_instance_and_to_nobody_else() {
    let upstream = Upstream::start().await;
    let (one, two) = two_chat_instances(&upstream).await;
    let ada = one.register("both-rt@example.com").await;
    let bob = one.register("neither-rt@example.com").await;
    let chat = one.new_chat(&ada.access, json!({"title": "Far"})).await;
    let id = chat["id"].as_str().unwrap();
    let mut laptop = two.ws(&ada.access, "", false).await.unwrap();
    let mut other = two.ws(&bob.access, "", false).await.unwrap();
    for socket in [&mut laptop, &mut other] {
        assert_eq!(frame(socket).await["type"], "ready");
    }
    send_json(
        &mut laptop,
        json!({"type": "subscribe", "data": {"sessionId": id}}),
    )
    .await;
    assert_eq!(frame(&mut laptop).await["type"], "subscribed");

    upstream.script(Reply::new("Streamed across the instances").in_chunks(6));
    let res = one
        .send(&ada.access, id, json!({"content": "Go", "stream": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let _ = res.text().await.unwrap();
    let (done, before) = until(&mut laptop, "chat.reply.done").await;
    assert_eq!(done["data"]["content"], "Streamed across the instances");
    let deltas: Vec<&Value> = before
        .iter()
        .filter(|f| f["type"] == "chat.reply.delta")
        .collect();
    let text: String = deltas
        .iter()
        .map(|d| d["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Streamed across the instances");
    for (i, delta) in deltas.iter().enumerate() {
        assert_eq!(delta["data"]["seq"], i as u64 + 1);
    }
    nothing_pending(&mut other).await;
}

#[tokio::test]
async fn an_admin_notification_reaches_the_users_sockets_and_is_replayable() {
    let app = spawn_with(|_| {}).await;
    let admin = app.register_admin("ops-rt@example.com").await;
    let ada = app.register("notified@example.com").await;
    let me: Value = app
        .get_auth("/api/v1/auth/me", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    let user_id = me["user"]["id"].as_str().unwrap().to_owned();
    let mut socket = app.ws(&ada.access, "", false).await.unwrap();
    let ready = frame(&mut socket).await;
    let notify = |token: &str, body: Value| {
        app.client
            .post(app.url("/api/v1/admin/notify"))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let body = json!({"userId": user_id, "type": "app.reminder", "data": {"text": "stand up"}});
    let res = notify(&admin, body.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seq = res.json::<Value>().await.unwrap()["seq"].as_u64().unwrap();
    let event = frame(&mut socket).await;
    assert_eq!(event["type"], "app.reminder");
    assert_eq!(event["data"], json!({"text": "stand up"}));
    assert_eq!(event["seq"], seq);

    // Replayable like any event of the stream.
    drop(socket);
    let since = ready["data"]["seq"].as_u64().unwrap();
    let mut again = app
        .ws(&ada.access, &format!("since={since}"), false)
        .await
        .unwrap();
    assert_eq!(frame(&mut again).await["type"], "ready");
    assert_eq!(frame(&mut again).await["type"], "app.reminder");

    // Only app.* types, only admins, only users that exist.
    let res = notify(
        &admin,
        json!({"userId": user_id, "type": "chat.session.deleted"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = notify(&ada.access, body.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let nobody = json!({"userId": uuid::Uuid::new_v4().to_string(), "type": "app.x"});
    assert_eq!(
        notify(&admin, nobody).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let big = json!({"userId": user_id, "type": "app.big", "data": {"x": "y".repeat(20_000)}});
    assert_eq!(
        notify(&admin, big).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    nothing_pending(&mut again).await;
}

#[tokio::test]
async fn a_redis_restart_makes_live_sockets_resync_instead_of_losing_events() {
    let mut redis = RedisServer::start().await;
    let backing = Backing::scaleout(&redis.url()).await;
    let app = spawn_on(&backing, |_| {}, None).await;
    let ada = app.register("restart-rt@example.com").await;
    let mut socket = app.ws(&ada.access, "", false).await.unwrap();
    assert_eq!(frame(&mut socket).await["type"], "ready");
    app.new_chat(&ada.access, json!({"title": "Before"})).await;
    assert_eq!(frame(&mut socket).await["type"], "chat.session.created");

    // Redis comes back empty: the log is gone and the bus connection was renewed.
    redis.restart().await;
    let (resync, _) = until(&mut socket, "resync").await;
    assert_eq!(resync["type"], "resync");
    // Events flow again once Redis answers.
    let created = within(async || {
        app.client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&ada.access)
            .json(&json!({"title": "After"}))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::CREATED)
    })
    .await;
    assert!(created.is_some(), "chats can be created again");
    let (after, _) = until(&mut socket, "chat.session.created").await;
    assert_eq!(after["data"]["title"], "After");
}

#[tokio::test]
async fn profile_and_transcript_changes_are_events_in_the_rest_shapes() {
    let app = spawn_with(|_| {}).await;
    let ada = app.register("shapes@example.com").await;
    let mut socket = app.ws(&ada.access, "", false).await.unwrap();
    assert_eq!(frame(&mut socket).await["type"], "ready");

    let res = app
        .client
        .patch(app.url("/api/v1/users/profile"))
        .bearer_auth(&ada.access)
        .json(&json!({"name": "Ada L."}))
        .send()
        .await
        .unwrap();
    let profile: Value = res.json().await.unwrap();
    let event = frame(&mut socket).await;
    assert_eq!(event["type"], "profile.updated");
    assert_eq!(event["data"], profile);

    let res = app
        .client
        .post(app.url("/api/v1/transcripts"))
        .bearer_auth(&ada.access)
        .json(&json!({"title": "Notes", "content": "a few words", "tags": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let transcript: Value = res.json().await.unwrap();
    let event = frame(&mut socket).await;
    assert_eq!(event["type"], "transcript.created");
    assert_eq!(event["data"], transcript);
    let id = transcript["id"].as_str().unwrap();
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/transcripts/{id}")))
        .bearer_auth(&ada.access)
        .json(&json!({"title": "Better notes"}))
        .send()
        .await
        .unwrap();
    let updated: Value = res.json().await.unwrap();
    let event = frame(&mut socket).await;
    assert_eq!(event["type"], "transcript.updated");
    assert_eq!(event["data"], updated);
    assert_eq!(
        app.delete_auth(&format!("/api/v1/transcripts/{id}"), &ada.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let event = frame(&mut socket).await;
    assert_eq!(event["type"], "transcript.deleted");
    assert_eq!(event["data"]["id"], id);
}

#[tokio::test]
async fn a_reply_resumes_over_the_websocket_with_no_gap_or_duplicate() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 30).await;
    let ada = app.register("ws-resume@example.com").await;
    let chat = app.new_chat(&ada.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let text = "alpha beta gamma delta epsilon zeta eta theta";
    let (reply, sending) = slow_reply(&app, &upstream, &ada.access, id, text).await;
    // Two deltas seen elsewhere (an SSE follower that then went away).
    let seen = read_events(app.follow(&ada.access, id, &reply, None).await, |e| {
        deltas_of(e).len() >= 2
    })
    .await;
    let seen = deltas_of(&seen);
    let after = seen.last().unwrap().0;

    let mut socket = app.ws(&ada.access, "", false).await.unwrap();
    assert_eq!(frame(&mut socket).await["type"], "ready");
    send_json(
        &mut socket,
        json!({"type": "resume", "data": {"messageId": reply, "after": after}}),
    )
    .await;
    let (done, before) = until(&mut socket, "chat.reply.done").await;
    let resumed: Vec<(u64, String)> = before
        .iter()
        .filter(|f| f["type"] == "chat.reply.delta")
        .map(|f| {
            (
                f["data"]["seq"].as_u64().unwrap(),
                f["data"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let all: Vec<(u64, String)> = seen.into_iter().chain(resumed).collect();
    let seqs: Vec<u64> = all.iter().map(|(n, _)| *n).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(all.into_iter().map(|(_, t)| t).collect::<String>(), text);
    assert_eq!(done["data"]["content"], text);
    assert_eq!(sending.await.unwrap().status(), StatusCode::CREATED);

    // A finished reply resumes from its log, and says how it ended.
    send_json(
        &mut socket,
        json!({"type": "resume", "data": {"messageId": reply, "after": 0}}),
    )
    .await;
    let (end, before) = until(&mut socket, "chat.reply.done").await;
    assert!(end.get("seq").is_none(), "not numbered again");
    let replayed: String = before
        .iter()
        .filter(|f| f["type"] == "chat.reply.delta")
        .map(|f| f["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(replayed, text);
    send_json(&mut socket, json!({"type": "resume", "data": {"after": 1}})).await;
    assert_eq!(frame(&mut socket).await["type"], "error");
}
