//! `login`, `whoami` and `logout` against the emulator's account API, with the key stored
//! in a file of the test's own.

use std::path::Path;
use std::time::Duration;

use crate::support::{KEY, Server, bare, code, json, stderr, stdout};

/// `cloud-task` pointed at nothing but the credentials file `file` (no key, no URL).
fn signed(file: &Path) -> assert_cmd::Command {
    let mut cmd = bare();
    cmd.env("OOMOL_CREDENTIALS_FILE", file);
    cmd
}

#[test]
fn login_stores_the_key_then_commands_use_it_until_logout() {
    let server = Server::with(|b| b.login_delay(Some(Duration::from_millis(100))));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config").join("credentials.json");
    let login = signed(&file)
        .args(["login", "--no-browser", "--interval", "50ms"])
        .args(["--endpoint", &server.emulator.base_url()])
        .output()
        .unwrap();
    assert_eq!(code(&login), 0, "{}", stderr(&login));
    let err = stderr(&login);
    assert!(
        err.contains(&format!(
            "open this page to sign in: {}/device-login?code=",
            server.emulator.base_url()
        )),
        "{err}"
    );
    assert!(err.contains("shows the code EMU-"), "{err}");
    assert!(err.contains("signed in as Emulator User"), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    for text in [stdout(&login), err] {
        assert!(!text.contains(KEY), "the key was printed: {text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // No key nor URL in the environment: the stored key and its domain are used.
    let run = signed(&file)
        .args(["run", "@oomol/echo", "1.0.0", "main", "-i", "text=hi"])
        .args(["--interval", "10ms", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert_eq!(json(&run)["result"]["resultData"][0]["text"], "hi");

    let whoami = signed(&file).arg("whoami").output().unwrap();
    assert_eq!(code(&whoami), 0, "{}", stderr(&whoami));
    let out = stdout(&whoami);
    assert!(
        out.contains("user      Emulator User (emulator-user)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("endpoint  {}", server.emulator.base_url())),
        "{out}"
    );
    assert!(out.contains("key from  the stored profile"), "{out}");
    let whoami = signed(&file).args(["whoami", "--json"]).output().unwrap();
    assert_eq!(json(&whoami)["keySource"], "stored");

    // The environment's key wins over the stored one, and says so.
    let env = signed(&file)
        .env("OOMOL_API_KEY", KEY)
        .args([
            "--endpoint",
            &server.emulator.base_url(),
            "whoami",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&env)["keySource"], "environment");

    let logout = signed(&file).arg("logout").output().unwrap();
    assert_eq!(code(&logout), 0);
    assert!(stderr(&logout).contains("signed out"));
    assert!(!file.exists());
    let again = signed(&file).arg("logout").output().unwrap();
    assert_eq!(code(&again), 0);
    assert!(stderr(&again).contains("not signed in"));

    let refused = signed(&file)
        .args(["--endpoint", &server.emulator.base_url()])
        .args(["run", "@oomol/echo", "1.0.0", "main", "-i", "text=hi"])
        .output()
        .unwrap();
    assert_eq!(code(&refused), 2);
    let err = stderr(&refused);
    assert!(
        err.contains("cloud-task login") && err.contains("OOMOL_API_KEY"),
        "{err}"
    );
}

#[test]
fn whoami_with_a_refused_key_exits_3_and_a_sign_in_not_confirmed_times_out() {
    let server = Server::with(|b| b.login_delay(None));
    let refused = bare()
        .env("OOMOL_BASE_URL", server.emulator.base_url())
        .env("OOMOL_API_KEY", "not-the-key-at-all")
        .arg("whoami")
        .output()
        .unwrap();
    assert_eq!(code(&refused), 3, "{}", stderr(&refused));
    assert!(!stderr(&refused).contains("not-the-key-at-all"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials.json");
    let login = signed(&file)
        .args(["--endpoint", &server.emulator.base_url()])
        .args([
            "login",
            "--no-browser",
            "--interval",
            "50ms",
            "--timeout",
            "300ms",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&login), 4, "{}", stderr(&login));
    let err = stderr(&login);
    assert!(err.contains("not confirmed"), "{err}");
    assert!(err.contains("cloud-task login"), "{err}");
    assert!(!file.exists());
    // A domain that is not one is refused before anything is sent.
    let bad = signed(&file)
        .args(["--endpoint", "oomol.com/evil", "login", "--no-browser"])
        .output()
        .unwrap();
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("endpoint"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_sign_in_and_stores_nothing() {
    let server = Server::with(|b| b.login_delay(None));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials.json");
    let env = vec![
        ("OOMOL_CREDENTIALS_FILE", file.display().to_string()),
        ("OOMOL_ENDPOINT", server.emulator.base_url()),
    ];
    let mut running =
        crate::support::Running::spawn(&env, &["login", "--no-browser", "--interval", "50ms"]);
    running.wait_for_line("open this page to sign in:");
    running.interrupt();
    let (code, out, err) = running.finish();
    assert_eq!(code, 130, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!file.exists());
}
