//! The state every handler shares.

use std::time::Duration;

use crate::clock::Clock;
use crate::fault::FaultBook;
use crate::scheduler::Scheduler;
use crate::stats::StatsRecorder;
use crate::uploads::Uploads;
use std::sync::Mutex;

/// The state every handler shares.
pub(crate) struct Shared {
    pub(crate) api_keys: Vec<String>,
    pub(crate) base_url: String,
    /// The port it listens on (control requests must name it in their `Host`).
    pub(crate) port: u16,
    pub(crate) clock: Clock,
    pub(crate) scheduler: Mutex<Scheduler>,
    pub(crate) faults: Mutex<FaultBook>,
    pub(crate) stats: StatsRecorder,
    pub(crate) uploads: Uploads,
    pub(crate) logins: Mutex<super::account::Logins>,
    pub(crate) info: serde_json::Value,
}

impl Shared {
    /// The simulated time: the time on the emulator's clock since it started.
    pub(crate) fn now(&self) -> Duration {
        self.clock.now()
    }

    /// The wall time the emulator's clock reads, epoch milliseconds.
    pub(crate) fn now_epoch_ms(&self) -> i64 {
        self.clock.now_epoch_ms()
    }
}
