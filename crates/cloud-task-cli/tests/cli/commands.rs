//! `emulator` and `completions`.

use crate::support::*;

#[cfg(unix)]
#[test]
fn the_emulator_command_serves_like_the_emulator_binary() {
    let mut running = Running::spawn(
        &[],
        &[
            "emulator",
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "emu-key-1",
            "--time-scale",
            "0.01",
        ],
    );
    let serving = running.wait_for_line("serving on ");
    assert!(
        serving.starts_with("cloud-task emulator: serving on http://127.0.0.1:"),
        "{serving}"
    );
    let mut stdout = std::io::BufReader::new(running.child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..4 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        lines.push(line.trim_end().to_owned());
    }
    let env: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| l.split_once('=').expect("KEY=value"))
        .collect();
    let keys: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "CLOUD_TASK_BASE_URL",
            "CLOUD_TASK_UPLOAD_BASE_URL",
            "CLOUD_TASK_REGISTRY_URL",
            "OOMOL_API_KEY"
        ]
    );
    assert_eq!(env[3].1, "emu-key-1");

    // The printed lines configure the CLI as they are (the CLOUD_TASK_* names included).
    let output = bare()
        .envs(env.iter().copied())
        .args([
            "run",
            "@oomol/echo",
            "1.0.0",
            "main",
            "-i",
            "text=a",
            "--interval",
            "10ms",
            "--json",
        ])
        .output()
        .unwrap();
    // The inputs were checked against the emulator's own registry (CLOUD_TASK_REGISTRY_URL).
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        json(&output)["result"]["resultData"],
        serde_json::json!([{"text": "a"}])
    );

    running.interrupt();
    let (code, _, err) = running.finish();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cloud-task emulator: shutting down"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_emulator_command_never_takes_the_clients_key_from_the_environment() {
    let mut running = Running::spawn(
        &[("OOMOL_API_KEY", KEY.to_owned())],
        &["emulator", "--addr", "127.0.0.1:0"],
    );
    running.wait_for_line("serving on ");
    let mut stdout = std::io::BufReader::new(running.child.stdout.take().unwrap());
    let mut text = String::new();
    for _ in 0..4 {
        std::io::BufRead::read_line(&mut stdout, &mut text).unwrap();
    }
    let key = text
        .lines()
        .nth(3)
        .and_then(|l| l.strip_prefix("OOMOL_API_KEY="))
        .unwrap();
    assert!(key.len() >= 32 && key != KEY, "a generated key: {text}");
    running.interrupt();
    let (code, _, err) = running.finish();
    assert_eq!(code, 0);
    assert!(!err.contains(KEY));
}

#[test]
fn the_emulator_command_refuses_bad_flags() {
    let output = bare()
        .args(["emulator", "--addr", "127.0.0.1:0", "--time-scale", "0"])
        .output()
        .unwrap();
    assert_ne!(code(&output), 0);
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).starts_with("cloud-task emulator: cannot start"),
        "{}",
        stderr(&output)
    );
    let output = bare()
        .args(["emulator", "--addr", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _cloud__task"),
        ("zsh", "#compdef cloud-task"),
        ("fish", "complete -c cloud-task"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[cloud-task]"),
    ] {
        let output = bare().args(["completions", shell]).output().unwrap();
        assert_eq!(code(&output), 0, "{shell}");
        let script = stdout(&output);
        assert!(
            script.contains(marker),
            "{shell}: {}",
            &script[..script.len().min(300)]
        );
        assert!(
            script.contains("upload") && script.contains("api-key"),
            "{shell}"
        );
    }
    assert_eq!(
        code(&bare().args(["completions", "tcsh"]).output().unwrap()),
        2
    );
}
