//! Who is connected live in this process, and the relay that wakes their sockets: this
//! process's commits, other processes' commits through PostgreSQL LISTEN/NOTIFY or, on SQLite,
//! one watcher per process that reads who got outbox rows. The sockets themselves are the
//! server's.

use crate::App;
use souk_domain::notify::Side;
use souk_store::Backend;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Sockets one user may hold at once (phones, tabs, ...).
pub const MAX_SOCKETS_PER_USER: usize = 16;
/// How often this process looks for outbox rows other processes wrote to a shared SQLite
/// file (SQLite has no notifications): one query for all sockets.
const SQLITE_WATCH: Duration = Duration::from_millis(500);

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
    pub fn register(&self, user_id: &str) -> Option<(u64, mpsc::Receiver<Signal>)> {
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

    pub fn unregister(&self, user_id: &str, id: u64) {
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
pub async fn publish_live(app: &App, to: &[&str], frame: serde_json::Value) {
    let payload = serde_json::json!({"to": to, "frame": frame}).to_string();
    if app.store.backend() == Backend::Postgres {
        if let Err(e) = app.store.notify_live(&payload).await {
            tracing::debug!(error = %e, "a typing signal was not sent");
        }
    } else {
        deliver_live(app, &payload);
    }
}

/// The notification sentence for one of `user_id`'s events, for the live socket, in the
/// language the account chose.
pub async fn text_for(app: &App, user_id: &str, kind: &str, order_id: Option<&str>) -> Option<String> {
    let side = match order_id {
        Some(order) => app.store.order_side(order, user_id).await.unwrap_or(Side::Other),
        None => Side::Other,
    };
    let zh = app.store.user_by_id(user_id).await.is_ok_and(|u| u.locale.as_deref() == Some("zh"));
    let (template, n) = souk_domain::notify::template(kind, side, &app.config.policy)?;
    Some(souk_domain::notify::in_language(template, zh).replace("{n}", &n.to_string()))
}
