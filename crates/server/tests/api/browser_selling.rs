//! The seller's side in a real browser: a new seller opens a store, is verified, lists a product
//! with variants and tier prices, imports a catalog, quotes an RFQ and negotiates an offer, then
//! is paid and pays out. Screenshots go to `target/browser-artifacts/`.

use crate::browser::log_in;
use crate::cdp::{chromium, Browser};
use crate::Srv;
use serde_json::json;
use souk_store::testing::TestBackend;

const PASSWORD: &str = "correct horse battery";

/// Fills the form matched by `form` with `fields` (name, value) and submits it.
fn fill(form: &str, fields: &[(&str, &str)]) -> String {
    let mut js = format!("{{ const f = document.querySelector('{form}');");
    for (name, value) in fields {
        js.push_str(&format!("f.elements['{name}'].value = {};", serde_json::Value::from(*value)));
    }
    js.push_str("f.submit() }");
    js
}

/// Picks the item whose label starts with `label` in the form's SKU list.
fn pick(form: &str, label: &str) -> String {
    format!(
        "{{ const sel = document.querySelector('{form} select[name=sku_id]');
           sel.value = [...sel.options].find(o => o.text.startsWith('{label}')).value; true }}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_seller_lists_quotes_negotiates_and_is_paid() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium at /usr/bin/chromium (set SOUK_CHROMIUM)");
        return;
    };
    let srv = Srv::start(TestBackend::Sqlite).await.unwrap();
    srv.register("maker@example.com").await;
    let (_, admin_id) = srv.register("admin@example.com").await;
    srv.make_admin(&admin_id).await;
    srv.register("cafe@example.com").await;

    // Open a store and send the documents.
    let mut s = Browser::launch(&binary).await;
    log_in(&mut s, &srv.base, "maker@example.com", PASSWORD).await;
    s.goto(&format!("{}/seller", srv.base)).await;
    s.navigate_by(&fill(
        "form.store",
        &[("name", "Kiln & Co"), ("slug", "kiln"), ("country", "CN"), ("currency", "CNY")],
    ))
    .await;
    assert!(s.text().await.contains("Seller center: Kiln & Co"), "{}", s.text().await);
    s.navigate_by(&fill("form.verification", &[("legal_name", "Kiln Trading Ltd"), ("document_number", "91-4403")]))
        .await;
    assert!(s.text().await.contains("an administrator will review it"));

    // A product with a second variant row brought by htmx.
    s.goto(&format!("{}/seller/products/new", srv.base)).await;
    s.eval(
        "{ const f = document.querySelector('form.product');
         f.title.value = 'Celadon bowl'; f.category.value = 'home/kitchen'; f.ships_to.value = 'DE, FR';
         f.v0_code.value = 'BOWL-S'; f.v0_options.value = 'size=S'; f.v0_price.value = '25.00';
         f.v0_stock.value = '10'; f.v0_tiers.value = '10=22.50'; true }",
    )
    .await;
    s.eval("document.getElementById('add-variant').click(); true").await;
    s.wait_for(
        "!!document.querySelector('input[name=v1_price]') && !!document.querySelector('#add-variant[hx-get$=\"i=2\"]')",
    )
    .await;
    s.eval(
        "{ const f = document.querySelector('form.product');
         f.v1_code.value = 'BOWL-L'; f.v1_options.value = 'size=L'; f.v1_price.value = '30.00'; f.v1_stock.value = '4'; true }",
    )
    .await;
    // A photo from the seller's disk: uploaded as it is picked, its link added to the form.
    let photo = std::env::temp_dir().join(format!("souk-bowl-{}.jpg", std::process::id()));
    std::fs::write(&photo, crate::media::phone_photo(90)).unwrap();
    let doc = s.call("DOM.getDocument", json!({})).await;
    let picker = s
        .call(
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": "form.product input[type=file]"}),
        )
        .await;
    s.call("DOM.setFileInputFiles", json!({"files": [photo.to_str().unwrap()], "nodeId": picker["nodeId"]})).await;
    s.wait_for("document.querySelector('form.product').images.value.startsWith('/media/')").await;
    s.wait_for("!!document.querySelector('ul.previews li.ok img')").await;
    let _ = std::fs::remove_file(&photo);
    s.screenshot("product-form").await;
    s.navigate_by("document.querySelector('form.product').submit()").await;
    let edit = s.text().await;
    assert!(s.eval("location.pathname").await.as_str().unwrap().starts_with("/seller/products/prd_"), "{edit}");
    assert_eq!(s.eval("document.querySelectorAll('fieldset.variant').length").await, 2);
    let kept = s.eval("document.querySelector('form.product').images.value").await;
    assert!(kept.as_str().unwrap().starts_with("/media/"), "the uploaded photo is the listing's: {kept}");

    // A catalog file: uploaded with a progress bar, then the per-row report.
    s.goto(&format!("{}/seller/import", srv.base)).await;
    s.eval(
        "{ const csv = 'title,description,category,price,currency,stock,ships_to\\n' +
                     'Teapot,Clay,home/kitchen,58.00,CNY,5,*\\n' + 'Broken,Clay,home/kitchen,abc,CNY,5,*\\n';
         const dt = new DataTransfer(); dt.items.add(new File([csv], 'catalog.csv', {type: 'text/csv'}));
         document.querySelector('#import input[type=file]').files = dt.files;
         document.querySelector('#import button').click(); true }",
    )
    .await;
    s.wait_for("!!document.querySelector('#job.done')").await;
    assert_eq!(s.eval("document.getElementById('upload').value").await, 100);
    let report = s.eval("document.getElementById('job').innerText").await.as_str().unwrap().to_string();
    assert!(report.contains("Created 1") && report.contains("Failed 1") && report.contains("price"), "{report}");
    s.screenshot("import-report").await;

    // The admin approves the documents and sees the users and stores.
    let mut a = Browser::launch(&binary).await;
    log_in(&mut a, &srv.base, "admin@example.com", PASSWORD).await;
    a.goto(&format!("{}/console", srv.base)).await;
    assert!(a.text().await.contains("Kiln Trading Ltd"));
    a.navigate_by(&fill("form.verify", &[("decision", "approve")])).await;
    a.goto(&format!("{}/console/stores", srv.base)).await;
    let stores = a.text().await;
    assert!(stores.contains("Kiln & Co") && stores.contains("identity"), "{stores}");
    a.screenshot("console-stores").await;
    a.goto(&format!("{}/console/users", srv.base)).await;
    assert!(a.text().await.contains("cafe@example.com"));

    // The buyer asks for a quote; the seller quotes; the buyer accepts and pays.
    let mut b = Browser::launch(&binary).await;
    log_in(&mut b, &srv.base, "cafe@example.com", PASSWORD).await;
    b.goto(&format!("{}/wallet", srv.base)).await;
    b.navigate_by(&fill("form.topup", &[("amount", "1000.00")])).await;
    srv.clock.advance_ms(1_000);
    srv.app.deliver_sandbox_confirmations().await.unwrap();
    b.goto(&format!("{}/rfqs", srv.base)).await;
    b.navigate_by(&fill(
        "form.rfq",
        &[("title", "Bowls for a cafe"), ("category", "home"), ("quantity", "8"), ("ship_to", "DE"), ("days", "7")],
    ))
    .await;
    let rfq_path = b.eval("location.pathname").await.as_str().unwrap().to_string();
    s.goto(&format!("{}/seller/deals", srv.base)).await;
    assert!(s.text().await.contains("Bowls for a cafe"));
    s.navigate_by("document.querySelector('ul.orders a').click()").await;
    s.eval(&pick("form.quote", "Celadon bowl S")).await;
    s.navigate_by(&fill("form.quote", &[("unit_price", "21.00"), ("moq", "10"), ("note", "Gift boxed")])).await;
    assert!(s.text().await.contains("21.00 CNY"), "{}", s.text().await);
    b.goto(&format!("{}{rfq_path}", srv.base)).await;
    b.screenshot("rfq-quotes").await;
    b.navigate_by("document.querySelector('form.accept-quote').submit()").await;
    let order = b.text().await;
    assert!(order.contains("210.00 CNY") && order.contains("awaiting payment"), "ten at the quoted price: {order}");
    b.navigate_by("document.querySelector('form[action$=\"/pay\"]').submit()").await;
    let order_id = b.eval("location.pathname.split('/').pop()").await.as_str().unwrap().to_string();

    // An offer in the chat: the seller offers, the buyer counters, the seller accepts.
    srv.eventually("/api/v1/search?q=celadon", |r| r["total"] == 1).await;
    b.goto(&format!("{}/search?q=celadon", srv.base)).await;
    b.navigate_by("document.querySelector('li.card a').click()").await;
    b.navigate_by("document.querySelector('form.contact').submit()").await;
    let conversation = b.eval("location.pathname").await.as_str().unwrap().to_string();
    s.goto(&format!("{}{conversation}", srv.base)).await;
    s.eval(&pick("form.offer", "Celadon bowl L")).await;
    s.navigate_by(&fill("form.offer", &[("quantity", "3"), ("unit_price", "24.00"), ("ship_to", "DE")])).await;
    b.goto(&format!("{}{conversation}", srv.base)).await;
    assert!(b.text().await.contains("72.00 CNY"), "{}", b.text().await);
    b.navigate_by(&fill("form.counter", &[("unit_price", "22.00")])).await;
    s.goto(&format!("{}{conversation}", srv.base)).await;
    s.screenshot("offer-countered").await;
    s.navigate_by("document.querySelector('form.accept').submit()").await;
    b.goto(&format!("{}/orders", srv.base)).await;
    assert!(b.text().await.contains("66.00 CNY"), "the countered price became an order: {}", b.text().await);

    // The quoted order ships and is confirmed: the seller is paid and pays out.
    s.goto(&format!("{}/seller", srv.base)).await;
    s.navigate_by(&format!(
        "{{ const f = [...document.querySelectorAll('form.ship')].find(f => f.action.includes('{order_id}'));
         f.carrier.value = 'other'; f.tracking_number.value = 'KILN-1'; f.submit() }}"
    ))
    .await;
    b.goto(&format!("{}/orders/{order_id}", srv.base)).await;
    b.navigate_by("document.querySelector('form[action$=\"/confirm\"]').submit()").await;
    assert!(b.text().await.contains("completed"));
    s.goto(&format!("{}/wallet", srv.base)).await;
    let wallet = s.text().await;
    assert!(wallet.contains("Pay out"), "{wallet}");
    s.navigate_by(&fill("form.payout", &[("amount", "100.00"), ("destination", "IBAN DE00 1234")])).await;
    let paid_out = s.text().await;
    assert!(paid_out.contains("-100.00 CNY"), "the payout is in the history: {paid_out}");
    s.screenshot("seller-wallet").await;
    // On a phone's width no page scrolls sideways.
    b.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    )
    .await;
    for path in [
        "/",
        "/search?q=bowl",
        "/orders",
        &format!("/orders/{order_id}"),
        &rfq_path,
        &conversation,
        "/wallet",
        "/seller",
        "/seller/products/new",
    ] {
        b.goto(&format!("{}{path}", srv.base)).await;
        let wide = b
            .eval(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
                   .map(e => e.tagName + '.' + e.className).slice(0, 5)",
            )
            .await;
        assert_eq!(wide, serde_json::json!([]), "{path}: these reach past a phone's width");
    }
    b.goto(&format!("{}/search?q=bowl", srv.base)).await;
    b.screenshot("phone-search").await;
    crate::orders::assert_ledger_sound(&srv).await;
    for browser in [&s, &a, &b] {
        assert!(browser.errors.is_empty(), "browser console errors: {:?}", browser.errors);
    }
}

