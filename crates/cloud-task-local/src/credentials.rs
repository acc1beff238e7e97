//! The stored profile: the account a sign-in answered (its key, its domain, the user),
//! kept in a file of the user's config directory, and the order in which a key is found.
//!
//! # The file
//!
//! `credentials.json` in `oomol-cloud-task/` under the user's config directory
//! (`$XDG_CONFIG_HOME`, else `~/.config`; `%APPDATA%` on Windows), or the path in
//! [`ENV_CREDENTIALS_FILE`]. One JSON object:
//!
//! ```json
//! {"format": "oomol-cloud-task-credentials/1", "api_key": "…", "endpoint": "oomol.com",
//!  "id": "…", "name": "…"}
//! ```
//!
//! It is written whole to a temporary file next to it, synced, then renamed over it, so a
//! crash leaves the old file or the new one, never half of one; on Unix the file is created
//! readable by its owner only (`0600`) and its directory `0700`. Read back, it must be a
//! regular file of at most [`MAX_CREDENTIALS_FILE`] bytes, and on Unix not readable by
//! anyone else (as `ssh` insists for its keys): a file others can read is refused, naming
//! `chmod 600`.
//!
//! # Why a file, not the OS keyring
//!
//! A keyring needs a running secret service: on Linux that is D-Bus and a desktop session,
//! absent on the headless servers, containers and CI runners this SDK runs on most, and the
//! maintained crates for it pull an async D-Bus stack into every build. OOMOL's own CLI
//! keeps its accounts in a file too. The file is owner-only and never printed; its path is.
//!
//! # Where a key comes from
//!
//! [`config_from_env`]: the key given explicitly, then [`OOMOL_API_KEY`](ENV_API_KEY), then
//! the stored profile (with its domain, unless the environment names a domain or a base
//! URL), as aws-sdk's credential chain does; when none has one, the error names every
//! source it tried.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use cloud_task_core::{ApiKey, ConfigBuilder, ENV_API_KEY, Error, LoginAccount};
use serde::{Deserialize, Serialize};

use crate::small::{open_regular, read_bounded};

/// The environment variable naming the credentials file, instead of the default place.
pub const ENV_CREDENTIALS_FILE: &str = "OOMOL_CREDENTIALS_FILE";
/// The largest credentials file read: 64 KiB.
pub const MAX_CREDENTIALS_FILE: u64 = 64 * 1024;
/// The `format` of the file this version writes and reads.
pub const CREDENTIALS_FORMAT: &str = "oomol-cloud-task-credentials/1";

#[derive(Serialize, Deserialize)]
struct FileProfile {
    format: String,
    api_key: String,
    endpoint: String,
    id: String,
    name: String,
}

/// Where the credentials file is: [`ENV_CREDENTIALS_FILE`] when set, else
/// `oomol-cloud-task/credentials.json` under the user's config directory; `None` when no
/// home is known.
pub fn default_credentials_path() -> Option<PathBuf> {
    credentials_path_with(|name| std::env::var_os(name))
}

