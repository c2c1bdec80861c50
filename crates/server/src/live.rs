//! The live socket (`GET /api/v1/ws`): each connected device of a user receives that user's
//! outbox (new messages, read receipts, offers, order events) as it grows, and typing signals.
//!
//! The outbox is the source of truth, so nothing is lost: a socket re-reads its user's events
//! after its cursor whenever it is woken, and a client that reconnects with the last cursor it saw
//! gets the gap. Wake-ups come from this process's commits (`Store::outbox_wakes`), from other
//! processes' commits through PostgreSQL LISTEN/NOTIFY or, on SQLite, one watcher per process
//! that reads who got outbox rows; each socket also re-reads every 30 s as a safety net. Typing
//! is ephemeral: delivered to whoever is connected, and on PostgreSQL to every process through
//! NOTIFY.

use crate::error::{AppError, AppResult};
use crate::App;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use souk_app::error::ErrorKind;
use souk_app::live::{publish_live, Signal, MAX_SOCKETS_PER_USER};
use souk_domain::chat::Side;
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events read per round of catching up.
const BATCH: usize = 200;
/// On PostgreSQL an outbox row can become visible after a higher one (transactions commit out
/// of order); a socket keeps re-reading this far back, so a late row is still delivered.
const LATE_ROW_WINDOW: Duration = Duration::from_secs(3);
/// Each socket's own safety net, should a wake-up ever be lost.
const SOCKET_POLL: Duration = Duration::from_secs(30);
/// Typing signals a socket may send per second; more are dropped.
const TYPING_EVERY: Duration = Duration::from_millis(500);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SocketQuery {
    /// The last event cursor this client saw: events after it are sent first.
    pub cursor: Option<i64>,
    /// The session token, for clients that cannot set the Authorization header (browsers).
    pub access_token: Option<String>,
}

/// The caller's live feed as a WebSocket. After the upgrade the server sends the user's events
/// after `cursor` (`{"type": "event", "event": {...}, "notification": "..."}`, each with its
/// `cursor`; `notification` is the sentence `/api/v1/notifications` shows, or null), then
/// `{"type": "ready", "cursor"}`, then new events as they happen and
/// `{"type": "typing", "conversation_id", "side"}` frames. The client may send
/// `{"type": "typing", "conversation_id"}`. Authenticate with the Authorization header or
/// `access_token` (or, from this site's pages, the session cookie).
#[utoipa::path(get, path = "/api/v1/ws", tag = "chat", params(SocketQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"),
              (status = 400, description = "not a WebSocket upgrade request", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn socket(
    State(app): State<App>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<SocketQuery>,
    parts: Parts,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let token = crate::extract::bearer_token(&parts).map(str::to_string).or(q.access_token).or_else(|| {
        // The pages' session cookie, only from this site's own pages: a cookie rides along
        // on any site's WebSocket, so the Origin must be ours.
        let host = parts.headers.get(axum::http::header::HOST)?.to_str().ok()?;
        let origin = parts.headers.get(axum::http::header::ORIGIN)?.to_str().ok()?;
        let same_site = origin.split_once("://").is_some_and(|(_, rest)| rest == host);
        same_site.then(|| crate::web::session_cookie(&parts.headers)).flatten()
    });
    let Some(token) = token else { return Err(AppError::unauthenticated()) };
    let user = match souk_app::accounts::session_user(&app, &token).await {
        Ok(u) => u,
        Err(e) if e.kind == ErrorKind::Unauthenticated => return Err(AppError::unauthenticated()),
        Err(e) => return Err(e.into()),
    };
    let upgrade = upgrade.map_err(|e| AppError::bad_request("not_websocket", e.body_text()))?;
    let (id, signals) = app.hub.register(&user.id).ok_or_else(|| {
        AppError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_sockets",
            format!("at most {MAX_SOCKETS_PER_USER} live connections per user"),
        )
    })?;
    let cursor = q.cursor.unwrap_or(0).max(0);
    Ok(upgrade.on_upgrade(move |ws| async move {
        let user_id = user.id.clone();
        run_socket(&app, ws, user.id, cursor, signals).await;
        app.hub.unregister(&user_id, id);
    }))
}

