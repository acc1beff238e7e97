//! API keys: a key that is not visible ASCII is refused when a client or the emulator is
//! built, without echoing it.

use cloud_task_emulator::Emulator;

const BAD: [&str; 5] = [
    "clé-SECRET",
    "sk SECRET",
    "SECRET\u{7f}",
    "\u{200b}SECRET",
    "密钥SECRET",
];

#[test]
fn keys_that_are_not_visible_ascii_are_refused_everywhere() {
    for key in BAD {
        let texts = [
            cloud_task_async::Client::new(key).unwrap_err().to_string(),
            cloud_task_blocking::Client::new(key)
                .unwrap_err()
                .to_string(),
            Emulator::builder()
                .api_key(key)
                .start_blocking()
                .unwrap_err()
                .to_string(),
        ];
        for text in texts {
            assert!(
                text.contains("api_key must be visible ASCII"),
                "{key:?}: {text}"
            );
            assert!(!text.contains("SECRET"), "{key:?}: {text}");
        }
    }
}
