//! Routes, faults and the rules that inject them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One endpoint of the emulator, as seen by statistics and fault rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `POST /v3/users/me/tasks`
    CreateTask,
    /// `GET /v3/users/me/tasks`
    ListTasks,
    /// `GET /v3/users/me/tasks/latest`
    LatestTasks,
    /// `GET /v3/users/me/tasks/{taskID}`
    GetTask,
    /// `GET /v3/users/me/tasks/{taskID}/result`
    TaskResult,
    /// `GET /v3/users/me/tasks/{taskID}/logs`
    TaskLogs,
    /// `GET /v3/users/me/dashboard`
    Dashboard,
    /// `POST /v3/user/pause`
    Pause,
    /// `POST /v3/user/resume`
    Resume,
    /// `POST {upload base}/init`
    UploadInit,
    /// `PUT` of one part to its presigned URL.
    UploadPart,
    /// `GET {upload base}/{uploadID}/url`
    UploadUrl,
    /// `GET` of an uploaded file's final URL or of a task's result file.
    Download,
    /// `GET /-/oomol/package-info/{name}/{version}` (the registry).
    PackageInfo,
    /// `POST /v1/auth/device_login/code` (the account API).
    DeviceLoginCode,
    /// `GET /v1/auth/device_login/result` (the account API).
    DeviceLoginResult,
    /// `GET /v1/users/profile` (the account API).
    Profile,
}

impl Route {
    /// Every route, in a fixed order.
    pub const ALL: [Route; 17] = [
        Route::CreateTask,
        Route::ListTasks,
        Route::LatestTasks,
        Route::GetTask,
        Route::TaskResult,
        Route::TaskLogs,
        Route::Dashboard,
        Route::Pause,
        Route::Resume,
        Route::UploadInit,
        Route::UploadPart,
        Route::UploadUrl,
        Route::Download,
        Route::PackageInfo,
        Route::DeviceLoginCode,
        Route::DeviceLoginResult,
        Route::Profile,
    ];

    /// The route's name in the control endpoints, e.g. `task_result`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::CreateTask => "create_task",
            Route::ListTasks => "list_tasks",
            Route::LatestTasks => "latest_tasks",
            Route::GetTask => "get_task",
            Route::TaskResult => "task_result",
            Route::TaskLogs => "task_logs",
            Route::Dashboard => "dashboard",
            Route::Pause => "pause",
            Route::Resume => "resume",
            Route::UploadInit => "upload_init",
            Route::UploadPart => "upload_part",
            Route::UploadUrl => "upload_url",
            Route::Download => "download",
            Route::PackageInfo => "package_info",
            Route::DeviceLoginCode => "device_login_code",
            Route::DeviceLoginResult => "device_login_result",
            Route::Profile => "profile",
        }
    }

    /// The position of the route in [`Route::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Whether the route needs an API key (presigned part and file URLs do not, nor a
    /// sign-in, which is how a key is had).
    pub(crate) fn needs_auth(self) -> bool {
        !matches!(
            self,
            Route::UploadPart | Route::Download | Route::DeviceLoginCode | Route::DeviceLoginResult
        )
    }

    /// Whether the route takes the key bare in `Authorization` besides as a bearer (the
    /// registry, as OOMOL's CLI sends it there).
    pub(crate) fn takes_bare_key(self) -> bool {
        matches!(self, Route::PackageInfo | Route::Profile)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown route name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRoute(pub String);

impl fmt::Display for UnknownRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Route::ALL.iter().map(|r| r.as_str()).collect();
        write!(
            f,
            "unknown route {:?}; expected one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownRoute {}

impl FromStr for Route {
    type Err = UnknownRoute;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Route::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRoute(s.to_owned()))
    }
}

/// What an injected fault does to a request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Fault {
    /// Answer 503 with the body `{"message":"server busy"}`.
    ServiceUnavailable,
    /// Answer 429 with a JSON `message` and `Retry-After` in whole seconds (rounded up).
    TooManyRequests {
        /// The delay advertised in `Retry-After`.
        retry_after: Duration,
    },
    /// Answer normally after this (real, unscaled) delay.
    Delay(Duration),
    /// Close the connection without any response.
    DropConnection,
    /// Handle the request (a create makes its task), then close the connection without
    /// answering: the client cannot know what happened.
    DropAnswer,
    /// Answer 200 with a truncated, invalid JSON body.
    MalformedBody,
    /// Answer normally, but close the connection after `after` bytes of the body (a
    /// download cut midway: fewer bytes than its `Content-Length` announced).
    CutBody {
        /// The bytes of the body sent before the cut.
        after: u64,
    },
}

impl Fault {
    /// The fault's name in the control endpoints, e.g. `service_unavailable`.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::ServiceUnavailable => "service_unavailable",
            Fault::TooManyRequests { .. } => "too_many_requests",
            Fault::Delay(_) => "delay",
            Fault::DropConnection => "drop_connection",
            Fault::DropAnswer => "drop_answer",
            Fault::MalformedBody => "malformed_body",
            Fault::CutBody { .. } => "cut_body",
        }
    }
}

/// A fault to inject on one route: on every matching request, on the next `n`, or on
/// each with a probability (drawn from the emulator's seeded generator).
///
/// ```
/// use std::time::Duration;
/// use oomol_cloud_task::emulator::{Fault, FaultRule, Route};
///
/// // The next two result polls answer 503, then the route behaves again.
/// let rule = FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(2);
/// // A third of the creations are refused with 429 and `Retry-After: 1`.
/// let flaky = FaultRule::new(
///     Route::CreateTask,
///     Fault::TooManyRequests { retry_after: Duration::from_millis(500) },
/// )
/// .probability(1.0 / 3.0);
/// # let _ = (rule, flaky);
/// ```
#[derive(Clone, Debug)]
pub struct FaultRule {
    route: Route,
    fault: Fault,
    times: Option<u64>,
    probability: Option<f64>,
    skip: u64,
}

