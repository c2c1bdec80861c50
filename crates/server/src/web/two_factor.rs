//! Two-step sign-in in the pages: the account page's section, enrolling an authenticator (its
//! QR code drawn by the server), the recovery codes shown once, and the sign-in's second step.

use super::account::KeyForm;
use super::forms::{claim, error_words, form_key, go, once, problem, release, Once};
use super::Ctx;
use crate::error::AppError;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use souk_app::two_factor;
use souk_app::views::User;

/// The account page's section: on or off, and how to change it.
pub async fn section(app: &App, ctx: &Ctx, user: &User) -> Markup {
    let left = if user.two_factor { two_factor::recovery_codes_left(app, user).await.unwrap_or(0) } else { 0 };
    let staff = !user.held_back.is_empty()
        || user.has(souk_domain::account::Role::Mediator)
        || user.has(souk_domain::account::Role::Admin);
    html! {
        section.account #two-factor {
            h2 { (ctx.t("Two-step sign-in")) }
            @if user.two_factor {
                p { span.ok-text { (ctx.t("On")) } " · " (ctx.t("signing in asks for a code from your authenticator app.")) }
                p.hint { (ctx.count(left, "recovery code left", "recovery codes left")) }
                @if !(staff && app.config.staff_two_factor) {
                    details {
                        summary { (ctx.t("Turn two-step sign-in off")) }
                        form.two-factor-off method="post" action="/account/two-factor/disable" {
                            (ctx.csrf_field()) (form_key())
                            label { (ctx.t("Your current password"))
                                input type="password" name="password" required autocomplete="current-password"; }
                            button.secondary type="submit" { (ctx.t("Turn off")) }
                        }
                    }
                }
            } @else {
                p { (ctx.t("Besides the password, signing in asks for a code from an authenticator app on your phone: a stolen password alone is not enough.")) }
                form.inline method="post" action="/account/two-factor/start" {
                    (ctx.csrf_field()) (form_key())
                    button type="submit" { (ctx.t("Turn on two-step sign-in")) }
                }
            }
        }
    }
}

/// Mediator and admin roles waiting for two-step sign-in, said where it can be turned on.
pub fn held_back_notice(ctx: &Ctx, user: &User) -> Markup {
    html! {
        @if !user.held_back.is_empty() {
            p.error role="alert" {
                (ctx.t("Your operator role works once two-step sign-in is on."))
                " " a href="/account#two-factor" { (ctx.t("Turn it on")) }
            }
        }
    }
}

/// Starts enrolling an authenticator, then shows how to set it up.
pub async fn start(State(app): State<App>, ctx: Ctx, Form(f): Form<KeyForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        two_factor::start(&mut tx, &user).await?;
        "/account/two-factor".to_string()
    })
}

/// Setting up the authenticator: the QR code, the secret to type instead, and the first code.
pub async fn enrol_page(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return super::forms::to_login("/account/two-factor") };
    match two_factor::pending(&app, &user).await {
        Ok(Some(_)) => enrol_form(&app, &ctx, &user, None).await,
        Ok(None) => Redirect::to("/account").into_response(),
        Err(_) => ctx.error(),
    }
}

