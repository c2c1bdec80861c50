//! Forms that act once. Every form carries, besides the CSRF token, a one-time `_key` claimed
//! like an API Idempotency-Key: a form submitted twice (a double click, a reload) acts once, and
//! the second submission is sent where the first one went.

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
    if key.len() < 16 || key.len() > 64 {
        return Err(Invalid::new("invalid", "_key", "a form key").into());
    }
    let scope = format!("web:{}", user.id);
    let busy = || AppError::conflict("in_progress", "this form is being submitted");
    match souk_app::idempotency::claim(app, &scope, key, "form").await? {
        Claimed::Run(claim) => Ok(Once::Run(claim)),
        Claimed::Replay { body, .. } => Ok(Once::Done(body)),
        Claimed::Mismatch | Claimed::Busy => Err(busy()),
    }
}

/// Records where the form went in the action's own transaction, commits, and goes there.
pub(crate) async fn finish(tx: Tx, claim: &KeyClaim, location: &str) -> Result<Response, AppError> {
    souk_app::idempotency::finish(tx, &claim.scope, &claim.key, &claim.token, 303, location).await?;
    Ok(Redirect::to(location).into_response())
}

pub(crate) async fn release(claim: KeyClaim) {
    if let Err(e) = claim.release().await {
        tracing::warn!(error = %e, "could not release a form's key");
    }
}

/// Runs a form's action once: `act` writes in the transaction it is given and returns where to
/// go; a failure is shown on `back`'s page as a message.
macro_rules! once {
    ($app:expr, $ctx:expr, $user:expr, $key:expr, |$tx:ident| $act:expr) => {{
        use axum::response::IntoResponse;
        use $crate::web::forms::{claim, finish, problem, release, Once};
        match claim(&$app, &$user, &$key).await {
            Ok(Once::Done(location)) => axum::response::Redirect::to(&location).into_response(),
            Err(e) => problem(&$ctx, &e),
            Ok(Once::Run(key_claim)) => {
                let result: Result<axum::response::Response, $crate::error::AppError> = async {
                    let mut $tx = $app.begin().await?;
                    let location: String = $act;
                    finish($tx, &key_claim, &location).await
                }
                .await;
                match result {
                    Ok(r) => {
                        key_claim.settle();
                        r
                    }
                    Err(e) => {
                        release(key_claim).await;
                        problem(&$ctx, &e)
                    }
                }
            }
        }
    }};
}
pub(crate) use once;

/// A failed action's page: what went wrong, in the words the API uses.
pub(crate) fn problem(ctx: &Ctx, e: &AppError) -> Response {
    let status = if e.status.is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    let body = html! {
        p.error role="alert" { (e.message) @if let Some(f) = &e.field { " (" (f) ")" } }
        p { a href="javascript:history.back()" { "←" } }
    };
    ctx.page(status, "Souk", body)
}
