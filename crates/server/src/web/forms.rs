//! Forms that act once. Every form carries, besides the CSRF token, a one-time `_key` claimed
//! like an API Idempotency-Key: a form submitted twice (a double click, a reload) acts once, and
//! the second submission is sent where the first one went.

use super::i18n::Lang;
use super::Ctx;
use crate::error::AppError;
use crate::App;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use souk_app::idempotency::{Claimed, KeyClaim};
use souk_app::views::User;
use souk_app::Tx;
use souk_domain::Invalid;

/// An amount typed in major units (`12.50`) in `currency`, named `field` when it is wrong.
pub(crate) fn major(text: &str, currency: souk_domain::Currency, field: &str) -> Result<souk_domain::Money, AppError> {
    souk_domain::Money::parse_major(text.trim(), currency).map_err(|m| Invalid::new("invalid_amount", field, m).into())
}

/// A currency code as typed, in any case.
pub(crate) fn currency(code: &str) -> Result<souk_domain::Currency, AppError> {
    Ok(souk_domain::Currency::parse(code.trim().to_ascii_uppercase().as_str(), "currency")?)
}

/// A photo picker for a form: each image picked is uploaded at once and its link added to the
/// form's field `into` (`assets/upload.js`).
pub fn upload_field(ctx: &Ctx, label: &'static str, into: &str) -> Markup {
    html! {
        div.upload {
            label { (ctx.t(label)) " "
                input type="file" accept="image/jpeg,image/png,image/webp" multiple data-upload-into=(into)
                    data-sending=(ctx.t("Uploading")) data-added=(ctx.t("added")) data-failed=(ctx.t("the upload failed; please try again."));
            }
            span.hint { (ctx.t("JPEG, PNG or WebP, up to 10 MB each; location and camera data are removed.")) }
            ul.previews aria-live="polite" {}
            script src="/assets/upload.js" defer {}
        }
    }
}

/// A hidden one-time key for a form.
pub fn form_key() -> Markup {
    html! { input type="hidden" name="_key" value=(souk_app::accounts::random_token()); }
}

/// To the log-in page, coming back to `here` afterwards.
pub fn to_login(here: &str) -> Response {
    Redirect::to(&format!("/login?next={}", super::pages::encode(here))).into_response()
}

/// What claiming a form's key found.
pub(crate) enum Once {
    /// The form's action is ours to run; the claim is finished with it or released.
    Run(KeyClaim),
    /// Submitted before: where that submission went.
    Done(String),
}

pub(crate) async fn claim(app: &App, user: &User, key: &str) -> Result<Once, AppError> {
    claim_in(app, &format!("web:{}", user.id), key).await
}

/// Claims a form's key in `scope` (a signed-out form's is its browser's CSRF token).
pub(crate) async fn claim_in(app: &App, scope: &str, key: &str) -> Result<Once, AppError> {
    if key.len() < 16 || key.len() > 64 {
        return Err(Invalid::new("invalid", "_key", "a form key").into());
    }
    let busy = || AppError::conflict("in_progress", "this form is being submitted");
    match souk_app::idempotency::claim(app, scope, key, "form").await? {
        Claimed::Run(claim) => Ok(Once::Run(claim)),
        Claimed::Replay { body, .. } => Ok(Once::Done(body)),
        Claimed::Mismatch | Claimed::Busy => Err(busy()),
    }
}

