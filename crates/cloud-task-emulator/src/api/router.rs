//! Every route of the emulator, each behind its guard.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post, put};
use http::StatusCode;

use super::error::ApiError;
use super::guard::guard;
use super::state::Shared;
use super::{account, control, files, registry, tasks, uploads};
use crate::fault::Route;
use crate::scheduler::RESULTS_PATH;
use crate::uploads::{FILES_PATH, PARTS_PATH, UPLOAD_PATH};

/// Any other path: 404, saying which.
async fn not_found(request: Request) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Every route of the emulator.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let guarded = |route: Route, methods: MethodRouter<Arc<Shared>>| {
        methods.route_layer(from_fn_with_state((shared.clone(), route), guard))
    };
    Router::new()
        .route(
            "/v3/users/me/tasks",
            guarded(Route::ListTasks, get(tasks::list_tasks))
                .merge(guarded(Route::CreateTask, post(tasks::create_task))),
        )
        .route(
            "/v3/users/me/tasks/latest",
            guarded(Route::LatestTasks, get(tasks::latest_tasks)),
        )
        .route(
            "/v3/users/me/tasks/{id}",
            guarded(Route::GetTask, get(tasks::get_task)),
        )
        .route(
            "/v3/users/me/tasks/{id}/result",
            guarded(Route::TaskResult, get(tasks::task_result)),
        )
        .route(
            "/v3/users/me/tasks/{id}/logs",
            guarded(Route::TaskLogs, get(tasks::task_logs)),
        )
        .route(
            "/v3/users/me/dashboard",
            guarded(Route::Dashboard, get(tasks::dashboard)),
        )
        .route("/v3/user/pause", guarded(Route::Pause, post(tasks::pause)))
        .route(
            "/v3/user/resume",
            guarded(Route::Resume, post(tasks::resume)),
        )
        .route(
            &format!("{UPLOAD_PATH}/init"),
            guarded(Route::UploadInit, post(uploads::upload_init)),
        )
        .route(
            &format!("{UPLOAD_PATH}/{{id}}/url"),
            guarded(Route::UploadUrl, get(uploads::upload_url)),
        )
        .route(
            &format!("{PARTS_PATH}/{{id}}/{{part}}"),
            guarded(Route::UploadPart, put(uploads::upload_part)),
        )
        .route(
            &format!("{FILES_PATH}/{{id}}/{{name}}"),
            guarded(Route::Download, get(uploads::download)),
        )
        .route(
            &format!("{RESULTS_PATH}/{{id}}/{{name}}"),
            guarded(Route::Download, get(files::result_file)),
        )
        .route(
            "/-/oomol/package-info/{name}/{version}",
            guarded(Route::PackageInfo, get(registry::package_info)),
        )
        .route(
            "/v1/auth/device_login/code",
            guarded(Route::DeviceLoginCode, post(account::device_login_code)),
        )
        .route(
            "/v1/auth/device_login/result",
            guarded(Route::DeviceLoginResult, get(account::device_login_result)),
        )
        .route(
            "/v1/users/profile",
            guarded(Route::Profile, get(account::profile)),
        )
        .route(account::CONFIRM_PATH, get(account::confirm_page))
        .nest("/_emulator", control::router(shared.clone()))
        .fallback(not_found)
        .with_state(shared)
}
