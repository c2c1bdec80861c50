//! Joining and keeping an account in the pages: sign-up, confirming an email address, a
//! forgotten password, and the account page (profile, email, password, signed-in devices).

use super::forms::{claim_in, finish, form_key, go, once, problem, release, to_login, Once};
use super::i18n::Lang;
use super::{Ctx, LANG_COOKIE, SESSION_COOKIE};
use crate::error::AppError;
use crate::routes::accounts::{device, session_views};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::accounts::{self, NewAccount, ProfileInput};
use souk_domain::account::MIN_PASSWORD_CHARS;

/// Adds a cookie to a response.
fn set_cookie(res: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The cookie that carries a page session's token.
pub(crate) fn session_set_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000")
}

/// Signed in: to `next` with the session's cookie, and the language the account chose.
pub(crate) fn signed_in(next: &str, token: &str, user: &souk_app::views::User) -> Response {
    let mut res = axum::response::Redirect::to(next).into_response();
    set_cookie(&mut res, &session_set_cookie(token));
    if let Some(lang) = user.locale.as_deref() {
        set_cookie(&mut res, &lang_cookie(lang));
    }
    res
}

/// The cookie that keeps the language an account chose.
pub(crate) fn lang_cookie(lang: &str) -> String {
    format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000")
}

fn password_input(ctx: &Ctx, name: &str, label: &'static str, autocomplete: &str) -> Markup {
    html! {
        label { (ctx.t(label))
            input type="password" name=(name) required minlength=(MIN_PASSWORD_CHARS) autocomplete=(autocomplete);
        }
    }
}

