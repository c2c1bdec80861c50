//! Souk's HTTP server: the JSON API under `/api/v1`, health, and the OpenAPI document. This is
//! the only crate that knows about HTTP.

pub mod error;
pub mod extract;
pub mod idempotency;
pub mod input;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod web;

pub use souk_app::App;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::AppError;
use routes::flash as promotions;
use routes::{
    accounts, admin, analytics, api_keys, chat, disputes, media as uploads, meta, moderation, notifications, orders,
    products, rfq, search, stores, trust, wallet, webhooks as hooks,
};
use souk_app::{jobs, live as relay, mail, search_sync, webhooks};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// JSON bodies larger than this are refused with 413.
pub const JSON_BODY_LIMIT_BYTES: usize = 1024 * 1024;
/// CSV imports may be larger.
pub const IMPORT_BODY_LIMIT_BYTES: usize = 32 * 1024 * 1024;
/// Every documented route, and the OpenAPI document gathered from them.
pub fn api_router() -> (Router<App>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::openapi))
        .routes(routes!(meta::categories))
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me, accounts::update_me))
        .routes(routes!(accounts::change_password))
        .routes(routes!(moderation::create_report))
        .routes(routes!(moderation::reports))
        .routes(routes!(moderation::report))
        .routes(routes!(moderation::dismiss))
        .routes(routes!(moderation::act))
        .routes(routes!(moderation::reverse))
        .routes(routes!(moderation::appeal))
        .routes(routes!(moderation::uphold))
        .routes(routes!(moderation::pending))
        .routes(routes!(moderation::settings, moderation::change_settings))
        .routes(routes!(accounts::export))
        .routes(routes!(accounts::delete_account))
        .routes(routes!(accounts::start_two_factor))
        .routes(routes!(accounts::confirm_two_factor))
        .routes(routes!(accounts::disable_two_factor))
        .routes(routes!(accounts::change_email))
        .routes(routes!(accounts::sessions, accounts::end_other_sessions))
        .routes(routes!(accounts::end_session))
        .routes(routes!(accounts::request_password_reset))
        .routes(routes!(accounts::confirm_password_reset))
        .routes(routes!(accounts::request_email_verification))
        .routes(routes!(accounts::confirm_email))
        .routes(routes!(stores::create_store, stores::list_stores))
        .routes(routes!(stores::get_store, stores::update_store))
        .routes(routes!(stores::submit_verification, stores::list_store_verifications))
        .routes(routes!(stores::store_products))
        .routes(routes!(stores::import_products))
        .routes(routes!(products::create_product, products::list_products))
        .routes(routes!(products::get_product, products::update_product, products::delete_product))
        .routes(routes!(products::add_sku))
        .routes(routes!(products::update_sku))
        .routes(routes!(search::search))
        .routes(routes!(search::suggest))
        .routes(routes!(wallet::wallet))
        .routes(routes!(wallet::transactions))
        .routes(routes!(wallet::top_up))
        .routes(routes!(wallet::get_top_up))
        .routes(routes!(wallet::provider_callback))
        .routes(routes!(wallet::payout))
        .routes(routes!(wallet::ledger_check))
        .routes(routes!(orders::cart))
        .routes(routes!(orders::set_cart_item, orders::remove_cart_item))
        .routes(routes!(orders::checkout))
        .routes(routes!(orders::pay_checkout))
        .routes(routes!(orders::my_orders))
        .routes(routes!(orders::store_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::pay))
        .routes(routes!(orders::confirm))
        .routes(routes!(orders::extend))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::ship))
        .routes(routes!(orders::events))
        .routes(routes!(trust::tracking))
        .routes(routes!(trust::carrier_event))
        .routes(routes!(trust::create_review))
        .routes(routes!(trust::reply))
        .routes(routes!(trust::product_reviews))
        .routes(routes!(trust::store_reviews))
        .routes(routes!(trust::store_trust))
        .routes(routes!(chat::open_conversation, chat::conversations))
        .routes(routes!(chat::conversation))
        .routes(routes!(chat::messages, chat::send_message))
        .routes(routes!(chat::mark_read))
        .routes(routes!(chat::block, chat::unblock))
        .routes(routes!(chat::make_offer, chat::offers))
        .routes(routes!(chat::accept_offer))
        .routes(routes!(chat::decline_offer))
        .routes(routes!(chat::counter_offer))
        .routes(routes!(live::socket))
        .routes(routes!(rfq::create_rfq, rfq::my_rfqs))
        .routes(routes!(rfq::open_rfqs))
        .routes(routes!(rfq::get_rfq))
        .routes(routes!(rfq::create_quote))
        .routes(routes!(rfq::revise_quote))
        .routes(routes!(rfq::accept_quote))
        .routes(routes!(rfq::cancel_rfq))
        .routes(routes!(disputes::open_dispute))
        .routes(routes!(disputes::my_disputes))
        .routes(routes!(disputes::queue))
        .routes(routes!(disputes::get_dispute))
        .routes(routes!(disputes::answer))
        .routes(routes!(disputes::accept))
        .routes(routes!(disputes::escalate))
        .routes(routes!(disputes::ship_return))
        .routes(routes!(disputes::return_received))
        .routes(routes!(disputes::add_evidence))
        .routes(routes!(disputes::decide))
        .routes(routes!(analytics::store_analytics))
        .routes(routes!(promotions::create_promotion))
        .routes(routes!(promotions::promotions))
        .routes(routes!(promotions::promotion))
        .routes(routes!(promotions::buy))
        .routes(routes!(admin::list_verifications))
        .routes(routes!(admin::approve))
        .routes(routes!(admin::reject))
        .routes(routes!(admin::grant_role))
        .routes(routes!(admin::revoke_role))
        .routes(routes!(uploads::upload))
        .routes(routes!(admin::audit_log))
        .routes(routes!(api_keys::create_api_key, api_keys::api_keys))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(notifications::notifications))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(hooks::create_webhook, hooks::webhooks))
        .routes(routes!(hooks::webhook, hooks::delete_webhook))
        .routes(routes!(hooks::deliveries))
        .routes(routes!(hooks::delivery))
        .routes(routes!(hooks::replay))
        .split_for_parts()
}