/// Records where the form went in the action's own transaction, commits, and goes there; the
/// page there says what happened (see [`done_code`]).
pub(crate) async fn finish(ctx: &Ctx, tx: Tx, claim: &KeyClaim, location: &str) -> Result<Response, AppError> {
    souk_app::idempotency::finish(tx, &claim.scope, &claim.key, &claim.token, 303, location).await?;
    let mut res = go(ctx, location);
    if let Some(code) = done_code(&ctx.path) {
        let cookie = format!("{DONE_COOKIE}={code}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
        if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

/// The header the pages' script sends with a form, and the one it reads where to go from.
pub(crate) const INLINE_HEADER: &str = "x-souk-form";
const LOCATION_HEADER: &str = "x-souk-location";

/// To `location` after a form: a redirect, or for the pages' script, the place to go itself
/// (a followed redirect would show the next page's one-time notice to the script, not the reader).
pub(crate) fn go(ctx: &Ctx, location: &str) -> Response {
    if !ctx.inline {
        return Redirect::to(location).into_response();
    }
    match axum::http::HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::NO_CONTENT, [(LOCATION_HEADER, v)]).into_response(),
        Err(_) => Redirect::to("/").into_response(),
    }
}

/// The cookie that carries what a form did to the next page, which shows it once.
pub(crate) const DONE_COOKIE: &str = "souk_done";

/// What a form did, by the path it was posted to: a code the next page turns into a sentence
/// ([`done_words`]). Sending a chat message says nothing: the message itself shows.
fn done_code(path: &str) -> Option<&'static str> {
    let last = path.rsplit('/').next().unwrap_or("");
    let under = |prefix: &str| path.starts_with(prefix);
    Some(match path {
        "/checkout" => "ordered",
        "/cart" => "added",
        _ if under("/cart/items/") && last == "remove" => "removed",
        _ if under("/cart/items/") => "cart_updated",
        "/wallet/top-up" => "topped_up",
        "/wallet/payout" => "paid_out",
        "/seller/store" => "store_opened",
        "/seller/verification" => "submitted",
        "/seller/promotions" => "scheduled",
        "/rfqs" => "rfq_posted",
        "/notifications/read" => "marked_read",
        "/register" => "signed_up",
        "/reset-password/new" => "password_reset",
        "/account/profile" => "saved",
        "/account/delete" => "account_deleted",
        "/account/email" => "email_link_sent",
        "/account/verify" => "verify_link_sent",
        "/account/password" => "password_changed",
        "/account/sessions/end-others" => "signed_out_others",
        _ if under("/account/sessions/") => "signed_out_device",
        _ if under("/seller/products") => "saved",
        _ if under("/seller/orders/") => "shipped",
        _ if under("/seller/disputes/") => "answered",
        "/report" => "reported",
        "/console/actions" => "acted",
        _ if under("/console/actions/") && last == "uphold" => "upheld",
        _ if under("/console/actions/") => "reversed",
        _ if under("/appeals/") => "appealed",
        _ if under("/console/reports/") => "dismissed",
        _ if under("/console/disputes/") => "decided",
        _ if under("/console/") => "saved",
        _ if under("/disputes/") => match last {
            "accept" => "refund_accepted",
            "escalate" => "escalated",
            "return" => "return_sent",
            "received" => "return_received",
            _ => "added_to_record",
        },
        _ if under("/orders/") => match last {
            "pay" => "paid",
            "confirm" => "confirmed",
            "cancel" => "cancelled",
            "extend" => "extended",
            "review" => "reviewed",
            "dispute" => "disputed",
            _ => return None,
        },
        _ => return None,
    })
}

