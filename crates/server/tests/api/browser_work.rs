//! The pages people work in, looked at as each demo role sees them: in English and Chinese, at
//! desktop and phone width, nothing shown raw (JSON, ISO timestamps, codes) and nothing reaching
//! past a phone's width. Screenshots of each go to `target/browser-artifacts/`.

use crate::browser::log_in;
use crate::cdp::{chromium, Browser};
use crate::Srv;
use serde_json::json;
use souk_app::seed::DEMO_LOGINS;
use souk_store::testing::TestBackend;

/// What a person should never read on a page: JSON, ISO-8601 timestamps, snake_case codes
/// (what a page shows on purpose as literal `<code>` aside).
const RAW: &str = r#"(() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll("code, script, style").forEach((e) => e.remove());
  const text = copy.textContent;
  const found = [];
  if (/[{\[]"\w+":/.test(text)) found.push('json');
  if (/\d{4}-\d\d-\d\dT\d\d:\d\d/.test(text)) found.push('iso time');
  const code = text.match(/\b[a-z]+_[a-z_]+\b/g);
  if (code) found.push(...code.filter(c => !c.startsWith('ord_') && !c.startsWith('SBX')).slice(0, 3));
  return found;
})()"#;

/// axe-core, installed from npm by `.ci/run` (`npm install --prefix target/axe axe-core`).
fn axe_source() -> Option<String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).ok()
}

/// The page's serious and critical accessibility violations (WCAG 2 A and AA, contrast too),
/// each with up to three of the elements it found.
const AXE_RUN: &str = "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}).then(r => r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))";

/// Elements reaching past a 390 px wide phone screen.
const TOO_WIDE: &str = "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
    .map(e => e.tagName + '.' + e.className).slice(0, 5)";

