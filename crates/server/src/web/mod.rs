//! The marketplace's pages, rendered on the server (maud escapes every value it is given) with
//! a little htmx; every asset is embedded in the binary. Pages use the same store and search
//! calls as the JSON API, and the same sessions: the token lives in an HttpOnly, SameSite cookie.
//! Every form carries a CSRF token that must match the `souk_csrf` cookie (double submit).

mod account;
mod analytics;
mod buying;
mod chat;
mod deals;
mod flash;
pub(crate) mod forms;
pub mod i18n;
mod moderation;
mod pages;
mod selling;
mod two_factor;
mod work;
mod zh;

use crate::App;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use i18n::Lang;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use souk_app::error::ErrorKind;
use souk_app::views::User;

pub const SESSION_COOKIE: &str = "souk_session";
pub const CSRF_COOKIE: &str = "souk_csrf";
pub const LANG_COOKIE: &str = "souk_lang";

const HTMX: &[u8] = include_bytes!("../../assets/htmx.min.js");
const CSS: &str = include_str!("../../assets/souk.css");
const CHAT_JS: &str = include_str!("../../assets/chat.js");
const IMPORT_JS: &str = include_str!("../../assets/import.js");
const FLASH_JS: &str = include_str!("../../assets/flash.js");
const SOUK_JS: &str = include_str!("../../assets/souk.js");
const UPLOAD_JS: &str = include_str!("../../assets/upload.js");

