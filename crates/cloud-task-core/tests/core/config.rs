use cloud_task_core::{
    ApiKey, Config, DEFAULT_REGISTRY_URL, DEFAULT_UPLOAD_BASE_URL, Error, GetDashboard, Operation,
    normalize_base_url,
};

use crate::{KEY, header};

#[test]
fn base_url_normalisation() {
    let cases = [
        ("https://x", "https://x"),
        ("https://x/", "https://x"),
        ("https://x///", "https://x"),
        ("https://x/v3", "https://x"),
        ("https://x/v3/", "https://x"),
        ("https://x/v1", "https://x"),
        ("https://x/api/v1/", "https://x/api"),
        ("https://x/v2", "https://x/v2"),
        ("https://x/v3/v3", "https://x/v3"),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_base_url(input), expected, "{input}");
    }
    let config = Config::builder()
        .base_url("http://127.0.0.1:9/v3/")
        .build()
        .unwrap();
    assert_eq!(config.base_url(), "http://127.0.0.1:9");
    let request = GetDashboard.request(&config).unwrap();
    assert_eq!(request.uri(), "http://127.0.0.1:9/v3/users/me/dashboard");
}

#[test]
fn defaults() {
    let config = Config::default();
    assert_eq!(config.base_url(), "https://cloud-task.oomol.com");
    assert_eq!(config.upload_base_url(), DEFAULT_UPLOAD_BASE_URL);
    assert!(config.api_key().is_none());
    assert_eq!(
        config.user_agent(),
        &format!("oomol-cloud-task-rust/{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn upload_base_url_loses_trailing_slashes() {
    let config = Config::builder()
        .upload_base_url("http://h/up//")
        .build()
        .unwrap();
    assert_eq!(config.upload_base_url(), "http://h/up");
}

#[test]
fn bad_urls_are_refused_naming_the_field() {
    for (url, why) in [
        ("ftp://x", "must start with http:// or https://"),
        ("not a url", "is not a valid URL"),
        ("//x/y", "must start with http:// or https://"),
        ("https://x/?q=1", "must not have a query or fragment"),
    ] {
        match Config::builder().base_url(url).build() {
            Err(Error::InvalidInput(e)) => {
                assert_eq!(e.field, "base_url");
                assert!(e.message.ends_with(why), "{url}: {}", e.message);
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    match Config::builder().upload_base_url("x").build() {
        Err(Error::InvalidInput(e)) => assert_eq!(e.field, "upload_base_url"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_api_keys_are_refused_without_echoing_them() {
    for key in [
        "",
        "   ",
        "line\nbreak-SECRET",
        "clé-SECRET",
        "sk SECRET",
        "SECRET\u{7f}",
        "tab\tSECRET",
        "\u{200b}SECRET",
    ] {
        match Config::builder().api_key(key).build() {
            Err(err @ Error::InvalidInput(_)) => {
                let text = format!("{err} {err:?}");
                assert!(!text.contains("SECRET"), "{text}");
                if let Error::InvalidInput(e) = err {
                    assert_eq!(e.field, "api_key");
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn keys_are_trimmed_and_may_be_required() {
    let config = Config::builder()
        .api_key("  sk-key_1.2~x \n")
        .build()
        .unwrap();
    assert_eq!(config.api_key().unwrap().expose_secret(), "sk-key_1.2~x");
    let error = Config::builder().require_api_key(true).build().unwrap_err();
    assert_eq!(
        error.to_string(),
        "no API key: set the environment variable OOMOL_API_KEY or pass one"
    );
    assert!(
        Config::builder()
            .require_api_key(true)
            .api_key("k")
            .build()
            .is_ok()
    );
}

#[test]
fn timeouts_and_limits_have_defaults_and_are_checked() {
    use std::time::Duration;
    let config = Config::default();
    assert_eq!(config.timeout(), Duration::from_secs(30));
    assert_eq!(config.connect_timeout(), Duration::from_secs(10));
    assert_eq!(config.max_response_body(), 32 << 20);
    assert_eq!(config.max_upload_buffer(), 64 << 20);
    assert_eq!(config.max_pages(), 10_000);
    assert_eq!(config.max_redirects(), 5);
    let config = Config::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
        .max_response_body(4096)
        .max_upload_buffer(8192)
        .max_pages(7)
        .max_redirects(0)
        .build()
        .unwrap();
    assert_eq!(config.to_builder().build().unwrap().max_pages(), 7);
    assert_eq!(config.timeout(), Duration::from_secs(5));
    for (builder, field) in [
        (Config::builder().timeout(Duration::ZERO), "timeout"),
        (
            Config::builder().connect_timeout(Duration::ZERO),
            "connect_timeout",
        ),
        (Config::builder().max_response_body(10), "max_response_body"),
        (Config::builder().max_upload_buffer(0), "max_upload_buffer"),
        (Config::builder().max_pages(0), "max_pages"),
    ] {
        match builder.build() {
            Err(Error::InvalidInput(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn secret_looking_default_headers_are_hidden() {
    let config = Config::builder()
        .default_header("X-Api-Key", "hidden-1")
        .default_header("X-Oomol-Token", "hidden-2")
        .default_header("X-Session-Id", "hidden-3")
        .default_header("X-Team", "shown")
        .build()
        .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hidden"), "{debug}");
    assert!(debug.contains("shown"));
}

#[test]
fn bad_headers_are_refused() {
    let err = Config::builder()
        .default_header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not a valid HTTP header name"));
    let err = Config::builder()
        .default_header("x-ok", "bad\nvalue")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("x-ok"));
    let err = Config::builder()
        .user_agent("a\u{7f}b")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(e) if e.field == "user_agent"));
}

#[test]
fn secrets_never_show_in_debug() {
    let config = Config::builder()
        .api_key(KEY)
        .default_header("Cookie", "oomol-token=COOKIE-SECRET")
        .default_header("x-api-key", "HEADER-SECRET")
        .default_header("x-client", "visible")
        .build()
        .unwrap();
    let debug = format!("{config:?} {:?}", config.to_builder());
    for secret in [KEY, "COOKIE-SECRET", "HEADER-SECRET"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("visible"));
    assert!(debug.contains("ApiKey(***)"));
    let request = GetDashboard.request(&config).unwrap();
    let debug = format!("{request:?}");
    for secret in [KEY, "COOKIE-SECRET", "HEADER-SECRET"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert_eq!(format!("{}", ApiKey::new(KEY)), "***");
}

#[test]
fn user_agent_can_be_changed() {
    let config = Config::builder().user_agent("my-app/2").build().unwrap();
    let request = GetDashboard.request(&config).unwrap();
    assert_eq!(header(request.headers(), "user-agent"), Some("my-app/2"));
    let config = Config::builder()
        .default_header("User-Agent", "from-default")
        .build()
        .unwrap();
    let request = GetDashboard.request(&config).unwrap();
    assert_eq!(
        header(request.headers(), "user-agent"),
        Some("from-default")
    );
}

#[test]
fn environment_variables() {
    let env = |name: &str| match name {
        "OOMOL_API_KEY" => Some(" env-key ".to_owned()),
        "OOMOL_BASE_URL" => Some("http://127.0.0.1:1/v3".to_owned()),
        "OOMOL_UPLOAD_BASE_URL" => Some("   ".to_owned()),
        _ => None,
    };
    let config = Config::builder().with_env(env).build().unwrap();
    assert_eq!(config.api_key().unwrap().expose_secret(), "env-key");
    assert_eq!(config.base_url(), "http://127.0.0.1:1");
    // A blank upload URL is not given: it follows the base URL.
    assert_eq!(
        config.upload_base_url(),
        "http://127.0.0.1:1/api/tasks/files/remote-cache"
    );
}

#[test]
fn the_upload_and_registry_hosts_follow_a_custom_base_url() {
    // The key never goes to the public hosts when the task API is elsewhere.
    let local = Config::builder()
        .base_url("http://127.0.0.1:9/v3")
        .build()
        .unwrap();
    assert_eq!(local.registry_url(), "http://127.0.0.1:9");
    assert_eq!(
        local.upload_base_url(),
        "http://127.0.0.1:9/api/tasks/files/remote-cache"
    );
    let staging = Config::builder()
        .base_url("https://cloud-task.oomol.dev:8443")
        .build()
        .unwrap();
    assert_eq!(staging.registry_url(), "https://registry.oomol.dev:8443");
    assert_eq!(
        staging.upload_base_url(),
        "https://llm.oomol.dev:8443/api/tasks/files/remote-cache"
    );
    // The default base URL keeps the official hosts; an explicit URL always wins.
    let official = Config::builder().build().unwrap();
    assert_eq!(official.registry_url(), DEFAULT_REGISTRY_URL);
    assert_eq!(official.upload_base_url(), DEFAULT_UPLOAD_BASE_URL);
    let explicit = Config::builder()
        .base_url("http://127.0.0.1:9")
        .registry_url("https://registry.oomol.com/")
        .build()
        .unwrap();
    assert_eq!(explicit.registry_url(), DEFAULT_REGISTRY_URL);
    // A derived URL follows the base URL through to_builder; a given one stays.
    let moved = local
        .to_builder()
        .base_url("http://127.0.0.1:10")
        .build()
        .unwrap();
    assert_eq!(moved.registry_url(), "http://127.0.0.1:10");
    let kept = explicit
        .to_builder()
        .base_url("http://127.0.0.1:10")
        .build()
        .unwrap();
    assert_eq!(kept.registry_url(), DEFAULT_REGISTRY_URL);
}

#[test]
fn emulator_variable_names_are_fallbacks() {
    let env = |name: &str| match name {
        "CLOUD_TASK_BASE_URL" => Some("http://127.0.0.1:2".to_owned()),
        "CLOUD_TASK_UPLOAD_BASE_URL" => Some("http://127.0.0.1:2/up".to_owned()),
        _ => None,
    };
    let config = Config::builder().with_env(env).build().unwrap();
    assert_eq!(config.base_url(), "http://127.0.0.1:2");
    assert_eq!(config.upload_base_url(), "http://127.0.0.1:2/up");
    let both = |name: &str| match name {
        "OOMOL_BASE_URL" => Some("http://127.0.0.1:1".to_owned()),
        "CLOUD_TASK_BASE_URL" => Some("http://127.0.0.1:2".to_owned()),
        _ => None,
    };
    let config = Config::builder().with_env(both).build().unwrap();
    assert_eq!(config.base_url(), "http://127.0.0.1:1");
}

#[test]
fn to_builder_round_trips() {
    let config = Config::builder()
        .api_key("k")
        .base_url("http://h:1")
        .default_header("x-a", "1")
        .build()
        .unwrap();
    let again = config.to_builder().build().unwrap();
    assert_eq!(again.base_url(), "http://h:1");
    assert_eq!(again.api_key(), config.api_key());
    assert_eq!(again.default_headers(), config.default_headers());
}

#[test]
fn an_endpoint_derives_every_host_and_an_explicit_url_wins_for_its_own() {
    let config = Config::builder().endpoint("oomol.dev").build().unwrap();
    assert_eq!(config.base_url(), "https://cloud-task.oomol.dev");
    assert_eq!(
        config.upload_base_url(),
        "https://llm.oomol.dev/api/tasks/files/remote-cache"
    );
    assert_eq!(config.registry_url(), "https://registry.oomol.dev");
    assert_eq!(config.api_url(), "https://api.oomol.dev");
    assert_eq!(config.endpoint(), Some("oomol.dev"));
    // A port is kept on every host; a case is folded.
    let ported = Config::builder()
        .endpoint("OOMOL.test:8443")
        .build()
        .unwrap();
    assert_eq!(ported.api_url(), "https://api.oomol.test:8443");
    // An origin serves everything (the emulator).
    let local = Config::builder()
        .endpoint("http://127.0.0.1:8080/")
        .build()
        .unwrap();
    assert_eq!(local.base_url(), "http://127.0.0.1:8080");
    assert_eq!(local.api_url(), "http://127.0.0.1:8080");
    assert_eq!(
        local.upload_base_url(),
        "http://127.0.0.1:8080/api/tasks/files/remote-cache"
    );
    // An explicit URL wins for its host only.
    let mixed = Config::builder()
        .endpoint("oomol.dev")
        .registry_url("http://127.0.0.1:1")
        .build()
        .unwrap();
    assert_eq!(mixed.registry_url(), "http://127.0.0.1:1");
    assert_eq!(mixed.base_url(), "https://cloud-task.oomol.dev");
    // The defaults, with no endpoint: the official hosts, and api.oomol.com.
    let default = Config::builder().build().unwrap();
    assert_eq!(default.api_url(), "https://api.oomol.com");
    assert_eq!(default.endpoint(), None);
    // A staging base URL alone moves the account API with it; a local one keeps its origin.
    let staging = Config::builder()
        .base_url("https://cloud-task.oomol.dev")
        .build()
        .unwrap();
    assert_eq!(staging.api_url(), "https://api.oomol.dev");
    let emulator = Config::builder()
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(emulator.api_url(), "http://127.0.0.1:9");
    // A copy through the builder keeps the derivation.
    let again = config
        .to_builder()
        .registry_url("https://r.test")
        .build()
        .unwrap();
    assert_eq!(again.api_url(), "https://api.oomol.dev");
    assert_eq!(again.base_url(), "https://cloud-task.oomol.dev");
    assert_eq!(again.registry_url(), "https://r.test");
}

#[test]
fn an_endpoint_that_is_not_a_domain_or_an_origin_is_refused_naming_it() {
    for bad in [
        "",
        "   ",
        "oomol.com/evil",
        "oomol.com?x=1",
        "oomol.com#x",
        "user@oomol.com",
        "https://user:pw@oomol.com",
        "ftp://oomol.com",
        "https://oomol.com/path",
        "oomol .com",
        "oomol.com\u{1b}[2J",
        "oomol.com:0",
        "oomol.com:99999",
        "oomol.com:port",
        ".oomol.com",
        "oomol..com",
        &"a".repeat(300),
    ] {
        let error = Config::builder().endpoint(bad).build().unwrap_err();
        let text = error.to_string();
        assert!(text.contains("endpoint"), "{bad:?}: {text}");
        assert!(
            !text.contains('\u{1b}') || text.contains("\\u{1b}"),
            "{text}"
        );
    }
    // From the environment, the same check.
    let env = |name: &str| (name == "OOMOL_ENDPOINT").then(|| "oomol.dev/x".to_owned());
    assert!(
        cloud_task_core::ConfigBuilder::default()
            .with_env(env)
            .build()
            .is_err()
    );
    let env = |name: &str| (name == "OOMOL_ENDPOINT").then(|| "oomol.dev".to_owned());
    let config = cloud_task_core::ConfigBuilder::default()
        .with_env(env)
        .build()
        .unwrap();
    assert_eq!(config.registry_url(), "https://registry.oomol.dev");
}
