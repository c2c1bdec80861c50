//! Chat between buyers and stores over HTTP and the live socket, and negotiated offers.

use crate::orders::{assert_ledger_sound, market, order_action};
use crate::{on_both_backends, Res, Srv};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    conversations_are_private_counted_and_paced,
    sockets_deliver_in_order_and_catch_up,
    a_peer_process_reaches_the_socket,
    offers_negotiate_to_a_paid_order,
);

async fn post(srv: &Srv, token: &str, path: &str, body: Value) -> Res {
    srv.call(Method::POST, path, Some(token), Some(body), None).await
}

/// Opens the buyer's conversation with the "market" store.
pub(crate) async fn open(srv: &Srv, buyer: &str) -> String {
    let r = post(srv, buyer, "/api/v1/conversations", json!({"store": "market"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn say(srv: &Srv, token: &str, conversation: &str, text: &str) -> Res {
    post(srv, token, &format!("/api/v1/conversations/{conversation}/messages"), json!({"text": text})).await
}

async fn conversations_are_private_counted_and_paced(srv: Srv) {
    let (seller, buyer, _) = market(&srv, 5).await;
    let conversation = open(&srv, &buyer).await;
    assert_eq!(open(&srv, &buyer).await, conversation, "the same parties and subject share one conversation");
    let own = post(&srv, &seller, "/api/v1/conversations", json!({"store": "market"})).await;
    assert_eq!((own.status, own.field()), (StatusCode::UNPROCESSABLE_ENTITY, "store"));
    let nowhere = post(&srv, &buyer, "/api/v1/conversations", json!({})).await;
    assert_eq!((nowhere.status, nowhere.field()), (StatusCode::UNPROCESSABLE_ENTITY, "store"));

    let first = say(&srv, &buyer, &conversation, "Is this tea set in stock?").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!((first.body["seq"].as_i64(), first.body["side"].as_str()), (Some(1), Some("buyer")));
    srv.clock.advance_ms(60_000);
    say(&srv, &buyer, &conversation, "And does it ship to Germany?").await;
    let inbox = srv.get("/api/v1/conversations", Some(&seller)).await.body;
    assert_eq!((inbox["unread_total"].as_i64(), inbox["items"][0]["unread"].as_i64()), (Some(2), Some(2)), "{inbox}");
    assert_eq!(inbox["items"][0]["last_message_preview"], "And does it ship to Germany?", "the inbox shows the newest");
    assert_eq!(srv.get("/api/v1/conversations", Some(&buyer)).await.body["unread_total"], 0, "own messages are read");

    // The seller answers 90 s after the first unanswered question.
    srv.clock.advance_ms(30_000);
    let reply = say(&srv, &seller, &conversation, "Yes to both!").await;
    assert_eq!(reply.body["side"], "seller");
    let trust = srv.get("/api/v1/stores/market/trust", None).await.body;
    assert_eq!(trust["inputs"]["response_ms_median"], 90_000, "{trust}");
    let read = post(&srv, &buyer, &format!("/api/v1/conversations/{conversation}/read"), json!({"seq": 99})).await;
    assert_eq!(read.body["read_seq"], 3, "never past the newest message");
    let view = srv.get(&format!("/api/v1/conversations/{conversation}"), Some(&seller)).await.body;
    assert_eq!((view["buyer_read_seq"].as_i64(), view["unread"].as_i64()), (Some(3), Some(0)), "{view}");

    let page = srv.get(&format!("/api/v1/conversations/{conversation}/messages?limit=2"), Some(&buyer)).await.body;
    let seqs: Vec<i64> = page["items"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![3, 2], "newest first");
    let older = srv
        .get(
            &format!(
                "/api/v1/conversations/{conversation}/messages?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            Some(&buyer),
        )
        .await
        .body;
    assert_eq!(older["items"][0]["text"], "Is this tea set in stock?");
    assert!(older["next_cursor"].is_null());

    // A third party sees nothing and cannot write.
    let (stranger, stranger_id) = srv.quick_user("stranger@example.com").await;
    assert_eq!(
        srv.get(&format!("/api/v1/conversations/{conversation}"), Some(&stranger)).await.status,
        StatusCode::NOT_FOUND
    );
    let path = format!("/api/v1/conversations/{conversation}/messages");
    assert_eq!(srv.get(&path, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(say(&srv, &stranger, &conversation, "hi").await.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.get("/api/v1/conversations", Some(&stranger)).await.body["items"], json!([]));

    // Bad messages write nothing.
    let before = srv.count("messages").await;
    for (body, field) in [
        (json!({"text": "  "}), "text"),
        (json!({"text": "x".repeat(2001)}), "text"),
        (json!({"text": "look", "images": ["ftp://x/y.png"]}), "images[0]"),
        (json!({"text": "hi", "extra": 1}), "extra"),
    ] {
        let r = post(&srv, &buyer, &path, body).await;
        assert_eq!(r.status.as_u16() / 100, 4, "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(field) || r.field() == field, "{}", r.body);
    }
    assert_eq!(srv.count("messages").await, before);

    // Blocking stops both directions until lifted.
    let seller_id = srv.get("/api/v1/me", Some(&seller)).await.body["id"].as_str().unwrap().to_string();
    let blocked = post(&srv, &buyer, &format!("/api/v1/users/{seller_id}/block"), json!({})).await;
    assert_eq!(blocked.body["blocked"], true, "{}", blocked.body);
    let r = say(&srv, &seller, &conversation, "Still there?").await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "blocked"));
    let lifted = srv.call(Method::DELETE, &format!("/api/v1/users/{seller_id}/block"), Some(&buyer), None, None).await;
    assert_eq!(lifted.body["blocked"], false);
    assert_eq!(say(&srv, &seller, &conversation, "Still there?").await.status, StatusCode::CREATED);
    let bad = post(&srv, &buyer, &format!("/api/v1/users/{stranger_id}x/block"), json!({})).await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);

    // A sender gets 30 messages a minute.
    let (chatty, _) = srv.quick_user("chatty@example.com").await;
    let chat = open(&srv, &chatty).await;
    for i in 0..30 {
        assert_eq!(say(&srv, &chatty, &chat, &format!("msg {i}")).await.status, StatusCode::CREATED);
    }
    let limited = say(&srv, &chatty, &chat, "one more").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
    srv.clock.advance_ms(60_000);
    assert_eq!(say(&srv, &chatty, &chat, "later").await.status, StatusCode::CREATED);
}

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(base: &str, token: &str, cursor: Option<&str>) -> Socket {
    let ws = base.replacen("http://", "ws://", 1);
    let cursor = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
    let (socket, _) = tokio_tungstenite::connect_async(format!("{ws}/api/v1/ws?access_token={token}{cursor}"))
        .await
        .expect("connect");
    socket
}

/// The next JSON frame, within 10 s.
pub(crate) async fn frame(socket: &mut Socket) -> Value {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a frame in time");
        match next.expect("open").expect("a frame") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(_) => panic!("closed"),
            _ => continue,
        }
    }
}

/// Frames until `ready`; returns the events' texts (messages) and the ready cursor.
async fn until_ready(socket: &mut Socket) -> (Vec<String>, String) {
    let mut texts = Vec::new();
    loop {
        let f = frame(socket).await;
        match f["type"].as_str().unwrap() {
            "ready" => return (texts, f["cursor"].as_str().unwrap().to_string()),
            "event" if f["event"]["type"] == "message.created" => {
                texts.push(f["event"]["payload"]["text"].as_str().unwrap().to_string())
            }
            _ => {}
        }
    }
}

/// The next message text the socket receives, and its event cursor.
async fn next_message(socket: &mut Socket) -> (String, String) {
    loop {
        let f = frame(socket).await;
        if f["type"] == "event" && f["event"]["type"] == "message.created" {
            return (
                f["event"]["payload"]["text"].as_str().unwrap().to_string(),
                f["event"]["cursor"].as_str().unwrap().into(),
            );
        }
    }
}

async fn sockets_deliver_in_order_and_catch_up(srv: Srv) {
    let (seller, buyer, _) = market(&srv, 5).await;
    let conversation = open(&srv, &buyer).await;
    let unauthenticated = reqwest::get(format!("{}/api/v1/ws?access_token=nope", srv.base)).await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    let mut phone = connect(&srv.base, &seller, None).await;
    let mut laptop = connect(&srv.base, &seller, None).await;
    let mut buyer_socket = connect(&srv.base, &buyer, None).await;
    for s in [&mut phone, &mut laptop, &mut buyer_socket] {
        until_ready(s).await;
    }
    for text in ["one", "two", "three"] {
        assert_eq!(say(&srv, &buyer, &conversation, text).await.status, StatusCode::CREATED);
    }
    let mut last_cursor = String::new();
    for device in [&mut phone, &mut laptop] {
        let mut got = Vec::new();
        for _ in 0..3 {
            let (text, cursor) = next_message(device).await;
            got.push(text);
            last_cursor = cursor;
        }
        assert_eq!(got, ["one", "two", "three"], "every device, in order");
    }
    assert_eq!(next_message(&mut buyer_socket).await.0, "one", "the sender's devices hear it too");

    // Typing reaches the other party only.
    let typing = json!({"type": "typing", "conversation_id": conversation}).to_string();
    buyer_socket.send(Message::Text(typing.into())).await.unwrap();
    loop {
        let f = frame(&mut phone).await;
        if f["type"] == "typing" {
            assert_eq!(
                (f["conversation_id"].as_str(), f["side"].as_str()),
                (Some(conversation.as_str()), Some("buyer"))
            );
            break;
        }
    }

    // The laptop goes offline; what it missed comes first when it reconnects with its cursor.
    laptop.close(None).await.unwrap();
    say(&srv, &buyer, &conversation, "four").await;
    say(&srv, &buyer, &conversation, "five").await;
    let mut laptop = connect(&srv.base, &seller, Some(&last_cursor)).await;
    let (missed, _) = until_ready(&mut laptop).await;
    assert_eq!(missed, ["four", "five"], "the gap, and nothing seen before");
    say(&srv, &seller, &conversation, "six").await;
    assert_eq!(next_message(&mut laptop).await.0, "six", "live again after catching up");
}

async fn a_peer_process_reaches_the_socket(srv: Srv) {
    let (seller, buyer, _) = market(&srv, 5).await;
    let conversation = open(&srv, &buyer).await;
    let mut socket = connect(&srv.base, &seller, None).await;
    until_ready(&mut socket).await;
    let peer = srv.peer().await;
    let r = srv
        .http
        .post(format!("{}/api/v1/conversations/{conversation}/messages", peer.srv_base))
        .bearer_auth(&buyer)
        .json(&json!({"text": "via another process"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(next_message(&mut socket).await.0, "via another process");
}

fn in_minutes(srv: &Srv, minutes: i64) -> String {
    use souk_domain::clock::Clock;
    souk_domain::time::rfc3339(srv.clock.now_ms() + minutes * 60_000)
}

async fn offers_negotiate_to_a_paid_order(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 10).await;
    let conversation = open(&srv, &buyer).await;
    let offers = format!("/api/v1/conversations/{conversation}/offers");
    let offer = |qty: i64, price: i64, minutes: i64| {
        json!({"sku_id": sku, "quantity": qty, "unit_price": {"amount": price, "currency": "CNY"},
               "valid_until": in_minutes(&srv, minutes)})
    };
    let by_buyer = post(&srv, &buyer, &offers, offer(3, 1000, 60)).await;
    assert_eq!(by_buyer.status, StatusCode::FORBIDDEN, "buyers counter; sellers offer");
    for (body, field) in [
        (
            json!({"sku_id": "sku_nope", "quantity": 3, "unit_price": {"amount": 1, "currency": "CNY"}, "valid_until": in_minutes(&srv, 5)}),
            "sku_id",
        ),
        (
            json!({"sku_id": sku, "quantity": 3, "unit_price": {"amount": 1, "currency": "USD"}, "valid_until": in_minutes(&srv, 5)}),
            "unit_price.currency",
        ),
        (offer(0, 1500, 60), "quantity"),
        (offer(3, 1500, -1), "valid_until"),
        (offer(3, 1500, 60 * 24 * 31), "valid_until"),
    ] {
        let r = post(&srv, &seller, &offers, body).await;
        assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, field), "{}", r.body);
    }
    assert_eq!(srv.count("offers").await, 0, "refused offers write nothing");

    // Superseded and expired offers cannot be accepted.
    let first = post(&srv, &seller, &offers, offer(3, 1700, 60)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.body["message"]["text"].as_str().unwrap().starts_with("Offer: 3 × Tea set at 17.00 CNY"));
    let second = post(&srv, &seller, &offers, offer(3, 1600, 1)).await;
    let accept = |id: &Value, key: String| accept(&srv, &buyer, id.as_str().unwrap().to_string(), key);
    let stale = accept(&first.body["offer"]["id"], "acc-1".into()).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::CONFLICT, "offer_not_open"), "{}", stale.body);
    srv.clock.advance_ms(61_000);
    let expired = accept(&second.body["offer"]["id"], "acc-2".into()).await;
    assert_eq!((expired.status, expired.code()), (StatusCode::CONFLICT, "offer_expired"));

    // Counter-offers alternate.
    let third = post(&srv, &seller, &offers, offer(3, 1500, 60)).await;
    let third_id = third.body["offer"]["id"].as_str().unwrap().to_string();
    let own = srv
        .call(Method::POST, &format!("/api/v1/offers/{third_id}/accept"), Some(&seller), Some(json!({})), None)
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "nobody accepts their own offer");
    let counter = |token: &str, id: &str, price: i64| counter(&srv, token.to_string(), id.to_string(), price);
    let buyer_counter = counter(&buyer, &third_id, 1200).await;
    assert_eq!(buyer_counter.status, StatusCode::CREATED, "{}", buyer_counter.body);
    assert_eq!(buyer_counter.body["offer"]["counters"], third_id.as_str());
    let buyer_offer = buyer_counter.body["offer"]["id"].as_str().unwrap().to_string();
    assert_eq!(counter(&buyer, &buyer_offer, 1100).await.status, StatusCode::FORBIDDEN, "not your turn");
    let again = counter(&buyer, &third_id, 1250).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "offer_not_open"), "countered already");
    let seller_counter = counter(&seller, &buyer_offer, 1400).await;
    assert_eq!(seller_counter.status, StatusCode::CREATED, "{}", seller_counter.body);
    assert_eq!(seller_counter.body["offer"]["ship_to"], "DE", "the buyer's country carries over");
    let final_id = seller_counter.body["offer"]["id"].clone();
    let (stranger, _) = srv.quick_user("stranger@example.com").await;
    let peek = srv
        .call(
            Method::POST,
            &format!("/api/v1/offers/{}/accept", final_id.as_str().unwrap()),
            Some(&stranger),
            Some(json!({})),
            None,
        )
        .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);

    // Concurrent acceptances make one order.
    let attempts = (0..5).map(|i| accept(&final_id, format!("acc-race-{i}")));
    let results = futures_util::future::join_all(attempts).await;
    let won: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(won.len(), 1, "{:?}", results.iter().map(|r| (r.status, r.code().to_string())).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != StatusCode::CREATED).all(|r| r.code() == "offer_not_open"));
    let order = &won[0].body["order"];
    assert_eq!(order["total"], json!({"amount": 4200, "currency": "CNY"}), "3 × 14.00 agreed, not the list price");
    assert_eq!(order["state"], "pending_payment");
    assert_eq!(won[0].body["offer"]["state"], "accepted");
    let product = order["lines"][0]["product_id"].as_str().unwrap();
    let p = srv.get(&format!("/api/v1/products/{product}"), None).await.body;
    assert_eq!(p["skus"][0]["stock"], 7, "the units are reserved at acceptance");
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(order_action(&srv, &buyer, order_id, "pay").await.status, StatusCode::OK);
    assert_eq!(srv.get(&format!("/api/v1/orders/{order_id}"), Some(&buyer)).await.body["state"], "paid");
    let listed = srv.get(&offers, Some(&buyer)).await.body;
    let states: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|o| o["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["accepted", "countered", "countered", "superseded", "superseded"], "{listed}");
    assert_ledger_sound(&srv).await;
}

async fn accept(srv: &Srv, buyer: &str, id: String, key: String) -> Res {
    let path = format!("/api/v1/offers/{id}/accept");
    srv.call(Method::POST, &path, Some(buyer), Some(json!({"ship_to": "DE"})), Some(&key)).await
}

async fn counter(srv: &Srv, token: String, id: String, price: i64) -> Res {
    let body = json!({"quantity": 3, "unit_price": {"amount": price, "currency": "CNY"},
                      "valid_until": in_minutes(srv, 60), "ship_to": "DE"});
    srv.call(Method::POST, &format!("/api/v1/offers/{id}/counter"), Some(&token), Some(body), None).await
}
