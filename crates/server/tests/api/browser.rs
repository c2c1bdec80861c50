//! The pages in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run`
//! installs) against a server on an ephemeral port. Screenshots of the key pages are kept in
//! `target/browser-artifacts/`. Without Chromium the test says it is skipped and passes.

use crate::cdp::{chromium, Browser};
use crate::orders::market;
use crate::Srv;
use serde_json::json;
use souk_domain::clock::Clock;
use souk_store::testing::TestBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_buys_a_seller_ships_and_a_mediator_settles_a_dispute() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium at /usr/bin/chromium (set SOUK_CHROMIUM)");
        return;
    };
    let srv = Srv::start_with(TestBackend::Sqlite, |c| c.demo = true).await.unwrap();
    let (seller, _, _) = market(&srv, 5).await;
    let mut hostile = crate::product_body("<script>window.__pwned = 1</script>");
    hostile["ships_to"] = json!(["*"]);
    hostile["skus"][0]["sku"] = json!("XSS-1");
    assert_eq!(srv.post("/api/v1/products", Some(&seller), hostile).await.status, reqwest::StatusCode::CREATED);
    srv.eventually("/api/v1/search?q=script", |b| b["total"] == 1).await;

    let mut b = Browser::launch(&binary).await;
    b.goto(&format!("{}/", srv.base)).await;
    let home = b.text().await;
    assert!(home.contains("Featured products") && home.contains("buyer@demo.souk"), "{home}");
    b.screenshot("home").await;

    // The language switch, then back.
    b.navigate_by("document.querySelector('form[action=\"/lang/zh\"] button').click()").await;
    assert!(b.text().await.contains("精选商品"), "Chinese after the switch");
    b.screenshot("home-zh").await;
    b.navigate_by("document.querySelector('form[action=\"/lang/en\"] button').click()").await;

    // A wrong password, then the right one.
    b.goto(&format!("{}/login", srv.base)).await;
    let fill = |password: &str| {
        format!(
            "document.querySelector('input[name=email]').value = 'buyer@example.com';
             document.querySelector('input[name=password]').value = '{password}';
             document.querySelector('main form').submit()"
        )
    };
    b.navigate_by(&fill("not the password")).await;
    assert!(b.text().await.contains("Wrong email or password."));
    b.navigate_by(&fill("correct horse battery")).await;
    assert!(b.text().await.contains("Signed in as"), "logged in by cookie");

    // Search, then the product with its seller's trust.
    b.goto(&format!("{}/search?q=tea", srv.base)).await;
    let results = b.text().await;
    assert!(results.contains("Tea set"), "{results}");
    b.screenshot("search").await;
    b.navigate_by("document.querySelector('li.card a').click()").await;
    let product = b.text().await;
    assert!(
        product.contains("Tea set") && product.contains("Trust score") && product.contains("19.99 CNY"),
        "{product}"
    );
    b.screenshot("product").await;

    // Ask the seller, who answers live: no reload on either side.
    let mut s = Browser::launch(&binary).await;
    log_in(&mut s, &srv.base, "seller@example.com", "correct horse battery").await;
    b.navigate_by("document.querySelector('form.contact').submit()").await;
    let conversation_url = b.eval("location.pathname").await.as_str().unwrap().to_string();
    assert!(conversation_url.starts_with("/messages/cnv_"), "{conversation_url}");
    s.goto(&format!("{}{conversation_url}", srv.base)).await;
    let say =
        |text: &str| format!("const f = document.querySelector('form.send'); f.text.value = '{text}'; f.submit()");
    b.navigate_by(&say("Is it in stock?")).await;
    s.wait_for("document.getElementById('messages').innerText.includes('Is it in stock?')").await;
    s.navigate_by(&say("Yes, it ships today")).await;
    b.wait_for("document.getElementById('messages').innerText.includes('Yes, it ships today')").await;
    b.screenshot("chat").await;
    let trust = srv.get("/api/v1/stores/market/trust", None).await.body;
    assert!(trust["inputs"]["response_ms_median"].is_number(), "the answer's time counts: {trust}");

    // The seller offers two at a better price; the buyer accepts in the conversation and pays.
    let conversation = conversation_url.trim_start_matches("/messages/");
    let offer = json!({"sku_id": product_sku(&srv, &seller).await, "quantity": 2,
                       "unit_price": {"amount": 1500, "currency": "CNY"}, "ship_to": "DE",
                       "valid_until": souk_domain::time::rfc3339(srv.clock.now_ms() + 3_600_000)});
    let made = srv.post(&format!("/api/v1/conversations/{conversation}/offers"), Some(&seller), offer).await;
    assert_eq!(made.status, reqwest::StatusCode::CREATED, "{}", made.body);
    b.goto(&format!("{}{conversation_url}", srv.base)).await;
    b.navigate_by("document.querySelector('form.accept').submit()").await;
    let offered_order = b.text().await;
    assert!(offered_order.contains("30.00 CNY") && offered_order.contains("awaiting payment"), "{offered_order}");
    b.navigate_by("document.querySelector('form[action$=\"/pay\"]').submit()").await;
    assert!(b.text().await.contains("paid"));

    // Buy it: top up, add to the cart, check out and pay from the wallet.
    b.goto(&format!("{}/wallet", srv.base)).await;
    b.navigate_by(
        "document.querySelector('input[name=amount]').value = '50.00'; document.querySelector('form.topup').submit()",
    )
    .await;
    srv.clock.advance_ms(1_000);
    srv.app.deliver_sandbox_confirmations().await.unwrap();
    b.goto(&format!("{}/wallet", srv.base)).await;
    assert!(b.text().await.contains("1020.00 CNY"), "the top-up arrived (after the 30.00 offer): {}", b.text().await);
    b.goto(&format!("{}/search?q=tea", srv.base)).await;
    b.navigate_by("document.querySelector('li.card a').click()").await;
    b.navigate_by("document.querySelector('form.buy').submit()").await;
    let cart = b.text().await;
    assert!(cart.contains("Tea set") && cart.contains("× 19.99 CNY"), "{cart}");
    assert_eq!(b.eval("document.querySelector('form.quantity [name=quantity]').value").await, "1");
    b.screenshot("cart").await;
    b.navigate_by(
        "document.querySelector('input[name=ship_to]').value = 'de'; document.querySelector('form.checkout').submit()",
    )
    .await;
    let order_page = b.text().await;
    assert!(order_page.contains("paid") && order_page.contains("19.99 CNY"), "{order_page}");
    let order = b.eval("location.pathname.split('/').pop()").await.as_str().unwrap().to_string();

    // The seller ships from the seller center.
    s.goto(&format!("{}/seller", srv.base)).await;
    assert!(s.text().await.contains(&order), "the paid order waits to be shipped");
    s.screenshot("seller-center").await;
    s.navigate_by(
        "const f = document.querySelector('form.ship'); f.carrier.value = 'other'; f.tracking_number.value = 'PARCEL-B1'; f.submit()",
    )
    .await;
    assert!(!s.text().await.contains(&order), "shipped, so no longer to ship");

    // The buyer confirms receipt and reviews.
    b.goto(&format!("{}/orders/{order}", srv.base)).await;
    assert!(b.text().await.contains("Other carrier PARCEL-B1"), "the carrier named for people");
    b.screenshot("order-shipped").await;
    // Confirming receipt asks first, saying what happens; declining the question changes nothing.
    let asked = b
        .eval("window.confirm = m => { window.asked = m; return false }; document.querySelector('form[action$=\"/confirm\"] button').click(); window.asked")
        .await;
    assert!(asked.as_str().is_some_and(|m| m.contains("cannot come back")), "{asked}");
    let still = srv.get(&format!("/api/v1/orders/{order}"), Some(&seller)).await.body;
    assert_eq!(still["state"], "shipped", "nothing happened");
    b.navigate_by("document.querySelector('form[action$=\"/confirm\"]').submit()").await;
    let confirmed = b.text().await;
    assert!(
        confirmed.contains("completed") && confirmed.contains("Receipt confirmed: the seller is paid."),
        "{confirmed}"
    );
    b.screenshot("order-confirmed").await;
    b.goto(&format!("{}/orders/{order}", srv.base)).await;
    assert!(!b.text().await.contains("Receipt confirmed"), "said once");
    b.navigate_by("document.querySelector('form.review textarea').value = 'Lovely cups'; document.querySelector('form.review').submit()").await;
    let order_json = srv.get(&format!("/api/v1/orders/{order}"), Some(&seller)).await.body;
    assert_eq!(order_json["state"], "completed");
    let product_id = order_json["lines"][0]["product_id"].as_str().unwrap().to_string();
    b.goto(&format!("{}/products/{product_id}", srv.base)).await;
    assert!(b.text().await.contains("Lovely cups"), "the review shows on the product");

    // The seller's analytics show the sale.
    srv.app.flush_traffic().await.unwrap();
    s.goto(&format!("{}/seller/analytics?days=7", srv.base)).await;
    let analytics = s.text().await;
    assert!(analytics.contains("49.99 CNY") && analytics.contains("Conversion rate"), "{analytics}");
    s.screenshot("analytics").await;

    // A dispute: opened by the buyer, rejected by the seller, decided by a mediator.
    b.goto(&format!("{}/products/{product_id}", srv.base)).await;
    b.navigate_by("document.querySelector('form.buy').submit()").await;
    b.navigate_by(
        "document.querySelector('input[name=ship_to]').value = 'DE'; document.querySelector('form.checkout').submit()",
    )
    .await;
    let disputed = b.eval("location.pathname.split('/').pop()").await.as_str().unwrap().to_string();
    b.navigate_by(
        "const f = document.querySelector('details.dispute form'); f.reason.value = 'damaged'; f.description.value = 'Cracked lid'; f.submit()",
    )
    .await;
    assert!(b.text().await.contains("disputed"), "{}", b.text().await);
    s.goto(&format!("{}/seller", srv.base)).await;
    s.navigate_by(
        "const f = document.querySelector('form.answer'); f.action.value = 'reject'; f.text.value = 'Packed with care'; f.submit()",
    )
    .await;
    srv.clock.advance_ms(7 * 86_400_000);
    srv.app.run_due_jobs().await.unwrap();
    let (_, judge_id) = srv.register("judge@example.com").await;
    let mut tx = srv.store.begin().await.unwrap();
    tx.grant_role(&judge_id, souk_domain::account::Role::Mediator, "system").await.unwrap();
    tx.commit().await.unwrap();
    let mut m = Browser::launch(&binary).await;
    log_in(&mut m, &srv.base, "judge@example.com", "correct horse battery").await;
    m.goto(&format!("{}/console", srv.base)).await;
    let console = m.text().await;
    assert!(console.contains("The books balance.") && console.contains(&disputed), "{console}");
    m.navigate_by("document.querySelector('ul.orders a').click()").await;
    let view = m.text().await;
    assert!(view.contains("Cracked lid") && view.contains("Packed with care"), "evidence from both sides: {view}");
    m.screenshot("mediation").await;
    m.navigate_by(
        "const f = document.querySelector('form.decide'); f.outcome.value = 'refund'; f.reason.value = 'Photos show damage'; f.submit()",
    )
    .await;
    assert!(m.text().await.contains("Photos show damage"));
    let settled = srv.get(&format!("/api/v1/orders/{disputed}"), Some(&seller)).await.body;
    assert_eq!(settled["state"], "refunded");
    // The buyer follows the dispute on the order page: its reason, each side's word, the end.
    b.goto(&format!("{}/orders/{disputed}", srv.base)).await;
    let followed = b.text().await;
    assert!(followed.contains("Refunded in full") && followed.contains("Packed with care"), "{followed}");
    b.screenshot("order-dispute").await;
    b.navigate_by("document.querySelector('form[action=\"/lang/zh\"] button').click()").await;
    let chinese = b.text().await;
    assert!(
        chinese.contains("纠纷") && chinese.contains("已全额退款") && !chinese.contains("Refunded in full"),
        "{chinese}"
    );
    b.screenshot("order-dispute-zh").await;
    b.navigate_by("document.querySelector('form[action=\"/lang/en\"] button').click()").await;
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    )
    .await;
    b.goto(&format!("{}/orders/{disputed}", srv.base)).await;
    let wide = b
        .eval("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391).map(e => e.tagName + '.' + e.className).slice(0, 5)")
        .await;
    assert_eq!(wide, json!([]), "the disputed order reaches past a phone's width");
    b.screenshot("order-dispute-phone").await;
    b.call("Emulation.clearDeviceMetricsOverride", json!({})).await;
    // Unread notifications stand out and stay readable.
    b.goto(&format!("{}/notifications", srv.base)).await;
    let unread = b
        .eval("[...document.querySelectorAll('ul.notifications li.unread')].map(li => getComputedStyle(li).backgroundColor)")
        .await;
    let colours = unread.as_array().unwrap();
    assert!(
        !colours.is_empty() && colours.iter().all(|c| c == "rgba(0, 0, 0, 0)"),
        "no solid bar behind the text: {unread}"
    );
    b.screenshot("notifications").await;
    crate::orders::assert_ledger_sound(&srv).await;
    for browser in [&s, &m] {
        assert!(browser.errors.is_empty(), "browser console errors: {:?}", browser.errors);
    }

    // A hostile title is text, never markup.
    b.goto(&format!("{}/search?q=script", srv.base)).await;
    assert!(b.text().await.contains("<script>window.__pwned = 1</script>"));
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");

    assert!(b.errors.is_empty(), "browser console errors: {:?}", b.errors);
}