/// The pages' routes (everything outside `/api`).
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(pages::home))
        .route("/search", get(pages::search))
        .route("/products/{id}", get(pages::product))
        .route("/stores/{slug}", get(pages::store))
        .route("/cart", get(buying::cart).post(buying::add_to_cart))
        .route("/cart/items/{sku}", post(buying::edit_cart))
        .route("/cart/items/{sku}/remove", post(buying::remove_from_cart))
        .route("/checkout", post(buying::checkout))
        .route("/promotions/{id}/buy", post(flash::buy))
        .route("/wallet", get(buying::wallet))
        .route("/wallet/balances", get(buying::wallet_balances))
        .route("/wallet/top-up", post(buying::top_up))
        .route("/wallet/payout", post(buying::payout))
        .route("/orders", get(buying::orders))
        .route("/orders/{id}", get(buying::order))
        .route("/orders/{id}/dispute", post(buying::dispute))
        .route("/disputes/{id}/{step}", post(buying::dispute_step))
        .route("/orders/{id}/review", post(buying::review))
        .route("/orders/{id}/{action}", post(buying::order_action))
        .route("/notifications", get(buying::notifications))
        .route("/notifications/read", post(buying::read_notifications))
        .route("/messages", get(chat::inbox))
        .route("/messages/start", post(chat::start))
        .route("/messages/{id}", get(chat::conversation).post(chat::send))
        .route("/messages/{id}/offer", post(deals::make_offer))
        .route("/messages/{id}/offers/{offer}/{answer}", post(deals::answer_offer))
        .route("/rfqs", get(deals::rfqs).post(deals::post_rfq))
        .route("/rfqs/{id}", get(deals::rfq))
        .route("/rfqs/{id}/cancel", post(deals::cancel_rfq))
        .route("/rfqs/{id}/quote", post(deals::quote))
        .route("/quotes/{id}/accept", post(deals::accept_quote))
        .route("/seller", get(work::seller))
        .route("/seller/analytics", get(analytics::analytics))
        .route("/seller/store", post(selling::open_store))
        .route("/seller/verification", post(selling::submit_verification))
        .route("/seller/products", get(selling::products))
        .route("/seller/products/new", get(selling::new_product).post(selling::create_product))
        .route("/seller/products/variant", get(selling::variant_fragment))
        .route("/seller/products/{id}", get(selling::edit_product).post(selling::update_product))
        .route("/seller/import", get(selling::import_page).post(selling::start_import))
        .route("/seller/import/template.csv", get(selling::csv_template))
        .route("/seller/import/{job}", get(selling::import_status))
        .route("/seller/deals", get(deals::seller_deals))
        .route("/seller/promotions", get(flash::seller_promotions).post(flash::create_promotion))
        .route("/seller/orders", get(work::seller_orders))
        .route("/seller/orders/{id}/ship", post(work::ship))
        .route("/seller/disputes/{id}/answer", post(work::answer))
        .route("/console", get(work::console))
        .route("/console/disputes/{id}", get(work::console_dispute))
        .route("/console/users", get(work::users))
        .route("/console/users/{id}/roles", post(work::grant))
        .route("/console/users/{id}/roles/{role}/revoke", post(work::revoke))
        .route("/console/stores", get(work::stores))
        .route("/console/audit", get(work::audit))
        .route("/console/reports", get(moderation::queue))
        .route("/console/reports/{id}", get(moderation::report_detail))
        .route("/console/reports/{id}/dismiss", post(moderation::dismiss))
        .route("/console/actions", post(moderation::act))
        .route("/console/actions/{id}/reverse", post(moderation::reverse))
        .route("/report", get(moderation::report_page).post(moderation::report))
        .route("/appeals/{id}", post(moderation::appeal))
        .route("/console/actions/{id}/uphold", post(moderation::uphold))
        .route("/console/settings/listing-review", post(moderation::set_listing_review))
        .route("/console/verifications/{id}", post(work::verify))
        .route("/console/disputes/{id}/decide", post(work::decide))
        .route("/login", get(login_page).post(login))
        .route("/login/code", post(two_factor::second_step))
        .route("/account/two-factor", get(two_factor::enrol_page))
        .route("/account/two-factor/start", post(two_factor::start))
        .route("/account/two-factor/confirm", post(two_factor::confirm))
        .route("/account/two-factor/disable", post(two_factor::disable))
        .route("/register", get(account::register_page).post(account::register))
        .route("/reset-password", get(account::reset_page).post(account::request_reset))
        .route("/reset-password/new", post(account::reset_password))
        .route("/verify-email", get(account::verify_page).post(account::verify))
        .route("/account", get(account::account_page))
        .route("/account/profile", post(account::save_profile))
        .route("/account/export", get(account::export))
        .route("/account/delete", post(account::delete_account))
        .route("/account/email", post(account::change_email))
        .route("/account/verify", post(account::resend_verification))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/end-others", post(account::end_other_sessions))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route("/logout", post(logout))
        .route("/lang/{code}", post(set_lang))
        .route("/assets/{file}", get(asset))
        .route("/media/{name}", get(media_file))
        .route("/media/thumbs/{name}", get(media_thumbnail))
        .route("/uploads", post(upload))
}

/// What every page knows about its request.
pub struct Ctx {
    pub user: Option<User>,
    pub lang: Lang,
    pub csrf: String,
    /// Set when the request had no CSRF cookie: the response sets it.
    new_csrf: bool,
    pub demo: bool,
    /// The signed-in user's unread notifications, for the header.
    pub unread: i64,
    /// The request's path (a form's, to say what it did on the next page).
    path: String,
    /// What the form before this page did, to say once.
    done: Option<&'static str>,
    /// The words of the search this page shows, kept in the header's box.
    pub search_text: Option<String>,
    /// A form sent by the page's script (`X-Souk-Form: inline`): a failure answers only its
    /// error, to show beside the field with everything typed still in place, and a success
    /// answers where to go (see `forms`).
    pub(crate) inline: bool,
}

