//! Keeping an account: a forgotten password, a new password or email, profile choices, and
//! the devices signed in.

use crate::{on_both_backends, on_both_backends_with, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_backends!(
    a_reset_link_works_once_for_thirty_minutes_and_signs_out_everywhere,
    a_reset_answers_alike_for_known_and_unknown_addresses,
    a_password_change_needs_the_current_one,
    an_email_change_counts_once_the_new_address_is_proven,
    profile_choices_are_checked_and_kept,
    devices_signed_in_are_listed_and_signed_out,
    two_step_sign_in_takes_each_code_once,
    an_account_takes_its_data_away_and_leaves_once_nothing_is_owed,
    throttles_hold_across_server_processes
);
on_both_backends_with!(operators_act_as_such_only_with_two_step_sign_in, |c| c.staff_two_factor = true);

const PASSWORD: &str = "correct horse battery";

/// The emails written to `to`, oldest first, waiting up to 5 s for `at_least` of them.
pub(crate) async fn mails_to(srv: &Srv, to: &str, at_least: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mut found: Vec<(String, String)> = std::fs::read_dir(srv.data_dir.join("mail"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(&format!("-{to}.eml")))
            .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read_to_string(e.path()).unwrap()))
            .collect();
        found.sort();
        if found.len() >= at_least || started.elapsed() > Duration::from_secs(5) {
            return found.into_iter().map(|(_, text)| text).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The token of the link to `path` in an email.
pub(crate) fn link_token(mail: &str, path: &str) -> String {
    let at = mail.find(&format!("{path}?token=")).unwrap_or_else(|| panic!("no link to {path} in {mail}"));
    mail[at..].split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_string()
}

async fn login(srv: &Srv, email: &str, password: &str) -> (StatusCode, String) {
    let r = srv.post("/api/v1/auth/login", None, json!({"email": email, "password": password})).await;
    (r.status, r.body["token"].as_str().unwrap_or("").to_string())
}

async fn a_reset_link_works_once_for_thirty_minutes_and_signs_out_everywhere(srv: Srv) {
    let (first, _) = srv.register("reset@example.com").await;
    let (_, second) = login(&srv, "reset@example.com", PASSWORD).await;
    let r = srv.post("/api/v1/auth/password-reset", None, json!({"email": " Reset@Example.com "})).await;
    assert_eq!((r.status, &r.body), (StatusCode::ACCEPTED, &json!({"sent_to": "reset@example.com"})));
    let mails = mails_to(&srv, "reset@example.com", 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: Reset your Souk password") && mails[0].contains("30 minutes"), "{}", mails[0]);
    let token = link_token(&mails[0], "/reset-password");

    let forged = srv
        .post("/api/v1/auth/password-reset/confirm", None, json!({"token": "forged", "password": "a new password!"}))
        .await;
    assert_eq!((forged.status, forged.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_token"));
    let weak =
        srv.post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "password": "short"})).await;
    assert_eq!((weak.status, weak.code()), (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"));
    let ok = srv
        .post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "password": "a new password!"}))
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "a refused try leaves the link working: {}", ok.body);
    for session in [&first, &second] {
        assert_eq!(
            srv.get("/api/v1/me", Some(session)).await.status,
            StatusCode::UNAUTHORIZED,
            "signed out everywhere"
        );
    }
    assert_eq!(login(&srv, "reset@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&srv, "reset@example.com", "a new password!").await.0, StatusCode::OK);
    let again = srv
        .post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "password": "another password"}))
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_token"), "links work once");

    // Two links asked for: using one ends the other; a link 31 minutes old is refused.
    for _ in 0..2 {
        srv.post("/api/v1/auth/password-reset", None, json!({"email": "reset@example.com"})).await;
    }
    let mails = mails_to(&srv, "reset@example.com", 3).await;
    let (older, newer) = (link_token(&mails[1], "/reset-password"), link_token(&mails[2], "/reset-password"));
    let used = srv
        .post("/api/v1/auth/password-reset/confirm", None, json!({"token": newer, "password": "third password!"}))
        .await;
    assert_eq!(used.status, StatusCode::NO_CONTENT);
    let stale = srv
        .post("/api/v1/auth/password-reset/confirm", None, json!({"token": older, "password": "fourth password"}))
        .await;
    assert_eq!(stale.code(), "invalid_token", "a reset ends the account's other links");
    // Three links a quarter hour: the next is sent once it has passed.
    srv.post("/api/v1/auth/password-reset", None, json!({"email": "reset@example.com"})).await;
    assert_eq!(mails_to(&srv, "reset@example.com", 4).await.len(), 3);
    srv.clock.advance_ms(15 * 60_000);
    srv.post("/api/v1/auth/password-reset", None, json!({"email": "reset@example.com"})).await;
    let mails = mails_to(&srv, "reset@example.com", 4).await;
    let late = link_token(&mails[3], "/reset-password");
    srv.clock.advance_ms(31 * 60_000);
    let expired = srv
        .post("/api/v1/auth/password-reset/confirm", None, json!({"token": late, "password": "fifth password!"}))
        .await;
    assert_eq!(expired.code(), "invalid_token", "links last 30 minutes");
    assert_eq!(login(&srv, "reset@example.com", "third password!").await.0, StatusCode::OK);
}

