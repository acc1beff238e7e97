//! The manual clock: nothing happens until a test advances it, and with a seed the same
//! run gives the same IDs and timestamps.

use std::time::Duration;

use cloud_task_emulator::{Emulator, MANUAL_EPOCH_MS, ManualClock};
use serde_json::{Value, json};

use crate::support::Api;

/// What a client sees of one task created at the start and polled as the clock moves.
async fn one_run(seed: u64) -> (String, Vec<Value>, Value) {
    let clock = ManualClock::new();
    let api = Api::start(Emulator::builder().seed(seed).manual_clock(clock.clone())).await;
    assert!(api.emulator.manual_clock().is_some());
    let id = api.create("@oomol/echo", json!({"n": 1})).await;
    let mut seen = Vec::new();
    // A default task: 100 ms scheduling, 100 ms scheduled, 800 ms running; at 0, 50, 150,
    // 250, 650 and 1050 ms.
    for step_ms in [0, 50, 100, 100, 400, 400] {
        clock.advance(Duration::from_millis(step_ms));
        let result = api.get(&format!("/v3/users/me/tasks/{id}/result")).await;
        seen.push(json!([result.body["status"], result.body["progress"]]));
    }
    let detail = api.get(&format!("/v3/users/me/tasks/{id}")).await.body;
    (id, seen, detail)
}

#[tokio::test]
async fn a_manual_clock_moves_tasks_only_when_advanced_and_runs_repeat_with_the_seed() {
    let (id, seen, detail) = one_run(42).await;
    assert_eq!(
        seen,
        [
            json!(["scheduling", 0.0]),
            json!(["scheduling", 0.0]),
            json!(["scheduled", 0.0]),
            json!(["running", 6.2]),
            json!(["running", 56.2]),
            json!(["success", null]),
        ]
    );
    // Timestamps on the clock's epoch, to the millisecond.
    assert_eq!(detail["createdAt"], MANUAL_EPOCH_MS);
    assert_eq!(detail["startTime"], MANUAL_EPOCH_MS + 200);
    assert_eq!(detail["endTime"], MANUAL_EPOCH_MS + 1_000);
    // The same seed, the same run: the same ID and the same answers.
    let again = one_run(42).await;
    assert_eq!(again, (id.clone(), seen, detail));
    assert_ne!(one_run(43).await.0, id);
}
