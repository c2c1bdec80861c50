//! Trust and safety in the pages: a report form for anyone signed in, and the operators' queue,
//! where each report shows the thing, its history and the reporter's other reports, and every
//! action asks for the reason its person will read.

use super::forms::{form_key, once, to_login};
use super::Ctx;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::moderation::{self, ActionRow, ReportRow};
use souk_domain::account::Role;
use souk_domain::moderation::{Action, Reason, Target};

/// What an operator's action on a seller's listing or store says to them: why, and their
/// appeal (the form to send one, or what became of it).
pub fn held_notice(ctx: &Ctx, action: &ActionRow) -> Markup {
    let intro = match action.action {
        Action::SuspendStore => "An operator suspended your store: its listings are hidden and it takes no new orders; open orders go on, and payouts wait.",
        Action::HoldForReview => "This listing waits for an operator's review before it is public.",
        Action::HideReview => "An operator hid your review: it is not shown and counts in no rating.",
        _ => "An operator holds this listing off sale:",
    };
    html! {
        div.error role="alert" {
            p { (ctx.t(intro)) " " (action.reason) }
            @match (&action.appeal, &action.appeal_answer) {
                (None, _) if action.action != Action::HoldForReview => {
                    form.appeal method="post" action=(format!("/appeals/{}", action.id)) {
                        (ctx.csrf_field()) (form_key())
                        input type="hidden" name="back" value=(ctx.path());
                        label { (ctx.t("Appeal: tell the operators why this is wrong")) textarea name="text" required minlength="5" maxlength="2000" {} }
                        button.secondary type="submit" { (ctx.t("Send the appeal")) }
                    }
                }
                (Some(_), None) => p { (ctx.t("Your appeal is with the operators.")) },
                (Some(_), Some(answer)) => p { (ctx.t("The operators kept their decision:")) " " (answer) },
                _ => {}
            }
        }
    }
}

#[derive(Deserialize)]
pub struct AppealForm {
    text: String,
    /// The page the appeal was sent from, to go back to.
    #[serde(default)]
    back: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// A seller's appeal of an action on their listing or store.
pub async fn appeal(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<AppealForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/seller") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        moderation::appeal(&app, &mut tx, &user, &id, &f.text).await?;
        super::local_path(&f.back).to_string()
    })
}

/// A small "Report" link to the form about one thing.
pub fn report_link(ctx: &Ctx, target: Target, id: &str) -> Markup {
    html! {
        @if ctx.user.is_some() {
            a.report href=(format!("/report?target={}&id={id}", target.as_str())) { (ctx.t("Report")) }
        }
    }
}

#[derive(Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    target: String,
    #[serde(default)]
    id: String,
}

