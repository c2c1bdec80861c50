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
use crate::extract::token_hash;
use crate::App;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use souk_domain::chat::Side;
use souk_store::{Backend, StoreError};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Sockets one user may hold at once (phones, tabs, ...).
pub const MAX_SOCKETS_PER_USER: usize = 16;
/// Events read per round of catching up.
const BATCH: usize = 200;
/// On PostgreSQL an outbox row can become visible after a higher one (transactions commit out
/// of order); a socket keeps re-reading this far back, so a late row is still delivered.
const LATE_ROW_WINDOW: Duration = Duration::from_secs(3);
/// How often this process looks for outbox rows other processes wrote to a shared SQLite
/// file (SQLite has no notifications): one query for all sockets.
const SQLITE_WATCH: Duration = Duration::from_millis(500);
/// Each socket's own safety net, should a wake-up ever be lost.
const SOCKET_POLL: Duration = Duration::from_secs(30);
/// Typing signals a socket may send per second; more are dropped.
const TYPING_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub enum Signal {
    /// The user's outbox may have grown.
    Wake,
    /// A ready JSON frame to pass on (typing).
    Frame(Arc<str>),
}

/// A connected socket: its id in the hub and where its signals go.
type SocketHandle = (u64, mpsc::Sender<Signal>);

/// Who is connected in this process.
#[derive(Default)]
pub struct Hub {
    sockets: Mutex<HashMap<String, Vec<SocketHandle>>>,
    next_id: AtomicU64,
}

impl Hub {
    fn register(&self, user_id: &str) -> Option<(u64, mpsc::Receiver<Signal>)> {
        let mut sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let mine = sockets.entry(user_id.to_string()).or_default();
        if mine.len() >= MAX_SOCKETS_PER_USER {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // A small buffer: a socket that is behind only needs one Wake to catch up.
        let (tx, rx) = mpsc::channel(32);
        mine.push((id, tx));
        Some((id, rx))
    }

    fn unregister(&self, user_id: &str, id: u64) {
        let mut sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mine) = sockets.get_mut(user_id) {
            mine.retain(|(i, _)| *i != id);
            if mine.is_empty() {
                sockets.remove(user_id);
            }
        }
    }

    /// Signals every socket of the user; a full buffer already holds a pending signal.
    pub fn send(&self, user_id: &str, signal: Signal) {
        let sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        for (_, tx) in sockets.get(user_id).into_iter().flatten() {
            let _ = tx.try_send(signal.clone());
        }
    }

    fn wake_everyone(&self) {
        let sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        for (_, tx) in sockets.values().flatten() {
            let _ = tx.try_send(Signal::Wake);
        }
    }

    /// Sockets connected in this process.
    pub fn connected(&self) -> usize {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
    }
}

/// Relays wake-ups to the hub until the process stops: this process's commits, and every
/// process's commits and typing signals (PostgreSQL: LISTEN; SQLite: watching the outbox).
pub async fn relay_forever(app: App) {
    let mut local = app.store.outbox_wakes();
    if app.store.backend() == Backend::Sqlite {
        tokio::spawn(watch_sqlite_outbox(app.clone()));
    }
    let mut listener = None;
    loop {
        if listener.is_none() && app.store.backend() == Backend::Postgres {
            match app.store.listen_outbox().await {
                Ok(l) => {
                    listener = l;
                    // Anything committed while not listening: let every socket look.
                    app.hub.wake_everyone();
                }
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for outbox rows; retrying"),
            }
        }
        let remote = async {
            match listener.as_mut() {
                Some(l) => Some(l.recv().await),
                None => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    None
                }
            }
        };
        tokio::select! {
            woken = local.recv() => match woken {
                Ok(users) => users.iter().for_each(|u| app.hub.send(u, Signal::Wake)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => app.hub.wake_everyone(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            heard = remote => match heard {
                Some(Ok(n)) if n.channel() == "souk_events" => app.hub.send(n.payload(), Signal::Wake),
                Some(Ok(n)) => deliver_live(&app, n.payload()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "the outbox listener failed; reconnecting");
                    listener = None;
                }
                None => {}
            },
        }
    }
}

/// Wakes the sockets of users who got outbox rows since the last look, whoever wrote them.
async fn watch_sqlite_outbox(app: App) {
    let mut seen = app.store.outbox_head().await.unwrap_or(0);
    loop {
        tokio::time::sleep(SQLITE_WATCH).await;
        if app.hub.connected() == 0 {
            seen = app.store.outbox_head().await.unwrap_or(seen);
            continue;
        }
        match app.store.outbox_after(seen, 10_000).await {
            Ok((users, newest)) => {
                users.iter().for_each(|u| app.hub.send(u, Signal::Wake));
                seen = newest;
            }
            Err(e) => tracing::warn!(error = %e, "watching the outbox failed; retrying"),
        }
    }
}

/// A signal for other users' sockets: `{"to": [user ids], "frame": {...}}`.
fn deliver_live(app: &App, payload: &str) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(payload) else { return };
    let frame: Arc<str> = v["frame"].to_string().into();
    for user in v["to"].as_array().into_iter().flatten().filter_map(|u| u.as_str()) {
        app.hub.send(user, Signal::Frame(frame.clone()));
    }
}

/// Sends a live frame to users: through NOTIFY on PostgreSQL (every process, this one
/// included, hears it), directly on SQLite.
async fn publish_live(app: &App, to: &[&str], frame: serde_json::Value) {
    let payload = serde_json::json!({"to": to, "frame": frame}).to_string();
    if app.store.backend() == Backend::Postgres {
        if let Err(e) = app.store.notify_live(&payload).await {
            tracing::debug!(error = %e, "a typing signal was not sent");
        }
    } else {
        deliver_live(app, &payload);
    }
}

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
    let user = match app.store.user_by_session(&token_hash(&token)).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Err(AppError::unauthenticated()),
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
        let page = match app.store.events(user_id, Some(floor), BATCH).await {
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
            let text =
                crate::routes::notifications::text_for(app, user_id, &event.kind, event.order_id.as_deref()).await;
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
    let Ok(c) = app.store.conversation(&conversation_id).await else { return };
    let Some(side) = c.side_of(user_id) else { return };
    let out = serde_json::json!({"type": "typing", "conversation_id": c.id, "side": side.as_str()});
    publish_live(app, &[c.party(Side::other(side))], out).await;
}
