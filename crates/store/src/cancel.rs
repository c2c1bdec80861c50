//! Work that is cancelled part-way (a request that timed out, a client gone) leaves cleaning
//! up to do: its transaction's rollback, the release of its idempotency claim. Both run on
//! tasks of their own, since a dropped future can await nothing; [`bounded`] waits for those
//! its own future left behind, so that whoever answers for the cancelled work answers after
//! the rollback, and a retry finds the key free.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

tokio::task_local! {
    static LEFT: Left;
}

#[derive(Clone, Default)]
struct Left(Arc<Mutex<Vec<JoinHandle<()>>>>);

/// Runs `work` on a task of its own; inside [`bounded`], the caller waits for it if its future
/// is cut off. Without a runtime (a value dropped after its runtime ended) nothing runs it:
/// then the database ends what the connection left open as the connection closes.
pub(crate) fn spawn_cleanup(work: impl Future<Output = ()> + Send + 'static) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let task = runtime.spawn(work);
    // Handles of finished tasks are kept only while their request runs.
    let _ = LEFT.try_with(|left| left.0.lock().unwrap_or_else(|p| p.into_inner()).push(task));
}

/// Runs `fut` for at most `limit`. When it runs out, the future is dropped and the clean-up it
/// left (rollbacks, claim releases) is waited for, up to `settle`, before `None` is returned.
pub async fn bounded<F: Future>(limit: Duration, settle: Duration, fut: F) -> Option<F::Output> {
    let left = Left::default();
    // The future is dropped inside the scope, so what its drop spawns is counted.
    let out = LEFT.scope(left.clone(), tokio::time::timeout(limit, fut)).await;
    if out.is_err() {
        let tasks = std::mem::take(&mut *left.0.lock().unwrap_or_else(|p| p.into_inner()));
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(settle, all).await.is_err() {
            tracing::warn!("a cancelled request's rollback or claim release is still running");
        }
    }
    out.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct CleansUp(Arc<AtomicBool>);

    impl Drop for CleansUp {
        fn drop(&mut self) {
            let done = self.0.clone();
            spawn_cleanup(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                done.store(true, Ordering::SeqCst);
            });
        }
    }

    #[tokio::test]
    async fn a_cut_off_future_is_answered_for_after_its_clean_up() {
        let done = Arc::new(AtomicBool::new(false));
        let guard = CleansUp(done.clone());
        let out = bounded(Duration::from_millis(10), Duration::from_secs(5), async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .await;
        assert!(out.is_none());
        assert!(done.load(Ordering::SeqCst), "the clean-up ran before bounded returned");
    }

    #[tokio::test]
    async fn a_future_in_time_is_not_held_up() {
        let out = bounded(Duration::from_secs(5), Duration::from_secs(5), async { 7 }).await;
        assert_eq!(out, Some(7));
    }
}
