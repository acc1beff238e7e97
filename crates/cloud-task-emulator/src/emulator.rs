//! The builder and the handles of a running emulator.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_core::{
    ApiKey, AwaitOptions, Config, ConfigBuilder, DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL, Error,
    MIN_INTERVAL, Result,
};

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{self, Shared};
use crate::clock::{Clock, ManualClock};
use crate::fault::{FaultBook, FaultRule};
use crate::ids::random_token;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::stats::{Stats, StatsRecorder};
use crate::uploads::{UPLOAD_PATH, Uploads};
use crate::util::lock;

/// The default upload part size: 5 MiB.
pub const DEFAULT_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The default number of tasks in flight at once.
pub const DEFAULT_MAX_CONCURRENCY: u64 = 10;
/// The default number of tasks that may wait in the queue.
pub const DEFAULT_MAX_QUEUE_SIZE: u64 = 1000;

/// The entry point: `Emulator::builder()`.
///
/// ```
/// use oomol_cloud_task::emulator::Emulator;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cloud_task_core::Result<()> {
/// let emulator = Emulator::builder().time_scale(0.01).start().await?;
/// println!("Cloud Task at {} with key {}", emulator.base_url(), emulator.api_key());
/// emulator.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0` (a free port), one generated API key,
    /// time scale 1, 10 tasks in flight, a queue of 1000, parts of 5 MiB, seed 0, no faults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures and starts an emulator. See [`Emulator::builder`].
#[derive(Clone)]
pub struct EmulatorBuilder {
    addr: SocketAddr,
    api_keys: Vec<String>,
    time_scale: f64,
    max_concurrency: u64,
    max_queue_size: u64,
    part_size: u64,
    seed: u64,
    faults: Vec<FaultRule>,
    clock: Option<ManualClock>,
    login_delay: Option<Duration>,
    login_expiry: Duration,
    keyed_outputs: bool,
}

/// How long after its code is asked for a sign-in confirms itself, by default.
pub const DEFAULT_LOGIN_DELAY: Duration = Duration::from_secs(1);
/// How long a sign-in code is valid, by default (its `expires_in`).
pub const DEFAULT_LOGIN_EXPIRY: Duration = Duration::from_secs(300);

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_keys: Vec::new(),
            time_scale: 1.0,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            part_size: DEFAULT_PART_SIZE,
            seed: 0,
            faults: Vec::new(),
            clock: None,
            login_delay: Some(DEFAULT_LOGIN_DELAY),
            login_expiry: DEFAULT_LOGIN_EXPIRY,
            keyed_outputs: false,
        }
    }
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("addr", &self.addr)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("time_scale", &self.time_scale)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_queue_size", &self.max_queue_size)
            .field("part_size", &self.part_size)
            .field("keyed_outputs", &self.keyed_outputs)
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("clock", &self.clock)
            .field("login_delay", &self.login_delay)
            .field("login_expiry", &self.login_expiry)
            .finish()
    }
}

impl EmulatorBuilder {
    /// How a device sign-in (`POST /v1/auth/device_login/code`, then its result) is
    /// confirmed: `Some(delay)` by itself that long after its code was asked for, on the
    /// emulator's clock (default [`DEFAULT_LOGIN_DELAY`]), answering the emulator's first
    /// key and its base URL as the endpoint; `None` only when a test confirms it with
    /// `POST /_emulator/device_login/verify` (`{"code": ...}`) or
    /// `verify_login` on its handle.
    pub fn login_delay(mut self, delay: Option<Duration>) -> Self {
        self.login_delay = delay;
        self
    }

    /// How long a sign-in code is valid (default [`DEFAULT_LOGIN_EXPIRY`]); an expired
    /// sign-in's result is a 404.
    pub fn login_expiry(mut self, expiry: Duration) -> Self {
        self.login_expiry = expiry;
        self
    }