/// The session token the pages' cookie carries.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).map(str::to_string)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<App> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let user = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => souk_app::accounts::session_user(app, token).await.ok(),
            None => None,
        };
        let lang = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or_else(|| {
            let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
            Lang::from_accept_language(accept)
        });
        let existing = cookie(&parts.headers, CSRF_COOKIE)
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let (csrf, new_csrf) = match existing {
            Some(c) => (c.to_string(), false),
            None => (souk_app::accounts::random_token()[..32].to_string(), true),
        };
        let unread = match &user {
            Some(u) => app.unread_notifications(&u.id).await.unwrap_or(0),
            None => 0,
        };
        let done = cookie(&parts.headers, forms::DONE_COOKIE).and_then(forms::done_words);
        let path = parts.uri.path().to_string();
        let inline = parts.headers.get(forms::INLINE_HEADER).is_some_and(|v| v == "inline");
        Ok(Ctx { user, lang, csrf, new_csrf, demo: app.config.demo, unread, path, done, search_text: None, inline })
    }
}

impl Ctx {
    pub fn t(&self, key: &'static str) -> &'static str {
        self.lang.t(key)
    }

    /// The path of the page being drawn.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A count with its noun, singular for one: "1 variant", "3 variants" (one form in Chinese).
    pub fn count(&self, n: impl Into<i64>, one: &'static str, many: &'static str) -> String {
        let n = n.into();
        format!("{n} {}", self.t(if n == 1 { one } else { many }))
    }

    /// The currency an amount is typed in unless changed: the account's choice, else CNY.
    pub fn typing_currency(&self) -> &str {
        self.user.as_ref().and_then(|u| u.currency.as_deref()).unwrap_or("CNY")
    }

    /// A code the API speaks (`top_up`, `picked_up`, `not_received`, ...) in this page's words.
    pub fn code<'a>(&self, code: &'a str) -> &'a str {
        i18n::code_label(code).map_or(code, |en| self.t(en))
    }

    /// A moment as people read it in this page's language, to the minute and in UTC, the exact
    /// value kept in the element's `datetime`.
    pub fn when(&self, at: souk_domain::time::Timestamp) -> Markup {
        let c = souk_domain::time::civil(at.ms());
        let shown = match self.lang {
            Lang::En => {
                const MONTHS: [&str; 12] =
                    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
                let month = MONTHS[(c.month as usize).clamp(1, 12) - 1];
                format!("{} {month} {}, {:02}:{:02} UTC", c.day, c.year, c.hour, c.minute)
            }
            Lang::Zh => format!("{}年{}月{}日 {:02}:{:02} UTC", c.year, c.month, c.day, c.hour, c.minute),
        };
        html! { time datetime=(at) { (shown) } }
    }

    /// A full page: the layout around `body`, with the CSRF cookie set if it was missing.
    pub fn page(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang=(self.lang.code()) data-tz=[self.user.as_ref().and_then(|u| u.time_zone.as_deref())] {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Souk" }
                    link rel="icon" href="data:,";
                    link rel="stylesheet" href="/assets/souk.css";
                    script src="/assets/htmx.min.js" defer {}
                    script src="/assets/souk.js" defer {}
                }
                body {
                    header.top {
                        a.brand href="/" { "Souk" }
                        form.search action="/search" method="get" role="search" {
                            input type="search" name="q" placeholder=(self.t("Search products")) aria-label=(self.t("Search"))
                                value=(self.search_text.as_deref().unwrap_or("")) autocomplete="off" data-suggest
                                role="combobox" aria-autocomplete="list" aria-controls="suggestions" aria-expanded="false";
                            ul #suggestions .suggestions hidden {}
                            button type="submit" { (self.t("Search")) }
                        }
                        nav {
                            @if let Some(user) = &self.user {
                                a href="/cart" { (self.t("Cart")) }
                                a href="/orders" { (self.t("My orders")) }
                                a href="/wallet" { (self.t("Wallet")) }
                                a href="/messages" { (self.t("Messages")) }
                                a href="/notifications" { (self.t("Notifications")) @if self.unread > 0 { " " span.badge-count { (self.unread) } } }
                                a href="/rfqs" { (self.t("RFQs")) }
                                a href="/seller" { (self.t("Seller center")) }
                                @if user.has(souk_domain::account::Role::Mediator) || user.has(souk_domain::account::Role::Admin) {
                                    a href="/console" { (self.t("Operator console")) }
                                }
                                a.who href="/account" { (self.t("Signed in as")) " " (user.display_name) }
                                form.inline action="/logout" method="post" {
                                    (self.csrf_field())
                                    button.link type="submit" { (self.t("Log out")) }
                                }
                            } @else {
                                a href="/login" { (self.t("Log in")) }
                                a href="/register" { (self.t("Sign up")) }
                            }
                            form.inline action=(format!("/lang/{}", if self.lang == Lang::En { "zh" } else { "en" })) method="post" {
                                (self.csrf_field())
                                button.link type="submit" aria-label=(self.t("Language")) {
                                    @if self.lang == Lang::En { "中文" } @else { "English" }
                                }
                            }
                        }
                    }
                    main {
                        @if let Some(done) = self.done { p.ok.done role="status" { (self.t(done)) } }
                        (body)
                    }
                    footer { "Souk · " (self.t("A self-hostable marketplace with escrowed payments")) }
                }
            }
        };
        let mut res =
            (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response();
        self.set_csrf_cookie(&mut res);
        if self.done.is_some() {
            let clear = format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", forms::DONE_COOKIE);
            if let Ok(v) = HeaderValue::from_str(&clear) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }

    fn set_csrf_cookie(&self, res: &mut Response) {
        if self.new_csrf {
            let value = format!("{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.csrf);
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
    }

    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="_csrf" value=(self.csrf); }
    }

    /// Whether a form's token matches this request's cookie (not a freshly made one).
    pub(crate) fn csrf_ok(&self, token: &str) -> bool {
        !self.new_csrf && !token.is_empty() && token == self.csrf
    }

    pub fn not_found(&self) -> Response {
        let body = html! {
            p.notice { (self.t("Page not found.")) }
            p { a href="/" { (self.t("Go to the home page")) } " · " a href="/search" { (self.t("Search products")) } }
        };
        self.page(StatusCode::NOT_FOUND, self.t("Page not found."), body)
    }

    /// A page address asked for with a method it does not take (a link to a form's action).
    pub fn wrong_method(&self) -> Response {
        let body = html! {
            p.notice { (self.t("This page cannot be opened that way.")) }
            p { a href="/" { (self.t("Go to the home page")) } }
        };
        self.page(StatusCode::METHOD_NOT_ALLOWED, self.t("Page not found."), body)
    }

    pub fn error(&self) -> Response {
        let message = self.t("Something went wrong on our side.");
        self.page(StatusCode::INTERNAL_SERVER_ERROR, message, html! { p.notice { (message) } })
    }

    /// The user submitting a form whose CSRF token is `csrf`: to the log-in page (back to
    /// `here`) when signed out, the "form expired" page when the token does not match.
    pub(crate) fn poster(&self, csrf: &str, here: &str) -> Result<User, Box<Response>> {
        let Some(user) = self.user.clone() else { return Err(Box::new(forms::to_login(here))) };
        if !self.csrf_ok(csrf) {
            return Err(Box::new(self.expired_form()));
        }
        Ok(user)
    }

    pub(crate) fn expired_form(&self) -> Response {
        let message = self.t("The form expired; please try again.");
        self.page(StatusCode::FORBIDDEN, message, html! { p.notice { (message) } })
    }
}