/// Every kind of page each demo role (and a visitor) reaches by following links, in English and
/// Chinese: no serious or critical accessibility violation (axe-core, WCAG 2 A and AA).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_a_role_reaches_passes_axe() {
    let (Some(binary), Some(axe)) = (chromium(), axe_source()) else {
        eprintln!("skipped: no Chromium or no axe-core (target/axe)");
        return;
    };
    let srv = Srv::start_with(TestBackend::Sqlite, |c| c.demo = true).await.unwrap();
    assert!(souk_app::seed::seed_demo(&srv.store, 6, &srv.app.config.policy).await.unwrap());
    srv.app.flush_traffic().await.unwrap();
    let links = "[...document.querySelectorAll('a[href^=\"/\"]:not([download])')].map(a => a.getAttribute('href'))";
    let visitor = souk_app::seed::DemoLogin { role: "visitor", email: "", password: "" };
    let mut checked = 0;
    for login in DEMO_LOGINS.iter().chain([&visitor]) {
        let mut b = Browser::launch(&binary).await;
        if login.role != "visitor" {
            log_in(&mut b, &srv.base, login.email, login.password).await;
        }
        let start = match login.role {
            "seller" => "/seller",
            "mediator" | "admin" => "/console",
            "visitor" => "/register",
            _ => "/orders",
        };
        let mut queue = vec![start.to_string(), "/".into(), "/login".into(), "/reset-password".into()];
        let mut kinds = std::collections::HashSet::new();
        let mut pages = Vec::new();
        while let Some(path) = queue.pop() {
            if !kinds.insert(crate::pages::page_kind(&path)) {
                continue;
            }
            b.goto(&format!("{}{path}", srv.base)).await;
            for link in b.eval(links).await.as_array().unwrap() {
                let link = link.as_str().unwrap();
                if !link.starts_with("/assets") && !link.starts_with("/media") && !link.starts_with("//") {
                    queue.push(link.to_string());
                }
            }
            pages.push(path);
        }
        for lang in ["en", "zh"] {
            if lang == "zh" {
                b.eval("document.cookie = 'souk_lang=zh; path=/'; true").await;
            }
            for path in &pages {
                b.goto(&format!("{}{path}", srv.base)).await;
                assert_eq!(b.eval("document.documentElement.lang").await, json!(lang), "{path}");
                b.eval(&axe).await;
                assert_eq!(b.eval(AXE_RUN).await, json!([]), "{} {path} ({lang}): accessibility", login.role);
                checked += 1;
            }
        }
        assert!(b.errors.is_empty(), "browser console errors: {:?}", b.errors);
    }
    assert!(checked > 100, "only {checked} pages were checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_pages_read_well_in_both_languages_and_on_a_phone() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium (set CHROMIUM or install chromium)");
        return;
    };
    let srv = Srv::start_with(TestBackend::Sqlite, |c| c.demo = true).await.unwrap();
    assert!(souk_app::seed::seed_demo(&srv.store, 6, &srv.app.config.policy).await.unwrap());
    srv.app.flush_traffic().await.unwrap();
    // A product, an order and a conversation of the demo buyer's, a dispute in mediation.
    let token = |email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        let srv = &srv;
        async move { srv.post("/api/v1/auth/login", None, body).await.body["token"].as_str().unwrap().to_string() }
    };
    let buyer = token("buyer@demo.souk", "demo-buyer-pass").await;
    let mediator = token("mediator@demo.souk", "demo-mediator-pass").await;
    let product =
        srv.get("/api/v1/search?q=tea&limit=1", None).await.body["hits"][0]["id"].as_str().unwrap().to_string();
    let order =
        srv.get("/api/v1/orders?limit=1", Some(&buyer)).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let chat =
        srv.get("/api/v1/conversations", Some(&buyer)).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let dispute = srv.get("/api/v1/mediation/disputes", Some(&mediator)).await.body["items"][0]["id"]
        .as_str()
        .map(|id| format!("/console/disputes/{id}"));
    let buyer_pages = [
        "/".to_string(),
        "/search?q=tea&sort=price_asc".into(),
        format!("/products/{product}"),
        "/cart".into(),
        "/orders".into(),
        format!("/orders/{order}"),
        "/wallet".into(),
        "/messages".into(),
        format!("/messages/{chat}"),
        "/rfqs".into(),
        "/notifications".into(),
    ];
    let seller_pages = [
        "/seller",
        "/seller/orders",
        "/seller/products",
        "/seller/products/new",
        "/seller/import",
        "/seller/deals",
        "/seller/promotions",
        "/seller/analytics",
    ]
    .map(String::from);
    let mut staff_pages =
        vec!["/console".to_string(), "/console/users".into(), "/console/stores".into(), "/console/audit".into()];
    staff_pages.extend(dispute);
    let pages: [(&str, &[String]); 3] = [("buyer", &buyer_pages), ("seller", &seller_pages), ("admin", &staff_pages)];
    for (role, paths) in pages {
        let login = DEMO_LOGINS.iter().find(|l| l.role == role).unwrap();
        let mut b = Browser::launch(&binary).await;
        log_in(&mut b, &srv.base, login.email, login.password).await;
        for lang in ["en", "zh"] {
            b.navigate_by(&format!(
                "{{ const b = document.querySelector('form[action=\"/lang/{lang}\"] button'); if (b) b.click(); else location.reload() }}"
            ))
            .await;
            for phone in [false, true] {
                if phone {
                    b.call(
                        "Emulation.setDeviceMetricsOverride",
                        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
                    )
                    .await;
                } else {
                    b.call("Emulation.clearDeviceMetricsOverride", json!({})).await;
                }
                for path in paths {
                    b.goto(&format!("{}{path}", srv.base)).await;
                    assert_eq!(b.eval("document.documentElement.lang").await, json!(lang), "{path}");
                    assert_eq!(b.eval(RAW).await, json!([]), "{role} {path} ({lang}) shows something raw");
                    if phone {
                        assert_eq!(b.eval(TOO_WIDE).await, json!([]), "{path} reaches past a phone's width");
                    }
                    // Ids blanked: one screenshot per kind of page.
                    let kind: Vec<&str> = path
                        .trim_start_matches('/')
                        .split('?')
                        .next()
                        .unwrap()
                        .split('/')
                        .filter(|p| !p.contains('_'))
                        .collect();
                    let name = if kind.is_empty() || kind == [""] { "home".to_string() } else { kind.join("-") };
                    b.screenshot(&format!("work-{name}-{lang}{}", if phone { "-phone" } else { "" })).await;
                }
            }
        }
        if role == "buyer" {
            // The search box suggests as one types, in the page's language.
            b.call("Emulation.clearDeviceMetricsOverride", json!({})).await;
            b.goto(&format!("{}/", srv.base)).await;
            b.eval(
                "const box = document.querySelector('input[data-suggest]'); box.focus(); box.value = 'te';
                 box.dispatchEvent(new Event('input')); true",
            )
            .await;
            b.wait_for("!document.getElementById('suggestions').hidden").await;
            b.screenshot("work-search-suggest-zh").await;
            // A filter applies as soon as it changes, and the first screen of a phone shows results.
            b.goto(&format!("{}/search?q=tea", srv.base)).await;
            b.navigate_by("const s = document.querySelector('select[name=sort]'); s.value = 'price_desc'; s.dispatchEvent(new Event('change', {bubbles: true}))")
                .await;
            assert!(b.eval("location.search").await.as_str().unwrap().contains("sort=price_desc"));
            b.call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
            )
            .await;
            b.goto(&format!("{}/search?q=tea", srv.base)).await;
            let first_card = b.eval("document.querySelector('li.card')?.getBoundingClientRect().top ?? 9999").await;
            assert!(first_card.as_f64().unwrap() < 844.0, "a result is on the phone's first screen: {first_card}");
            // A product's price and its "Add to cart" are on the phone's first screen too.
            b.navigate_by("document.querySelector('li.card a').click()").await;
            let buy = b.eval("document.querySelector('form.buy button')?.getBoundingClientRect().bottom ?? 9999").await;
            assert!(buy.as_f64().unwrap() < 844.0, "Add to cart is above the fold: {buy}");
            b.screenshot("work-product-zh-phone").await;
            // Times read in the reader's zone, the exact UTC value kept in the title.
            b.goto(&format!("{}/orders", srv.base)).await;
            let time = b.eval("[...document.querySelectorAll('time')].map(t => [t.textContent, t.title])[0]").await;
            assert!(time[1].as_str().unwrap().contains("UTC") && !time[0].as_str().unwrap().contains("UTC"), "{time}");
        }
        assert!(b.errors.is_empty(), "browser console errors: {:?}", b.errors);
    }
}