pub async fn register_page(ctx: Ctx) -> Response {
    if ctx.user.is_some() {
        return axum::response::Redirect::to("/account").into_response();
    }
    let body = html! {
        section.narrow {
            h1 { (ctx.t("Create your account")) }
            form.register method="post" action="/register" {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Your name, as sellers and buyers see it")) input name="display_name" maxlength="100" autocomplete="name"; }
                label { (ctx.t("Email")) input type="email" name="email" required autocomplete="email"; }
                (password_input(&ctx, "password", "Password (at least 10 characters)", "new-password"))
                button type="submit" { (ctx.t("Sign up")) }
            }
            p { (ctx.t("Already have an account?")) " " a href="/login" { (ctx.t("Log in")) } }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Sign up"), body)
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    display_name: String,
    email: String,
    password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Opens the account, signs it in here and emails the link that confirms its address.
pub async fn register(State(app): State<App>, ctx: Ctx, headers: HeaderMap, Form(f): Form<RegisterForm>) -> Response {
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    // Signed out, a form's key is claimed under its browser's CSRF token.
    let claim = match claim_in(&app, &format!("web:signup:{}", ctx.csrf), &f._key).await {
        Ok(Once::Run(claim)) => claim,
        Ok(Once::Done(location)) => return go(&ctx, &location),
        Err(e) => return problem(&ctx, &e),
    };
    let opened = async {
        let name = Some(f.display_name.as_str()).filter(|n| !n.trim().is_empty());
        let account = NewAccount::check(&f.email, f.password.clone(), name).await?;
        let mut tx = app.begin().await?;
        let user = account.open(&mut tx).await?;
        let (token, _) = accounts::start_session(&mut tx, &user.id, &device(&headers)).await?;
        // The new account speaks the language it signed up in.
        let choices = ProfileInput { locale: Some(ctx.lang.code().to_string()), ..Default::default() };
        let user = accounts::update_profile(&mut tx, &user, &choices).await?;
        accounts::send_email_token(&app, &mut tx, &user).await?;
        let res = finish(&ctx, tx, &claim, "/account").await?;
        Ok::<_, AppError>((res, token))
    };
    match opened.await {
        Ok((mut res, token)) => {
            claim.settle();
            set_cookie(&mut res, &session_set_cookie(&token));
            res
        }
        Err(e) => {
            release(claim).await;
            problem(&ctx, &e)
        }
    }
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A forgotten password: the form that asks for a link, or with a link's token, the form that
/// sets the new password.
pub async fn reset_page(State(app): State<App>, ctx: Ctx, Query(q): Query<TokenQuery>) -> Response {
    let title = ctx.t("Reset your password");
    if q.token.is_empty() {
        let body = html! {
            section.narrow {
                h1 { (title) }
                p { (ctx.t("Type the email address of your account: we send a link to choose a new password.")) }
                form.reset method="post" action="/reset-password" {
                    (ctx.csrf_field())
                    label { (ctx.t("Email")) input type="email" name="email" required autocomplete="email"; }
                    button type="submit" { (ctx.t("Send the link")) }
                }
                p { a href="/login" { (ctx.t("Back to log in")) } }
            }
        };
        return ctx.page(StatusCode::OK, title, body);
    }
    let live = accounts::reset_link_live(&app, &q.token).await.unwrap_or(false);
    let body = html! {
        section.narrow {
            h1 { (title) }
            @if live {
                form.reset method="post" action="/reset-password/new" {
                    (ctx.csrf_field()) (form_key())
                    input type="hidden" name="token" value=(q.token);
                    (password_input(&ctx, "password", "New password (at least 10 characters)", "new-password"))
                    button type="submit" { (ctx.t("Set the new password")) }
                }
                p.hint { (ctx.t("Every device signed in to the account is signed out.")) }
            } @else {
                p.error role="alert" { (ctx.t("This link is used or expired: links work once, for 30 minutes.")) }
                p { a href="/reset-password" { (ctx.t("Ask for a new link")) } }
            }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct ResetForm {
    email: String,
    #[serde(default)]
    _csrf: String,
}

/// Sends a reset link if an account uses the address; the page says the same either way.
pub async fn request_reset(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Form(f): Form<ResetForm>,
) -> Response {
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let email = match accounts::request_password_reset(&app, &f.email, peer.ip()).await {
        Ok(email) => email,
        Err(e) => return problem(&ctx, &e.into()),
    };
    let title = ctx.t("Check your email");
    let body = html! {
        section.narrow {
            h1 { (title) }
            p role="status" { (ctx.t("If an account uses this address, a link to choose a new password is on its way to")) " " strong { (email) } "." }
            p { (ctx.t("The link works once, for 30 minutes. Nothing arrived? Look in the spam folder, or ask again in a few minutes.")) }
            p { a href="/login" { (ctx.t("Back to log in")) } }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    token: String,
    password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Sets the new password from a reset link; every session ends, and the person logs in again.
pub async fn reset_password(State(app): State<App>, ctx: Ctx, Form(f): Form<NewPasswordForm>) -> Response {
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let claim = match claim_in(&app, &format!("web:reset:{}", ctx.csrf), &f._key).await {
        Ok(Once::Run(claim)) => claim,
        Ok(Once::Done(location)) => return go(&ctx, &location),
        Err(e) => return problem(&ctx, &e),
    };
    let done = async {
        let mut tx = app.begin().await?;
        accounts::reset_password(&mut tx, &f.token, f.password.clone()).await?;
        finish(&ctx, tx, &claim, "/login").await
    };
    match done.await {
        Ok(mut res) => {
            claim.settle();
            set_cookie(&mut res, &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
            res
        }
        Err(e) => {
            release(claim).await;
            problem(&ctx, &e)
        }
    }
}

/// An emailed link that proves an address: a button confirms it (mail scanners open links,
/// and must not use them up).
pub async fn verify_page(ctx: Ctx, Query(q): Query<TokenQuery>) -> Response {
    let title = ctx.t("Confirm your email address");
    let body = html! {
        section.narrow {
            h1 { (title) }
            form.verify method="post" action="/verify-email" {
                (ctx.csrf_field())
                input type="hidden" name="token" value=(q.token);
                button type="submit" { (ctx.t("Confirm this address")) }
            }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct VerifyForm {
    token: String,
    #[serde(default)]
    _csrf: String,
}

pub async fn verify(State(app): State<App>, ctx: Ctx, Form(f): Form<VerifyForm>) -> Response {
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let confirmed = async {
        let mut tx = app.begin().await?;
        accounts::confirm_email(&mut tx, &f.token).await?;
        souk_app::commit(tx).await?;
        Ok::<_, AppError>(())
    };
    match confirmed.await {
        Ok(()) => {
            let to = if ctx.user.is_some() { "/account" } else { "/login" };
            let mut res = axum::response::Redirect::to(to).into_response();
            set_cookie(
                &mut res,
                &format!("{}=email_confirmed; Path=/; Max-Age=60; HttpOnly; SameSite=Lax", super::forms::DONE_COOKIE),
            );
            res
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            let title = ctx.t("Confirm your email address");
            let body = html! {
                section.narrow {
                    h1 { (title) }
                    p.error role="alert" { (ctx.t("This link is used or expired. Ask for a new one on your account page.")) }
                    p { a href="/account" { (ctx.t("Your account")) } }
                }
            };
            ctx.page(StatusCode::OK, title, body)
        }
        Err(e) => problem(&ctx, &e),
    }
}

/// The account page: profile, email, password and the devices signed in.
pub async fn account_page(State(app): State<App>, ctx: Ctx, headers: HeaderMap) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/account") };
    let Ok(sessions) = session_views(&app, &user, super::session_cookie(&headers).as_deref()).await else {
        return ctx.error();
    };
    let zones = souk_domain::account::time_zones();
    let chosen = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let two_step = super::two_factor::section(&app, &ctx, &user).await;
    let title = ctx.t("Your account");
    let body = html! {
        h1 { (title) }
        (super::two_factor::held_back_notice(&ctx, &user))
        section.account {
            h2 { (ctx.t("Profile")) }
            form.profile method="post" action="/account/profile" {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Name")) input name="display_name" required maxlength="100" value=(user.display_name) autocomplete="name"; }
                label { (ctx.t("Language")) select name="locale" {
                    option value="" { (ctx.t("The browser's")) }
                    option value="en" selected[chosen(&user.locale, "en")] { "English" }
                    option value="zh" selected[chosen(&user.locale, "zh")] { "中文" }
                } }
                label { (ctx.t("Currency for amounts you type")) input name="currency" maxlength="3" size="4" placeholder="CNY" value=(user.currency.as_deref().unwrap_or("")); }
                label { (ctx.t("Time zone")) select name="time_zone" {
                    option value="" { (ctx.t("The browser's")) }
                    @for z in &zones { option value=(z) selected[chosen(&user.time_zone, z)] { (z.replace('_', " ")) } }
                } }
                button type="submit" { (ctx.t("Save")) }
            }
        }
        section.account {
            h2 { (ctx.t("Email")) }
            p { strong { (user.email) } " · "
                @if user.email_verified { span.ok-text { (ctx.t("confirmed")) } } @else { span.warn-text { (ctx.t("not confirmed yet")) } }
            }
            @if !user.email_verified {
                form.inline method="post" action="/account/verify" {
                    (ctx.csrf_field()) (form_key())
                    button.secondary type="submit" { (ctx.t("Send the confirmation link again")) }
                }
            }
            details {
                summary { (ctx.t("Change the email address")) }
                form.email method="post" action="/account/email" {
                    (ctx.csrf_field()) (form_key())
                    label { (ctx.t("New email address")) input type="email" name="new_email" required autocomplete="email"; }
                    (password_input(&ctx, "password", "Your current password", "current-password"))
                    button type="submit" { (ctx.t("Send a confirmation link")) }
                    p.hint { (ctx.t("The account keeps its address until the link sent to the new one is opened.")) }
                }
            }
        }
        section.account {
            h2 { (ctx.t("Password")) }
            form.password method="post" action="/account/password" {
                (ctx.csrf_field()) (form_key())
                input type="hidden" name="username" value=(user.email) autocomplete="username";
                (password_input(&ctx, "current_password", "Current password", "current-password"))
                (password_input(&ctx, "new_password", "New password (at least 10 characters)", "new-password"))
                button type="submit" { (ctx.t("Change the password")) }
                p.hint { (ctx.t("Every other device signed in to the account is signed out.")) }
            }
        }
        (two_step)
        section.account {
            h2 { (ctx.t("Your data")) }
            p { a href="/account/export" download="souk-account.json" { (ctx.t("Download everything Souk holds about you (JSON)")) } }
            details {
                summary { (ctx.t("Delete the account")) }
                p { (ctx.t("Your name, email and what could reach you are erased; orders and payments stay in the books under an anonymous account. This cannot be undone.")) }
                p.hint { (ctx.t("An account with open orders or money in its wallet cannot be deleted: finish the orders and pay the money out first.")) }
                form.delete-account method="post" action="/account/delete" data-confirm=(ctx.t("Delete the account for good?"))
                    onsubmit="return confirm(this.dataset.confirm)" {
                    (ctx.csrf_field()) (form_key())
                    (password_input(&ctx, "password", "Your current password", "current-password"))
                    button.danger type="submit" { (ctx.t("Delete the account")) }
                }
            }
        }
        section.account {
            h2 { (ctx.t("Signed-in devices")) }
            ul.sessions {
                @for s in &sessions {
                    li {
                        strong { @if s.device.is_empty() { (ctx.t("Unknown device")) } @else { (s.device) } }
                        @if s.current { " · " span.ok-text { (ctx.t("this device")) } }
                        br;
                        span.hint { (ctx.t("signed in")) " " (ctx.when(s.created_at)) }
                        @if let Some(used) = s.last_used_at { span.hint { " · " (ctx.t("last used")) " " (ctx.when(used)) } }
                        @if !s.current {
                            form.inline method="post" action=(format!("/account/sessions/{}/end", s.id)) {
                                (ctx.csrf_field()) (form_key())
                                button.link type="submit" { (ctx.t("Sign out")) }
                            }
                        }
                    }
                }
            }
            @if sessions.iter().any(|s| !s.current) {
                form.inline method="post" action="/account/sessions/end-others" data-confirm=(ctx.t("Sign out every other device?"))
                    onsubmit="return confirm(this.dataset.confirm)" {
                    (ctx.csrf_field()) (form_key())
                    button.secondary type="submit" { (ctx.t("Sign out every other device")) }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct ProfileForm {
    display_name: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn save_profile(State(app): State<App>, ctx: Ctx, Form(f): Form<ProfileForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let input = ProfileInput {
        display_name: Some(f.display_name.clone()),
        locale: Some(f.locale.clone()),
        currency: Some(f.currency.clone()),
        time_zone: Some(f.time_zone.clone()),
    };
    let mut res = once!(app, ctx, user, f._key, |tx| {
        accounts::update_profile(&mut tx, &user, &input).await?;
        "/account".to_string()
    });
    // The pages speak the chosen language from now on.
    if res.status().is_redirection() || res.headers().contains_key("x-souk-location") {
        if let Some(lang) = Lang::parse(f.locale.trim()) {
            set_cookie(&mut res, &lang_cookie(lang.code()));
        }
    }
    res
}

#[derive(Deserialize)]
pub struct EmailForm {
    new_email: String,
    password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn change_email(State(app): State<App>, ctx: Ctx, Form(f): Form<EmailForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        accounts::request_email_change(&app, &mut tx, &user, &f.new_email, f.password.clone()).await?;
        "/account".to_string()
    })
}

/// A form that is only a button: its CSRF token and one-time key.
#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    pub(super) _csrf: String,
    #[serde(default)]
    pub(super) _key: String,
}

pub async fn resend_verification(State(app): State<App>, ctx: Ctx, Form(f): Form<KeyForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        accounts::send_email_token(&app, &mut tx, &user).await?;
        "/account".to_string()
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn change_password(
    State(app): State<App>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let keep = super::session_cookie(&headers);
    once!(app, ctx, user, f._key, |tx| {
        accounts::change_password(&mut tx, &user, f.current_password.clone(), f.new_password.clone(), keep.as_deref())
            .await?;
        "/account".to_string()
    })
}

pub async fn end_session(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<KeyForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        accounts::end_session_of(&mut tx, &user, &id).await?;
        "/account".to_string()
    })
}

pub async fn end_other_sessions(
    State(app): State<App>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<KeyForm>,
) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let keep = super::session_cookie(&headers);
    once!(app, ctx, user, f._key, |tx| {
        accounts::end_other_sessions(&mut tx, &user, keep.as_deref()).await?;
        "/account".to_string()
    })
}

/// Everything Souk holds about the signed-in user, as a JSON download.
pub async fn export(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/account") };
    let Ok(data) = accounts::export(&app, &user).await else { return ctx.error() };
    let body = serde_json::to_string_pretty(&data).unwrap_or_default();
    let headers = [
        (header::CONTENT_TYPE, "application/json; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"souk-account.json\""),
    ];
    (headers, body).into_response()
}

pub async fn delete_account(State(app): State<App>, ctx: Ctx, Form(f): Form<NewPasswordOnly>) -> Response {
    let user = match ctx.poster(&f._csrf, "/account") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let mut res = once!(app, ctx, user, f._key, |tx| {
        accounts::delete_account(&mut tx, &user, f.password.clone()).await?;
        "/".to_string()
    });
    if res.status().is_redirection() || res.headers().contains_key("x-souk-location") {
        set_cookie(&mut res, &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
    }
    res
}

#[derive(Deserialize)]
pub struct NewPasswordOnly {
    password: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}