/// [`default_credentials_path`], the environment read through `lookup`.
pub fn credentials_path_with(
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(path) = set(ENV_CREDENTIALS_FILE) {
        return Some(path);
    }
    let config = if cfg!(windows) {
        set("APPDATA")
    } else {
        set("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| set("HOME").map(|home| home.join(".config")))
    }?;
    Some(config.join("oomol-cloud-task").join("credentials.json"))
}

/// Stores `account` at `path`, replacing what was there, atomically and owner-only (see
/// the [module](self)).
pub fn save_credentials(path: &Path, account: &LoginAccount) -> io::Result<()> {
    let profile = FileProfile {
        format: CREDENTIALS_FORMAT.to_owned(),
        api_key: account.api_key.expose_secret().to_owned(),
        endpoint: account.endpoint.clone(),
        id: account.id.clone(),
        name: account.name.clone(),
    };
    let mut text = serde_json::to_vec_pretty(&profile).map_err(io::Error::other)?;
    text.push(b'\n');
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        create_private_dir(&dir)?;
    }
    crate::small::replace_file(path, &text, "the credentials file", Some(0o600))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// The account stored at `path`; `Ok(None)` when there is no file. A file that is not a
/// regular file, too large, readable by others (Unix), or not of the documented format is
/// an error naming the path and what is wrong (never the key).
pub fn load_credentials(path: &Path) -> io::Result<Option<LoginAccount>> {
    let file = match open_regular(path, "the credentials file", OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // The permissions of the file opened, not of whatever the path names by now.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} can be read by other users (mode {mode:04o}): run `chmod 600 {}`",
                    path.display(),
                    path.display()
                ),
            ));
        }
    }
    let bytes = read_bounded(file, MAX_CREDENTIALS_FILE, &path.display().to_string())?;
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a credentials file: {why}", path.display()),
        )
    };
    let profile: FileProfile = serde_json::from_slice(&bytes).map_err(|e| {
        // serde's message may quote a value: say where, not what.
        bad(&format!(
            "invalid JSON or fields at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    if profile.format != CREDENTIALS_FORMAT {
        return Err(bad(&format!("its format is not {CREDENTIALS_FORMAT}")));
    }
    if ApiKey::check(profile.api_key.trim()).is_err() {
        return Err(bad("its api_key is empty or not visible ASCII"));
    }
    if cloud_task_core::endpoint_urls(&profile.endpoint).is_err() {
        return Err(bad("its endpoint is not a domain or an origin"));
    }
    Ok(Some(LoginAccount::new(
        ApiKey::new(profile.api_key.trim()),
        profile.endpoint.trim(),
        profile.id,
        profile.name,
    )))
}

/// Removes the credentials file at `path`; false when there was none.
pub fn remove_credentials(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Where the key of a configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// Given explicitly (a builder call, `--api-key`).
    Explicit,
    /// The environment variable [`ENV_API_KEY`].
    Environment,
    /// The stored profile at this path.
    Stored(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Explicit => f.write_str("given explicitly"),
            KeySource::Environment => write!(f, "the environment ({ENV_API_KEY})"),
            KeySource::Stored(path) => write!(f, "the stored profile ({})", path.display()),
        }
    }
}

/// `builder` (a configuration with or without a key: an explicit one, or
/// [`OOMOL_API_KEY`](ENV_API_KEY) read by [`ConfigBuilder::from_env`]) with a key: its own,
/// else the profile stored at `stored` (its domain too, unless `builder` names an endpoint
/// or a base URL). Answers where the key came from.
///
/// # Errors
/// [`Error::InvalidInput`] naming `api_key` and every source tried
/// ([`missing_key_sources`]), when none has a key; naming `credentials`, with the file's
/// own error, when the stored profile cannot be read.
pub fn with_stored_key(
    builder: ConfigBuilder,
    explicit: bool,
    stored: Option<&Path>,
) -> Result<(ConfigBuilder, KeySource), Error> {
    if builder.get_api_key().is_some() {
        let source = if explicit {
            KeySource::Explicit
        } else {
            KeySource::Environment
        };
        return Ok((builder, source));
    }
    if let Some(path) = stored {
        match load_credentials(path) {
            Ok(Some(account)) => {
                let keeps_hosts =
                    builder.get_endpoint().is_some() || builder.get_base_url().is_some();
                let mut builder = builder.api_key(account.api_key.clone());
                if !keeps_hosts {
                    builder = builder.endpoint(account.endpoint.clone());
                }
                return Ok((builder, KeySource::Stored(path.to_path_buf())));
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Error::invalid_input(
                    "credentials",
                    format!("the stored profile could not be read: {e}"),
                ));
            }
        }
    }
    Err(Error::invalid_input(
        "api_key",
        format!(
            "no API key: {}; sign in (`cloud-task login`, or `login` on a client) or set \
             {ENV_API_KEY}",
            missing_key_sources(stored)
        ),
    ))
}

/// Where [`with_stored_key`] looked when it found no key, in words: `none given,
/// OOMOL_API_KEY is not set, and no stored profile at PATH`.
pub fn missing_key_sources(stored: Option<&Path>) -> String {
    let file = match stored {
        Some(path) => format!("no stored profile at {}", path.display()),
        None => "no stored profile (no home directory is known)".to_owned(),
    };
    format!("none given, {ENV_API_KEY} is not set, and {file}")
}

