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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_pages_read_well_in_both_languages_and_on_a_phone() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium (set CHROMIUM or install chromium)");
        return;
    };
    let srv = Srv::start_with(TestBackend::Sqlite, |c| c.demo = true).await.unwrap();
    assert!(souk_app::seed::seed_demo(&srv.store, 6, &srv.app.config.policy).await.unwrap());
    srv.app.flush_traffic().await.unwrap();
    let axe = axe_source();
    if axe.is_none() {
        eprintln!("axe-core not installed (target/axe): accessibility is not checked");
    }
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
                    } else if let Some(axe) = &axe {
                        b.eval(axe).await;
                        assert_eq!(b.eval(AXE_RUN).await, json!([]), "{role} {path} ({lang}): accessibility");
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