/// The sentence (a key to translate) for what a form did.
pub(crate) fn done_words(code: &str) -> Option<&'static str> {
    Some(match code {
        "ordered" => "Ordered. What the wallet covers is paid; the rest waits for a top-up.",
        "added" => "Added to the cart.",
        "cart_updated" => "The cart is updated.",
        "removed" => "Taken out of the cart.",
        "topped_up" => "Top-up accepted: the money arrives once the card's provider confirms.",
        "settled" => "The card's provider has answered: the top-up is settled (see the history).",
        "paid_out" => "Paid out: the money is on its way to the bank account.",
        "store_opened" => "Your store is open.",
        "submitted" => "Submitted: an administrator will review it.",
        "scheduled" => "Flash sale scheduled.",
        "rfq_posted" => "Your request for quotes is posted.",
        "marked_read" => "All marked read.",
        "signed_up" => "Welcome to Souk! We emailed you a link: open it to confirm your address.",
        "password_reset" => "Your password is changed and every device is signed out: log in with the new one.",
        "email_link_sent" => "A link is on its way to the new address: the change is made when it is opened.",
        "verify_link_sent" => "A new confirmation link is on its way.",
        "email_confirmed" => "Your email address is confirmed.",
        "password_changed" => "Your password is changed; every other device is signed out.",
        "signed_out_device" => "That device is signed out.",
        "signed_out_others" => "Every other device is signed out.",
        "reported" => "Thank you: the operators will look at your report.",
        "acted" => "Done: the person concerned is told, with your reason.",
        "reversed" => "Reversed: the person concerned is told.",
        "dismissed" => "Report closed without action.",
        "upheld" => "Decision kept: the person concerned is told why.",
        "appealed" => "Your appeal is sent: an operator will answer.",
        "account_deleted" => "Your account is deleted. Thank you for having been with Souk.",
        "saved" => "Saved.",
        "shipped" => "Shipped: the buyer is told.",
        "answered" => "Your answer went to the buyer.",
        "decided" => "Decided: both parties are told.",
        "refund_accepted" => "Partial refund accepted.",
        "escalated" => "A mediator will decide.",
        "return_sent" => "Return sent: the refund follows once it arrives.",
        "return_received" => "Return received: the buyer is refunded.",
        "added_to_record" => "Added to the record.",
        "paid" => "Paid: the money is held in escrow until you confirm receipt.",
        "confirmed" => "Receipt confirmed: the seller is paid.",
        "cancelled" => "Cancelled.",
        "extended" => "The confirmation window is extended.",
        "reviewed" => "Thank you: your review is posted.",
        "disputed" => "Dispute opened: the seller is asked to answer.",
        _ => return None,
    })
}

pub(crate) async fn release(claim: KeyClaim) {
    if let Err(e) = claim.release().await {
        tracing::warn!(error = %e, "could not release a form's key");
    }
}

/// Runs a form's action once: `act` writes in the transaction it is given and returns where to
/// go; a failure is shown as a message on its own page or, with `else |e| page`, on the page
/// `page` draws (the form again, with what was typed and the error beside its field).
macro_rules! once {
    ($app:expr, $ctx:expr, $user:expr, $key:expr, |$tx:ident| $act:expr) => {
        $crate::web::forms::once!($app, $ctx, $user, $key, |$tx| $act, else |e| $crate::web::forms::problem(&$ctx, e))
    };
    ($app:expr, $ctx:expr, $user:expr, $key:expr, |$tx:ident| $act:expr, else |$e:ident| $failed:expr) => {{
        use $crate::web::forms::{claim, finish, release, Once};
        match claim(&$app, &$user, &$key).await {
            Ok(Once::Done(location)) => $crate::web::forms::go(&$ctx, &location),
            Err(error) => {
                let $e = &error;
                $failed
            }
            Ok(Once::Run(key_claim)) => {
                let result: Result<axum::response::Response, $crate::error::AppError> = async {
                    let mut $tx = $app.begin().await?;
                    let location: String = $act;
                    finish(&$ctx, $tx, &key_claim, &location).await
                }
                .await;
                match result {
                    Ok(r) => {
                        key_claim.settle();
                        r
                    }
                    Err(error) => {
                        release(key_claim).await;
                        let $e = &error;
                        $failed
                    }
                }
            }
        }
    }};
}
pub(crate) use once;

/// A failed action's page: what went wrong, in the page's language (the API's words in English,
/// a sentence for the error's code or kind in Chinese), and the way back to the form. To the
/// pages' script, only the error, naming the input it is about ([`inline_problem`]).
pub(crate) fn problem(ctx: &Ctx, e: &AppError) -> Response {
    if let Some(r) = inline_problem(ctx, e) {
        return r;
    }
    let status = if e.status.is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    let title = ctx.t("That could not be done");
    let body = html! {
        h1 { (title) }
        p.error role="alert" { (error_words(ctx, e)) }
        p { a href="javascript:history.back()" { "← " (ctx.t("Go back")) } }
    };
    ctx.page(status, title, body)
}