/// A configuration from the environment with a key found in order: explicit (none here),
/// [`OOMOL_API_KEY`](ENV_API_KEY), the stored profile at [`default_credentials_path`].
/// What both clients' `Client::from_env` use.
///
/// # Errors
/// As [`with_stored_key`].
pub fn config_from_env() -> Result<(ConfigBuilder, KeySource), Error> {
    with_stored_key(
        ConfigBuilder::from_env(),
        false,
        default_credentials_path().as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> LoginAccount {
        LoginAccount::new("sk-stored-SECRET", "oomol.test", "u-1", "Ada")
    }

    #[test]
    fn a_saved_profile_reads_back_owner_only_and_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("credentials.json");
        save_credentials(&path, &account()).unwrap();
        let read = load_credentials(&path).unwrap().unwrap();
        assert_eq!(read, account());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
        let other = LoginAccount::new("sk-2", "http://127.0.0.1:9", "u-2", "Bo");
        save_credentials(&path, &other).unwrap();
        assert_eq!(load_credentials(&path).unwrap().unwrap(), other);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(remove_credentials(&path).unwrap());
        assert!(!remove_credentials(&path).unwrap());
        assert_eq!(load_credentials(&path).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused_naming_chmod_and_never_the_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        save_credentials(&path, &account()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_credentials(&path).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        assert!(!error.contains("SECRET"), "{error}");
    }

    #[test]
    fn broken_files_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        for text in [
            "not json SECRET",
            r#"{"format":"other/1","api_key":"SECRET","endpoint":"oomol.com","id":"","name":""}"#,
            r#"{"format":"oomol-cloud-task-credentials/1","api_key":"SE CRET","endpoint":"oomol.com","id":"","name":""}"#,
            r#"{"format":"oomol-cloud-task-credentials/1","api_key":"SECRET","endpoint":"evil/path","id":"","name":""}"#,
        ] {
            fs::write(&path, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            }
            let error = load_credentials(&path).unwrap_err().to_string();
            assert!(error.contains("not a credentials file"), "{error}");
            assert!(
                !error.contains("SECRET") && !error.contains("CRET"),
                "{error}"
            );
        }
        // A directory or an oversized file: refused before it is read whole.
        assert!(load_credentials(dir.path()).is_err());
        fs::write(&path, vec![b' '; MAX_CREDENTIALS_FILE as usize + 1]).unwrap();
        assert!(
            load_credentials(&path)
                .unwrap_err()
                .to_string()
                .contains("larger")
        );
    }

    #[test]
    fn the_key_is_found_in_order_and_the_error_names_every_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        // None anywhere.
        let error = with_stored_key(ConfigBuilder::default(), false, Some(&path))
            .unwrap_err()
            .to_string();
        assert!(error.contains("OOMOL_API_KEY is not set"), "{error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("cloud-task login"), "{error}");
        // Stored: its key and its domain.
        save_credentials(&path, &account()).unwrap();
        let (builder, source) =
            with_stored_key(ConfigBuilder::default(), false, Some(&path)).unwrap();
        assert_eq!(source, KeySource::Stored(path.clone()));
        let config = builder.build().unwrap();
        assert_eq!(
            config.api_key().unwrap().expose_secret(),
            "sk-stored-SECRET"
        );
        assert_eq!(config.base_url(), "https://cloud-task.oomol.test");
        // A base URL of the environment keeps its hosts.
        let (builder, _) = with_stored_key(
            ConfigBuilder::default().base_url("http://127.0.0.1:9"),
            false,
            Some(&path),
        )
        .unwrap();
        assert_eq!(builder.build().unwrap().base_url(), "http://127.0.0.1:9");
        // A key of the environment or given wins over the stored one.
        let (builder, source) = with_stored_key(
            ConfigBuilder::default().api_key("sk-env"),
            false,
            Some(&path),
        )
        .unwrap();
        assert_eq!(source, KeySource::Environment);
        assert_eq!(
            builder.build().unwrap().api_key().unwrap().expose_secret(),
            "sk-env"
        );
        let (_, source) =
            with_stored_key(ConfigBuilder::default().api_key("k"), true, Some(&path)).unwrap();
        assert_eq!(source, KeySource::Explicit);
        // A stored file that cannot be read is its own error, not a missing key.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            match with_stored_key(ConfigBuilder::default(), false, Some(&path)) {
                Err(Error::InvalidInput(e)) => {
                    assert_eq!(e.field, "credentials");
                    assert!(e.message.contains("chmod 600"), "{}", e.message);
                }
                other => panic!("{:?}", other.map(|(_, s)| s)),
            }
        }
    }

    #[test]
    fn the_path_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert_eq!(
            credentials_path_with(env(&[(ENV_CREDENTIALS_FILE, "/x/c.json"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/c.json"))
        );
        if !cfg!(windows) {
            assert_eq!(
                credentials_path_with(env(&[("XDG_CONFIG_HOME", "/cfg"), ("HOME", "/h")])),
                Some(PathBuf::from("/cfg/oomol-cloud-task/credentials.json"))
            );
            assert_eq!(
                credentials_path_with(env(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")])),
                Some(PathBuf::from(
                    "/h/.config/oomol-cloud-task/credentials.json"
                ))
            );
            assert_eq!(credentials_path_with(env(&[])), None);
        }
    }
}
