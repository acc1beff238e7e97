//! One blocking client shared by threads.

use super::shim::{FakeTimer, MockTransport, client, response};

#[test]
fn the_client_is_cheap_to_clone_and_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<cloud_task_blocking::Client>();
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(4)
        .returning(|_, _| Ok(response(200, r#"{"pauseType":null}"#)));
    let client = client(mock, &FakeTimer::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let client = client.clone();
            scope.spawn(move || client.resume_user_queue().unwrap());
        }
    });
}