/// For a form the pages' script sent: the error alone, which the script puts beside the input
/// named `data-input` (or atop the form), leaving everything typed in place.
pub(crate) fn inline_problem(ctx: &Ctx, e: &AppError) -> Option<Response> {
    if !ctx.inline {
        return None;
    }
    let input = e.field.as_deref().map(input_of).unwrap_or_default();
    // A refusal is an answer the script expects (its header says so), not a failed request.
    let status = if e.status.is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    // Beside its input, the error need not name its field.
    let words = match ctx.lang {
        Lang::En => e.message.clone(),
        Lang::Zh => error_words(ctx, e),
    };
    let fragment = html! { p.field-error role="alert" data-input=(input) { (words) } };
    let headers = [(INLINE_HEADER, "error"), ("content-type", "text/html; charset=utf-8")];
    Some((status, headers, fragment.into_string()).into_response())
}

/// The form input an error's field names: `variants[2].price` and `skus[2].price` are a
/// product's variant row 2's price (`v2_price`), `ships_to[0]` the ships-to box.
pub(crate) fn input_of(field: &str) -> String {
    let (head, rest) = field.split_once('[').unwrap_or((field, ""));
    if head == "variants" || head == "skus" {
        if let Some((i, sub)) = rest.split_once(']') {
            let sub = sub.trim_start_matches('.').split(['.', '[']).next().unwrap_or("");
            let input = match sub {
                "sku" => "code",
                "price_tiers" => "tiers",
                other => other,
            };
            return format!("v{i}_{input}");
        }
    }
    head.split('.').next().unwrap_or(head).to_string()
}

/// What went wrong, in the page's language: the API's words (with the field) in English; in
/// Chinese, what the rules expect where it has words, else a sentence for the error's code or kind.
pub(crate) fn error_words(ctx: &Ctx, e: &AppError) -> String {
    match ctx.lang {
        Lang::En => match &e.field {
            Some(f) => format!("{} ({f})", e.message),
            None => e.message.clone(),
        },
        Lang::Zh => super::i18n::refusal_zh(&e.message).unwrap_or_else(|| ctx.t(problem_words(e)).to_string()),
    }
}

