use http::Method;

use crate::config::Config;
use crate::error::Result;
use crate::models::PauseResponse;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `POST /v3/user/pause` or `POST /v3/user/resume` with body `{}`: pause or resume the
/// user's queue (`set_tasks_pause`, `pause_user_queue`, `resume_user_queue`).
///
/// Note the paths say `/v3/user/`, not `/v3/users/me/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetTasksPause {
    /// `true` pauses, `false` resumes.
    pub paused: bool,
}

impl SetTasksPause {
    /// Pause (`true`) or resume (`false`).
    pub fn new(paused: bool) -> Self {
        SetTasksPause { paused }
    }

    /// Pause the queue.
    pub fn pause() -> Self {
        SetTasksPause { paused: true }
    }

    /// Resume the queue.
    pub fn resume() -> Self {
        SetTasksPause { paused: false }
    }
}

impl Operation for SetTasksPause {
    type Output = PauseResponse;
    const NAME: &'static str = "set_tasks_pause";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        let path = if self.paused {
            "/v3/user/pause"
        } else {
            "/v3/user/resume"
        };
        config
            .api_request(Method::POST, path)
            .json(&serde_json::Map::new())
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<PauseResponse> {
        wire::parse_json("pause state", response)
    }
}
