use http::Method;

use crate::config::Config;
use crate::error::Result;
use crate::models::Dashboard;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `GET /v3/users/me/dashboard`: limits, queue counts and pause state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetDashboard;

impl Operation for GetDashboard {
    type Output = Dashboard;
    const NAME: &'static str = "get_dashboard";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        config
            .api_request(Method::GET, "/v3/users/me/dashboard")
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<Dashboard> {
        wire::parse_json("dashboard", response)
    }
}
