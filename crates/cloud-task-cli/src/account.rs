//! `login`, `logout` and `whoami`: the account behind the key.

use std::path::PathBuf;

use cloud_task_async::core::{Error, LoginOptions};
use cloud_task_local::credentials::{
    KeySource, default_credentials_path, remove_credentials, save_credentials,
};
use serde_json::json;

use crate::args::LoginArgs;
use crate::commands::Context;
use crate::failure::Failure;
use crate::output::clean;
use crate::progress::spinner;

/// Where the stored key lives, or a usage error when no home directory is known.
fn credentials_path() -> Result<PathBuf, Failure> {
    default_credentials_path().ok_or_else(|| {
        Failure::usage("no home directory is known to keep the key in")
            .with_hint("set OOMOL_CREDENTIALS_FILE to the file to use")
    })
}

/// Opens `url` in a browser when there is a display; false when it did not try or failed.
/// The URL is one the core checked (http or https, no spaces nor control characters) and
/// is handed to the opener as one argument, never to a shell.
fn open_browser(url: &str) -> bool {
    let opener: Option<(&str, &[&str])> = if cfg!(target_os = "macos") {
        Some(("open", &[]))
    } else if cfg!(windows) {
        Some(("rundll32", &["url.dll,FileProtocolHandler"]))
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        Some(("xdg-open", &[]))
    } else {
        None
    };
    let Some((program, args)) = opener else {
        return false;
    };
    std::process::Command::new(program)
        .args(args)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

impl Context {
    /// `login`: the code and its page on stderr, a spinner while waiting, then the key
    /// stored and the account named (its path on stdout with `--json` too; never the key).
    pub(crate) async fn login(&self, args: LoginArgs) -> Result<(), Failure> {
        let path = credentials_path()?;
        let client = self.client_without_key()?;
        let mut options = LoginOptions::new()
            .interval(args.interval)
            .cancel_token(self.interrupt.clone());
        if let Some(timeout) = args.timeout {
            options = options.timeout(timeout);
        }
        let ui = &self.ui;
        let mut waiting = None;
        let outcome = client
            .login(options, |code| {
                let url = clean(&code.verify_code_url);
                let opened = !args.no_browser && open_browser(&code.verify_code_url);
                let how = if opened {
                    "a browser was opened at"
                } else {
                    "open this page to sign in:"
                };
                // The page and the code go to stderr even with --quiet: without them the
                // sign-in cannot be done.
                eprintln!("{how} {url}");
                eprintln!("and check that it shows the code {}", clean(&code.code));
                waiting = spinner(ui, "waiting for the sign-in to be confirmed");
            })
            .await;
        if let Some(bar) = waiting {
            bar.finish_and_clear();
        }
        let account = match outcome {
            Ok(account) => account,
            Err(Error::Cancelled(_)) => return Err(Failure::interrupted()),
            Err(error) => {
                return Err(Failure::from(error).with_hint("run `cloud-task login` again"));
            }
        };
        save_credentials(&path, &account).map_err(|e| {
            Failure::usage(format!("cannot store the key in {}: {e}", path.display()))
        })?;
        if self.ui.json {
            return self.ui.out_json(&json!({
                "id": account.id,
                "name": account.name,
                "endpoint": account.endpoint,
                "credentials": path,
            }));
        }
        self.ui.note(&format!(
            "signed in as {} ({}); the key is stored in {}",
            clean(&account.name),
            clean(&account.endpoint),
            path.display()
        ));
        Ok(())
    }

    /// `logout`: the stored key removed (exit 0 when there was none too).
    pub(crate) fn logout(&self) -> Result<(), Failure> {
        let path = credentials_path()?;
        let removed = remove_credentials(&path)
            .map_err(|e| Failure::usage(format!("cannot remove {}: {e}", path.display())))?;
        if self.ui.json {
            return self
                .ui
                .out_json(&json!({"removed": removed, "credentials": path}));
        }
        if removed {
            self.ui
                .note(&format!("signed out: removed {}", path.display()));
        } else {
            self.ui
                .note(&format!("not signed in: there is no {}", path.display()));
        }
        Ok(())
    }

    /// `whoami`: the user, the domain, where the key came from.
    pub(crate) async fn whoami(&self) -> Result<(), Failure> {
        let (client, source) = self.client_and_source()?;
        let profile = self.interruptible(client.whoami()).await?;
        let endpoint = client
            .config()
            .endpoint()
            .map_or_else(|| client.config().base_url().to_owned(), str::to_owned);
        let source_name = match &source {
            KeySource::Explicit => "option",
            KeySource::Environment => "environment",
            _ => "stored",
        };
        if self.ui.json {
            return self.ui.out_json(&json!({
                "id": profile.id(),
                "name": profile.name(),
                "endpoint": endpoint,
                "apiUrl": client.config().api_url(),
                "keySource": source_name,
                "credentials": match &source { KeySource::Stored(p) => Some(p.clone()), _ => None },
            }));
        }
        let user = match (profile.name().as_deref(), profile.id().as_deref()) {
            (Some(name), Some(id)) => format!("{} ({})", clean(name), clean(id)),
            (Some(name), None) => clean(name).into_owned(),
            (None, Some(id)) => clean(id).into_owned(),
            (None, None) => "a user the profile does not name".to_owned(),
        };
        let source = match source {
            KeySource::Explicit => "--api-key or --api-key-file".to_owned(),
            other => other.to_string(),
        };
        self.ui.out(&format!(
            "user      {user}\nendpoint  {}\nkey from  {source}",
            clean(&endpoint)
        ))
    }
}
