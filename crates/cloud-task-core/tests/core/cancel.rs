use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use cloud_task_core::CancelToken;

#[test]
fn listeners_run_once_and_guards_unregister() {
    let token = CancelToken::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let _kept = token.on_cancel(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let c = calls.clone();
    let dropped = token.on_cancel(move || {
        c.fetch_add(100, Ordering::SeqCst);
    });
    drop(dropped);
    assert!(!token.is_cancelled());
    token.clone().cancel();
    token.cancel();
    assert!(token.is_cancelled());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Registering after cancellation runs at once.
    let c = calls.clone();
    let _late = token.on_cancel(move || {
        c.fetch_add(10, Ordering::SeqCst);
    });
    assert_eq!(calls.load(Ordering::SeqCst), 11);
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn cancelled_future_wakes_on_cancel() {
    let token = CancelToken::new();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(token.cancelled());
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    let other = token.clone();
    std::thread::spawn(move || other.cancel()).join().unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(()));
    // An already-cancelled token's future is ready at once.
    let mut ready = pin!(token.cancelled());
    assert_eq!(ready.as_mut().poll(&mut cx), Poll::Ready(()));
}
