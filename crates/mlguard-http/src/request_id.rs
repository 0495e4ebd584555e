//! The request a log line is written for.
//!
//! A `tracing` span per request would carry its id too, at the cost of a registry
//! slot, a formatted field list and an enter and exit on every poll, for every
//! request. A task-local costs a pointer swap per poll; the binary's log format
//! reads it for each line it writes, as `request{request_id=...}:`, the prefix
//! such a span would give.

use std::cell::RefCell;
use std::future::Future;

use axum::http::HeaderValue;

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

thread_local! {
    /// Work handed to a blocking thread, which a task-local does not reach.
    static ON_THIS_THREAD: RefCell<Option<HeaderValue>> = const { RefCell::new(None) };
}

/// Runs `work` (creating it, then polling it) as the request `id`.
pub fn scope<F: Future>(
    id: HeaderValue,
    make: impl FnOnce() -> F,
) -> tokio::task::futures::TaskLocalFuture<HeaderValue, F> {
    let work = REQUEST_ID.sync_scope(id.clone(), make);
    REQUEST_ID.scope(id, work)
}

/// The id of the request being served here, if any.
pub fn current() -> Option<HeaderValue> {
    REQUEST_ID.try_with(HeaderValue::clone).ok().or_else(|| {
        ON_THIS_THREAD
            .try_with(|id| id.borrow().clone())
            .ok()
            .flatten()
    })
}

/// `read` with the current request's id as text.
pub fn with_current<R>(read: impl FnOnce(Option<&str>) -> R) -> R {
    let id = current();
    // An id that is not text names the request all the same, as an empty one.
    read(id.as_ref().map(|id| id.to_str().unwrap_or_default()))
}

/// Runs `work` on this (blocking) thread as the request `id`.
pub fn on_this_thread<T>(id: Option<HeaderValue>, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<HeaderValue>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = ON_THIS_THREAD.try_with(|id| *id.borrow_mut() = previous);
        }
    }
    let previous = ON_THIS_THREAD
        .try_with(|slot| slot.replace(id))
        .ok()
        .flatten();
    let _restore = Restore(previous);
    work()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &'static str) -> HeaderValue {
        HeaderValue::from_static(text)
    }

    fn seen() -> Option<String> {
        with_current(|id| id.map(str::to_owned))
    }

    #[tokio::test]
    async fn the_id_is_seen_while_the_request_is_served_and_nowhere_else() {
        assert_eq!(seen(), None);
        let served = scope(id("r-1"), || {
            // Creating the work is inside the request too.
            let at_creation = seen();
            async move {
                tokio::task::yield_now().await;
                (at_creation, seen())
            }
        })
        .await;
        assert_eq!(served, (Some("r-1".to_owned()), Some("r-1".to_owned())));
        assert_eq!(seen(), None);
    }

    #[tokio::test]
    async fn blocking_work_runs_as_the_request_that_handed_it_over() {
        let on_blocking_thread = scope(id("r-2"), || async {
            let id = current();
            tokio::task::spawn_blocking(move || on_this_thread(id, seen)).await
        })
        .await
        .expect("joined");
        assert_eq!(on_blocking_thread.as_deref(), Some("r-2"));
        // The blocking thread forgets it once the work is done.
        let after = tokio::task::spawn_blocking(seen).await.expect("joined");
        assert_eq!(after, None);
    }
}
