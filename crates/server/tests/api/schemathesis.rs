//! The served OpenAPI document tells the truth. schemathesis (from PyPI; `.ci/run` installs
//! it) fuzzes every operation, as a buyer and as a seller, against a marketplace with real
//! objects for the paths to name, and fails on any 5xx, any status the document does not list
//! and any body that does not match its schema. Without schemathesis on the PATH the test says
//! it is skipped and passes.

use crate::chat::open as open_conversation;
use crate::orders::{market, paid_order};
use crate::{on_both_backends, Srv};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

on_both_backends!(every_answer_is_documented);

/// Test cases per operation and phase: enough to reach every documented status, small enough
/// for a run of about a minute per caller.
const MAX_EXAMPLES: u32 = 8;
/// The generator's seed, so that a failure in CI is the same failure on a developer's machine;
/// `SOUK_SCHEMATHESIS_SEED` explores others.
const SEED: &str = "20261207";

async fn every_answer_is_documented(srv: Srv) {
    let Some(schemathesis) = on_path("schemathesis") else {
        eprintln!("skipped: schemathesis is not on the PATH (pip install schemathesis)");
        return;
    };
    let (seller, buyer, sku) = market(&srv, 50).await;
    let order = paid_order(&srv, &buyer, &sku, "st-order").await;
    let conversation = open_conversation(&srv, &buyer).await;
    let until = souk_domain::time::rfc3339(souk_domain::clock::Clock::now_ms(&*srv.clock) + 3_600_000);
    let offer =
        json!({"sku_id": sku, "quantity": 2, "unit_price": {"amount": 1500, "currency": "CNY"}, "valid_until": until});
    let offer = srv.post(&format!("/api/v1/conversations/{conversation}/offers"), Some(&seller), offer).await;
    assert_eq!(offer.status, StatusCode::CREATED, "{}", offer.body);
    let mut conn = srv.store.reader().await.unwrap();
    let (product,): (String,) =
        sqlx::query_as("SELECT product_id FROM skus WHERE id = $1").bind(&sku).fetch_one(&mut *conn).await.unwrap();
    drop(conn);
    // The objects each path names, so that operations reach their rules and not only a 404.
    let objects = [
        ("^/api/v1/products/\\\\{id\\\\}", "path.id", product.as_str()),
        ("\\\\{sku_id\\\\}", "path.sku_id", sku.as_str()),
        ("^/api/v1/orders/\\\\{id\\\\}", "path.id", order.as_str()),
        ("\\\\{store\\\\}", "path.store", "market"),
        ("^/api/v1/conversations/\\\\{id\\\\}", "path.id", conversation.as_str()),
        ("^/api/v1/offers/\\\\{id\\\\}", "path.id", offer.body["offer"]["id"].as_str().unwrap()),
    ];
    let config: String = objects
        .iter()
        .map(|(path, name, value)| {
            format!("[[operations]]\ninclude-path-regex = \"{path}\"\nparameters = {{ \"{name}\" = \"{value}\" }}\n\n")
        })
        .collect();
    let dir = srv.data_dir.join("schemathesis");
    std::fs::create_dir_all(&dir).unwrap();
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();

    let seed = std::env::var("SOUK_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_string());
    eprintln!("schemathesis seed {seed}");
    for (who, token) in [("buyer", buyer), ("seller", seller)] {
        let seed = seed.clone();
        let url = format!("{}/api/v1/openapi.json", srv.base);
        let (schemathesis, config_file, dir) = (schemathesis.clone(), config_file.clone(), dir.clone());
        let run = tokio::task::spawn_blocking(move || {
            Command::new(schemathesis)
                .current_dir(&dir)
                .arg("--config-file")
                .arg(&config_file)
                .args(["run", &url, "--header", &format!("Authorization: Bearer {token}")])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
                ])
                .args(["--phases", "examples,coverage,fuzzing", "--max-examples", &MAX_EXAMPLES.to_string()])
                .args(["--seed", &seed])
                // Logging out would end the caller's session for the rest of the run.
                .args(["--exclude-path", "/api/v1/auth/logout", "--generation-database", "none", "--no-color"])
                .output()
                .expect("run schemathesis")
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&run.stdout);
        let summary = out.find("FAILURES").or_else(|| out.find("SUMMARY")).map_or(&out[..], |i| &out[i..]);
        assert!(
            run.status.success(),
            "schemathesis as the {who} failed:\n{summary}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        eprintln!(
            "schemathesis as the {who}: {}",
            summary.lines().filter(|l| l.contains("generated")).collect::<String>()
        );
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}