impl FaultRule {
    /// The fault on every request of `route`, until the faults are cleared.
    pub fn new(route: Route, fault: Fault) -> Self {
        FaultRule {
            route,
            fault,
            times: None,
            probability: None,
            skip: 0,
        }
    }

    /// Lets the next `n` requests of the route through untouched before the rule starts
    /// hitting: `skip(2)` faults the third request (the third chunk of a download, the
    /// third poll).
    pub fn skip(mut self, n: u64) -> Self {
        self.skip = n;
        self
    }

    /// How many more requests of the route it lets through before it starts hitting.
    pub fn skipping(&self) -> u64 {
        self.skip
    }

    /// Only the next `n` requests that the rule hits; the rule then expires.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Each matching request is hit with probability `p` (clamped to 0..=1; NaN is 0).
    /// Together with [`FaultRule::times`], at most `n` requests are hit in all.
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) });
        self
    }

    /// The route the rule applies to.
    pub fn route(&self) -> Route {
        self.route
    }

    /// The fault it injects.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// How many more requests it will hit, when limited.
    pub fn remaining(&self) -> Option<u64> {
        self.times
    }

    /// The probability of hitting a matching request, when set.
    pub fn get_probability(&self) -> Option<f64> {
        self.probability
    }
}

/// The active fault rules and the seeded generator of their draws.
#[derive(Debug)]
pub(crate) struct FaultBook {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

impl FaultBook {
    pub(crate) fn new(seed: u64, rules: Vec<FaultRule>) -> Self {
        FaultBook {
            rules,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// The fault for one request of `route`: the first rule of that route that hits.
    pub(crate) fn pick(&mut self, route: Route) -> Option<Fault> {
        let mut hit = None;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if rule.route != route || rule.times == Some(0) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if let Some(p) = rule.probability
                && !self.rng.random_bool(p)
            {
                continue;
            }
            if let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
            hit = Some((i, rule.fault.clone()));
            break;
        }
        let (i, fault) = hit?;
        if self.rules[i].times == Some(0) {
            self.rules.remove(i);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_round_trip() {
        for route in Route::ALL {
            assert_eq!(route.as_str().parse::<Route>(), Ok(route));
            assert_eq!(Route::ALL[route.index()], route);
        }
        let err = "nope".parse::<Route>().unwrap_err();
        assert!(err.to_string().contains("task_result"));
    }

    #[test]
    fn times_limits_and_expires() {
        let mut book = FaultBook::new(
            0,
            vec![FaultRule::new(Route::GetTask, Fault::MalformedBody).times(2)],
        );
        assert!(book.pick(Route::TaskResult).is_none());
        assert!(book.pick(Route::GetTask).is_some());
        assert!(book.pick(Route::GetTask).is_some());
        assert!(book.pick(Route::GetTask).is_none());
        assert!(book.rules().is_empty());
    }

    #[test]
    fn skip_lets_requests_through_first() {
        let rule = FaultRule::new(Route::Download, Fault::DropConnection)
            .skip(2)
            .times(1);
        let mut book = FaultBook::new(0, vec![rule]);
        assert!(book.pick(Route::GetTask).is_none());
        assert!(book.pick(Route::Download).is_none());
        assert!(book.pick(Route::Download).is_none());
        assert!(book.pick(Route::Download).is_some());
        assert!(book.pick(Route::Download).is_none());
        assert!(book.rules().is_empty());
    }

    #[test]
    fn first_hitting_rule_wins_and_later_rules_follow() {
        let mut book = FaultBook::new(
            0,
            vec![
                FaultRule::new(Route::GetTask, Fault::ServiceUnavailable).times(1),
                FaultRule::new(Route::GetTask, Fault::DropConnection),
            ],
        );
        assert_eq!(
            book.pick(Route::GetTask).map(|f| f.name()),
            Some("service_unavailable")
        );
        assert_eq!(
            book.pick(Route::GetTask).map(|f| f.name()),
            Some("drop_connection")
        );
        assert_eq!(
            book.pick(Route::GetTask).map(|f| f.name()),
            Some("drop_connection")
        );
    }

    #[test]
    fn probability_is_seeded_and_roughly_right() {
        let draw = |seed| {
            let mut book = FaultBook::new(
                seed,
                vec![
                    FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).probability(0.25),
                ],
            );
            (0..2000)
                .map(|_| book.pick(Route::TaskResult).is_some())
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let hits = a.iter().filter(|h| **h).count();
        assert!((400..600).contains(&hits), "{hits} hits of 2000 at p=0.25");
    }

    #[test]
    fn probability_with_times_hits_at_most_n() {
        let mut book = FaultBook::new(
            1,
            vec![
                FaultRule::new(Route::Pause, Fault::MalformedBody)
                    .probability(0.5)
                    .times(3),
            ],
        );
        let hits = (0..100)
            .filter(|_| book.pick(Route::Pause).is_some())
            .count();
        assert_eq!(hits, 3);
        assert_eq!(
            FaultRule::new(Route::Pause, Fault::MalformedBody)
                .probability(f64::NAN)
                .get_probability(),
            Some(0.0)
        );
    }
}
