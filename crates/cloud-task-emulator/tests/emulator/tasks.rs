//! Creating tasks and reading them back: results, details, the catalogue, auth, errors.

use serde_json::json;

use crate::support::{Api, fast};

#[tokio::test]
async fn echo_runs_to_success_with_its_inputs() {
    let api = Api::start(fast()).await;
    let id = api.create("@oomol/echo", json!({"text": "hello"})).await;
    let result = api.wait(&id).await;
    assert_eq!(
        result,
        json!({"status": "success", "resultURL": null, "resultData": [{"text": "hello"}]})
    );
}
