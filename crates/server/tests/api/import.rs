use crate::{on_both_backends, Srv};
use reqwest::{Method, StatusCode};

on_both_backends!(imports_good_rows_and_reports_bad_ones, import_is_for_the_owner);

const CSV: &str = "title,description,category,price,currency,stock,ships_to,sku,attributes,image_url,moq
Silk scarf,Hand rolled,Fashion > Jewelry,19.99,CNY,10,CN;US,SC-1,material=silk,https://img.example.com/a.jpg,1
Tea bricks,Pu'er,food/tea,120,CNY,5,*,TB-1,,,2
Too precise,x,,19.999,CNY,1,US,TP-1,,,
Bad country,x,,5,CNY,1,Narnia,BC-1,,,
\"Quoted, with comma\",\"multi
line\",,7.50,CNY,3,US,QC-1,color=red;size=M,,
No sku,x,,3,CNY,1,US,,,,
Negative stock,x,,3,CNY,-2,US,NS-1,,,
Unknown currency,x,,3,ABC,1,US,UC-1,,,
";

async fn imports_good_rows_and_reports_bad_ones(srv: Srv) {
    let (token, _) = srv.seller("imp@example.com", "importer").await;
    let r = srv
        .raw(Method::POST, "/api/v1/stores/importer/imports", Some(&token), "text/csv", CSV.as_bytes().to_vec())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["created"].as_u64(), r.body["updated"].as_u64(), r.body["failed"].as_u64()),
        (Some(4), Some(0), Some(4))
    );
    let lines: Vec<u64> = r.body["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![4, 5, 9, 10], "{}", r.body);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("decimal places"));
    assert!(r.body["errors"][1]["message"].as_str().unwrap().contains("ships_to"));
    assert_eq!(srv.count("products").await, 4);

    let list = srv.get("/api/v1/stores/importer/products?limit=100", None).await.body;
    let quoted = list["items"].as_array().unwrap().iter().find(|p| p["title"] == "Quoted, with comma").unwrap();
    assert_eq!(quoted["description"], "multi\nline");
    assert_eq!(quoted["skus"][0]["price"]["amount"], 750);
    assert_eq!(quoted["attributes"]["size"], "M");

    // Running the same file again updates in place: nothing is duplicated.
    let again = srv
        .raw(Method::POST, "/api/v1/stores/importer/imports", Some(&token), "text/csv", CSV.as_bytes().to_vec())
        .await;
    assert_eq!((again.body["created"].as_u64(), again.body["updated"].as_u64()), (Some(0), Some(4)), "{}", again.body);
    assert_eq!(srv.count("products").await, 4);

    let bad_header = srv
        .raw(Method::POST, "/api/v1/stores/importer/imports", Some(&token), "text/csv", b"name,price\nx,1\n".to_vec())
        .await;
    assert_eq!((bad_header.status, bad_header.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv"));
    let json_body = srv
        .raw(Method::POST, "/api/v1/stores/importer/imports", Some(&token), "application/json", b"{}".to_vec())
        .await;
    assert_eq!(json_body.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn import_is_for_the_owner(srv: Srv) {
    srv.seller("owner@example.com", "owned").await;
    let (other, _) = srv.seller("other@example.com", "other").await;
    let r =
        srv.raw(Method::POST, "/api/v1/stores/owned/imports", Some(&other), "text/csv", CSV.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let anon = srv.raw(Method::POST, "/api/v1/stores/owned/imports", None, "text/csv", CSV.as_bytes().to_vec()).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert_eq!(srv.count("products").await, 0);
}
