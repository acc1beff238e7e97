//! Packages: a package's blocks and their inputs.

#![allow(unused_imports)]

use super::*;

#[tool_router(router = packages_router, vis = "pub(super)")]
impl CloudTaskServer {
    /// A package's blocks: for each, what it does, the JSON Schema of its inputs and its
    /// outputs. Read it before run_task or create_task.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn get_package_info(
        &self,
        Parameters(params): Parameters<PackageParams>,
    ) -> Result<Json<PackageSummary>, ToolError> {
        let version = params.package_version.as_deref().unwrap_or("latest");
        let info = self
            .client()
            .get_package_info(&params.package_name, version)
            .await
            .map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(package_summary(&info)))
    }
}
