//! Group commit on SQLite. Its one writer used to commit every transaction on its own, each
//! commit a durable sync of the WAL, and the sync was most of the writer's time: purchases a
//! second hardly grew with clients. Now the writer runs one transaction that many write
//! transactions join in turn, each as a savepoint (a **member**): a member that fails rolls
//! back to its savepoint and leaves the others whole; one that succeeds releases its savepoint
//! and waits. The group commits when no one else is waiting for the writer (or it holds
//! [`MAX_MEMBERS`], or is [`MAX_AGE`] old), and only then is each member's commit answered:
//! nothing is acknowledged before it is durable, and a commit that fails fails every member,
//! whose effects are then all gone together.
//!
//! Every step that must not be cut off part-way (taking the writer with its savepoint, the
//! group's commit, a dropped member's rollback) runs on a task of its own.

use crate::{cancel, Result, Store, StoreError};
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

/// The most members one commit answers for: their answers wait for it.
const MAX_MEMBERS: usize = 64;
/// The oldest a group grows before it commits even while others wait.
const MAX_AGE: Duration = Duration::from_millis(10);
/// Longest a transaction waits for the writer before it gives up (as the pool did).
const WAIT_LIMIT: Duration = Duration::from_secs(30);

pub(crate) struct Writer {
    group: Arc<Mutex<Group>>,
    /// Transactions queued for the writer: while any are, a finished member hands it on
    /// rather than commit.
    waiting: AtomicUsize,
}

#[derive(Default)]
pub(crate) struct Group {
    tx: Option<Transaction<'static, Any>>,
    opened: Option<Instant>,
    /// Members that released their savepoint and wait for the commit.
    done: Vec<oneshot::Sender<std::result::Result<(), String>>>,
    /// What they asked to have done once committed.
    woken: Vec<String>,
    users_changed: bool,
}

impl Writer {
    pub(crate) fn new() -> Arc<Writer> {
        Arc::new(Writer { group: Arc::default(), waiting: AtomicUsize::new(0) })
    }
}

/// One write transaction in the group: the writer, held, with this member's savepoint open.
pub(crate) struct Member {
    guard: Option<OwnedMutexGuard<Group>>,
    store: Store,
}

impl Member {
    /// Takes the writer (beginning the group's transaction if none is open) and opens a
    /// savepoint.
    pub(crate) async fn join(store: &Store, writer: &Arc<Writer>, pool: &AnyPool) -> Result<Member> {
        let (store, writer, pool) = (store.clone(), writer.clone(), pool.clone());
        let joined = tokio::spawn(async move {
            writer.waiting.fetch_add(1, Ordering::SeqCst);
            let guard = tokio::time::timeout(WAIT_LIMIT, writer.group.clone().lock_owned()).await;
            writer.waiting.fetch_sub(1, Ordering::SeqCst);
            let Ok(guard) = guard else {
                // Whoever handed the writer on because this one waited must not be left with
                // an open group: take a turn anyway, only to commit it if no one else waits.
                let (group, store) = (writer.group.clone(), store.clone());
                tokio::spawn(async move { hand_on(store, group.lock_owned().await) });
                return Err(StoreError::Unavailable("no turn at the writer in 30 s".into()));
            };
            // From here a failure (or the member's drop) settles the group through `Drop`.
            let mut member = Member { guard: Some(guard), store };
            let group = member.group();
            if group.tx.is_none() {
                group.tx = Some(crate::begin_on(&pool, Some("BEGIN IMMEDIATE")).await?);
                group.opened = Some(Instant::now());
            }
            sqlx::query("SAVEPOINT member").execute(member.conn()).await?;
            Ok(member)
        });
        match joined.await {
            Ok(member) => member,
            Err(e) => Err(StoreError::Unavailable(format!("joining the writer: {e}"))),
        }
    }

    fn group(&mut self) -> &mut Group {
        self.guard.as_mut().expect("a member holds the writer until it ends")
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.group().tx.as_mut().expect("the group's transaction is open while a member holds it")
    }

