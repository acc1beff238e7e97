//! tower layers under the async client: a `ConcurrencyLimit` of 2 holds under `await_many`
//! of 50 tasks, counted at the service under the limit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use cloud_task_async::{
    AwaitOptions, Client, CreateTaskRequest, HttpTransport, ReqwestTransport, TowerTransport,
};
use cloud_task_core::{HttpRequest, HttpResponse, Result};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use tower::Service;

/// Counts the requests in flight through it, and the most at once.
#[derive(Clone)]
struct Counting<S> {
    inner: S,
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl<S> Service<HttpRequest> for Counting<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = cloud_task_core::Error>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = cloud_task_core::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let now = Arc::clone(&self.now);
        let most = Arc::clone(&self.most);
        let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(in_flight, Ordering::SeqCst);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let outcome = answer.await;
            now.fetch_sub(1, Ordering::SeqCst);
            outcome
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_limit_of_two_holds_under_a_wait_of_fifty_tasks() {
    let emulator = Emulator::builder().time_scale(0.01).start().await.unwrap();
    let config = emulator.config().build().unwrap();
    let plain = Client::builder()
        .config(config.to_builder())
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..50 {
        let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", n);
        ids.push(plain.create_task(request).await.unwrap().task_id);
    }
    // Each result answer takes 20 ms: without the limit, dozens would be in flight.
    emulator.add_fault(FaultRule::new(
        Route::TaskResult,
        Fault::Delay(Duration::from_millis(20)),
    ));
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let counting = Counting {
        inner: ReqwestTransport::new(&config).unwrap(),
        now: Arc::clone(&now),
        most: Arc::clone(&most),
    };
    let service = tower::ServiceBuilder::new()
        .concurrency_limit(2)
        .service(counting);
    let transport = TowerTransport::new(service);
    assert!(!transport.bounds_itself());
    let limited = Client::builder()
        .config(config.to_builder())
        .transport(transport)
        .build()
        .unwrap();
    let results = limited
        .await_many(ids, AwaitOptions::new().interval(Duration::from_millis(10)))
        .await;
    assert_eq!(results.len(), 50);
    assert!(results.iter().all(std::result::Result::is_ok));
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "the limit was reached, never passed"
    );
    assert_eq!(now.load(Ordering::SeqCst), 0);
    assert!(emulator.stats().count(Route::TaskResult) >= 50);
}

/// A batch's creates and waits pass through the client's interceptors too, named as the
/// batch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_s_requests_pass_through_the_interceptors() {
    use futures_util::StreamExt;

    let emulator = Emulator::builder().time_scale(0.01).start().await.unwrap();
    let metrics = cloud_task_core::Metrics::new();
    let machines = Arc::new(std::sync::Mutex::new(Vec::new()));
    #[derive(Clone)]
    struct Machines(Arc<std::sync::Mutex<Vec<(&'static str, &'static str)>>>);
    impl cloud_task_core::Interceptor for Machines {
        fn before_send(
            &self,
            context: &cloud_task_core::RequestContext<'_>,
            _headers: &mut cloud_task_core::http::HeaderMap,
        ) {
            self.0
                .lock()
                .unwrap()
                .push((context.machine, context.operation));
        }
    }
    let client = Client::builder()
        .config(emulator.config())
        .interceptor(metrics.clone())
        .interceptor(Machines(Arc::clone(&machines)))
        .build()
        .unwrap();
    let requests =
        (0..5).map(|n| CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", n));
    let items: Vec<_> = client
        .run_many(requests, cloud_task_async::BatchOptions::new())
        .collect()
        .await;
    assert!(items.iter().all(std::result::Result::is_ok) && items.len() >= 5);
    let seen = machines.lock().unwrap().clone();
    let creates = seen
        .iter()
        .filter(|(m, op)| *m == "batch" && *op == "create_task")
        .count();
    assert_eq!(creates, 5, "{seen:?} {:?}", metrics.snapshot());
    assert!(seen.iter().all(|(m, _)| *m == "batch"), "{seen:?}");
    assert_eq!(metrics.snapshot()["create_task"].requests, 5);
    assert_eq!(emulator.stats().count(Route::CreateTask), 5);
}