/// The whole HTTP application with its middleware.
pub fn router(app: App) -> Router {
    let (api, _) = api_router();
    api.merge(web::router())
        .route("/metrics", axum::routing::get(metrics::render))
        // Innermost first: a request is routed, its text checked, its caller known, then its
        // key claimed.
        .route_layer(middleware::from_fn_with_state(app.clone(), idempotency::layer))
        .route_layer(middleware::from_fn_with_state(app.clone(), extract::refuse_bad_tokens))
        .route_layer(middleware::from_fn_with_state(app.clone(), input::guard))
        .route_layer(middleware::from_fn_with_state(app.clone(), metrics::track))
        .fallback(unrouted)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(JSON_BODY_LIMIT_BYTES))
        .layer(middleware::from_fn_with_state(app.clone(), timeout))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            AppError::internal("handler panicked", "panic").into_response()
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(app)
}

/// Whether a path is the API's (JSON answers) rather than the pages' (HTML answers).
fn is_api(path: &str) -> bool {
    ["/api/", "/metrics", "/healthz"].iter().any(|p| path.starts_with(p))
}

/// A path nothing serves: JSON for the API, a page in the visitor's language for the pages.
async fn unrouted(State(app): State<App>, req: Request) -> Response {
    if is_api(req.uri().path()) {
        return AppError::not_found("route").into_response();
    }
    let (mut parts, _) = req.into_parts();
    match <web::Ctx as axum::extract::FromRequestParts<App>>::from_request_parts(&mut parts, &app).await {
        Ok(ctx) => ctx.not_found(),
        Err(res) => res,
    }
}

/// A method a route does not serve: JSON for the API, a page for the pages.
async fn wrong_method(State(app): State<App>, req: Request) -> Response {
    if is_api(req.uri().path()) {
        let status = axum::http::StatusCode::METHOD_NOT_ALLOWED;
        return AppError::new(status, "method_not_allowed", "this method is not allowed here").into_response();
    }
    let (mut parts, _) = req.into_parts();
    match <web::Ctx as axum::extract::FromRequestParts<App>>::from_request_parts(&mut parts, &app).await {
        Ok(ctx) => ctx.wrong_method(),
        Err(res) => res,
    }
}

/// How long an abandoned request's rollback and key release are waited for before its answer.
const SETTLE_TIME: Duration = Duration::from_secs(5);

/// Bounds every request's time. An abandoned handler is dropped; its answer goes out once its
/// transaction has rolled back and its idempotency key is free again (`souk_app::bounded`).
async fn timeout(State(app): State<App>, req: Request, next: Next) -> Response {
    let limit =
        if req.uri().path().ends_with("/imports") { app.config.import_timeout } else { app.config.request_timeout };
    match souk_app::bounded(limit, SETTLE_TIME, next.run(req)).await {
        Some(res) => res,
        None => AppError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {limit:?} and was abandoned; nothing was changed"),
        )
        .into_response(),
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests. Deadlines and provider
/// confirmations run in the background meanwhile.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Flash orders a stopped process committed but had not written out yet.
    if let Err(e) = app.write_out_all_flash().await {
        tracing::warn!(error = %e, "writing out flash orders failed; the jobs runner retries");
    }
    let runner = tokio::spawn(jobs::run_forever(app.clone()));
    let cursor = search_sync::FeedCursor::at(app.search.position().unwrap_or(0));
    let follower = tokio::spawn(search_sync::follow_forever(app.clone(), cursor));
    let relay = tokio::spawn(relay::relay_forever(app.clone()));
    let hooks = tokio::spawn(webhooks::deliver_forever(app.clone()));
    let mails = tokio::spawn(mail::deliver_forever(app.clone()));
    // Answers go out at once rather than wait on the peer's delayed acknowledgement.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    let result = axum::serve(listener, router(app.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    // Stopping between jobs is safe: each one commits with its effect or not at all, and the
    // follower's position is only saved after the index commit it describes.
    runner.abort();
    follower.abort();
    relay.abort();
    // A delivery cut off mid-attempt is sent again when its lease ends: at least once.
    hooks.abort();
    mails.abort();
    if let Err(e) = app.flush_traffic().await {
        tracing::warn!(error = %e.message, "product traffic of the last seconds was not recorded");
    }
    result
}
