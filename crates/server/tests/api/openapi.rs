//! The OpenAPI document is generated from the code; this snapshot catches accidental API
//! changes. After an intended change, refresh it with `UPDATE_SNAPSHOTS=1 cargo test`.

use crate::{on_both_backends, Srv};
use std::path::Path;

on_both_backends!(document_matches_snapshot);

async fn document_matches_snapshot(srv: Srv) {
    let r = srv.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status, reqwest::StatusCode::OK);
    let doc = r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/products",
        "/api/v1/stores/{store}/imports",
        "/api/v1/auth/login",
        "/healthz",
        "/api/v1/admin/verifications/{id}/approve",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        std::fs::write(&snapshot, &pretty).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).expect("snapshot exists; create it with UPDATE_SNAPSHOTS=1");
    assert!(expected == pretty, "the OpenAPI document changed; review and refresh with UPDATE_SNAPSHOTS=1");
}
