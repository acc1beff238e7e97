//! The user's dashboard (limits, queue counts, pause state) and the pause answer.

use serde::{Deserialize, Serialize};

use super::PauseType;

/// The user's limits, queue counts and pause state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dashboard {
    /// The user's limits.
    pub limits: DashboardLimits,
    /// How many tasks are in each in-progress state.
    pub count: DashboardCount,
    /// The queue's pause state.
    pub pause: PauseState,
}

impl Dashboard {
    /// Builds a dashboard (used by servers such as the emulator).
    pub fn new(limits: DashboardLimits, count: DashboardCount, pause: PauseState) -> Self {
        Dashboard {
            limits,
            count,
            pause,
        }
    }
}

/// The user's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DashboardLimits {
    /// How many tasks may run at once.
    #[serde(rename = "maxConcurrency", default)]
    pub max_concurrency: u64,
    /// How many tasks may wait in the queue.
    #[serde(rename = "maxQueueSize", default)]
    pub max_queue_size: u64,
}

impl DashboardLimits {
    /// Builds the limits.
    pub fn new(max_concurrency: u64, max_queue_size: u64) -> Self {
        DashboardLimits {
            max_concurrency,
            max_queue_size,
        }
    }
}

/// How many of the user's tasks are in each in-progress state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DashboardCount {
    /// Queued tasks.
    #[serde(default)]
    pub queued: u64,
    /// Tasks being scheduled.
    #[serde(default)]
    pub scheduling: u64,
    /// Scheduled tasks.
    #[serde(default)]
    pub scheduled: u64,
    /// Running tasks.
    #[serde(default)]
    pub running: u64,
}

impl DashboardCount {
    /// Builds the counts.
    pub fn new(queued: u64, scheduling: u64, scheduled: u64, running: u64) -> Self {
        DashboardCount {
            queued,
            scheduling,
            scheduled,
            running,
        }
    }
}

/// The queue's pause state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseState {
    /// True while the queue is paused.
    #[serde(default)]
    pub paused: bool,
    /// Why it is paused.
    #[serde(rename = "type", default)]
    pub pause_type: Option<PauseType>,
    /// Whether the user may resume it.
    #[serde(rename = "canResume", default)]
    pub can_resume: bool,
}

impl PauseState {
    /// Builds a pause state.
    pub fn new(paused: bool, pause_type: Option<PauseType>, can_resume: bool) -> Self {
        PauseState {
            paused,
            pause_type,
            can_resume,
        }
    }
}

/// The answer to pause and resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseResponse {
    /// The pause type after the call; `None` when the queue is running.
    #[serde(rename = "pauseType", default)]
    pub pause_type: Option<PauseType>,
}

impl PauseResponse {
    /// Builds the response.
    pub fn new(pause_type: Option<PauseType>) -> Self {
        PauseResponse { pause_type }
    }
}
