use http::Method;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::models::PackageInfo;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `GET {registry}/-/oomol/package-info/{name}/{version}?lang={lang}`: a package's
/// description from the registry: its blocks, their inputs and outputs, each with a JSON
/// Schema ([`PackageInfo`]), to check a task's inputs before creating it
/// ([`PackageInfo::check`]).
///
/// Not in the official SDKs; OOMOL's CLI reads it the same way (name and version each one
/// percent-encoded segment, the API key bare in `Authorization`).
///
/// ```
/// use cloud_task_core::{Config, GetPackageInfo, Operation};
/// let config = Config::builder().api_key("k").build()?;
/// let request = GetPackageInfo::new("@oomol/pdf-tools", "1.2.0").lang("en").request(&config)?;
/// assert_eq!(
///     request.uri(),
///     "https://registry.oomol.com/-/oomol/package-info/%40oomol%2Fpdf-tools/1.2.0?lang=en"
/// );
/// assert_eq!(request.headers()["authorization"], "k");
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetPackageInfo {
    /// The package, e.g. `@oomol/pdf-tools`.
    pub name: String,
    /// Its version: exact, or `latest`.
    pub version: String,
    /// The language of titles and descriptions (e.g. `en`, `zh-CN`); none: the registry's.
    pub lang: Option<String>,
}

impl GetPackageInfo {
    /// The description of `name` at `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        GetPackageInfo {
            name: name.into(),
            version: version.into(),
            lang: None,
        }
    }

    /// Asks for titles and descriptions in `lang`.
    pub fn lang(mut self, lang: impl Into<String>) -> Self {
        self.lang = Some(lang.into());
        self
    }
}

impl Operation for GetPackageInfo {
    type Output = PackageInfo;
    const NAME: &'static str = "get_package_info";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        wire::check_not_empty("name", &self.name)?;
        wire::check_not_empty("version", &self.version)?;
        config
            .registry_request(Method::GET, "/-/oomol/package-info")
            .segment(self.name.trim())
            .segment(self.version.trim())
            .query_opt("lang", self.lang.clone())
            .build()
    }

    /// The description, with handles without a name dropped; a description without a
    /// package name or version is [`Error::Protocol`].
    fn parse(&self, response: HttpResponse) -> Result<PackageInfo> {
        let info: PackageInfo = wire::parse_json("package info", response)?;
        if info.package_name.trim().is_empty() || info.package_version.trim().is_empty() {
            return Err(Error::protocol(
                Self::NAME,
                "the registry answered a description without a package name or version",
            ));
        }
        Ok(info.tidy())
    }
}