/// Sessions ride in an HttpOnly, SameSite cookie; every form needs the CSRF token that matches
/// the `souk_csrf` cookie; pages speak the Accept-Language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_use_secure_cookies_and_refuse_forged_forms() {
    let srv = Srv::start(TestBackend::Sqlite).await.unwrap();
    srv.register("shopper@example.com").await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = http.get(format!("{}/login", srv.base)).send().await.unwrap();
    let csrf_cookie = page.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    let csrf = csrf_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("name=\"_csrf\" value=\"{csrf}\"")), "the form carries the token");

    let login = |token: &str| {
        let form = [
            ("email", "shopper@example.com"),
            ("password", "correct horse battery"),
            ("_csrf", token),
            ("next", "/search"),
        ];
        http.post(format!("{}/login", srv.base)).header("cookie", format!("souk_csrf={csrf}")).form(&form).send()
    };
    let forged = login("not-the-token-not-the-token-0000").await.unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::FORBIDDEN);
    assert!(forged.headers().get(reqwest::header::SET_COOKIE).is_none(), "no session for a forged form");
    let ok = login(&csrf).await.unwrap();
    assert_eq!(ok.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()[reqwest::header::LOCATION], "/search");
    let session = ok.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(session.starts_with("souk_session=") && session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    let session = session.split(';').next().unwrap().to_string();

    let cookies = format!("{session}; souk_csrf={csrf}");
    let home = http
        .get(format!("{}/", srv.base))
        .header("cookie", &cookies)
        .header("accept-language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap();
    let home = home.text().await.unwrap();
    assert!(home.contains("已登录") && home.contains("lang=\"zh\""), "signed in, in Chinese");
    let out = http
        .post(format!("{}/logout", srv.base))
        .header("cookie", &cookies)
        .form(&[("_csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), reqwest::StatusCode::FORBIDDEN, "logging out takes the token too");
    let out = http
        .post(format!("{}/logout", srv.base))
        .header("cookie", &cookies)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), reqwest::StatusCode::SEE_OTHER);
    let after =
        http.get(format!("{}/", srv.base)).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    assert!(!after.contains("Signed in as"), "the session is gone");
    // The live socket takes the session cookie only from this site's own pages.
    let ws_url = format!("{}/api/v1/ws", srv.base.replacen("http://", "ws://", 1));
    let host = srv.base.trim_start_matches("http://").to_string();
    let live_cookies = format!("{}; souk_csrf={csrf}", login_session(&http, &srv, &csrf).await);
    let socket_with = |origin: String| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = ws_url.as_str().into_client_request().unwrap();
        req.headers_mut().insert("cookie", live_cookies.parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    assert!(socket_with("http://evil.example".into()).await.is_err(), "another site's page cannot use the cookie");
    assert!(socket_with(format!("http://{host}")).await.is_ok(), "this site's pages can");

    // A form submitted twice acts once.
    let cookies = format!("{}; souk_csrf={csrf}", login_session(&http, &srv, &csrf).await);
    let top_up = [
        ("amount", "12.00"),
        ("currency", "CNY"),
        ("card_number", "4242424242424242"),
        ("_csrf", csrf.as_str()),
        ("_key", "same-form-key-0123456789"),
    ];
    for _ in 0..2 {
        let r = http
            .post(format!("{}/wallet/top-up", srv.base))
            .header("cookie", &cookies)
            .form(&top_up)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[reqwest::header::LOCATION], "/wallet");
    }
    assert_eq!(srv.count("top_ups").await, 1, "one top-up for one form");
    let evil =
        http.get(format!("{}/login?next=//evil.example/x", srv.base)).send().await.unwrap().text().await.unwrap();
    assert!(evil.contains("name=\"next\" value=\"/\""), "only local paths are followed after logging in");
    let missing = http.get(format!("{}/products/prd_nope", srv.base)).send().await.unwrap();
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
}

/// Logs in through the form; returns the session cookie pair.
async fn login_session(http: &reqwest::Client, srv: &Srv, csrf: &str) -> String {
    let form = [("email", "shopper@example.com"), ("password", "correct horse battery"), ("_csrf", csrf)];
    let r = http
        .post(format!("{}/login", srv.base))
        .header("cookie", format!("souk_csrf={csrf}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    r.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string()
}

/// Logs a browser in through the log-in form.
pub(crate) async fn log_in(b: &mut Browser, base: &str, email: &str, password: &str) {
    b.goto(&format!("{base}/login")).await;
    b.navigate_by(&format!(
        "document.querySelector('input[name=email]').value = '{email}';
         document.querySelector('input[name=password]').value = '{password}';
         document.querySelector('main form').submit()"
    ))
    .await;
    assert!(b.text().await.contains("Signed in as"), "{email} is logged in");
}

/// An admin reviews a store's identity documents in the operator console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_decide_verifications_in_the_console() {
    let srv = Srv::start(TestBackend::Sqlite).await.unwrap();
    let (seller, _) = srv.seller("kyc@example.com", "kyc-shop").await;
    let docs = json!({"legal_name": "Li Wei", "document_type": "business_license", "document_number": "9144-0300",
                      "document_urls": ["https://docs.example.com/lic.png"]});
    let submitted = srv.post("/api/v1/stores/kyc-shop/verification", Some(&seller), docs).await;
    assert_eq!(submitted.status, reqwest::StatusCode::CREATED, "{}", submitted.body);
    let (admin, admin_id) = srv.quick_user("root@example.com").await;
    srv.make_admin(&admin_id).await;
    let (mediator_only, _) = srv.quick_user("m@example.com").await;

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let csrf = "console-csrf-token-0123456789abc";
    let as_user = |token: &str| format!("souk_session={token}; souk_csrf={csrf}");
    let console = http.get(format!("{}/console", srv.base)).header("cookie", as_user(&admin)).send().await.unwrap();
    let page = console.text().await.unwrap();
    assert!(page.contains("Li Wei") && page.contains("9144-0300"), "the pending request is listed");
    assert!(page.contains("Business license") && !page.contains("BusinessLicense"), "the document named for people");
    let plain =
        http.get(format!("{}/console", srv.base)).header("cookie", as_user(&mediator_only)).send().await.unwrap();
    assert_eq!(plain.status(), reqwest::StatusCode::NOT_FOUND, "the console is for staff");

    let request = submitted.body["id"].as_str().unwrap();
    let decide = |decision: &'static str, reason: &'static str, key: &'static str| {
        let form = [("decision", decision), ("reason", reason), ("_csrf", csrf), ("_key", key)];
        http.post(format!("{}/console/verifications/{request}", srv.base))
            .header("cookie", as_user(&admin))
            .form(&form)
            .send()
    };
    let no_reason = decide("reject", "", "reject-without-reason-01").await.unwrap().text().await.unwrap();
    assert!(no_reason.contains("class=\"error\""), "a rejection needs a reason: {no_reason}");
    let approved = decide("approve", "", "approve-it-0123456789").await.unwrap();
    assert_eq!(approved.status(), reqwest::StatusCode::SEE_OTHER);
    let store = srv.get("/api/v1/stores/kyc-shop", None).await.body;
    assert_eq!(store["verification"], "identity", "{store}");
}

/// The SKU of the seller's first product.
async fn product_sku(srv: &Srv, seller: &str) -> String {
    let products = srv.get("/api/v1/stores/market/products", Some(seller)).await.body;
    let tea = products["items"].as_array().unwrap().iter().find(|p| p["title"] == "Tea set").unwrap();
    tea["skus"][0]["id"].as_str().unwrap().to_string()
}