async fn enrol_form(app: &App, ctx: &Ctx, user: &User, error: Option<&AppError>) -> Response {
    let Ok(Some(e)) = two_factor::pending(app, user).await else { return Redirect::to("/account").into_response() };
    // The secret in groups of four, as authenticator apps show and take it.
    let grouped: Vec<String> = e.secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let title = ctx.t("Turn on two-step sign-in");
    let body = html! {
        section.narrow.enrol {
            h1 { (title) }
            ol {
                li { (ctx.t("Open an authenticator app on your phone (such as Google Authenticator, Microsoft Authenticator or 1Password) and scan this code:")) }
            }
            figure.qr role="img" aria-label=(ctx.t("QR code for the authenticator app")) { (PreEscaped(&e.qr_svg)) }
            p.hint { (ctx.t("Cannot scan? Type this key into the app instead:")) " " code.secret { (grouped.join(" ")) } }
            ol start="2" { li { (ctx.t("Type the six-digit code the app shows:")) } }
            form.enrol method="post" action="/account/two-factor/confirm" data-plain {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Code"))
                    input name="code" required inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}"
                        maxlength="7" aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
                }
                @if let Some(e) = error { p.field-error #code-error role="alert" { (error_words(ctx, e)) } }
                button type="submit" { (ctx.t("Turn on")) }
            }
            p { a href="/account" { (ctx.t("Not now")) } }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Confirms the first code: two-step sign-in is on, and the recovery codes are shown this once
/// (sent again, the form goes to the account page, never to the codes).
pub async fn confirm(State(app): State<App>, ctx: Ctx, Form(f): Form<CodeForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let key_claim = match claim(&app, &user, &f._key).await {
        Ok(Once::Run(c)) => c,
        Ok(Once::Done(location)) => return go(&ctx, &location),
        Err(e) => return problem(&ctx, &e),
    };
    let turned_on = async {
        let mut tx = app.begin().await?;
        let codes = two_factor::confirm(&app, &mut tx, &user, &f.code).await?;
        let (scope, key, token) = (&key_claim.scope, &key_claim.key, &key_claim.token);
        souk_app::idempotency::finish(tx, scope, key, token, 303, "/account").await?;
        Ok::<_, AppError>(codes)
    };
    let codes = match turned_on.await {
        Ok(codes) => {
            key_claim.settle();
            codes
        }
        Err(e) => {
            release(key_claim).await;
            return enrol_form(&app, &ctx, &user, Some(&e)).await;
        }
    };
    let title = ctx.t("Two-step sign-in is on");
    let body = html! {
        section.narrow {
            h1 { (title) }
            p.ok.done role="status" { (ctx.t("From now on, signing in asks for a code from your authenticator app.")) }
            h2 { (ctx.t("Your recovery codes")) }
            p { (ctx.t("Without your phone, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.")) }
            ul.recovery-codes { @for c in &codes { li { code { (c) } } } }
            p { a href="/account" { (ctx.t("I have kept them")) } }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn disable(State(app): State<App>, ctx: Ctx, Form(f): Form<PasswordForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        two_factor::disable(&app, &mut tx, &user, f.password.clone()).await?;
        "/account".to_string()
    })
}

/// The sign-in's second step: the code asked for after a right password.
pub fn second_step_page(ctx: &Ctx, waiting: &str, next: &str, error: Option<&str>) -> Response {
    let title = ctx.t("Two-step sign-in");
    let body = html! {
        section.narrow {
            h1 { (title) }
            p { (ctx.t("Type the six-digit code your authenticator app shows, or one of your recovery codes.")) }
            form.second-step method="post" action="/login/code" {
                (ctx.csrf_field())
                input type="hidden" name="waiting" value=(waiting);
                input type="hidden" name="next" value=(next);
                label { (ctx.t("Code"))
                    input name="code" required autofocus autocomplete="one-time-code" maxlength="20"
                        aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
                }
                @if let Some(e) = error { p.field-error #code-error role="alert" { (e) } }
                button type="submit" { (ctx.t("Sign in")) }
            }
            p { a href="/login" { (ctx.t("Start again")) } }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct SecondStepForm {
    waiting: String,
    code: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    _csrf: String,
}

pub async fn second_step(
    State(app): State<App>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<SecondStepForm>,
) -> Response {
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let next = super::local_path(&f.next).to_string();
    let device = crate::routes::accounts::device(&headers);
    match souk_app::accounts::finish_sign_in(&app, &f.waiting, &f.code, &device).await {
        Ok((user, token)) => super::account::signed_in(&next, &token, &user),
        Err(e) if e.code == "sign_in_expired" => {
            super::login_page_with(&ctx, &next, Some("The sign-in took too long; please start again."))
        }
        Err(e) => {
            let e: AppError = e.into();
            second_step_page(&ctx, &f.waiting, &next, Some(&error_words(&ctx, &e)))
        }
    }
}