/// Money as people read it: "19.99 CNY".
pub fn money(m: &souk_domain::Money) -> String {
    format!("{} {}", m.format_major(), m.currency.code())
}

/// Names reserved for examples (RFC 2606), which never resolve: the demo's images use them.
const EXAMPLE_DOMAINS: [&str; 4] = ["example", "example.com", "example.net", "example.org"];

/// An image that can be shown: one on a reserved example domain never loads, so a drawn
/// placeholder stands in for it.
/// A photo in a record (evidence, documents): its thumbnail when it was uploaded here, a link to
/// the full picture either way.
pub fn photo_link(url: &str) -> Markup {
    html! {
        a.photo href=(url) rel="noopener noreferrer" {
            @match souk_domain::media::thumbnail_of(url) {
                Some(thumb) => img src=(thumb) alt="" loading="lazy";,
                None => "🖼",
            }
        }
    }
}

pub fn image(url: Option<&str>, alt: &str) -> Markup {
    let shown = url.filter(|u| {
        let host = u.split("://").nth(1).and_then(|r| r.split(['/', ':']).next()).unwrap_or("");
        !EXAMPLE_DOMAINS.iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
    });
    match shown {
        Some(u) => html! { img src=(u) alt=(alt) loading="lazy"; },
        None => {
            let initial: String = alt.chars().next().map(|c| c.to_string()).unwrap_or_default();
            html! {
                svg.placeholder viewBox="0 0 100 100" role="img" aria-label=(alt) {
                    rect width="100" height="100" {}
                    text x="50" y="62" text-anchor="middle" { (initial) }
                }
            }
        }
    }
}

