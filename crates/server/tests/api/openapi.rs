//! The OpenAPI document is generated from the code; this snapshot catches accidental API
//! changes. After an intended change, refresh it with `UPDATE_SNAPSHOTS=1 cargo test`. The
//! document does not depend on the database, so it is checked once, on SQLite.

use crate::Srv;
use souk_store::testing::TestBackend;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_matches_snapshot() {
    let Some(srv) = Srv::start(TestBackend::Sqlite).await else { return };
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
    assert!(
        expected == pretty,
        "the OpenAPI document changed; review and refresh with UPDATE_SNAPSHOTS=1:\n{}",
        changed_lines(&expected, &pretty)
    );
}

/// The lines between the longest common start and end of two texts, as `-` (was) and `+`
/// (is) lines with the line number where they begin: readable for the usual change, one
/// region of the document.
fn changed_lines(was: &str, is: &str) -> String {
    const SHOWN: usize = 40;
    let (a, b): (Vec<&str>, Vec<&str>) = (was.lines().collect(), is.lines().collect());
    let start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let end = a[start..].iter().rev().zip(b[start..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (gone, came) = (&a[start..a.len() - end], &b[start..b.len() - end]);
    let mut out = format!("@@ line {} @@\n", start + 1);
    for (sign, lines) in [('-', gone), ('+', came)] {
        for line in lines.iter().take(SHOWN) {
            out.push_str(&format!("{sign} {line}\n"));
        }
        if lines.len() > SHOWN {
            out.push_str(&format!("{sign} ... {} more lines\n", lines.len() - SHOWN));
        }
    }
    out
}

#[test]
fn a_changed_snapshot_shows_only_what_changed() {
    let was = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}\n";
    let is = "{\n  \"a\": 1,\n  \"b\": 20,\n  \"c\": 3\n}\n";
    assert_eq!(changed_lines(was, is), "@@ line 3 @@\n-   \"b\": 2,\n+   \"b\": 20,\n");
    let added = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"new\": true,\n  \"c\": 3\n}\n";
    assert_eq!(changed_lines(was, added), "@@ line 4 @@\n+   \"new\": true,\n");
}