/// A refused form says why beside the input it is about, in the page's language, and keeps
/// everything typed; corrected, it goes through and the next page says what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_forms_keep_what_was_typed() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium (set CHROMIUM or install chromium)");
        return;
    };
    let srv = Srv::start_with(TestBackend::Sqlite, |c| c.demo = true).await.unwrap();
    assert!(souk_app::seed::seed_demo(&srv.store, 2, &srv.app.config.policy).await.unwrap());
    let login = DEMO_LOGINS.iter().find(|l| l.role == "buyer").unwrap();
    let mut b = Browser::launch(&binary).await;
    log_in(&mut b, &srv.base, login.email, login.password).await;

    // A decimal comma in a top-up: explained beside the amount, the form as typed.
    b.goto(&format!("{}/wallet", srv.base)).await;
    b.eval("{ const f = document.querySelector('form.topup'); f.amount.value = '12,5'; f.querySelector('button').click(); true }")
        .await;
    b.wait_for("!!document.querySelector('form.topup .field-error')").await;
    let shown = b
        .eval(
            "{ const f = document.querySelector('form.topup'); const amount = f.amount;
             [location.pathname, amount.value, amount.getAttribute('aria-invalid'),
              amount.closest('label').nextElementSibling.textContent, document.activeElement === amount] }",
        )
        .await;
    assert_eq!(shown[0], "/wallet");
    assert_eq!(shown[1], "12,5", "what was typed stays");
    assert_eq!(shown[2], "true");
    assert!(shown[3].as_str().unwrap().contains("decimals with a point: '12.5'"), "{shown}");
    assert_eq!(shown[4], true, "the input to correct has the focus");
    b.screenshot("form-refused-topup-en").await;
    // Corrected, it goes through: the error is gone and the page says what happened.
    b.navigate_by("{ const f = document.querySelector('form.topup'); f.amount.value = '12.50'; f.querySelector('button').click() }")
        .await;
    assert!(b.text().await.contains("Top-up accepted"), "{}", b.text().await);
    assert_eq!(b.eval("document.querySelectorAll('.field-error').length").await, 0);

    // In Chinese, a request for quotes with no units: said beside the quantity, in Chinese, with
    // the details typed still there; a second refusal replaces the first.
    b.navigate_by("document.querySelector('form[action=\"/lang/zh\"] button').click()").await;
    b.goto(&format!("{}/rfqs", srv.base)).await;
    b.eval(
        "{ const f = document.querySelector('form.rfq'); f.title.value = '绿茶 500 盒'; f.details.value = '每盒 250 克，需要发票';
         f.quantity.value = '0'; f.ship_to.value = 'DE'; f.querySelector('button').click(); true }",
    )
    .await;
    b.wait_for("!!document.querySelector('form.rfq .field-error')").await;
    b.eval("{ const f = document.querySelector('form.rfq'); f.quantity.value = '-3'; f.querySelector('button').click(); true }")
        .await;
    b.wait_for("document.querySelector('form.rfq [name=quantity]').value === '-3' && !document.querySelector('form.rfq').dataset.sending")
        .await;
    let shown = b
        .eval(
            "{ const f = document.querySelector('form.rfq');
             [f.details.value, f.quantity.getAttribute('aria-invalid'), f.querySelectorAll('.field-error').length,
              f.quantity.closest('label').nextElementSibling.textContent] }",
        )
        .await;
    assert_eq!(shown[0], "每盒 250 克，需要发票");
    assert_eq!(shown[1], "true");
    assert_eq!(shown[2], 1, "one error at a time");
    let words = shown[3].as_str().unwrap();
    assert!(words.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "in Chinese: {words}");
    b.screenshot("form-refused-rfq-zh").await;
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    )
    .await;
    b.eval("document.querySelector('form.rfq .field-error').scrollIntoView({block: 'center'}); true").await;
    b.screenshot("form-refused-rfq-zh-phone").await;
    assert!(b.errors.is_empty(), "browser console errors: {:?}", b.errors);
}