/// The English sentence (a key to translate) for a refusal: by its code where it has its own,
/// else by its kind.
fn problem_words(e: &AppError) -> &'static str {
    match e.code.as_str() {
        "insufficient_funds" => "The wallet holds too little: top it up first.",
        "out_of_stock" => "Not enough units are in stock.",
        "invalid_state" => "The order is not in a state that allows this.",
        "email_taken" => "An account with this email exists already.",
        "slug_taken" => "This store address is taken.",
        "store_exists" => "You have opened a store already.",
        "duplicate_sku" => "A variant with this code exists in your store already.",
        "already_reviewed" => "You have reviewed this order already.",
        "verification_pending" => "A verification request is being reviewed already.",
        "promotion_overlaps" => "Another sale of this variant runs at that time.",
        "offer_expired" | "offer_not_open" => "This offer can no longer be answered.",
        "rfq_closed" | "rfq_awarded" => "This request for quotes is closed.",
        "payment_declined" => "The card was declined.",
        "invalid_tracking" => "This tracking number does not match the carrier's format.",
        "unsupported_image" => "This file is not a picture Souk takes: choose a JPEG, PNG or WebP image.",
        "too_large" if e.field.as_deref() == Some("file") => "The file is too large: at most 10 MB.",
        "in_progress" => "This form is being submitted.",
        "orders_open" => "Some of your orders are still open: finish or cancel them first.",
        "wallet_not_empty" => "Your wallet still holds money: pay it out first.",
        "top_up_pending" => "A top-up is waiting for the card's provider: try again once it is settled.",
        "taken_down" => "An operator took this listing down: it cannot be put on sale.",
        "store_suspended" => "An operator suspended this store: it cannot list or sell for now.",
        "payouts_held" => "Payouts wait while an operator has suspended your store.",
        "awaiting_review" => "This listing waits for an operator's review before it is public.",
        _ => match e.status.as_u16() {
            401 | 403 => "You may not do this.",
            404 => "Page not found.",
            409 | 410 => "This cannot be done now.",
            429 => "Too many attempts; try again later.",
            500.. => "Something went wrong on our side.",
            _ => "Please check what you entered.",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form that says what it did says it in both languages, and the path decides it.
    #[test]
    fn every_done_form_has_words_in_both_languages() {
        let paths = [
            "/checkout",
            "/cart",
            "/cart/items/sku_x",
            "/cart/items/sku_x/remove",
            "/wallet/top-up",
            "/wallet/payout",
            "/seller/store",
            "/seller/verification",
            "/seller/promotions",
            "/rfqs",
            "/notifications/read",
            "/register",
            "/reset-password/new",
            "/account/profile",
            "/account/delete",
            "/report",
            "/console/actions",
            "/console/actions/mod_x/reverse",
            "/console/reports/rpt_x/dismiss",
            "/console/actions/mod_x/uphold",
            "/appeals/mod_x",
            "/account/email",
            "/account/verify",
            "/account/password",
            "/account/sessions/end-others",
            "/account/sessions/abc/end",
            "/seller/products/new",
            "/seller/orders/o/ship",
            "/seller/disputes/d/answer",
            "/console/disputes/d/decide",
            "/console/users/u/roles",
            "/disputes/d/accept",
            "/disputes/d/escalate",
            "/disputes/d/return",
            "/disputes/d/received",
            "/disputes/d/evidence",
            "/orders/o/pay",
            "/orders/o/confirm",
            "/orders/o/cancel",
            "/orders/o/extend",
            "/orders/o/review",
            "/orders/o/dispute",
        ];
        for path in paths {
            let words = done_code(path).and_then(done_words).unwrap_or_else(|| panic!("{path} says nothing"));
            assert_ne!(Lang::Zh.t(words), words, "no Chinese for {words:?}");
        }
        assert_eq!(done_code("/messages/c"), None, "a sent message shows itself");
        assert_eq!(done_words("<script>"), None, "only known codes are shown");
    }

    /// Every refusal a page shows reads in Chinese on a Chinese page.
    #[test]
    fn every_refusal_has_chinese_words() {
        let codes = [
            "insufficient_funds",
            "out_of_stock",
            "invalid_state",
            "email_taken",
            "slug_taken",
            "store_exists",
            "duplicate_sku",
            "already_reviewed",
            "verification_pending",
            "promotion_overlaps",
            "offer_expired",
            "rfq_closed",
            "payment_declined",
            "in_progress",
            "invalid",
            "invalid_tracking",
            "unsupported_image",
            "orders_open",
            "wallet_not_empty",
            "top_up_pending",
            "taken_down",
            "store_suspended",
            "payouts_held",
            "awaiting_review",
        ];
        for status in [400, 401, 402, 403, 404, 409, 410, 422, 429, 500, 503] {
            for code in codes {
                let status = StatusCode::from_u16(status).unwrap();
                let e = AppError { status, code: code.into(), message: "m".into(), field: None, retry_after_s: None };
                let words = problem_words(&e);
                assert_ne!(Lang::Zh.t(words), words, "no Chinese for {words:?}");
            }
        }
        let file = AppError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large".into(),
            message: "m".into(),
            field: Some("file".into()),
            retry_after_s: None,
        };
        assert_ne!(Lang::Zh.t(problem_words(&file)), problem_words(&file));
    }
}