/// Whether an address has an account shows neither in the answer nor in its time; one account
/// is sent a few links a quarter hour at most, and one client may ask so often.
async fn a_reset_answers_alike_for_known_and_unknown_addresses(srv: Srv) {
    srv.register("known@example.com").await;
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..10 {
        for (i, email) in ["known@example.com", "unknown@example.com"].into_iter().enumerate() {
            let started = Instant::now();
            let r = srv
                .call(
                    Method::POST,
                    "/api/v1/auth/password-reset",
                    None,
                    Some(json!({"email": email})),
                    Some(&format!("reset-{round}-{i}")),
                )
                .await;
            times[i].push(started.elapsed());
            assert_eq!((r.status, &r.body), (StatusCode::ACCEPTED, &json!({"sent_to": email})));
        }
    }
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    let (known, unknown) = (median(&mut times[0]), median(&mut times[1]));
    let gap = known.abs_diff(unknown);
    assert!(gap < Duration::from_millis(15), "answers take {known:?} and {unknown:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails_to(&srv, "known@example.com", 0).await.len(), 3, "three links a quarter hour");
    assert!(mails_to(&srv, "unknown@example.com", 0).await.is_empty());
    let mut limited = None;
    for i in 0..20 {
        let r = srv.post("/api/v1/auth/password-reset", None, json!({"email": format!("x{i}@example.com")})).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("one client is limited");
    assert_eq!(limited.code(), "rate_limited");
}

async fn a_password_change_needs_the_current_one(srv: Srv) {
    let (mine, _) = srv.register("change@example.com").await;
    let (_, elsewhere) = login(&srv, "change@example.com", PASSWORD).await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let wrong = srv.post("/api/v1/me/password", Some(&mine), change("not my password", "a better password")).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password"));
    assert_eq!(wrong.body["error"]["field"], "current_password");
    let weak = srv.post("/api/v1/me/password", Some(&mine), change(PASSWORD, "short")).await;
    assert_eq!((weak.code(), weak.body["error"]["field"].as_str()), ("weak_password", Some("new_password")));
    let ok = srv.post("/api/v1/me/password", Some(&mine), change(PASSWORD, "a better password")).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.body);
    assert_eq!(srv.get("/api/v1/me", Some(&mine)).await.status, StatusCode::OK, "this session stays");
    assert_eq!(srv.get("/api/v1/me", Some(&elsewhere)).await.status, StatusCode::UNAUTHORIZED, "others end");
    assert_eq!(login(&srv, "change@example.com", "a better password").await.0, StatusCode::OK);
    assert_eq!(login(&srv, "change@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
}

async fn an_email_change_counts_once_the_new_address_is_proven(srv: Srv) {
    let (token, _) = srv.register("old@example.com").await;
    srv.register("taken@example.com").await;
    let to = |email: &str, password: &str| json!({"new_email": email, "password": password});
    let wrong = srv.post("/api/v1/me/email", Some(&token), to("new@example.com", "not my password")).await;
    assert_eq!((wrong.code(), wrong.body["error"]["field"].as_str()), ("wrong_password", Some("password")));
    let same = srv.post("/api/v1/me/email", Some(&token), to("OLD@example.com", PASSWORD)).await;
    assert_eq!((same.code(), same.body["error"]["field"].as_str()), ("same_email", Some("new_email")));
    let bad = srv.post("/api/v1/me/email", Some(&token), to("not an address", PASSWORD)).await;
    assert_eq!((bad.code(), bad.body["error"]["field"].as_str()), ("invalid_email", Some("new_email")));
    let sent = srv.post("/api/v1/me/email", Some(&token), to("new@example.com", PASSWORD)).await;
    assert_eq!((sent.status, &sent.body), (StatusCode::ACCEPTED, &json!({"sent_to": "new@example.com"})));
    assert_eq!(srv.get("/api/v1/me", Some(&token)).await.body["email"], "old@example.com", "not before it is proven");
    let mail = &mails_to(&srv, "new@example.com", 1).await[0];
    let proof = link_token(mail, "/verify-email");
    let confirmed = srv.post("/api/v1/email-verification", None, json!({"token": proof})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(
        (confirmed.body["email"].as_str(), confirmed.body["email_verified"].as_bool()),
        (Some("new@example.com"), Some(true))
    );
    assert_eq!(login(&srv, "new@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(login(&srv, "old@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    // An address another account took meanwhile is refused when the link is opened.
    srv.post("/api/v1/me/email", Some(&token), to("later@example.com", PASSWORD)).await;
    let proof = link_token(&mails_to(&srv, "later@example.com", 1).await[0], "/verify-email");
    srv.register("later@example.com").await;
    let taken = srv.post("/api/v1/email-verification", None, json!({"token": proof})).await;
    assert_eq!((taken.status, taken.code()), (StatusCode::CONFLICT, "email_taken"));
    assert_eq!(srv.get("/api/v1/me", Some(&token)).await.body["email"], "new@example.com");
}

async fn profile_choices_are_checked_and_kept(srv: Srv) {
    let (token, _) = srv.register("profile@example.com").await;
    let me = srv.get("/api/v1/me", Some(&token)).await.body;
    assert_eq!((me["locale"].clone(), me["time_zone"].clone()), (json!(null), json!(null)));
    let chosen = json!({"display_name": " Lin Mei ", "locale": "zh", "currency": "usd", "time_zone": "asia/shanghai"});
    let r = srv.patch("/api/v1/me", Some(&token), chosen).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let kept = |b: &serde_json::Value| {
        [&b["display_name"], &b["locale"], &b["currency"], &b["time_zone"]]
            .map(|v| v.as_str().unwrap_or("-").to_string())
    };
    assert_eq!(kept(&r.body), ["Lin Mei", "zh", "USD", "Asia/Shanghai"]);
    for (field, value) in [("time_zone", "Mars/Olympus"), ("locale", "fr"), ("currency", "XYZ"), ("display_name", " ")]
    {
        let bad = srv.patch("/api/v1/me", Some(&token), json!({field: value})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", bad.body);
        assert_eq!(bad.body["error"]["field"], field);
    }
    let unknown = srv.patch("/api/v1/me", Some(&token), json!({"email": "x@example.com"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "the email changes only through a proof");
    let cleared = srv.patch("/api/v1/me", Some(&token), json!({"time_zone": ""})).await;
    assert_eq!(kept(&cleared.body), ["Lin Mei", "zh", "USD", "-"], "left-out choices stay, an empty one clears");
    assert_eq!(kept(&srv.get("/api/v1/me", Some(&token)).await.body), ["Lin Mei", "zh", "USD", "-"]);
}

async fn devices_signed_in_are_listed_and_signed_out(srv: Srv) {
    let (mine, _) = srv.register("devices@example.com").await;
    let phone_agent =
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
    let phone = srv
        .http
        .post(format!("{}/api/v1/auth/login", srv.base))
        .header("user-agent", phone_agent)
        .header("idempotency-key", "phone-login")
        .json(&json!({"email": "devices@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, third) = login(&srv, "devices@example.com", PASSWORD).await;
    let list = srv.get("/api/v1/me/sessions", Some(&mine)).await.body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let on_phone = items.iter().find(|s| s["device"] == "Chrome on Android").expect("the phone is named");
    assert!(on_phone["last_used_at"].is_string() && on_phone["id"].as_str().unwrap().len() == 16);
    assert!(!list.to_string().contains(&phone), "tokens are never shown");

    let (other, _) = srv.register("someone@example.com").await;
    let theirs = srv
        .call(
            Method::DELETE,
            &format!("/api/v1/me/sessions/{}", on_phone["id"].as_str().unwrap()),
            Some(&other),
            None,
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "nobody ends another's session");
    let path = format!("/api/v1/me/sessions/{}", on_phone["id"].as_str().unwrap());
    let ended = srv.call(Method::DELETE, &path, Some(&mine), None, None).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(srv.get("/api/v1/me", Some(&phone)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(srv.call(Method::DELETE, &path, Some(&mine), None, None).await.status, StatusCode::NOT_FOUND);
    let all = srv.call(Method::DELETE, "/api/v1/me/sessions", Some(&mine), None, None).await;
    assert_eq!((all.status, &all.body), (StatusCode::OK, &json!({"ended": 1})));
    assert_eq!(srv.get("/api/v1/me", Some(&third)).await.status, StatusCode::UNAUTHORIZED);
    let left = srv.get("/api/v1/me/sessions", Some(&mine)).await.body;
    assert_eq!(left["items"].as_array().unwrap().len(), 1);
    assert_eq!(left["items"][0]["current"], true);
}

/// Turns two-step sign-in on for the account of `token`: its secret and recovery codes.
async fn enrol(srv: &Srv, token: &str) -> (String, Vec<String>) {
    let started = srv.post("/api/v1/me/two-factor", Some(token), json!({})).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    assert!(started.body["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(started.body["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/Souk"));
    let code = souk_app::two_factor::code_at(&secret, srv.store.now_ms()).unwrap();
    let on = srv.post("/api/v1/me/two-factor/confirm", Some(token), json!({"code": code})).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    let codes = on.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    // The code that turned it on is used up: the next sign-in needs the next one.
    srv.clock.advance_ms(30_000);
    (secret, codes)
}

async fn login_with(srv: &Srv, email: &str, code: Option<&str>) -> crate::Res {
    srv.post("/api/v1/auth/login", None, json!({"email": email, "password": PASSWORD, "two_factor_code": code})).await
}

async fn two_step_sign_in_takes_each_code_once(srv: Srv) {
    let (token, _) = srv.register("twostep@example.com").await;
    srv.post("/api/v1/me/two-factor", Some(&token), json!({})).await;
    let wrong = srv.post("/api/v1/me/two-factor/confirm", Some(&token), json!({"code": "000000"})).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"));
    assert_eq!(
        srv.get("/api/v1/me", Some(&token)).await.body["two_factor"],
        false,
        "not on before a code is confirmed"
    );
    assert_eq!(login_with(&srv, "twostep@example.com", None).await.status, StatusCode::OK);
    let (secret, recovery) = enrol(&srv, &token).await;
    assert_eq!(recovery.len(), 10);
    assert_eq!(srv.get("/api/v1/me", Some(&token)).await.body["two_factor"], true);
    let again = srv.post("/api/v1/me/two-factor", Some(&token), json!({})).await;
    assert_eq!(again.code(), "two_factor_on");

    let asked = login_with(&srv, "twostep@example.com", None).await;
    assert_eq!((asked.status, asked.code()), (StatusCode::UNAUTHORIZED, "two_factor_required"));
    let bad = login_with(&srv, "twostep@example.com", Some("123456")).await;
    assert_eq!((bad.code(), bad.body["error"]["field"].as_str()), ("invalid_code", Some("two_factor_code")));
    let code = souk_app::two_factor::code_at(&secret, srv.store.now_ms()).unwrap();
    assert_eq!(login_with(&srv, "twostep@example.com", Some(&code)).await.status, StatusCode::OK);
    let replayed = login_with(&srv, "twostep@example.com", Some(&code)).await;
    assert_eq!(replayed.code(), "invalid_code", "a code signs in once");
    srv.clock.advance_ms(30_000);
    let next = souk_app::two_factor::code_at(&secret, srv.store.now_ms()).unwrap();
    assert_eq!(login_with(&srv, "twostep@example.com", Some(&next)).await.status, StatusCode::OK);

    // A recovery code, typed loosely, works once.
    let loose = recovery[0].to_uppercase().replace('-', " ");
    assert_eq!(login_with(&srv, "twostep@example.com", Some(&loose)).await.status, StatusCode::OK);
    assert_eq!(login_with(&srv, "twostep@example.com", Some(&recovery[0])).await.code(), "invalid_code");
    assert_eq!(login_with(&srv, "twostep@example.com", Some(&recovery[1])).await.status, StatusCode::OK);

    let wrong = srv.post("/api/v1/me/two-factor/disable", Some(&token), json!({"password": "not my password"})).await;
    assert_eq!(wrong.code(), "wrong_password");
    let off = srv.post("/api/v1/me/two-factor/disable", Some(&token), json!({"password": PASSWORD})).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    assert_eq!(login_with(&srv, "twostep@example.com", None).await.status, StatusCode::OK);
    assert_eq!(
        login_with(&srv, "twostep@example.com", Some(&recovery[2])).await.status,
        StatusCode::OK,
        "codes go with it"
    );
}

/// With the marketplace requiring it, a mediator's or admin's role is held back until two-step
/// sign-in is on, and stays with it.
async fn operators_act_as_such_only_with_two_step_sign_in(srv: Srv) {
    let (token, id) = srv.register("operator@example.com").await;
    srv.make_admin(&id).await;
    let me = srv.get("/api/v1/me", Some(&token)).await.body;
    assert_eq!((me["roles"].clone(), me["roles_awaiting_two_factor"].clone()), (json!(["buyer"]), json!(["admin"])));
    let refused = srv.get("/api/v1/admin/audit", Some(&token)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    enrol(&srv, &token).await;
    let me = srv.get("/api/v1/me", Some(&token)).await.body;
    assert_eq!(me["roles"], json!(["buyer", "admin"]));
    assert_eq!(srv.get("/api/v1/admin/audit", Some(&token)).await.status, StatusCode::OK);
    let off = srv.post("/api/v1/me/two-factor/disable", Some(&token), json!({"password": PASSWORD})).await;
    assert_eq!((off.status, off.code()), (StatusCode::FORBIDDEN, "two_factor_required"));
}

async fn an_account_takes_its_data_away_and_leaves_once_nothing_is_owed(srv: Srv) {
    let (seller, buyer, sku) = crate::orders::market(&srv, 5).await;
    let order = crate::orders::paid_order(&srv, &buyer, &sku, "privacy-order").await;
    let export = srv.get("/api/v1/me/export", Some(&buyer)).await;
    assert_eq!(export.status, StatusCode::OK);
    let data = &export.body;
    assert_eq!(data["account"][0]["email"], "buyer@example.com");
    assert_eq!(data["orders"][0]["id"], order.as_str());
    assert_eq!(data["order_lines"].as_array().unwrap().len(), 1);
    assert!(data["top_ups"][0]["amount"].is_i64() && data["wallet"][0]["balance"].is_i64(), "{data}");
    let text = data.to_string();
    for secret in ["password_hash", "token_hash", "key_hash", "totp_secret", "argon2"] {
        assert!(!text.contains(secret), "the export leaves out {secret}");
    }
    assert!(srv.get("/api/v1/me/export", Some(&seller)).await.body["products"].as_array().unwrap().len() == 1);

    let delete = |token: &str, password: &str| {
        let (srv, token, body) = (&srv, token.to_string(), json!({"password": password}));
        async move { srv.post("/api/v1/me/deletion", Some(&token), body).await }
    };
    let wrong = delete(&buyer, "not my password").await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password"));
    let open = delete(&buyer, PASSWORD).await;
    assert_eq!((open.status, open.code()), (StatusCode::CONFLICT, "orders_open"));
    assert_eq!(delete(&seller, PASSWORD).await.code(), "orders_open", "a seller with an order to ship stays too");
    // Once the order is complete the buyer's wallet still holds the rest of the top-up.
    assert_eq!(crate::orders::ship(&srv, &seller, &order, "other", "MAIL-1").await.status, StatusCode::OK);
    assert_eq!(crate::orders::order_action(&srv, &buyer, &order, "confirm").await.status, StatusCode::OK);
    assert_eq!(delete(&buyer, PASSWORD).await.code(), "wallet_not_empty");

    // An account that owes and is owed nothing goes: no way in, its address free again, its
    // orders and the books intact.
    let (leaver, leaver_id) = srv.register("leaver@example.com").await;
    let gone = delete(&leaver, PASSWORD).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    assert_eq!(srv.get("/api/v1/me", Some(&leaver)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&srv, "leaver@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    let user = srv.store.user_by_id(&leaver_id).await.unwrap();
    assert_eq!((user.display_name.as_str(), user.email.ends_with("@deleted.invalid")), ("Deleted user", true));
    srv.register("leaver@example.com").await;
    crate::orders::assert_ledger_sound(&srv).await;
}

/// Two server processes on one database count the same attempts: wrong passwords sent to
/// either add up to one account's limit.
async fn throttles_hold_across_server_processes(srv: Srv) {
    srv.register("shared@example.com").await;
    let peer = srv.peer().await;
    let http = reqwest::Client::new();
    let body = json!({"email": "shared@example.com", "password": "a wrong password"});
    for i in 0..5 {
        let base = if i % 2 == 0 { &srv.base } else { &peer.srv_base };
        let r = http.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    for base in [&srv.base, &peer.srv_base] {
        let right = json!({"email": "shared@example.com", "password": PASSWORD});
        let r = http.post(format!("{base}/api/v1/auth/login")).json(&right).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "both processes refuse after five failures");
        assert!(r.headers().contains_key("retry-after"));
    }
    srv.clock.advance_ms(15 * 60_000);
    assert_eq!(login(&srv, "shared@example.com", PASSWORD).await.0, StatusCode::OK, "the window passes");
}
