//! The seller center and the negotiation pages over plain HTTP: each form writes through the
//! same rules as the API, acts once, and is refused for someone else's objects.

use crate::{on_both_backends, Srv};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    sellers_find_their_orders_and_listings,
    sellers_work_their_catalog_in_the_pages,
    buyers_and_sellers_negotiate_in_the_pages,
    a_flash_sale_counts_down_and_sells_on_the_product_page,
    reviews_and_disputes_keep_one_set_of_rules_in_the_pages_and_the_api,
    the_cart_changes_quantities_and_loses_lines
);

const CSRF: &str = "pages-csrf-token-0123456789abcde";

/// A signed-in visitor of the pages: the session and CSRF cookies, no redirects followed.
pub(crate) struct Visitor<'a> {
    srv: &'a Srv,
    http: reqwest::Client,
    cookies: String,
}

pub(crate) struct Answer {
    pub status: StatusCode,
    pub location: String,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl<'a> Visitor<'a> {
    pub(crate) fn new(srv: &'a Srv, token: &str) -> Visitor<'a> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Visitor { srv, http, cookies: format!("souk_session={token}; souk_csrf={CSRF}") }
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        let r = self.http.get(format!("{}{path}", self.srv.base)).header("cookie", &self.cookies).send().await.unwrap();
        Self::answer(r).await
    }

    /// Submits a form with the CSRF token and `key` as its one-time key.
    async fn submit(&self, path: &str, key: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", CSRF), ("_key", key)];
        form.extend_from_slice(fields);
        let r = self
            .http
            .post(format!("{}{path}", self.srv.base))
            .header("cookie", &self.cookies)
            .form(&form)
            .send()
            .await
            .unwrap();
        Self::answer(r).await
    }

    async fn answer(r: reqwest::Response) -> Answer {
        let status = r.status();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let headers = r.headers().clone();
        Answer { status, location, headers, text: r.text().await.unwrap() }
    }
}

fn key(name: &str) -> String {
    format!("{name}-form-key-0123456789")
}

async fn sellers_work_their_catalog_in_the_pages(srv: Srv) {
    let (token, _) = srv.quick_user("maker@example.com").await;
    let seller = Visitor::new(&srv, &token);
    assert!(seller.get("/seller").await.text.contains("Open a store"), "no store yet: the form to open one");
    let store = [("name", "Kiln & Co"), ("slug", "kiln"), ("country", "cn"), ("currency", "cny")];
    let bad = seller
        .submit(
            "/seller/store",
            &key("bad-store"),
            &[("name", "X"), ("slug", "Not A Slug"), ("country", "CN"), ("currency", "CNY")],
        )
        .await;
    assert!(bad.text.contains("class=\"error\"") && bad.text.contains("slug"), "{}", bad.text);
    let opened = seller.submit("/seller/store", &key("store"), &store).await;
    assert_eq!((opened.status, opened.location.as_str()), (StatusCode::SEE_OTHER, "/seller"));
    let center = seller.get("/seller").await.text;
    assert!(center.contains("Kiln &amp; Co") && center.contains("Submit for verification"), "{center}");

    // Identity documents go to the admins' queue.
    let docs = [
        ("legal_name", "Kiln Trading Ltd"),
        ("document_type", "business_license"),
        ("document_number", "91-4403"),
        ("document_urls", "https://docs.example.com/a.png\nhttps://docs.example.com/b.png"),
    ];
    assert_eq!(seller.submit("/seller/verification", &key("kyc"), &docs).await.status, StatusCode::SEE_OTHER);
    let pending = srv.get("/api/v1/stores/kiln/verification", Some(&token)).await.body;
    assert_eq!(pending["items"][0]["document_urls"].as_array().unwrap().len(), 2, "{pending}");
    assert!(seller.get("/seller").await.text.contains("an administrator will review it"));

    // A product with two variants, one with tier prices; a bad price names its row.
    let product = |price: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("title", "Celadon bowl"),
            ("description", "Hand thrown"),
            ("category", "home/kitchen"),
            ("ships_to", "de, fr"),
            ("moq", "2"),
            ("status", "active"),
            ("images", ""),
            ("attributes", "glaze: celadon\nfired: 1280C"),
            ("v0_code", "BOWL-S"),
            ("v0_options", "size=S"),
            ("v0_price", "25.00"),
            ("v0_stock", "10"),
            ("v0_tiers", "10=22.50; 50=20"),
            ("v1_code", "BOWL-L"),
            ("v1_options", "size=L"),
            ("v1_price", price),
            ("v1_stock", "4"),
            ("v1_tiers", ""),
        ]
    };
    let refused = seller.submit("/seller/products/new", &key("bad-product"), &product("thirty")).await;
    assert!(refused.text.contains("variants[1].price"), "{}", refused.text);
    // The form comes back as typed, both rows, the error beside the price it is about.
    let comma = seller.submit("/seller/products/new", &key("comma-product"), &product("30,5")).await;
    let form = &comma.text;
    assert!(form.contains(r#"value="Celadon bowl""#) && form.contains(r#"value="BOWL-L""#), "{form}");
    assert!(form.contains("glaze: celadon"), "textareas keep their text");
    let price_input = form.split(r#"name="v1_price""#).nth(1).unwrap();
    assert!(price_input.starts_with(r#" value="30,5""#) && price_input.contains(r#"aria-invalid="true""#), "{form}");
    let beside = price_input.split("field-error").nth(1).unwrap_or("");
    assert!(beside.contains("write decimals with a point") && beside.contains("30.5"), "{form}");
    let created = seller.submit("/seller/products/new", &key("product"), &product("30.00")).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let again = seller.submit("/seller/products/new", &key("product"), &product("30.00")).await;
    assert_eq!(again.location, created.location, "the same form twice acts once");
    let id = created.location.trim_start_matches("/seller/products/").to_string();
    let p = srv.get(&format!("/api/v1/products/{id}"), None).await.body;
    assert_eq!(p["moq"], 2);
    assert_eq!(p["ships_to"], json!(["DE", "FR"]));
    assert_eq!(p["attributes"]["glaze"], "celadon");
    let small = sku(&p, "BOWL-S");
    assert_eq!(
        small["price_tiers"],
        json!([{"min_qty": 10, "price": {"amount": 2250, "currency": "CNY"}},
                                             {"min_qty": 50, "price": {"amount": 2000, "currency": "CNY"}}])
    );
    assert_eq!(sku(&p, "BOWL-L")["price"]["amount"], 3000);
    let products = srv.get("/api/v1/stores/kiln/products", None).await.body;
    assert_eq!(products["items"].as_array().unwrap().len(), 1, "one product for a form sent twice");

    // htmx asks for one more variant row; the edit form keeps stock it was not asked to change.
    let row = seller.get("/seller/products/variant?i=2").await.text;
    assert!(row.contains("name=\"v2_price\"") && row.contains("hx-swap-oob") && row.contains("i=3"), "{row}");
    let form = seller.get(&format!("/seller/products/{id}")).await.text;
    assert!(form.contains("value=\"10=22.50; 50=20.00\"") && form.contains("readonly"), "{form}");
    let (small_id, large_id) =
        (sku(&p, "BOWL-S")["id"].as_str().unwrap().to_string(), sku(&p, "BOWL-L")["id"].as_str().unwrap().to_string());
    let edit = [
        ("title", "Celadon bowl, large glaze"),
        ("description", "Hand thrown"),
        ("category", "home/kitchen"),
        ("ships_to", "*"),
        ("moq", "1"),
        ("status", "active"),
        ("images", ""),
        ("attributes", ""),
        ("v0_id", small_id.as_str()),
        ("v0_was", "10"),
        ("v0_code", "BOWL-S"),
        ("v0_options", "size=S"),
        ("v0_price", "24.00"),
        ("v0_stock", "10"),
        ("v0_tiers", ""),
        ("v1_id", large_id.as_str()),
        ("v1_was", "4"),
        ("v1_code", "BOWL-L"),
        ("v1_options", "size=L"),
        ("v1_price", "30.00"),
        ("v1_stock", "9"),
        ("v1_tiers", ""),
        ("v2_code", "BOWL-XL"),
        ("v2_options", "size=XL"),
        ("v2_price", "40.00"),
        ("v2_stock", "3"),
        ("v2_tiers", ""),
    ];
    let saved = seller.submit(&format!("/seller/products/{id}"), &key("edit"), &edit).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let p = srv.get(&format!("/api/v1/products/{id}"), None).await.body;
    assert_eq!(p["title"], "Celadon bowl, large glaze");
    assert_eq!(
        (sku(&p, "BOWL-S")["price"]["amount"].clone(), sku(&p, "BOWL-S")["stock"].clone()),
        (json!(2400), json!(10))
    );
    assert_eq!(sku(&p, "BOWL-S")["price_tiers"], json!([]));
    assert_eq!(sku(&p, "BOWL-L")["stock"], 9, "units available as typed");
    assert_eq!(sku(&p, "BOWL-XL")["price"]["amount"], 4000, "the added row is a new variant");

    // Someone else's product is not found; a forged form is refused.
    let (other, _) = srv.quick_user("other@example.com").await;
    let stranger = Visitor::new(&srv, &other);
    assert_eq!(
        stranger.get(&format!("/seller/products/{id}")).await.status,
        StatusCode::SEE_OTHER,
        "no store: to the form"
    );
    let forged = seller
        .http
        .post(format!("{}/seller/products/{id}", srv.base))
        .header("cookie", &seller.cookies)
        .form(&[("_csrf", "wrong-token-wrong-token-00000000"), ("_key", "forged-key-0123456789"), ("title", "Hacked")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(srv.get(&format!("/api/v1/products/{id}"), None).await.body["title"], "Celadon bowl, large glaze");

    // A CSV upload runs in the background; its fragment polls until the per-row report is in.
    let csv = "title,description,category,price,currency,stock,ships_to,sku\n\
               Teapot,Clay,home/kitchen,58.00,CNY,5,*,POT-1\n\
               Broken,Clay,home/kitchen,abc,CNY,5,*,POT-2\n\
               Cup,Clay,home/kitchen,9.90,CNY,40,*,CUP-1\n";
    let upload = |key: &'static str| {
        seller
            .http
            .post(format!("{}/seller/import", srv.base))
            .header("cookie", &seller.cookies)
            .header("content-type", "text/csv")
            .header("x-csrf-token", CSRF)
            .header("x-form-key", key)
            .body(csv)
            .send()
    };
    let started = upload("csv-upload-key-0123456789").await.unwrap().text().await.unwrap();
    let job = started.split("/seller/import/").nth(1).map(|r| r.split('"').next().unwrap().to_string());
    let mut report = started.clone();
    if let Some(job) = &job {
        for _ in 0..100 {
            report = seller.get(&format!("/seller/import/{job}")).await.text;
            if !report.contains("hx-trigger") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            stranger.get(&format!("/seller/import/{job}")).await.status,
            StatusCode::NOT_FOUND,
            "only its starter sees a job"
        );
    }
    assert!(report.contains("class=\"created\">2<") && report.contains("class=\"failed bad\">1<"), "{report}");
    assert!(report.contains("<td>3</td>"), "the bad row is named by its line: {report}");
    let replay = upload("csv-upload-key-0123456789").await.unwrap().text().await.unwrap();
    assert!(replay.contains("class=\"created\">2<"), "the same upload again shows the first report: {replay}");
    assert_eq!(srv.get("/api/v1/stores/kiln/products", None).await.body["items"].as_array().unwrap().len(), 3);
    let listed = seller.get("/seller/products").await.text;
    assert!(listed.contains("Teapot") && listed.contains("Celadon bowl, large glaze"), "{listed}");
}

fn sku<'v>(p: &'v Value, code: &str) -> &'v Value {
    p["skus"].as_array().unwrap().iter().find(|s| s["sku"] == code).unwrap_or_else(|| panic!("no {code} in {p}"))
}

async fn buyers_and_sellers_negotiate_in_the_pages(srv: Srv) {
    let (seller_token, _) = srv.seller("potter@example.com", "potter").await;
    let mut body = crate::product_body("Stoneware mug");
    body["category"] = json!("home/kitchen");
    body["ships_to"] = json!(["*"]);
    body["skus"][0]["stock"] = json!(100);
    let product = srv.post("/api/v1/products", Some(&seller_token), body).await.body;
    let sku_id = product["skus"][0]["id"].as_str().unwrap().to_string();
    let (buyer_token, _) = srv.quick_user("cafe@example.com").await;
    let (buyer, seller) = (Visitor::new(&srv, &buyer_token), Visitor::new(&srv, &seller_token));

    // An RFQ: posted by the buyer, quoted by the matching seller, accepted into an order.
    let rfq = [
        ("title", "Mugs for a cafe"),
        ("details", "Matte glaze"),
        ("category", "home"),
        ("quantity", "30"),
        ("target_price", "15.00"),
        ("currency", "CNY"),
        ("ship_to", "de"),
        ("days", "7"),
    ];
    let posted = buyer.submit("/rfqs", &key("rfq"), &rfq).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
    let rfq_path = posted.location.clone();
    assert!(seller.get("/seller/deals").await.text.contains("Mugs for a cafe"), "the matching seller sees it");
    let (outsider_token, _) = srv.quick_user("nosy@example.com").await;
    assert_eq!(Visitor::new(&srv, &outsider_token).get(&rfq_path).await.status, StatusCode::NOT_FOUND);
    let quote = [
        ("sku_id", sku_id.as_str()),
        ("unit_price", "16.50"),
        ("moq", "40"),
        ("lead_time_days", "5"),
        ("note", "Boxed"),
    ];
    let quoted = seller.submit(&format!("{rfq_path}/quote"), &key("quote"), &quote).await;
    assert_eq!(quoted.status, StatusCode::SEE_OTHER, "{}", quoted.text);
    let shown = buyer.get(&rfq_path).await.text;
    assert!(shown.contains("16.50 CNY") && shown.contains("Accept this quote"), "{shown}");
    let quote_id = srv.get(&format!("/api/v1{rfq_path}"), Some(&buyer_token)).await.body["quotes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let accepted = buyer.submit(&format!("/quotes/{quote_id}/accept"), &key("accept-quote"), &[]).await;
    assert!(accepted.location.starts_with("/orders/ord_"), "{}", accepted.text);
    let order = srv.get(&format!("/api/v1{}", accepted.location), Some(&buyer_token)).await.body;
    assert_eq!(
        (order["lines"][0]["quantity"].clone(), order["total"]["amount"].clone()),
        (json!(40), json!(66000)),
        "the quote's MOQ at its price"
    );
    let twice = buyer.submit(&format!("/quotes/{quote_id}/accept"), &key("accept-quote"), &[]).await;
    assert_eq!(twice.location, accepted.location, "a resubmitted acceptance goes to the same order");

    // Offers in a conversation: the seller offers, the buyer counters, the seller accepts.
    let started =
        buyer.submit("/messages/start", &key("chat"), &[("product_id", product["id"].as_str().unwrap())]).await;
    let conversation = started.location.clone();
    let offer =
        [("sku_id", sku_id.as_str()), ("quantity", "5"), ("unit_price", "18.00"), ("days", "2"), ("ship_to", "DE")];
    assert_eq!(
        buyer.submit(&format!("{conversation}/offer"), &key("buyer-offer"), &offer).await.status,
        StatusCode::NOT_FOUND,
        "buyers counter; sellers offer"
    );
    assert_eq!(
        seller.submit(&format!("{conversation}/offer"), &key("offer"), &offer).await.status,
        StatusCode::SEE_OTHER
    );
    let c = conversation.trim_start_matches("/messages/");
    let offers = srv.get(&format!("/api/v1/conversations/{c}/offers"), Some(&buyer_token)).await.body;
    let first = offers["items"][0]["id"].as_str().unwrap().to_string();
    let page = buyer.get(&conversation).await.text;
    assert!(page.contains("90.00 CNY") && page.contains("Counter-offer"), "{page}");
    let counter = [("quantity", "6"), ("unit_price", "16.00"), ("days", "1")];
    let countered = buyer.submit(&format!("{conversation}/offers/{first}/counter"), &key("counter"), &counter).await;
    assert_eq!(countered.status, StatusCode::SEE_OTHER, "{}", countered.text);
    let offers = srv.get(&format!("/api/v1/conversations/{c}/offers"), Some(&seller_token)).await.body;
    let (newest, older) = (&offers["items"][0], &offers["items"][1]);
    assert_eq!(
        (newest["made_by"].clone(), newest["total"]["amount"].clone(), older["state"].clone()),
        (json!("buyer"), json!(9600), json!("countered"))
    );
    let stale =
        buyer.submit(&format!("{conversation}/offers/{first}/accept"), &key("stale"), &[("ship_to", "DE")]).await;
    assert!(stale.text.contains("class=\"error\""), "an answered offer is not open: {}", stale.text);
    let newest_id = newest["id"].as_str().unwrap();
    let deal = seller.submit(&format!("{conversation}/offers/{newest_id}/accept"), &key("deal"), &[]).await;
    assert_eq!((deal.status, deal.location.as_str()), (StatusCode::SEE_OTHER, "/seller"), "{}", deal.text);
    let orders = srv.get("/api/v1/orders", Some(&buyer_token)).await.body;
    assert!(orders["items"].as_array().unwrap().iter().any(|o| o["total"]["amount"] == 9600), "{orders}");

    // Messages from the page count against the same allowance as the API's.
    let limit = souk_domain::chat::MESSAGES_PER_MINUTE as usize;
    for n in 0..limit {
        let sent = buyer.submit(&conversation, &key(&format!("msg-{n}")), &[("text", "hello")]).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "message {n}: {}", sent.text);
    }
    let over = buyer.submit(&conversation, &key("msg-over"), &[("text", "one more")]).await;
    assert!(over.text.contains("too many attempts"), "the page is throttled like the API: {}", over.text);

    // The buyer withdraws a second RFQ; the seller's payout needs funds.
    let second = buyer.submit("/rfqs", &key("rfq-2"), &rfq).await.location;
    assert_eq!(buyer.submit(&format!("{second}/cancel"), &key("cancel"), &[]).await.status, StatusCode::SEE_OTHER);
    assert!(buyer.get(&second).await.text.contains("cancelled"));
    let payout = [("amount", "5.00"), ("currency", "CNY"), ("destination", "IBAN DE00 1234")];
    let short = seller.submit("/wallet/payout", &key("payout"), &payout).await;
    assert!(short.text.contains("class=\"error\""), "nothing to pay out yet: {}", short.text);

    // A declined card says so on the page and stays in the history, as through the API.
    let card = [("amount", "12.00"), ("currency", "CNY"), ("card_number", "4000000000000002")];
    let declined = seller.submit("/wallet/top-up", &key("declined"), &card).await;
    assert!(declined.text.contains("class=\"error\""), "{}", declined.text);
    let mut conn = srv.store.reader().await.unwrap();
    let sql = "SELECT state, amount FROM top_ups WHERE state = 'failed'";
    let attempts: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&mut *conn).await.unwrap();
    assert_eq!(attempts, vec![("failed".to_string(), 1200)]);
}

/// What a visitor meets when something is wrong reads as a page in their language, and codes
/// read as words: a page that does not exist, an address asked for the wrong way, a refused
/// form, a wallet's history; a store's products page on.
#[tokio::test]
async fn pages_speak_the_visitors_language_when_something_is_wrong() {
    let Some(srv) = Srv::start(souk_store::testing::TestBackend::Sqlite).await else { return };
    let (seller_token, _) = srv.seller("paged@example.com", "paged").await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = |path: &str, lang: &str| {
        http.get(format!("{}{path}", srv.base)).header("cookie", format!("souk_lang={lang}")).send()
    };
    for (lang, words) in [("en", "Page not found."), ("zh", "页面不存在。")] {
        let r = page("/register-nowhere", lang).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let text = r.text().await.unwrap();
        assert!(text.contains(words) && text.contains(&format!("<title>{words} · Souk</title>")), "{text}");
    }
    let wrong = page("/logout", "zh").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong.text().await.unwrap().contains("无法以这种方式打开此页面"));
    let api = srv.get("/api/v1/nowhere", None).await;
    assert_eq!((api.status, api.code()), (StatusCode::NOT_FOUND, "not_found"), "the API still answers JSON");

    // A refused form in Chinese says why in Chinese, not in the API's English.
    let mut seller = Visitor::new(&srv, &seller_token);
    seller.cookies.push_str("; souk_lang=zh");
    let store = [("name", "Again"), ("slug", "paged-two"), ("country", "CN"), ("currency", "CNY")];
    let refused = seller.submit("/seller/store", &key("second-store"), &store).await.text;
    assert!(refused.contains("您已经开设了店铺") && !refused.contains("already"), "{refused}");

    // The store's products page on, 24 at a time.
    let mut csv = String::from("title,description,category,price,currency,stock,ships_to\n");
    for n in 0..26 {
        csv.push_str(&format!("Teacup {n},Porcelain,home/kitchen,12.50,CNY,5,*\n"));
    }
    let imported =
        srv.raw(Method::POST, "/api/v1/stores/paged/imports", Some(&seller_token), "text/csv", csv.into_bytes()).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    srv.eventually("/api/v1/search?store=paged", |v| v["total"] == 26).await;
    let first = seller.get("/stores/paged").await.text;
    assert!(first.contains("(26)") && first.matches("<li class=\"card\">").count() == 24, "{first}");
    let next = first.split("class=\"next\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let second = seller.get(&next).await.text;
    assert_eq!(second.matches("<li class=\"card\">").count(), 2, "{second}");

    // A wallet's history names its movements.
    let (buyer_token, _) = srv.quick_user("walleted@example.com").await;
    crate::orders::fund(&srv, &buyer_token, 5000).await;
    let wallet = Visitor::new(&srv, &buyer_token).get("/wallet").await.text;
    assert!(wallet.contains("Top-up") && !wallet.contains(">top_up<"), "{wallet}");
}

/// A dispute is followed to its end in the pages: the buyer sees where it stands and what the
/// seller answered, sends the return, and the seller confirms it arrived; another order's
/// partial refund is accepted from the order page.
#[tokio::test]
async fn a_dispute_is_followed_to_its_end_in_the_pages() {
    use crate::orders::{market, paid_order, ship};
    let Some(srv) = Srv::start(souk_store::testing::TestBackend::Sqlite).await else { return };
    let (seller_token, buyer_token, sku) = market(&srv, 10).await;
    let (buyer, seller) = (Visitor::new(&srv, &buyer_token), Visitor::new(&srv, &seller_token));
    let order = paid_order(&srv, &buyer_token, &sku, "dispute-a").await;
    assert_eq!(ship(&srv, &seller_token, &order, "other", "DSP-1").await.status, StatusCode::OK);
    let opened = buyer
        .submit(&format!("/orders/{order}/dispute"), &key("open"), &[("reason", "damaged"), ("description", "Cracked")])
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text);
    let id = srv.get("/api/v1/disputes", Some(&buyer_token)).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let page = buyer.get(&format!("/orders/{order}")).await.text;
    assert!(page.contains("Awaiting the seller") && page.contains("Damaged") && page.contains("Cracked"), "{page}");
    assert!(
        page.contains("You can ask for a mediator from") && !page.contains("/escalate"),
        "not before its day: {page}"
    );

    let answer = json!({"action": "return"});
    let asked = srv.post(&format!("/api/v1/disputes/{id}/answer"), Some(&seller_token), answer).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    srv.clock.advance_ms(3 * 86_400_000);
    let page = buyer.get(&format!("/orders/{order}")).await.text;
    assert!(page.contains("asks for the goods back") && page.contains("Send the return"), "{page}");
    assert!(page.contains(&format!("/disputes/{id}/escalate")), "from its day, a mediator can be asked for: {page}");
    let bad = buyer
        .submit(
            &format!("/disputes/{id}/return"),
            &key("bad-return"),
            &[("carrier", "nowhere"), ("tracking_number", "1")],
        )
        .await;
    assert!(bad.text.contains("class=\"error\""), "the carrier is checked as the API does: {}", bad.text);
    let sent = buyer
        .submit(
            &format!("/disputes/{id}/return"),
            &key("return"),
            &[("carrier", "other"), ("tracking_number", "BACK-1")],
        )
        .await;
    assert_eq!(
        (sent.status, sent.location.as_str()),
        (StatusCode::SEE_OTHER, format!("/orders/{order}").as_str()),
        "{}",
        sent.text
    );
    let not_theirs = buyer.submit(&format!("/disputes/{id}/received"), &key("buyer-received"), &[]).await;
    assert!(not_theirs.text.contains("class=\"error\""), "only the seller confirms: {}", not_theirs.text);
    let seller_view = seller.get(&format!("/orders/{order}")).await.text;
    assert!(seller_view.contains("The return arrived") && seller_view.contains("BACK-1"), "{seller_view}");
    let note = seller.submit(&format!("/disputes/{id}/evidence"), &key("note"), &[("text", "Parcel on its way")]).await;
    assert_eq!(note.status, StatusCode::SEE_OTHER, "{}", note.text);
    let arrived = seller.submit(&format!("/disputes/{id}/received"), &key("received"), &[]).await;
    assert_eq!(arrived.status, StatusCode::SEE_OTHER, "{}", arrived.text);
    let chinese = Visitor { cookies: format!("{}; souk_lang=zh", buyer.cookies), ..Visitor::new(&srv, &buyer_token) };
    let page = chinese.get(&format!("/orders/{order}")).await.text;
    assert!(page.contains("已全额退款") && page.contains("Parcel on its way") && page.contains("已解决"), "{page}");

    // A partial refund offered is accepted from the order page.
    let order = paid_order(&srv, &buyer_token, &sku, "dispute-b").await;
    let body = json!({"reason": "not_as_described", "description": "Smaller than shown"});
    let d = srv.post(&format!("/api/v1/orders/{order}/disputes"), Some(&buyer_token), body).await.body;
    let id = d["id"].as_str().unwrap().to_string();
    let offer = json!({"action": "partial_refund", "amount": 300});
    assert_eq!(
        srv.post(&format!("/api/v1/disputes/{id}/answer"), Some(&seller_token), offer).await.status,
        StatusCode::OK
    );
    let page = buyer.get(&format!("/orders/{order}")).await.text;
    assert!(page.contains("offers a partial refund of") && page.contains("3.00 CNY"), "{page}");
    let accepted = buyer.submit(&format!("/disputes/{id}/accept"), &key("accept"), &[]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.text);
    let resolved = srv.get(&format!("/api/v1/disputes/{id}"), Some(&buyer_token)).await.body;
    assert_eq!(
        (resolved["dispute"]["state"].as_str(), resolved["dispute"]["refund"].as_i64()),
        (Some("resolved"), Some(300)),
        "{resolved}"
    );
}

#[tokio::test]
async fn staff_see_users_and_stores_and_admins_grant_roles() {
    let Some(srv) = Srv::start(souk_store::testing::TestBackend::Sqlite).await else { return };
    srv.seller("shop@example.com", "corner-shop").await;
    let (admin_token, admin_id) = srv.quick_user("boss@example.com").await;
    srv.make_admin(&admin_id).await;
    let (plain_token, plain_id) = srv.quick_user("helper@example.com").await;
    let admin = Visitor::new(&srv, &admin_token);
    let users = admin.get("/console/users").await.text;
    assert!(users.contains("shop@example.com") && users.contains("seller") && users.contains("admin"), "{users}");
    assert!(admin.get("/console/stores").await.text.contains("/stores/corner-shop"));
    assert_eq!(Visitor::new(&srv, &plain_token).get("/console/users").await.status, StatusCode::NOT_FOUND);
    let granted =
        admin.submit(&format!("/console/users/{plain_id}/roles"), &key("grant"), &[("role", "mediator")]).await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER);
    let helper = Visitor::new(&srv, &plain_token);
    assert_eq!(helper.get("/console/stores").await.status, StatusCode::OK, "a mediator now");
    let refused =
        helper.submit(&format!("/console/users/{plain_id}/roles"), &key("self-grant"), &[("role", "admin")]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "only admins grant");
    let users = admin.get("/console/users").await.text;
    let revoke_path = format!("/console/users/{plain_id}/roles/mediator/revoke");
    assert!(users.contains(&revoke_path), "a granted role can be taken back from its chip");
    assert!(!users.contains(&format!("/console/users/{admin_id}/roles/admin/revoke")), "not one's own admin role");
    let revoked = admin.submit(&revoke_path, &key("revoke"), &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(helper.get("/console/stores").await.status, StatusCode::NOT_FOUND, "no longer a mediator");
    let own = srv
        .call(Method::DELETE, &format!("/api/v1/admin/users/{admin_id}/roles/admin"), Some(&admin_token), None, None)
        .await;
    assert_eq!((own.status, own.code()), (StatusCode::CONFLICT, "own_admin_role"), "{}", own.body);
    let seller_role = srv
        .call(Method::DELETE, &format!("/api/v1/admin/users/{plain_id}/roles/seller"), Some(&admin_token), None, None)
        .await;
    assert_eq!(seller_role.status, StatusCode::UNPROCESSABLE_ENTITY, "the seller role follows the store");
    let audit = admin.get("/console/audit").await.text;
    assert!(audit.contains("Role granted") && audit.contains("Role revoked") && audit.contains(&admin_id), "{audit}");
    assert!(
        audit.contains("Mediator") && !audit.contains("{&quot;") && !audit.contains("{\""),
        "details read as words, not JSON: {audit}"
    );
    assert_eq!(helper.get("/console/audit").await.status, StatusCode::NOT_FOUND, "admins only");
}

async fn sellers_find_their_orders_and_listings(srv: Srv) {
    let (seller, buyer, sku) = crate::orders::market(&srv, 10).await;
    let waiting = crate::orders::paid_order(&srv, &buyer, &sku, "find-1").await;
    let sent = crate::orders::paid_order(&srv, &buyer, &sku, "find-2").await;
    assert_eq!(crate::orders::ship(&srv, &seller, &sent, "sandbox", "SBX-FIND-1").await.status, StatusCode::OK);

    let ids = |v: &Value| {
        v["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let paid = srv.get("/api/v1/stores/market/orders?state=paid", Some(&seller)).await;
    assert_eq!(ids(&paid.body), vec![waiting.clone()]);
    assert_eq!(
        ids(&srv.get("/api/v1/stores/market/orders?state=shipped", Some(&seller)).await.body),
        vec![sent.clone()]
    );
    assert_eq!(ids(&srv.get("/api/v1/stores/market/orders", Some(&seller)).await.body).len(), 2);
    let bad = srv.get("/api/v1/stores/market/orders?state=lost", Some(&seller)).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "state"));

    let page = Visitor::new(&srv, &seller);
    let to_ship = page.get("/seller/orders?state=paid").await.text;
    assert!(to_ship.contains(&waiting) && !to_ship.contains(&sent), "the tab shows its state only");
    assert!(
        page.get("/seller").await.text.contains(&format!("/orders/{waiting}")),
        "the seller center lists what to ship"
    );
    let found = page.get(&format!("/seller/orders?find={sent}")).await;
    assert_eq!((found.status, found.location.as_str()), (StatusCode::SEE_OTHER, format!("/orders/{sent}").as_str()));
    let missing = page.get("/seller/orders?find=ord_nothing").await;
    assert!(missing.text.contains("no order with this number"), "{}", missing.text);
    let someone_else = Visitor::new(&srv, &buyer).get(&format!("/seller/orders?find={sent}")).await;
    assert_ne!(someone_else.location, format!("/orders/{sent}"), "only the store's own orders are opened");

    assert!(page.get("/seller/products?q=TEA").await.text.contains("Tea set"), "found in any case");
    assert!(page.get("/seller/products?q=kettle").await.text.contains("No products match."));
    let listed = srv.get("/api/v1/stores/market/products?title=tea%20s", None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{}", listed.body);
    let template = page.get("/seller/import/template.csv").await;
    assert!(template.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(template.text.starts_with("title,description,category,price,currency,stock,ships_to"));
}

#[tokio::test]
async fn search_keeps_the_query_and_explains_a_filter_it_could_not_use() {
    let Some(srv) = Srv::start(souk_store::testing::TestBackend::Sqlite).await else { return };
    crate::orders::market(&srv, 10).await;
    srv.eventually("/api/v1/search?q=tea", |b| b["total"] == 1).await;
    let visitor = Visitor::new(&srv, "none");
    let page = visitor.get("/search?q=tea").await.text;
    assert!(page.contains(r#"name="q" placeholder"#) && page.contains(r#"value="tea""#), "the box keeps the words");
    assert!(page.contains("Tea set") && page.contains("data-auto"), "filters apply on change");
    let comma = visitor.get("/search?q=tea&currency=CNY&price_min=12%2C5").await;
    assert_eq!(comma.status, StatusCode::OK);
    assert!(comma.text.contains("decimal point") && comma.text.contains("Tea set"), "{}", comma.text);
    let cheap = visitor.get("/search?q=tea&currency=CNY&price_max=1.00").await.text;
    assert!(cheap.contains("No products match."), "19.99 is above 1.00");
    let in_range = visitor.get("/search?q=tea&currency=CNY&price_min=10&price_max=20&min_rating=0").await.text;
    assert!(in_range.contains("Tea set") && in_range.contains(r#"value="10""#), "the form keeps what was typed");
    let no_currency = visitor.get("/search?q=tea&price_max=20").await.text;
    assert!(no_currency.contains("Choose a currency"), "{no_currency}");
    let suggested = srv.get("/api/v1/search/suggest?q=phone", None).await;
    let category = suggested.body["suggestions"].as_array().unwrap().iter().find(|s| s["kind"] == "category").cloned();
    assert!(category.is_some_and(|c| c["text_zh"].as_str().is_some_and(|t| !t.is_ascii())), "{}", suggested.body);
}

#[tokio::test]
async fn a_pending_top_up_updates_the_wallet_by_itself() {
    let Some(srv) = Srv::start(souk_store::testing::TestBackend::Sqlite).await else { return };
    let (token, _) = srv.quick_user("saver@example.com").await;
    let page = Visitor::new(&srv, &token);
    let fields = [("amount", "50.00"), ("currency", "CNY"), ("card_number", "4242424242424242")];
    assert_eq!(page.submit("/wallet/top-up", &key("top-up"), &fields).await.status, StatusCode::SEE_OTHER);
    let wallet = page.get("/wallet").await.text;
    assert!(wallet.contains("Top-up pending") && wallet.contains(r#"hx-get="/wallet/balances""#), "{wallet}");
    let still = page.get("/wallet/balances").await;
    assert!(still.headers.get("hx-refresh").is_none() && still.text.contains("Top-up pending"));
    srv.clock.advance_ms(1_000);
    srv.app.deliver_sandbox_confirmations().await.unwrap();
    let settled = page.get("/wallet/balances").await;
    assert_eq!(settled.headers.get("hx-refresh").map(|v| v.to_str().unwrap()), Some("true"), "the page comes again");
    assert!(settled.headers["set-cookie"].to_str().unwrap().contains("souk_done=settled"));
    assert!(!settled.text.contains("hx-trigger") && settled.text.contains("50.00"), "{}", settled.text);
}

/// Every role of the demo marketplace can use its pages: each demo log-in follows the links of
/// the pages it reaches (a bounded crawl), and every one of them renders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_role_reaches_only_working_pages() {
    let Some(srv) = Srv::start_with(souk_store::testing::TestBackend::Sqlite, |c| c.demo = true).await else { return };
    assert!(souk_app::seed::seed_demo(&srv.store, 6, &srv.app.config.policy).await.unwrap());
    srv.app.flush_traffic().await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for login in &souk_app::seed::DEMO_LOGINS {
        let form = [("email", login.email), ("password", login.password), ("_csrf", CSRF)];
        let r = http
            .post(format!("{}/login", srv.base))
            .header("cookie", format!("souk_csrf={CSRF}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{} logs in", login.email);
        let session = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let cookies = format!("{session}; souk_csrf={CSRF}");
        let start = match login.role {
            "seller" => "/seller",
            "mediator" | "admin" => "/console",
            _ => "/orders",
        };
        let mut queue = vec![
            start.to_string(),
            "/".to_string(),
            "/wallet".into(),
            "/messages".into(),
            "/rfqs".into(),
            "/account".into(),
        ];
        let mut seen = std::collections::HashSet::new();
        let mut per_kind = std::collections::HashMap::<String, usize>::new();
        while let Some(path) = queue.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let r = http.get(format!("{}{path}", srv.base)).header("cookie", &cookies).send().await.unwrap();
            let status = r.status();
            let page = r.headers().get("content-type").is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
            let html = r.text().await.unwrap();
            assert_eq!(status, StatusCode::OK, "{} at {path}: {html}", login.role);
            if !page {
                continue; // a download (the CSV template), read by a program
            }
            assert!(!html.contains("Something went wrong"), "{} at {path}", login.role);
            assert_reads_well(login.role, &path, &html, false);
            let zh = http
                .get(format!("{}{path}", srv.base))
                .header("cookie", format!("{cookies}; souk_lang=zh"))
                .send()
                .await
                .unwrap();
            assert_eq!(zh.status(), StatusCode::OK, "{} at {path} in Chinese", login.role);
            assert_reads_well(login.role, &path, &zh.text().await.unwrap(), true);
            for link in html.split("href=\"").skip(1).filter_map(|h| h.split('"').next()) {
                let link = link.replace("&amp;", "&");
                if !link.starts_with('/') || link.starts_with("/assets") || link.starts_with("//") {
                    continue;
                }
                // Two of each kind of page (its path with ids blanked, and its query's names).
                let n = per_kind.entry(page_kind(&link)).or_default();
                if *n < 2 {
                    *n += 1;
                    queue.push(link);
                }
            }
        }
        let kinds: std::collections::HashSet<String> = seen.iter().map(|p| page_kind(p)).collect();
        let expected: &[&str] = match login.role {
            "seller" => &[
                "/seller/products/:id",
                "/seller/deals",
                "/seller/analytics?days",
                "/seller/import",
                "/messages/:id",
                "/orders/:id",
                "/rfqs/:id",
            ],
            "mediator" => &["/console/disputes/:id", "/console/users", "/console/stores"],
            "admin" => &["/console/users", "/console/stores", "/console/audit", "/stores/:id"],
            _ => &["/orders/:id", "/products/:id", "/messages/:id", "/rfqs/:id", "/search?category", "/account"],
        };
        for kind in expected {
            assert!(kinds.contains(*kind), "{} never reached {kind}: {kinds:?}", login.role);
        }
    }
}

/// A page's kind: its path with ids (and store slugs) blanked, and the names of its query.
/// What a person reads on a page as words: its text without tags, scripts, styles, or what it
/// shows on purpose as literal code (`<code>`: CSV columns to type, an order's number).
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let skip_to =
            ["<script", "<style", "<code"].iter().find(|t| rest.starts_with(**t)).map(|t| format!("</{}", &t[1..]));
        let end = match skip_to {
            Some(close) => rest.find(&close).and_then(|i| rest[i..].find('>').map(|j| i + j)),
            None => rest.find('>'),
        };
        let Some(end) = end else { break };
        out.push(' ');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.replace("&amp;", "&").replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">")
}

/// Fails on what a person should never read: JSON, ISO timestamps, API codes (`not_received`),
/// and on a Chinese page, any of the pages' longer English phrases left untranslated (shorter
/// ones also occur in what people write: "Not as described: smaller than ...").
fn assert_reads_well(role: &str, path: &str, html: &str, chinese: bool) {
    let text = visible_text(html);
    let lang = if chinese { "zh" } else { "en" };
    assert!(!text.contains("{\"") && !text.contains("\":"), "{role} {path} ({lang}) shows JSON: {text}");
    let iso = text
        .as_bytes()
        .windows(11)
        .any(|w| w[..4].iter().all(u8::is_ascii_digit) && w[4] == b'-' && w[7] == b'-' && w[10] == b'T');
    assert!(!iso, "{role} {path} ({lang}) shows an ISO timestamp: {text}");
    let code = text
        .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .find(|w| w.contains('_') && !w.starts_with('_') && !w.ends_with('_'));
    assert!(code.is_none(), "{role} {path} ({lang}) shows the code {code:?}: {text}");
    if chinese {
        let english = souk_server::web::i18n::translated_phrases()
            .filter(|p| p.len() >= 24 && p.contains(' '))
            .find(|p| text.contains(p));
        assert!(english.is_none(), "{role} {path} shows {english:?} in English on a Chinese page: {text}");
    }
}

pub(crate) fn page_kind(link: &str) -> String {
    let (path, query) = link.split_once('?').unwrap_or((link, ""));
    let mut segments: Vec<&str> = path.split('/').collect();
    for (i, s) in segments.iter_mut().enumerate() {
        let under_stores = i == 2 && path.starts_with("/stores/");
        if s.contains('_') || under_stores {
            *s = ":id";
        }
    }
    let mut names: Vec<&str> =
        query.split('&').filter_map(|kv| kv.split('=').next()).filter(|k| !k.is_empty()).collect();
    names.sort_unstable();
    if names.is_empty() {
        segments.join("/")
    } else {
        format!("{}?{}", segments.join("/"), names.join("&"))
    }
}

async fn a_flash_sale_counts_down_and_sells_on_the_product_page(srv: Srv) {
    let (seller_token, buyer_token, sku) = crate::orders::market(&srv, 10).await;
    let now = srv.store.now_ms();
    let terms = json!({"sku_id": sku, "starts_at": souk_domain::time::rfc3339(now + 90_000),
        "ends_at": souk_domain::time::rfc3339(now + 90_000 + 7_200_000), "price": {"amount": 900, "currency": "CNY"},
        "stock": 3, "per_buyer_limit": 2});
    let promo = srv.post("/api/v1/stores/market/promotions", Some(&seller_token), terms).await;
    assert_eq!(promo.status, StatusCode::CREATED, "{}", promo.body);
    let product = format!("/products/{}", promo.body["product_id"].as_str().unwrap());
    let buy_path = format!("/promotions/{}/buy", promo.body["id"].as_str().unwrap());
    let (buyer, seller) = (Visitor::new(&srv, &buyer_token), Visitor::new(&srv, &seller_token));

    let soon = buyer.get(&product).await.text;
    assert!(soon.contains("Flash sale") && soon.contains("Starts in"), "{soon}");
    assert!(soon.contains(r#"data-seconds="90""#) && soon.contains("0:01:30"), "the countdown starts from the server");
    assert!(soon.contains("/assets/flash.js") && !soon.contains(&buy_path), "no buying before the start");
    srv.clock.advance_ms(90_000);
    let live = buyer.get(&product).await.text;
    assert!(live.contains("Ends in") && live.contains("2:00:00") && live.contains(&buy_path), "{live}");
    assert!(!seller.get(&product).await.text.contains(&buy_path), "the seller does not buy their own sale");
    let home = buyer.get("/").await.text;
    assert!(home.contains("Flash sales now") && home.contains(&format!("href=\"{product}\"")), "{home}");

    let form = [("quantity", "2"), ("ship_to", "de")];
    let bought = buyer.submit(&buy_path, &key("flash"), &form).await;
    assert_eq!(bought.status, StatusCode::SEE_OTHER, "{}", bought.text);
    assert!(bought.location.starts_with("/orders/ord_"), "{}", bought.location);
    let again = buyer.submit(&buy_path, &key("flash"), &form).await;
    assert_eq!(again.location, bought.location, "a second submission lands on the same order");
    let order = buyer.get(&bought.location).await.text;
    assert!(order.contains("9.00"), "bought at the sale's price: {order}");
    let over = buyer.submit(&buy_path, &key("flash-more"), &[("quantity", "1"), ("ship_to", "DE")]).await;
    assert!(over.text.contains("limit per buyer allows 0 more"), "{}", over.text);
    let (other_token, _) = srv.register("late@example.com").await;
    crate::orders::fund(&srv, &other_token, 10_000).await;
    let other = Visitor::new(&srv, &other_token);
    let last = other.submit(&buy_path, &key("flash-last"), &[("quantity", "1"), ("ship_to", "DE")]).await;
    assert_eq!(last.status, StatusCode::SEE_OTHER, "{}", last.text);
    let gone = other.get(&product).await.text;
    assert!(gone.contains("Sold out") && !gone.contains(&buy_path), "{gone}");
    let zh =
        other.http.get(format!("{}{product}", srv.base)).header("cookie", format!("{}; souk_lang=zh", other.cookies));
    assert!(zh.send().await.unwrap().text().await.unwrap().contains("已售罄"), "in Chinese too");

    // The seller schedules the next sale from the seller center, by the API's rules.
    let start = souk_domain::time::rfc3339(srv.store.now_ms() + 3 * 3_600_000);
    let next = |price: &'static str| {
        [
            ("sku_id", sku.clone()),
            ("price", price.into()),
            ("stock", "2".into()),
            ("per_buyer_limit", "1".into()),
            ("starts", start[..16].to_string()),
            ("hours", "1".into()),
        ]
    };
    let fields = |f: &[(&'static str, String); 6]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let dear = fields(&next("500.00"));
    let dear: Vec<(&str, &str)> = dear.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = seller.submit("/seller/promotions", &key("dear-sale"), &dear).await;
    assert!(refused.text.contains("class=\"error\""), "a sale above the list price is refused: {}", refused.text);
    let good = fields(&next("7.50"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let scheduled = seller.submit("/seller/promotions", &key("next-sale"), &good).await;
    assert_eq!(
        (scheduled.status, scheduled.location.as_str()),
        (StatusCode::SEE_OTHER, "/seller/promotions"),
        "{}",
        scheduled.text
    );
    let list = seller.get("/seller/promotions").await.text;
    assert!(list.contains("7.50 CNY") && list.contains("Scheduled"), "{list}");
    let api = srv.get("/api/v1/promotions?current=false", None).await.body;
    assert_eq!(api["items"].as_array().unwrap().len(), 2, "{api}");
}

/// The review and dispute forms answer as the API does: the same refusal for an order not yet
/// completed, the same length limit, and a second review refused with a reason.
async fn reviews_and_disputes_keep_one_set_of_rules_in_the_pages_and_the_api(srv: Srv) {
    use crate::orders::{market, order_action, paid_order, ship};
    let (seller, buyer_token, sku) = market(&srv, 10).await;
    let buyer = Visitor::new(&srv, &buyer_token);
    let order = paid_order(&srv, &buyer_token, &sku, "rules-a").await;
    let review = [("stars", "5"), ("text", "Lovely")];
    let early = buyer.submit(&format!("/orders/{order}/review"), &key("early"), &review).await;
    assert!(
        early.text.contains(r#"class="error" role="alert">an order can be reviewed once it is completed"#),
        "{}",
        early.text
    );
    let body = json!({"line": 0, "stars": 5, "item_as_described": 5, "communication": 5, "shipping_speed": 5});
    let api = srv.post(&format!("/api/v1/orders/{order}/reviews"), Some(&buyer_token), body).await;
    assert_eq!((api.status, api.body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("order_not_completed")));

    let long = "x".repeat(souk_domain::dispute::MAX_STATEMENT_CHARS + 1);
    let dispute = [("reason", "damaged"), ("description", long.as_str())];
    let refused = buyer.submit(&format!("/orders/{order}/dispute"), &key("long"), &dispute).await;
    assert!(
        refused.text.contains(r#"class="error" role="alert">"#) && refused.text.contains("4000"),
        "{}",
        refused.text
    );
    let body = json!({"reason": "damaged", "description": long});
    let api = srv.post(&format!("/api/v1/orders/{order}/disputes"), Some(&buyer_token), body).await;
    assert_eq!(
        (api.status, api.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_length"))
    );

    assert_eq!(ship(&srv, &seller, &order, "other", "RULES-1").await.status, StatusCode::OK);
    assert_eq!(order_action(&srv, &buyer_token, &order, "confirm").await.status, StatusCode::OK);
    let posted = buyer.submit(&format!("/orders/{order}/review"), &key("first"), &review).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
    // The order's moments read as dates, in the page's language, the exact value kept aside.
    let page = buyer.get(&format!("/orders/{order}")).await.text;
    assert!(page.contains(" UTC</time>") && page.contains("<time datetime=\""), "{page}");
    assert!(!page.contains("Z</time>"), "no raw timestamp: {page}");
    let chinese = Visitor { cookies: format!("{}; souk_lang=zh", buyer.cookies), ..Visitor::new(&srv, &buyer_token) };
    let page = chinese.get(&format!("/orders/{order}")).await.text;
    assert!(page.contains("日 ") && page.contains(" UTC</time>"), "{page}");
    let again = buyer.submit(&format!("/orders/{order}/review"), &key("second"), &review).await;
    assert!(again.text.contains(r#"role="alert">you have reviewed this order already"#), "{}", again.text);
}

async fn the_cart_changes_quantities_and_loses_lines(srv: Srv) {
    let (_, buyer, sku) = crate::orders::market(&srv, 50).await;
    let me = Visitor::new(&srv, &buyer);
    assert_eq!(
        me.submit("/cart", &key("add"), &[("sku_id", &sku), ("quantity", "2")]).await.status,
        StatusCode::SEE_OTHER
    );
    let cart = me.get("/cart").await.text;
    assert!(cart.contains("value=\"2\"") && cart.contains("39.98 CNY"), "a line and the total: {cart}");
    let path = format!("/cart/items/{sku}");
    let changed = me.submit(&path, &key("change"), &[("quantity", "5")]).await;
    assert_eq!((changed.status, changed.location.as_str()), (StatusCode::SEE_OTHER, "/cart"));
    let cart = me.get("/cart").await.text;
    assert!(cart.contains("value=\"5\"") && cart.contains("Total: 99.95 CNY"), "{cart}");
    let api = srv.get("/api/v1/cart", Some(&buyer)).await.body;
    assert_eq!(api[0]["quantity"], 5, "the page and the API hold one cart");
    assert_eq!(me.submit(&format!("{path}/remove"), &key("remove"), &[]).await.status, StatusCode::SEE_OTHER);
    let cart = me.get("/cart").await.text;
    assert!(cart.contains("Your cart is empty."), "{cart}");
    let removed = srv
        .call(Method::PUT, &format!("/api/v1/cart/items/{sku}"), Some(&buyer), Some(json!({"quantity": 1})), None)
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    let gone =
        srv.call(Method::DELETE, &format!("/api/v1/cart/items/{sku}"), Some(&buyer), None, Some("cart-remove")).await;
    assert_eq!((gone.status, gone.body.clone()), (StatusCode::OK, json!([])));
}