    /// Keeps this member's work in the group and waits until the group has committed. The
    /// release and the hand-on run on a task that owns the writer, so that a caller cut off
    /// part-way leaves neither a released savepoint rolled back nor the writer unhanded.
    pub(crate) async fn commit(mut self, woken: Vec<String>, users_changed: bool) -> Result<()> {
        let (done, committed) = oneshot::channel();
        let (Some(guard), store) = (self.guard.take(), self.store.clone()) else {
            return Err(StoreError::Unavailable("the member no longer holds the writer".into()));
        };
        let released = tokio::spawn(async move {
            let mut guard = guard;
            let Some(tx) = guard.tx.as_mut() else { return Err(StoreError::Unavailable("no group".into())) };
            if let Err(e) = sqlx::query("RELEASE member").execute(&mut **tx).await {
                // The savepoint is still open: this member's work goes, the group's stays.
                undo(store, guard).await?;
                return Err(e.into());
            }
            guard.done.push(done);
            guard.woken.extend(woken);
            guard.users_changed |= users_changed;
            hand_on(store, guard);
            Ok(())
        });
        match released.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(StoreError::Unavailable(format!("releasing a member: {e}"))),
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(StoreError::Unavailable(format!("the group commit failed: {why}"))),
            Err(_) => Err(StoreError::Unavailable("the group commit was abandoned".into())),
        }
    }

    /// Keeps this member's work in the group without waiting for the group's commit: for a
    /// write whose loss in a crash is harmless. Later members see it at once; other processes
    /// once the group commits.
    pub(crate) async fn commit_soon(mut self) -> Result<()> {
        let (Some(guard), store) = (self.guard.take(), self.store.clone()) else { return Ok(()) };
        let released = tokio::spawn(async move {
            let mut guard = guard;
            let Some(tx) = guard.tx.as_mut() else { return Ok(()) };
            if let Err(e) = sqlx::query("RELEASE member").execute(&mut **tx).await {
                undo(store, guard).await?;
                return Err(e.into());
            }
            hand_on(store, guard);
            Ok(())
        });
        released.await.map_err(|e| StoreError::Unavailable(format!("releasing a member: {e}")))?
    }

    /// Undoes this member's work, keeping the group's (on a task that owns the writer, as for
    /// a commit).
    pub(crate) async fn rollback(mut self) -> Result<()> {
        let (Some(guard), store) = (self.guard.take(), self.store.clone()) else { return Ok(()) };
        tokio::spawn(undo(store, guard))
            .await
            .map_err(|e| StoreError::Unavailable(format!("rolling back a member: {e}")))?
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            let store = self.store.clone();
            cancel::spawn_cleanup(async move {
                if let Err(e) = undo(store, guard).await {
                    tracing::warn!(error = %e, "rolling back a dropped transaction failed");
                }
            });
        }
    }
}

/// Rolls a member back to its savepoint, then hands the writer on. A rollback that fails
/// leaves the group in doubt: it is rolled back whole and its members told.
async fn undo(store: Store, mut guard: OwnedMutexGuard<Group>) -> Result<()> {
    let undone = match guard.tx.as_mut() {
        Some(tx) => match sqlx::query("ROLLBACK TO member").execute(&mut **tx).await {
            Ok(_) => sqlx::query("RELEASE member").execute(&mut **tx).await.map(|_| ()),
            Err(e) => Err(e),
        },
        None => Ok(()),
    };
    if let Err(e) = undone {
        fail(&mut guard, &e.to_string()).await;
        return Err(e.into());
    }
    hand_on(store, guard);
    Ok(())
}

/// Commits the group if no one else waits for the writer (or it is full, or old), on a task
/// that cannot be cut off; otherwise lets the next member in.
fn hand_on(store: Store, mut guard: OwnedMutexGuard<Group>) {
    let writer = store.writer();
    let full = guard.done.len() >= MAX_MEMBERS || guard.opened.is_some_and(|t| t.elapsed() >= MAX_AGE);
    // A group of members that committed soon (none waits) still commits once no one else wants
    // the writer, so that other processes see it.
    let alone = writer.is_none_or(|w| w.waiting.load(Ordering::SeqCst) == 0);
    if guard.tx.is_none() || !(full || alone) {
        return;
    }
    tokio::spawn(async move {
        let Some(tx) = guard.tx.take() else { return };
        guard.opened = None;
        let committed = tx.commit().await.map_err(|e| e.to_string());
        if committed.is_ok() {
            if guard.users_changed {
                store.sessions.invalidate();
            }
            let mut users = std::mem::take(&mut guard.woken);
            if !users.is_empty() {
                users.sort_unstable();
                users.dedup();
                // No receiver (no live connections in this process) is not an error.
                let _ = store.outbox.send(users.into());
            }
        }
        answer(&mut guard, committed);
    });
}

/// Rolls the whole group back after a failure that left it in doubt.
async fn fail(guard: &mut OwnedMutexGuard<Group>, why: &str) {
    tracing::error!(why, "a group transaction failed; every member of it is rolled back");
    if let Some(tx) = guard.tx.take() {
        let _ = tx.rollback().await;
    }
    guard.opened = None;
    answer(guard, Err(why.to_string()));
}

fn answer(guard: &mut OwnedMutexGuard<Group>, outcome: std::result::Result<(), String>) {
    guard.woken.clear();
    guard.users_changed = false;
    for done in guard.done.drain(..) {
        let _ = done.send(outcome.clone());
    }
}
