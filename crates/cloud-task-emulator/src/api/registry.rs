//! The registry's one endpoint the clients read: a package's description.

use axum::extract::RawQuery;
use http::StatusCode;

use super::error::{Answer, ApiError, ok};
use super::params::{PathParam, path_param};
use crate::packages;

/// `GET /-/oomol/package-info/{name}/{version}?lang=...`: the description of a catalogue
/// package (any `lang`: the emulator speaks English); 404 for any other package.
pub(crate) async fn package_info(
    params: PathParam<(String, String)>,
    RawQuery(_query): RawQuery,
) -> Answer {
    let (name, version) = path_param(params)?;
    match packages::describe(&name, &version) {
        Some(description) => ok(&description),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("package {name}@{version} not found"),
        )),
    }
}