/// What a socket has delivered, tolerant of rows that become visible late.
struct Delivered {
    cursor: i64,
    /// (when, the cursor before that delivery): re-read from the oldest within the window.
    history: VecDeque<(Instant, i64)>,
    /// Seqs delivered above the re-read floor, so a re-read sends each event once.
    recent: BTreeSet<i64>,
}

impl Delivered {
    fn floor(&mut self, now: Instant) -> i64 {
        while self.history.front().is_some_and(|(at, _)| now.duration_since(*at) > LATE_ROW_WINDOW) {
            self.history.pop_front();
        }
        let floor = self.history.front().map_or(self.cursor, |(_, c)| *c);
        self.recent = self.recent.split_off(&(floor + 1));
        floor
    }
}

async fn run_socket(app: &App, mut ws: WebSocket, user_id: String, cursor: i64, mut signals: mpsc::Receiver<Signal>) {
    let mut seen = Delivered { cursor, history: VecDeque::new(), recent: BTreeSet::new() };
    if send_new_events(app, &mut ws, &user_id, &mut seen).await.is_err() {
        return;
    }
    let ready = serde_json::json!({"type": "ready", "cursor": seen.cursor.to_string()});
    if ws.send(Message::Text(ready.to_string().into())).await.is_err() {
        return;
    }
    let mut poll = tokio::time::interval(SOCKET_POLL);
    let mut last_typing = Instant::now() - TYPING_EVERY;
    loop {
        let outcome = tokio::select! {
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if last_typing.elapsed() >= TYPING_EVERY {
                        last_typing = Instant::now();
                        typing(app, &user_id, &text).await;
                    }
                    Ok(())
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => Ok(()),
            },
            signal = signals.recv() => match signal {
                Some(Signal::Wake) => send_new_events(app, &mut ws, &user_id, &mut seen).await,
                Some(Signal::Frame(frame)) => ws.send(Message::Text(frame.to_string().into())).await.map_err(|_| ()),
                None => return,
            },
            _ = poll.tick() => send_new_events(app, &mut ws, &user_id, &mut seen).await,
        };
        if outcome.is_err() {
            return;
        }
    }
}

/// Sends the user's events the socket has not sent yet.
async fn send_new_events(app: &App, ws: &mut WebSocket, user_id: &str, seen: &mut Delivered) -> Result<(), ()> {
    loop {
        let floor = seen.floor(Instant::now());
        let page = match app.events(user_id, Some(floor), BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "reading the outbox for a socket failed");
                return Ok(());
            }
        };
        let before = seen.cursor;
        let mut sent = 0;
        for event in &page.items {
            let seq: i64 = event.cursor.parse().unwrap_or(0);
            if !seen.recent.insert(seq) {
                continue;
            }
            let text = souk_app::live::text_for(app, user_id, &event.kind, event.order_id.as_deref()).await;
            let frame = serde_json::json!({"type": "event", "event": event, "notification": text});
            ws.send(Message::Text(frame.to_string().into())).await.map_err(|_| ())?;
            seen.cursor = seen.cursor.max(seq);
            sent += 1;
        }
        if sent > 0 {
            seen.history.push_back((Instant::now(), before));
        }
        if page.next_cursor.is_none() || sent == 0 {
            return Ok(());
        }
    }
}

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    conversation_id: Option<String>,
}

/// Tells the other party of a conversation that this user is typing. Frames that are not a
/// typing signal about a conversation of the user's are ignored.
async fn typing(app: &App, user_id: &str, text: &str) {
    let Ok(frame) = serde_json::from_str::<ClientFrame>(text) else { return };
    let (true, Some(conversation_id)) = (frame.kind == "typing", frame.conversation_id) else { return };
    let Ok(c) = app.conversation(&conversation_id).await else { return };
    let Some(side) = c.side_of(user_id) else { return };
    let out = serde_json::json!({"type": "typing", "conversation_id": c.id, "side": side.as_str()});
    publish_live(app, &[c.party(Side::other(side))], out).await;
}