/// A buyer reports a listing from its page; an admin finds it in the queue, reads it, and takes
/// the listing down with a reason; the listing is gone from the shop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_handled_from_the_queue() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium (set CHROMIUM or install chromium)");
        return;
    };
    let srv = Srv::start(TestBackend::Sqlite).await.unwrap();
    let (seller, _, _) = crate::orders::market(&srv, 5).await;
    let product = srv.get("/api/v1/stores/market/products", Some(&seller)).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, admin_id) = srv.register("ops@example.com").await;
    srv.make_admin(&admin_id).await;

    let mut b = Browser::launch(&binary).await;
    log_in(&mut b, &srv.base, "buyer@example.com", "correct horse battery").await;
    b.goto(&format!("{}/products/{product}", srv.base)).await;
    b.navigate_by("document.querySelector('a.report').click()").await;
    b.screenshot("report-form-en").await;
    b.navigate_by(
        "{ const f = document.querySelector('form.report'); f.reason.value = 'counterfeit';
           f.details.value = 'The logo is misspelt: a copy sold as the original.'; f.querySelector('button').click() }",
    )
    .await;
    assert_eq!(b.eval("location.pathname").await, format!("/products/{product}"));
    assert!(b.text().await.contains("the operators will look at your report"), "{}", b.text().await);

    let mut ops = Browser::launch(&binary).await;
    log_in(&mut ops, &srv.base, "ops@example.com", "correct horse battery").await;
    ops.goto(&format!("{}/console", srv.base)).await;
    ops.navigate_by("document.querySelector('a[href=\"/console/reports\"]').click()").await;
    ops.screenshot("console-reports-en").await;
    ops.navigate_by("document.querySelector('table.queue a').click()").await;
    let text = ops.text().await;
    assert!(
        text.contains("Tea set") && text.contains("The logo is misspelt") && text.contains("Counterfeit"),
        "{text}"
    );
    ops.screenshot("console-report-en").await;
    // A reason is required: the form says so beside it, and keeps the page as it was.
    ops.eval(
        "{ const f = document.querySelector('form.act'); f.reason.removeAttribute('minlength'); f.reason.value = 'no';
           f.querySelector('button').click(); true }",
    )
    .await;
    ops.wait_for("!!document.querySelector('form.act .field-error')").await;
    ops.navigate_by(
        "{ const f = document.querySelector('form.act'); f.reason.value = 'Counterfeit of a registered brand';
           f.querySelector('button').click() }",
    )
    .await;
    let text = ops.text().await;
    assert!(text.contains("the person concerned is told") && text.contains("Acted on"), "{text}");
    assert!(text.contains("Counterfeit of a registered brand"), "the action and its reason are in the history: {text}");
    ops.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    )
    .await;
    ops.navigate_by("document.querySelector('form[action^=\"/lang/\"] button').click()").await;
    ops.screenshot("console-report-zh-phone").await;
    let wide = ops.eval(TOO_WIDE).await;
    assert_eq!(wide, json!([]), "nothing reaches past a phone's width");

    // The seller reads why on the listing's page and appeals; the operator keeps the decision,
    // saying why, and the seller reads that too.
    let mut seller = Browser::launch(&binary).await;
    log_in(&mut seller, &srv.base, "seller@example.com", "correct horse battery").await;
    seller.goto(&format!("{}/seller/products/{product}", srv.base)).await;
    assert!(seller.text().await.contains("Counterfeit of a registered brand"), "{}", seller.text().await);
    seller.screenshot("seller-held-listing-en").await;
    seller
        .navigate_by(
            "{ const f = document.querySelector('form.appeal'); f.text.value = 'We hold the brand licence; see the invoice.';
               f.querySelector('button').click() }",
        )
        .await;
    let text = seller.text().await;
    assert!(text.contains("Your appeal is sent") && text.contains("Your appeal is with the operators"), "{text}");
    ops.goto(&format!("{}/console/reports", srv.base)).await;
    assert!(ops.text().await.contains("We hold the brand licence"), "{}", ops.text().await);
    ops.screenshot("console-appeals-zh-phone").await;
    ops.navigate_by(
        "{ const f = document.querySelector('form[action$=\"/uphold\"]'); f.reason.value = 'The invoice is for another brand';
           f.querySelector('button').click() }",
    )
    .await;
    seller.goto(&format!("{}/seller/products/{product}", srv.base)).await;
    assert!(seller.text().await.contains("The invoice is for another brand"), "{}", seller.text().await);
    assert!(seller.errors.is_empty(), "browser console errors: {:?}", seller.errors);

    assert!(b.errors.is_empty() && ops.errors.is_empty(), "browser console errors: {:?} {:?}", b.errors, ops.errors);
    b.goto(&format!("{}/products/{product}", srv.base)).await;
    assert!(b.text().await.contains("Page not found"), "the listing is gone: {}", b.text().await);
}