    /// Answers a success's `resultData` as one object keyed by output handle
    /// (`{"text": "hi"}`), the shape OOMOL's engine client reads, instead of a list holding
    /// that object (`[{"text": "hi"}]`), the official SDKs' type and the default.
    pub fn keyed_outputs(mut self, keyed: bool) -> Self {
        self.keyed_outputs = keyed;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`: a free port on loopback).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Accepts this API key (repeatable). With none, one random key is generated.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(key.into());
        self
    }

    /// Multiplies every simulated duration: `0.01` runs tasks 100 times faster. Default
    /// 1; must be finite and greater than 0 ([`EmulatorBuilder::start`] refuses others).
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// How many tasks may be in flight (scheduling, scheduled or running) at once
    /// (default 10). With 0, tasks stay queued.
    pub fn max_concurrency(mut self, n: u64) -> Self {
        self.max_concurrency = n;
        self
    }

    /// How many tasks may wait in the queue (default 1000); a creation that would have to
    /// wait beyond it is refused with 429.
    pub fn max_queue_size(mut self, n: u64) -> Self {
        self.max_queue_size = n;
        self
    }

    /// The upload part size in bytes (default 5 MiB; at least 1).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Seeds the draws of probabilistic faults and the task and upload IDs, so a run is
    /// repeatable (default 0). Generated API keys and URL signatures never come from it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs on `clock` instead of the wall clock: nothing happens until it is advanced,
    /// and the emulator's timestamps start at the clock's epoch. With a seed, a run is then
    /// repeatable to the ID and the millisecond. Injected `Delay` faults still take real
    /// time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use oomol_cloud_task::emulator::{Emulator, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let emulator = Emulator::builder().manual_clock(clock.clone()).start_blocking()?;
    /// assert!(emulator.manual_clock().is_some());
    /// clock.advance(Duration::from_secs(1)); // a default task has now ended
    /// # Ok::<(), cloud_task_core::Error>(())
    /// ```
    pub fn manual_clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Injects a fault from the start (repeatable).
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    fn validate(&self) -> Result<()> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(Error::invalid_input(
                "time_scale",
                "time_scale must be a finite number greater than 0",
            ));
        }
        if self.part_size == 0 {
            return Err(Error::invalid_input(
                "part_size",
                "part_size must be at least 1 byte",
            ));
        }
        for key in &self.api_keys {
            // The clients' own rule: visible ASCII only, the message never showing the key.
            ApiKey::check(key)?;
        }
        Ok(())
    }

    /// Binds the address and starts serving on the current tokio runtime.
    ///
    /// Fails with the SDK's [`Error`]: [`Error::InvalidInput`] naming a bad setting, or
    /// [`Error::Io`] saying what could not be done (binding the address, creating the
    /// upload directory), so that `?` works in code returning the SDK's `Result`. Must be
    /// called within a tokio runtime (with the I/O and time drivers enabled); from code
    /// without one, use [`EmulatorBuilder::start_blocking`].
    pub async fn start(self) -> Result<EmulatorHandle> {
        self.validate()?;
        let binding = |e| Error::io(format!("binding {}", self.addr), e);
        let listener = TcpListener::bind(self.addr).await.map_err(binding)?;
        let addr = api::public_addr(listener.local_addr().map_err(binding)?);
        let api_keys = if self.api_keys.is_empty() {
            vec![format!("oomol-emulator-{}", random_token())]
        } else {
            self.api_keys
        };
        let base_url = format!("http://{addr}");
        let clock = match self.clock {
            Some(clock) => Clock::Manual(clock),
            None => Clock::real(),
        };
        let epoch_ms = clock.start_epoch_ms();
        let info = json!({
            "baseUrl": base_url,
            "uploadBaseUrl": format!("{base_url}{UPLOAD_PATH}"),
            "timeScale": self.time_scale,
            "maxConcurrency": self.max_concurrency,
            "maxQueueSize": self.max_queue_size,
            "partSize": self.part_size,
        });
        let shared = Arc::new(Shared {
            api_keys,
            base_url: base_url.clone(),
            port: addr.port(),
            clock,
            scheduler: Mutex::new(Scheduler::new(SchedulerConfig {
                max_concurrency: self.max_concurrency,
                max_queue_size: self.max_queue_size,
                time_scale: self.time_scale,
                epoch_ms,
                seed: self.seed,
                base_url: base_url.clone(),
                keyed_outputs: self.keyed_outputs,
            })),
            faults: Mutex::new(FaultBook::new(self.seed, self.faults)),
            stats: StatsRecorder::default(),
            uploads: Uploads::new(self.part_size, self.seed)
                .map_err(|e| Error::io("creating the upload directory", e))?,
            logins: Mutex::new(api::Logins::new(api::LoginSettings {
                delay: self.login_delay,
                expiry: self.login_expiry,
            })),
            info,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(api::serve(listener, api::router(shared.clone()), stopped));
        Ok(EmulatorHandle {
            inner: Inner {
                shared,
                addr,
                time_scale: self.time_scale,
            },
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Starts the emulator on its own tokio runtime on a background thread, for code
    /// without a runtime (blocking clients, plain `#[test]`s, examples).
    ///
    /// It also works when called from within a runtime (the server never runs on the
    /// caller's runtime), but then [`BlockingEmulator::shutdown`] and dropping the handle
    /// block the calling thread until the server has stopped (at most a few seconds).
    pub fn start_blocking(self) -> Result<BlockingEmulator> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cloud-task-emulator".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("cloud-task-emulator-worker")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::io("starting the emulator's runtime", e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match self.start().await {
                        Ok(handle) => {
                            let _ = ready_tx.send(Ok(handle.inner.clone()));
                            // Stop when asked, or when the BlockingEmulator is gone.
                            let _ = stop_rx.await;
                            handle.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| Error::io("starting the emulator's thread", e))?;
        match ready_rx.recv() {
            Ok(Ok(inner)) => Ok(BlockingEmulator {
                inner,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::io(
                    "starting the emulator",
                    io::Error::other("its thread stopped before the server started"),
                ))
            }
        }
    }
}

/// What both handles share: the server state, its address and its time scale.
#[derive(Clone)]
struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    time_scale: f64,
}

impl Inner {
    fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    fn upload_base_url(&self) -> String {
        format!("{}{UPLOAD_PATH}", self.shared.base_url)
    }

    fn api_key(&self) -> String {
        self.shared.api_keys[0].clone()
    }

    fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    fn await_options(&self) -> AwaitOptions {
        let scaled = |d: Duration| d.mul_f64(self.time_scale).max(MIN_INTERVAL);
        AwaitOptions::new()
            .interval(scaled(DEFAULT_INTERVAL))
            .max_interval(scaled(DEFAULT_MAX_INTERVAL))
    }

    fn config(&self) -> ConfigBuilder {
        Config::builder()
            .api_key(self.api_key())
            .base_url(self.base_url())
            .upload_base_url(self.upload_base_url())
            .registry_url(self.base_url())
            .await_options(self.await_options())
    }

    fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    fn add_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).add(rule);
    }

    fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    fn verify_login(&self, code: &str) -> bool {
        lock(&self.shared.logins).verify(code, self.shared.now())
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

/// Defines the accessors that both handles share, with the same documentation.
macro_rules! accessors {
    () => {
        /// The address the emulator listens on (an unspecified bind address reads as
        /// loopback).
        pub fn addr(&self) -> std::net::SocketAddr {
            self.inner.addr
        }

        /// The task API's base URL, e.g. `http://127.0.0.1:PORT` (no `/v3`).
        pub fn base_url(&self) -> String {
            self.inner.base_url()
        }

        /// The upload API's base URL, e.g.
        /// `http://127.0.0.1:PORT/api/tasks/files/remote-cache`.
        pub fn upload_base_url(&self) -> String {
            self.inner.upload_base_url()
        }

        /// The first configured API key, or the generated one.
        pub fn api_key(&self) -> String {
            self.inner.api_key()
        }

        /// The waits of a client of this emulator: the official polling interval and max
        /// interval (3 s) scaled by the time scale (at least 1 ms), so that a client sees
        /// a task end about as fast as the emulator runs it. At time scale 0.01, it polls
        /// every 30 ms.
        pub fn await_options(&self) -> cloud_task_core::AwaitOptions {
            self.inner.await_options()
        }

        /// A client configuration pointed at this emulator: its base URLs and API key,
        /// and [`await_options`](Self::await_options) as the default waits. Hand it to any
        /// client builder's `config`:
        ///
        /// ```
        /// # fn main() -> cloud_task_core::Result<()> {
        /// # let emulator = oomol_cloud_task::emulator::Emulator::builder().time_scale(0.01).start_blocking()?;
        /// let config = emulator.config().build()?;
        /// assert_eq!(config.base_url(), emulator.base_url());
        /// # Ok(()) }
        /// ```
        pub fn config(&self) -> cloud_task_core::ConfigBuilder {
            self.inner.config()
        }

        /// The manual clock it runs on, when it was started with one
        /// ([`EmulatorBuilder::manual_clock`]).
        pub fn manual_clock(&self) -> Option<ManualClock> {
            self.inner.shared.clock.manual()
        }

        /// A snapshot of the request statistics.
        pub fn stats(&self) -> Stats {
            self.inner.stats()
        }

        /// Sets every statistic back to zero.
        pub fn reset_stats(&self) {
            self.inner.reset_stats()
        }

        /// Injects a fault from now on.
        pub fn add_fault(&self, rule: FaultRule) {
            self.inner.add_fault(rule)
        }

        /// Removes every fault rule.
        pub fn clear_faults(&self) {
            self.inner.clear_faults()
        }

        /// Confirms the device sign-in showing `code`, as its user would on the page
        /// (for an emulator whose sign-ins do not confirm themselves,
        /// [`EmulatorBuilder::login_delay`]`(None)`). False when no sign-in under way shows
        /// it.
        pub fn verify_login(&self, code: &str) -> bool {
            self.inner.verify_login(code)
        }
    };
}

/// A running emulator, started with [`EmulatorBuilder::start`]. Dropping it shuts the
/// server down gracefully in the background; [`EmulatorHandle::shutdown`] waits for that.
pub struct EmulatorHandle {
    inner: Inner,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    accessors!();

    /// Stops accepting connections, lets requests in flight finish (for at most a few
    /// seconds), closes every connection and waits until the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A running emulator on its own runtime and thread, started with
/// [`EmulatorBuilder::start_blocking`]. Dropping it shuts the server down and waits.
pub struct BlockingEmulator {
    inner: Inner,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlockingEmulator {
    accessors!();

    /// Stops the server gracefully and waits for its thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for BlockingEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Drop for BlockingEmulator {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_keys() {
        let builder = Emulator::builder().api_key("secret-key-123");
        assert!(!format!("{builder:?}").contains("secret-key-123"));
    }
}