/// A flash sale in the browser: the countdown ticks by itself, and the buy form pays at the
/// sale's price.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_ticks_and_sells_in_the_browser() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium at /usr/bin/chromium (set SOUK_CHROMIUM)");
        return;
    };
    let srv = Srv::start(TestBackend::Sqlite).await.unwrap();
    let (seller, _, sku) = crate::orders::market(&srv, 20).await;
    let now = srv.store.now_ms();
    let terms = json!({"sku_id": sku, "starts_at": souk_domain::time::rfc3339(now),
        "ends_at": souk_domain::time::rfc3339(now + 600_000), "price": {"amount": 990, "currency": "CNY"},
        "stock": 5, "per_buyer_limit": 2});
    let promo = srv.post("/api/v1/stores/market/promotions", Some(&seller), terms).await;
    assert_eq!(promo.status, reqwest::StatusCode::CREATED, "{}", promo.body);

    let mut b = Browser::launch(&binary).await;
    log_in(&mut b, &srv.base, "buyer@example.com", "correct horse battery").await;
    b.goto(&format!("{}/products/{}", srv.base, promo.body["product_id"].as_str().unwrap())).await;
    assert!(b.text().await.contains("Flash sale"));
    let first = b.eval("document.querySelector('.countdown').textContent").await;
    assert_eq!(first, "0:10:00", "the server's countdown");
    b.wait_for("document.querySelector('.countdown').textContent !== '0:10:00'").await;
    b.screenshot("flash-sale").await;
    // The sale is on the home page while it runs, its countdown ticking there too.
    b.goto(&format!("{}/", srv.base)).await;
    assert!(b.text().await.contains("Flash sales now"));
    b.wait_for("document.querySelector('ul.flash-strip .countdown') !== null").await;
    b.screenshot("home-flash").await;
    b.goto(&format!("{}/products/{}", srv.base, promo.body["product_id"].as_str().unwrap())).await;
    b.navigate_by(
        "const f = document.querySelector('form.flash-buy'); f.quantity.value = '2'; f.ship_to.value = 'DE'; f.submit()",
    )
    .await;
    let order = b.text().await;
    assert!(order.contains("19.80 CNY"), "two at the sale's price: {order}");
    assert!(b.eval("location.pathname").await.as_str().unwrap().starts_with("/orders/ord_"));
    assert_eq!(
        srv.get(&format!("/api/v1/promotions/{}", promo.body["id"].as_str().unwrap()), None).await.body["sold"],
        2
    );
    // The seller's flash sales, and the form to schedule the next.
    let mut s = Browser::launch(&binary).await;
    log_in(&mut s, &srv.base, "seller@example.com", "correct horse battery").await;
    s.goto(&format!("{}/seller/promotions", srv.base)).await;
    let listed = s.text().await;
    assert!(listed.contains("9.90 CNY") && listed.contains("Schedule a flash sale"), "{listed}");
    s.screenshot("seller-promotions").await;
    assert!(b.errors.is_empty() && s.errors.is_empty(), "browser console errors: {:?} {:?}", b.errors, s.errors);
}
