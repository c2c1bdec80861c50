use crate::{on_both_backends, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    register_login_me_logout,
    registration_rejects_bad_input,
    login_is_throttled,
    email_verification,
    concurrent_registrations_all_land
);

async fn register_login_me_logout(srv: Srv) {
    let (token, id) = srv.register("Ann@Example.com").await;
    assert!(id.starts_with("usr_"));
    let me = srv.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "Ann@Example.com");
    assert_eq!(me.body["roles"], json!(["buyer"]));
    assert_eq!(me.body["store_id"], json!(null));

    let login = srv
        .post("/api/v1/auth/login", None, json!({"email": "ANN@example.COM", "password": "correct horse battery"}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token2 = login.body["token"].as_str().unwrap().to_string();
    assert_ne!(token, token2);

    let wrong =
        srv.post("/api/v1/auth/login", None, json!({"email": "ann@example.com", "password": "wrong password!"})).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let unknown =
        srv.post("/api/v1/auth/login", None, json!({"email": "nobody@example.com", "password": "whatever12345"})).await;
    assert_eq!(unknown.code(), "invalid_credentials", "unknown emails look like wrong passwords");

    let out = srv.call(Method::POST, "/api/v1/auth/logout", Some(&token), None, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let me = srv.get("/api/v1/me", Some(&token)).await;
    assert_eq!((me.status, me.code()), (StatusCode::UNAUTHORIZED, "invalid_token"));
    assert_eq!(srv.get("/api/v1/me", Some(&token2)).await.status, StatusCode::OK, "other sessions live on");
    let anon = srv.get("/api/v1/me", None).await;
    assert_eq!((anon.status, anon.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

async fn registration_rejects_bad_input(srv: Srv) {
    srv.register("taken@example.com").await;
    let cases = [
        (json!({"password": "correct horse battery"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "email"),
        (
            json!({"email": 5, "password": "correct horse battery"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "email",
        ),
        (
            json!({"email": "not-an-email", "password": "correct horse battery"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            "password",
        ),
        (
            json!({"email": "TAKEN@example.com", "password": "correct horse battery"}),
            StatusCode::CONFLICT,
            "email_taken",
            "",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse battery", "admin": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse battery", "display_name": "x".repeat(101)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "display_name",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = srv.post("/api/v1/auth/register", None, body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body} -> {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.field(), field, "{body}");
        }
        assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let syntax =
        srv.raw(Method::POST, "/api/v1/auth/register", None, "application/json", b"{\"email\":".to_vec()).await;
    assert_eq!((syntax.status, syntax.code()), (StatusCode::BAD_REQUEST, "invalid_json"));
    let form = srv
        .raw(Method::POST, "/api/v1/auth/register", None, "application/x-www-form-urlencoded", b"email=a".to_vec())
        .await;
    assert_eq!((form.status, form.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let mut huge = b"{\"email\":\"big@example.com\",\"password\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend(b"\"}");
    let big = srv.raw(Method::POST, "/api/v1/auth/register", None, "application/json", huge).await;
    assert_eq!((big.status, big.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    assert_eq!(srv.count("users").await, 1, "no bad request wrote a user");
    let unknown_route = srv.get("/api/v1/nothing-here", None).await;
    assert_eq!((unknown_route.status, unknown_route.code()), (StatusCode::NOT_FOUND, "not_found"));
    let wrong_method = srv.call(Method::DELETE, "/api/v1/me", None, None, None).await;
    assert_eq!((wrong_method.status, wrong_method.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

async fn login_is_throttled(srv: Srv) {
    srv.register("target@example.com").await;
    for _ in 0..5 {
        let r = srv
            .post("/api/v1/auth/login", None, json!({"email": "target@example.com", "password": "guess guess guess"}))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = srv
        .post("/api/v1/auth/login", None, json!({"email": "target@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!((blocked.status, blocked.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry: u64 = blocked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    // The window passes with the clock; the right password works again.
    srv.clock.advance_ms(15 * 60 * 1000);
    let ok = srv
        .post("/api/v1/auth/login", None, json!({"email": "target@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // Per IP: 30 attempts in 5 minutes across any accounts (6 used above).
    let mut last = StatusCode::OK;
    for i in 0..30 {
        last = srv
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": format!("x{i}@example.com"), "password": "whatever12345"}),
            )
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

async fn email_verification(srv: Srv) {
    let (token, _) = srv.register("mail@example.com").await;
    let r = srv.call(Method::POST, "/api/v1/me/email-verification", Some(&token), None, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let mail_dir = srv.data_dir.join("mail");
    let mail = std::fs::read_dir(&mail_dir).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(mail).unwrap();
    let emailed = text.lines().map(str::trim).find(|l| l.len() == 43).expect("token line");
    let bad = srv.post("/api/v1/email-verification", None, json!({"token": "nope"})).await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    let ok = srv.post("/api/v1/email-verification", None, json!({"token": emailed})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["email_verified"], true);
    let again = srv.post("/api/v1/email-verification", None, json!({"token": emailed})).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "tokens work once");
    let twice = srv.call(Method::POST, "/api/v1/me/email-verification", Some(&token), None, None).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "already_verified"));
    // A store opened by a verified owner starts at email verification.
    let s = srv
        .post(
            "/api/v1/stores",
            Some(&token),
            json!({"name": "M", "slug": "mail-shop", "country": "US", "currency": "USD"}),
        )
        .await;
    assert_eq!(s.body["verification"], "email");
}

/// More concurrent writers than either connection pool holds: each gets its answer, none waits
/// on a connection another holds.
async fn concurrent_registrations_all_land(srv: Srv) {
    let srv = std::sync::Arc::new(srv);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let srv = srv.clone();
            tokio::spawn(async move {
                let body = json!({"email": format!("crowd{i}@example.com"), "password": "correct horse battery"});
                srv.post("/api/v1/auth/register", None, body).await.status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(srv.count("users").await, 40);
    assert_eq!(srv.count("sessions").await, 40);
}

/// A request over its time limit is abandoned whole: a JSON 503 and nothing written.
async fn timed_out(backend: souk_store::testing::TestBackend) {
    let Some(srv) = Srv::start_with(backend, |c| c.request_timeout = std::time::Duration::from_millis(1)).await else {
        return;
    };
    let r = srv
        .post("/api/v1/auth/register", None, json!({"email": "slow@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "timeout"), "{}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(srv.count("users").await, 0);
}

mod requests_time_out_cleanly {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::timed_out(souk_store::testing::TestBackend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::timed_out(souk_store::testing::TestBackend::Postgres).await
    }
}
