//! A runtime-agnostic cancellation token shared by the async and blocking drivers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

/// A cloneable cancellation token. Cancelling any clone cancels them all.
///
/// Put one in [`AwaitOptions`](crate::AwaitOptions) or
/// [`UploadOptions`](crate::UploadOptions) and call [`cancel`](Self::cancel) from anywhere
/// (another task, another thread, a signal handler's thread): the wait or upload ends
/// promptly with [`Error::Cancelled`](crate::Error::Cancelled), without sleeping out its
/// current interval.
///
/// The token needs no runtime: drivers wake up through [`on_cancel`](Self::on_cancel) or
/// the [`cancelled`](Self::cancelled) future.
///
/// ```
/// # use cloud_task_core::CancelToken;
/// let token = CancelToken::new();
/// let clone = token.clone();
/// let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
/// let f = fired.clone();
/// let _guard = token.on_cancel(move || f.store(true, std::sync::atomic::Ordering::SeqCst));
/// clone.cancel();
/// assert!(token.is_cancelled());
/// assert!(fired.load(std::sync::atomic::Ordering::SeqCst));
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

type Listener = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    listeners: Mutex<Listeners>,
}

#[derive(Default)]
struct Listeners {
    next_id: u64,
    entries: Vec<(u64, Listener)>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Listeners> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the token and runs every registered listener once. Idempotent.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        let listeners = std::mem::take(&mut self.inner.lock().entries);
        for (_, listener) in listeners {
            listener();
        }
    }

    /// True once [`cancel`](Self::cancel) has been called on any clone.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `f` once when the token is cancelled (at once if it already is). Dropping the
    /// returned guard unregisters `f`.
    #[must_use = "dropping the guard unregisters the listener"]
    pub fn on_cancel(&self, f: impl FnOnce() + Send + 'static) -> CancelGuard {
        let mut listeners = self.inner.lock();
        if self.is_cancelled() {
            drop(listeners);
            f();
            return CancelGuard {
                inner: Weak::new(),
                id: 0,
            };
        }
        listeners.next_id += 1;
        let id = listeners.next_id;
        listeners.entries.push((id, Box::new(f)));
        CancelGuard {
            inner: Arc::downgrade(&self.inner),
            id,
        }
    }

    /// A future that completes when the token is cancelled. Works on any executor.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            token: self.clone(),
            registration: None,
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Unregisters a [`CancelToken::on_cancel`] listener when dropped.
pub struct CancelGuard {
    inner: Weak<Inner>,
    id: u64,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.lock().entries.retain(|(id, _)| *id != self.id);
        }
    }
}

impl fmt::Debug for CancelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelGuard").field("id", &self.id).finish()
    }
}

/// The future of [`CancelToken::cancelled`].
pub struct Cancelled {
    token: CancelToken,
    registration: Option<(Arc<Mutex<Option<Waker>>>, CancelGuard)>,
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.token.is_cancelled() {
            return Poll::Ready(());
        }
        match &this.registration {
            Some((slot, _)) => {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            }
            None => {
                let slot = Arc::new(Mutex::new(Some(cx.waker().clone())));
                let wake = Arc::clone(&slot);
                let guard = this.token.on_cancel(move || {
                    if let Some(waker) = wake.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        waker.wake();
                    }
                });
                this.registration = Some((slot, guard));
            }
        }
        if this.token.is_cancelled() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("cancelled", &self.token.is_cancelled())
            .finish()
    }
}