/// An uploaded image, or its thumbnail. Its name is its content's hash, so it never changes:
/// browsers keep it for a year.
async fn media_file(State(app): State<App>, Path(name): Path<String>) -> Response {
    media(&app, &name).await
}

async fn media_thumbnail(State(app): State<App>, Path(name): Path<String>) -> Response {
    media(&app, &format!("thumbs/{name}")).await
}

async fn media(app: &App, name: &str) -> Response {
    match souk_app::media::fetch(app, name).await {
        Ok(Some((bytes, kind))) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

/// The pages' upload: an image from a form's file picker (`assets/upload.js`), checked like a
/// form (session and CSRF token, sent as `X-CSRF-Token`), answered with the upload's links as
/// JSON, or the error in the page's language.
async fn upload(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: axum::body::Body) -> Response {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if ctx.user.is_none() || !ctx.csrf_ok(token) {
        return crate::error::AppError::forbidden(ctx.t("Your session has ended: log in again.")).into_response();
    }
    let result = async {
        crate::routes::media::require_image_type(&headers)?;
        let bytes = crate::extract::read_body(body, souk_domain::media::MAX_UPLOAD_BYTES).await?;
        Ok::<_, crate::error::AppError>(souk_app::media::upload(&app, bytes.to_vec()).await?)
    }
    .await;
    match result {
        Ok(up) => (StatusCode::CREATED, axum::Json(up)).into_response(),
        Err(e) => {
            let words = forms::error_words(&ctx, &e);
            crate::error::AppError::new(e.status, e.code, words).into_response()
        }
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind): (Vec<u8>, &str) = match file.as_str() {
        "htmx.min.js" => (HTMX.to_vec(), "text/javascript; charset=utf-8"),
        "souk.css" => (CSS.as_bytes().to_vec(), "text/css; charset=utf-8"),
        "chat.js" => (CHAT_JS.as_bytes().to_vec(), "text/javascript; charset=utf-8"),
        "import.js" => (IMPORT_JS.as_bytes().to_vec(), "text/javascript; charset=utf-8"),
        "flash.js" => (FLASH_JS.as_bytes().to_vec(), "text/javascript; charset=utf-8"),
        "souk.js" => (SOUK_JS.as_bytes().to_vec(), "text/javascript; charset=utf-8"),
        "upload.js" => (UPLOAD_JS.as_bytes().to_vec(), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    next: String,
}

/// Only paths of this site are followed after logging in.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn login_form(ctx: &Ctx, email: &str, next: &str, error: Option<&'static str>) -> Markup {
    html! {
        section.narrow {
            h1 { (ctx.t("Log in")) }
            @if let Some(e) = error { p.error role="alert" { (ctx.t(e)) } }
            form method="post" action="/login" {
                (ctx.csrf_field())
                input type="hidden" name="next" value=(next);
                label { (ctx.t("Email")) input type="email" name="email" value=(email) required autocomplete="username"; }
                label { (ctx.t("Password")) input type="password" name="password" required autocomplete="current-password"; }
                button type="submit" { (ctx.t("Log in")) }
            }
            p { a href="/reset-password" { (ctx.t("Forgot your password?")) } }
            p { (ctx.t("New to Souk?")) " " a href="/register" { (ctx.t("Create an account")) } }
            @if ctx.demo { (pages::demo_logins(ctx)) }
        }
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(ctx: Ctx, axum::extract::Query(q): axum::extract::Query<NextQuery>) -> Response {
    let next = local_path(q.next.as_deref().unwrap_or("/"));
    login_page_with(&ctx, next, None)
}

/// The log-in page, going to `next` afterwards, with what went wrong before.
fn login_page_with(ctx: &Ctx, next: &str, error: Option<&'static str>) -> Response {
    ctx.page(StatusCode::OK, ctx.t("Log in"), login_form(ctx, "", next, error))
}

async fn login(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !ctx.csrf_ok(&form._csrf) {
        return ctx.expired_form();
    }
    let next = local_path(&form.next).to_string();
    let user = match souk_app::accounts::authenticate(&app, &form.email, form.password, peer.ip()).await {
        Ok(u) => u,
        Err(e) => {
            // The form again, with the reason: a page that loaded fine, as browsers expect.
            let message = if e.kind == ErrorKind::RateLimited {
                "Too many attempts; try again later."
            } else if e.code == "account_banned" {
                "This account is suspended by an operator."
            } else {
                "Wrong email or password."
            };
            return ctx.page(StatusCode::OK, ctx.t("Log in"), login_form(&ctx, &form.email, &next, Some(message)));
        }
    };
    // A right password of an account with two-step sign-in: its code is asked for next.
    if user.two_factor {
        return match souk_app::accounts::await_second_step(&app, &user).await {
            Ok(waiting) => two_factor::second_step_page(&ctx, &waiting, &next, None),
            Err(_) => ctx.error(),
        };
    }
    let started = async {
        let mut tx = app.begin().await?;
        let device = crate::routes::accounts::device(&headers);
        let session = souk_app::accounts::start_session(&mut tx, &user.id, &device).await?;
        souk_app::commit(tx).await?;
        Ok::<_, crate::error::AppError>(session)
    };
    let Ok((token, _)) = started.await else { return ctx.error() };
    account::signed_in(&next, &token, &user)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

async fn logout(State(app): State<App>, ctx: Ctx, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if !ctx.csrf_ok(&form._csrf) {
        return ctx.expired_form();
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Ok(mut tx) = app.begin().await {
            if souk_app::accounts::end_session(&mut tx, token).await.is_ok() {
                let _ = souk_app::commit(tx).await;
            }
        }
    }
    let mut res = Redirect::to("/").into_response();
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    res.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&clear).expect("a valid cookie"));
    res
}

async fn set_lang(
    State(app): State<App>,
    ctx: Ctx,
    Path(code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !ctx.csrf_ok(&form._csrf) {
        return ctx.expired_form();
    }
    let Some(lang) = Lang::parse(&code) else { return ctx.not_found() };
    // A signed-in person's choice is their account's: notifications and email follow it.
    if let Some(user) = ctx.user.as_ref().filter(|u| u.locale.as_deref() != Some(lang.code())) {
        let choice = souk_app::accounts::ProfileInput { locale: Some(lang.code().into()), ..Default::default() };
        let saved = async {
            let mut tx = app.begin().await?;
            souk_app::accounts::update_profile(&mut tx, user, &choice).await?;
            souk_app::commit(tx).await
        };
        if let Err(e) = saved.await {
            tracing::warn!(error = %e, "could not keep a language choice");
        }
    }
    // Back where the switch was pressed, if that was a page of this site.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    let mut res = Redirect::to(local_path(&back)).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_str(&account::lang_cookie(lang.code())).expect("a valid cookie"));
    res
}