/// The report form: a reason and the reporter's words.
pub async fn report_page(State(app): State<App>, ctx: Ctx, Query(q): Query<ReportQuery>) -> Response {
    let here = format!("/report?target={}&id={}", q.target, q.id);
    if ctx.user.is_none() {
        return to_login(&here);
    }
    let Some(target) = Target::parse(&q.target) else { return ctx.not_found() };
    let Ok(thing) = app.target_summary(target, &q.id).await else { return ctx.not_found() };
    let title = ctx.t("Report to the operators");
    let body = html! {
        section.narrow {
            h1 { (title) }
            p { (ctx.code(target.as_str())) ": " strong { (short(&thing.text)) } }
            form.report method="post" action="/report" {
                (ctx.csrf_field()) (form_key())
                input type="hidden" name="target" value=(target.as_str());
                input type="hidden" name="id" value=(q.id);
                label { (ctx.t("What is wrong")) select name="reason" required {
                    @for r in Reason::ALL { option value=(r.as_str()) { (ctx.code(r.as_str())) } }
                } }
                label { (ctx.t("Tell the operators more (optional)")) textarea name="details" maxlength="2000" {} }
                button type="submit" { (ctx.t("Send the report")) }
                p.hint { (ctx.t("The seller or author is not told who reported.")) }
            }
            p { a href=(thing.link) { "← " (ctx.t("Back")) } }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

/// A thing's words as a line: the first 140 characters.
fn short(text: &str) -> String {
    let mut s: String = text.chars().take(140).collect();
    if text.chars().count() > 140 {
        s.push('…');
    }
    s
}

#[derive(Deserialize)]
pub struct ReportForm {
    target: String,
    id: String,
    reason: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn report(State(app): State<App>, ctx: Ctx, Form(f): Form<ReportForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let (Some(target), Some(reason)) = (Target::parse(&f.target), Reason::parse(&f.reason)) else {
        return ctx.not_found();
    };
    once!(app, ctx, user, f._key, |tx| {
        moderation::report(&app, &mut tx, &user, target, &f.id, reason, &f.details).await?;
        app.target_summary(target, &f.id).await.map(|t| t.link).unwrap_or_else(|_| "/".into())
    })
}

fn staff(ctx: &Ctx) -> Option<souk_app::views::User> {
    ctx.user.clone().filter(|u| u.has(Role::Mediator) || u.has(Role::Admin))
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    cursor: String,
}

/// The queue: open reports, oldest first; handled ones under their tabs.
pub async fn queue(State(app): State<App>, ctx: Ctx, Query(q): Query<QueueQuery>) -> Response {
    let Some(user) = staff(&ctx) else { return ctx.not_found() };
    let state = if q.state.is_empty() { "open" } else { q.state.as_str() };
    let cursor = Some(q.cursor.as_str()).filter(|c| !c.is_empty());
    let (Ok(page), Ok((appeals, held)), Ok(reviewing)) = (
        moderation::queue(&app, &user, Some(state), cursor, 50).await,
        moderation::pending(&app, &user).await,
        moderation::listing_review(&app).await,
    ) else {
        return ctx.error();
    };
    let title = ctx.t("Reports");
    let body = html! {
        h1 { (title) }
        @if user.has(Role::Admin) {
            form.inline.setting method="post" action="/console/settings/listing-review" {
                (ctx.csrf_field()) (form_key())
                input type="hidden" name="on" value=(if reviewing { "off" } else { "on" });
                (ctx.t(if reviewing {
                    "New listings of stores without identity verification wait for review."
                } else {
                    "New listings go on sale at once."
                }))
                " "
                button.link type="submit" { (ctx.t(if reviewing { "Stop reviewing them" } else { "Review those of stores without identity verification" })) }
            }
        }
        @if state == "open" && !appeals.is_empty() {
            section.work {
                h2 { (ctx.t("Appeals")) " (" (appeals.len()) ")" }
                @for a in &appeals { (appeal_line(&ctx, &app, a).await) }
            }
        }
        @if state == "open" && !held.is_empty() {
            section.work {
                h2 { (ctx.t("Listings waiting for review")) " (" (held.len()) ")" }
                @for a in &held {
                    @let title = app.target_summary(Target::Product, &a.target_id).await.map(|t| t.text).unwrap_or_default();
                    div.held {
                        p { a href=(format!("/products/{}", a.target_id)) { (short(&title)) } " · " (ctx.when(souk_domain::time::Timestamp(a.created_at))) }
                        form.reverse method="post" action=(format!("/console/actions/{}/reverse", a.id)) {
                            (ctx.csrf_field()) (form_key())
                            input type="hidden" name="reason" value="Approved after review";
                            button type="submit" { (ctx.t("Approve")) }
                        }
                        form.act method="post" action="/console/actions" {
                            (ctx.csrf_field()) (form_key())
                            input type="hidden" name="action" value="take_down";
                            input type="hidden" name="target_id" value=(a.target_id);
                            label { (ctx.t("Or refuse it, saying why")) textarea name="reason" required minlength="5" maxlength="2000" {} }
                            button.secondary type="submit" { (ctx.t("Refuse")) }
                        }
                    }
                }
            }
        }
        nav.tabs {
            @for s in ["open", "actioned", "dismissed"] {
                a href=(format!("/console/reports?state={s}")) aria-current=[(s == state).then_some("page")] { (ctx.code(s)) }
            }
        }
        @if page.items.is_empty() { p.notice { (ctx.t("Nothing here.")) } }
        @if !page.items.is_empty() {
        table.queue {
            thead { tr { th { (ctx.t("Reported")) } th { (ctx.t("What")) } th { (ctx.t("Why")) } th { (ctx.t("When")) } } }
            tbody {
                @for r in &page.items {
                    tr {
                        td data-label=(ctx.t("Reported")) { a href=(format!("/console/reports/{}", r.id)) { (ctx.code(r.target.as_str())) } }
                        td data-label=(ctx.t("What")) { (short(&app.target_summary(r.target, &r.target_id).await.map(|t| t.text).unwrap_or_default())) }
                        td data-label=(ctx.t("Why")) { (ctx.code(r.reason.as_str())) }
                        td data-label=(ctx.t("When")) { (ctx.when(souk_domain::time::Timestamp(r.created_at))) }
                    }
                }
            }
        }
        }
        @if let Some(next) = &page.next_cursor {
            a.next href=(format!("/console/reports?state={state}&cursor={next}")) { (ctx.t("Next page")) " →" }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

/// An appeal in the queue: the action, its reason, the appeal, and the two answers.
async fn appeal_line(ctx: &Ctx, app: &App, a: &ActionRow) -> Markup {
    let about = match a.action {
        Action::TakeDown | Action::HoldForReview => app.target_summary(Target::Product, &a.target_id).await.ok(),
        Action::SuspendStore => app.target_summary(Target::Store, &a.target_id).await.ok(),
        Action::HideReview => app.target_summary(Target::Review, &a.target_id).await.ok(),
        Action::BanUser => None,
    };
    html! {
        div.appeal {
            p { strong { (ctx.code(a.action.as_str())) } @if let Some(t) = &about { " · " a href=(t.link) { (short(&t.text)) } }
                " · " (a.reason) }
            blockquote { (a.appeal.as_deref().unwrap_or("")) }
            form.reverse method="post" action=(format!("/console/actions/{}/reverse", a.id)) {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Grant it: why")) input name="reason" required minlength="5" maxlength="2000"; }
                button type="submit" { (ctx.t("Reverse")) }
            }
            form.reverse method="post" action=(format!("/console/actions/{}/uphold", a.id)) {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Keep the decision: why")) input name="reason" required minlength="5" maxlength="2000"; }
                button.secondary type="submit" { (ctx.t("Keep it")) }
            }
        }
    }
}

fn report_line(ctx: &Ctx, r: &ReportRow) -> Markup {
    html! {
        li {
            a href=(format!("/console/reports/{}", r.id)) { (ctx.code(r.target.as_str())) } " · " (ctx.code(r.reason.as_str()))
            " · " (ctx.code(&r.state)) " · " (ctx.when(souk_domain::time::Timestamp(r.created_at)))
            @if !r.details.is_empty() { br; span.hint { (short(&r.details)) } }
        }
    }
}

fn action_line(ctx: &Ctx, a: &ActionRow, may_reverse: bool) -> Markup {
    html! {
        li {
            strong { (ctx.code(a.action.as_str())) } " · " (ctx.when(souk_domain::time::Timestamp(a.created_at))) " · " (a.reason)
            @if let Some(at) = a.reversed_at {
                br; span.hint { (ctx.t("reversed")) " " (ctx.when(souk_domain::time::Timestamp(at))) ": " (a.reversal_reason.as_deref().unwrap_or("")) }
            } @else if may_reverse {
                form.reverse method="post" action=(format!("/console/actions/{}/reverse", a.id)) {
                    (ctx.csrf_field()) (form_key())
                    label { (ctx.t("Why reverse it")) input name="reason" required minlength="5" maxlength="2000"; }
                    button.secondary type="submit" { (ctx.t("Reverse")) }
                }
            }
        }
    }
}

/// One report, with what it is about, its history, the reporter's other reports and the actions
/// this operator may take.
pub async fn report_detail(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = staff(&ctx) else { return ctx.not_found() };
    let Ok(item) = moderation::item(&app, &user, &id).await else { return ctx.not_found() };
    let r = &item.report;
    let admin = user.has(Role::Admin);
    // The actions that fit what was reported: a listing's take-down and its store's suspension;
    // a store's suspension; banning a review's or message's author (admins).
    let mut actions: Vec<(Action, String)> = Vec::new();
    match r.target {
        Target::Product => {
            actions.push((Action::TakeDown, r.target_id.clone()));
            if let Ok(p) = app.product(&r.target_id).await {
                actions.push((Action::SuspendStore, p.store_id));
            }
        }
        Target::Store => actions.push((Action::SuspendStore, r.target_id.clone())),
        Target::Review => actions.push((Action::HideReview, r.target_id.clone())),
        Target::Message => {}
    }
    if admin {
        if let Some(t) = &item.target {
            actions.push((Action::BanUser, t.owner_id.clone()));
        }
    }
    let title = ctx.t("Report");
    let body = html! {
        h1 { (title) " · " (ctx.code(r.target.as_str())) }
        p { a href="/console/reports" { "← " (ctx.t("Reports")) } }
        section.work {
            @match &item.target {
                Some(t) => p { strong { (short(&t.text)) } " · " a href=(t.link) { (ctx.t("Open it")) } },
                None => p.notice { (ctx.t("It no longer exists.")) },
            }
            p { (ctx.code(r.reason.as_str())) " · " (ctx.code(&r.state)) " · " (ctx.when(souk_domain::time::Timestamp(r.created_at))) }
            @if !r.details.is_empty() { blockquote { (r.details) } }
            @if let Some(note) = &r.note { p.hint { (ctx.t("Operator's note")) ": " (note) } }
        }
        @if r.state == "open" {
            section.work {
                h2 { (ctx.t("Act")) }
                @for (action, target) in &actions {
                    form.act method="post" action="/console/actions" {
                        (ctx.csrf_field()) (form_key())
                        input type="hidden" name="action" value=(action.as_str());
                        input type="hidden" name="target_id" value=(target);
                        input type="hidden" name="report_id" value=(r.id);
                        label { (ctx.code(action.as_str())) " — " (ctx.t("the reason the person concerned will read"))
                            textarea name="reason" required minlength="5" maxlength="2000" {} }
                        button type="submit" { (ctx.code(action.as_str())) }
                    }
                }
                form.dismiss method="post" action=(format!("/console/reports/{}/dismiss", r.id)) {
                    (ctx.csrf_field()) (form_key())
                    label { (ctx.t("Nothing to do? Say why")) input name="reason" required minlength="5" maxlength="2000"; }
                    button.secondary type="submit" { (ctx.t("Dismiss")) }
                }
            }
        }
        section.work {
            h2 { (ctx.t("What operators did")) }
            @if item.actions.is_empty() { p.hint { (ctx.t("Nothing yet.")) } }
            ul.history { @for a in &item.actions { (action_line(&ctx, a, a.action != Action::BanUser || admin)) } }
            h2 { (ctx.t("Reports about it")) }
            ul.history { @for other in &item.reports_on_target { (report_line(&ctx, other)) } }
            h2 { (ctx.t("The reporter's reports")) }
            ul.history { @for other in &item.reporter_reports { (report_line(&ctx, other)) } }
        }
    };
    ctx.page(StatusCode::OK, title, body)
}

#[derive(Deserialize)]
pub struct ActForm {
    action: String,
    target_id: String,
    reason: String,
    #[serde(default)]
    report_id: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn act(State(app): State<App>, ctx: Ctx, Form(f): Form<ActForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/console/reports") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let Some(action) = Action::parse(&f.action) else { return ctx.not_found() };
    let report = match moderation::item(&app, &user, &f.report_id).await {
        Ok(item) => Some(item.report),
        Err(_) => None,
    };
    let res = once!(app, ctx, user, f._key, |tx| {
        moderation::act(&app, &mut tx, &user, action, &f.target_id, &f.reason, report.as_ref()).await?;
        match &report {
            Some(r) => format!("/console/reports/{}", r.id),
            None => "/console/reports".to_string(),
        }
    });
    app.catalog_changed();
    res
}

#[derive(Deserialize)]
pub struct ReasonForm {
    reason: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn dismiss(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<ReasonForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/console/reports") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let Ok(item) = moderation::item(&app, &user, &id).await else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        moderation::dismiss(&mut tx, &user, &item.report, &f.reason).await?;
        format!("/console/reports/{id}")
    })
}

pub async fn reverse(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<ReasonForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/console/reports") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let res = once!(app, ctx, user, f._key, |tx| {
        moderation::reverse(&app, &mut tx, &user, &id, &f.reason).await?;
        "/console/reports?state=actioned".to_string()
    });
    app.catalog_changed();
    res
}

pub async fn uphold(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<ReasonForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/console/reports") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        moderation::uphold(&app, &mut tx, &user, &id, &f.reason).await?;
        "/console/reports".to_string()
    })
}

#[derive(Deserialize)]
pub struct SettingForm {
    on: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn set_listing_review(State(app): State<App>, ctx: Ctx, Form(f): Form<SettingForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/console/reports") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        moderation::set_listing_review(&mut tx, &user, f.on == "on").await?;
        "/console/reports".to_string()
    })
}
