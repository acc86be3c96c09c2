//! A pause's page, the decision form and a question's answer form.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html, html_status, redirect, CsrfForm, PageError, SignedIn};
use crate::clock;
use crate::domain::pauses::{self, Decision};
use crate::domain::{audit, forms, outbox, Error, Principal};
use crate::http::AppState;
use crate::urls;
use crate::views::review::{self, Notice, Review};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/review/{watch_id}", web::get().to(page))
        .route("/review/{watch_id}/decide", web::post().to(decide))
        .route("/review/{watch_id}/answer", web::post().to(answer))
        .route("/review/{watch_id}/extend", web::post().to(extend))
        .route("/review/{watch_id}/cancel", web::post().to(cancel))
        .route(
            "/review/{watch_id}/deliveries/{id}/retry",
            web::post().to(retry),
        );
}

async fn load(
    state: &AppState,
    principal: Principal,
    watch_id: String,
) -> Result<Review, PageError> {
    let (pause, history, deliveries, beside, (owner, routed_to_viewer)) = state
        .read(move |conn| {
            let pause = pauses::get(conn, &principal, &watch_id)?;
            let reviewer = principal
                .reviewer()
                .ok_or_else(|| Error::Forbidden("sign in as a reviewer".into()))?;
            let seat = pauses::Seat::of(reviewer, clock::now());
            let who = (
                pauses::is_owner(conn, &pause, &reviewer.email)?,
                pauses::may_decide(conn, seat, &pause)?,
            );
            let history = audit::for_pause(conn, &watch_id)?;
            let deliveries = outbox::deliveries(conn, &principal, &watch_id)?;
            let beside = pauses::pending_beside(conn, &pause, seat)?;
            Ok((pause, history, deliveries, beside, who))
        })
        .await?;
    let form = pause
        .response_schema
        .as_deref()
        .map(forms::stored)
        .transpose()?;
    let context: Option<serde_json::Value> = pause
        .context
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    // Text hitl cannot lay out as a tree is still shown, as it was stored.
    let context_pretty = match &context {
        Some(c) => serde_json::to_string_pretty(c).ok(),
        None => pause.context.clone(),
    };
    Ok(Review {
        pause,
        context,
        context_pretty,
        history,
        deliveries,
        now: clock::now(),
        notice: None,
        comment: String::new(),
        edit_text: None,
        form,
        typed: HashMap::new(),
        open_all: false,
        next_pending: beside.next,
        prev_pending: beside.prev,
        others_pending: beside.others,
        owner,
        routed_to_viewer,
    })
}

#[derive(Deserialize)]
struct PageQuery {
    /// `all`: every node of the context open, however large.
    #[serde(default)]
    open: Option<String>,
}

async fn page(
    who: SignedIn,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut r = load(&state, who.principal(), path.into_inner()).await?;
    r.open_all = query.open.as_deref() == Some("all");
    Ok(html(review::view(&who.viewer, &r)))
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    /// Absent when one of the reasons to reject was pressed.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    comment: String,
    /// One of the pause's reasons to reject: a rejection.
    #[serde(default)]
    reject_option: Option<String>,
    /// Present: go on to the next pending pause afterwards.
    #[serde(default)]
    next: Option<String>,
    /// One of the "Approve & allow …" buttons: how long (`1h`, `24h`, `7d`, `always`).
    #[serde(default)]
    remember: Option<String>,
    /// The action the standing approval allows, as the reviewer left or widened it.
    #[serde(default)]
    remember_action: String,
    /// At most this many uses (empty: no limit).
    #[serde(default)]
    remember_uses: String,
    /// With `decision=edit`: the context to approve instead of the agent's, as JSON.
    #[serde(default)]
    edited_context: Option<String>,
    /// The digest of the context the page showed (see `Verdict::seen`).
    #[serde(default)]
    seen: Option<String>,
    /// Everything else: the fields of the pause's form, `field.NAME`.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

/// An "Approve with these changes": the typed JSON, checked as a new pause's context.
fn edited(text: Option<&str>, limits: pauses::Limits) -> Result<String, Error> {
    let text = text.unwrap_or_default();
    let raw: Box<serde_json::value::RawValue> = serde_json::from_str(text)
        .map_err(|e| Error::validation(format!("the edited context is not valid JSON: {e}")))?;
    pauses::edited_context(&raw, limits)
}

/// What the reviewer typed in a form's fields, by field name.
fn typed_fields(rest: HashMap<String, String>) -> HashMap<String, String> {
    rest.into_iter()
        .filter_map(|(k, v)| k.strip_prefix("field.").map(|name| (name.to_string(), v)))
        .collect()
}

/// The standing approval an "Approve & allow …" button asks for, if one was pressed.
fn remember_of(form: &DecideForm) -> Result<Option<pauses::Remember>, Error> {
    let Some(duration) = form.remember.as_deref().filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let max_uses = match form.remember_uses.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            Error::validation("“At most” must be a whole number of requests, or empty")
        })?),
    };
    let action = Some(form.remember_action.clone()).filter(|a| !a.trim().is_empty());
    Ok(Some(pauses::Remember {
        duration: duration.to_string(),
        max_uses,
        action,
    }))
}

async fn decide(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<String>,
    form: web::Form<DecideForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let watch_id = path.into_inner();
    let form = form.into_inner();
    let with_changes = form.reject_option.is_none() && form.decision == "edit";
    let remember = remember_of(&form);
    let decision = match (&form.reject_option, &remember) {
        (Some(_), _) => Ok((Decision::Rejected, None)),
        // An "Approve & allow" button: an approval (a bad use count is said below).
        (None, Ok(Some(_)) | Err(_)) => Ok((Decision::Approved, None)),
        (None, _) if with_changes => edited(form.edited_context.as_deref(), state.limits)
            .map(|context| (Decision::Approved, Some(context))),
        (None, _) => Decision::parse(&form.decision).map(|d| (d, None)),
    };
    let typed = typed_fields(form.rest);
    let outcome = match (decision, remember) {
        (Ok((decision, context)), Ok(remember)) => {
            let (id, comment) = (watch_id.clone(), form.comment.clone());
            let (option, channels) = (form.reject_option.clone(), state.channels);
            let fields = typed.clone();
            let edit_box = form.edited_context.clone();
            let seen = form.seen.clone();
            who.write(&state, move |tx, principal, now| {
                // Only an approval sends the form; a rejection needs none.
                if let (Decision::Approved, None, Some(typed)) = (decision, &context, &edit_box) {
                    pauses::check_edit_not_left(tx, &id, typed)?;
                }
                let response = match decision {
                    Decision::Approved => pauses::response_from_page(tx, &id, &fields)?,
                    Decision::Rejected => None,
                };
                let verdict = pauses::Verdict {
                    context,
                    response,
                    seen,
                    ..pauses::Verdict::new(decision, Some(comment), option)
                }
                .remembering(remember);
                pauses::decide(tx, now, principal, &id, verdict, &channels)
            })
            .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let then = Then::from_field(form.next.as_deref());
    let kept = Kept {
        comment: form.comment,
        edit_text: form.edited_context,
        typed,
    };
    after_change(&who, &state, watch_id, outcome, kept, then).await
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    next: Option<String>,
    /// A question with a form: its fields, `field.NAME`.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

async fn answer(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<String>,
    form: web::Form<AnswerForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let watch_id = path.into_inner();
    let form = form.into_inner();
    let (id, answer) = (watch_id.clone(), form.answer.clone());
    let typed = typed_fields(form.rest);
    let (fields, channels) = (typed.clone(), state.channels);
    let outcome = who
        .write(&state, move |tx, principal, now| {
            let reply = match pauses::response_from_page(tx, &id, &fields)? {
                Some(response) => pauses::Reply::Form(response),
                None => pauses::Reply::Text(answer),
            };
            pauses::reply(tx, now, principal, &id, reply, &channels)
        })
        .await;
    // A refused free-text answer comes back in its box, a form's values in theirs.
    let then = Then::from_field(form.next.as_deref());
    let kept = Kept {
        comment: form.answer,
        edit_text: None,
        typed,
    };
    after_change(&who, &state, watch_id, outcome, kept, then).await
}

#[derive(Deserialize)]
struct ExtendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    seconds: String,
}

/// Any reviewer gives a pending pause more time (the select of the Extend form).
async fn extend(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<String>,
    form: web::Form<ExtendForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let watch_id = path.into_inner();
    let id = watch_id.clone();
    let seconds = form.seconds.trim().parse::<i64>();
    let outcome = match seconds {
        Ok(seconds) => {
            who.write(&state, move |tx, principal, now| {
                pauses::extend(tx, now, principal, &id, seconds)
            })
            .await
        }
        Err(_) => Err(Error::validation(
            "choose how long to extend the timeout by",
        )),
    };
    after_change(&who, &state, watch_id, outcome, Kept::default(), Then::Stay).await
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// An admin withdraws a pending pause (the agent learns `cancelled`).
async fn cancel(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<String>,
    form: web::Form<CancelForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let watch_id = path.into_inner();
    let form = form.into_inner();
    let (id, reason) = (watch_id.clone(), form.reason.clone());
    let channels = state.channels;
    let outcome = who
        .write(&state, move |tx, principal, now| {
            let reason = Some(reason).filter(|r| !r.trim().is_empty());
            pauses::cancel(tx, now, principal, &id, reason, &channels)
        })
        .await;
    after_change(&who, &state, watch_id, outcome, Kept::default(), Then::Stay).await
}

/// Where a successful change leads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Back to the pause, to see the result.
    Stay,
    /// On to the next pending pause, or the queue when none is left.
    Next,
}

impl Then {
    fn from_field(next: Option<&str>) -> Then {
        match next {
            Some(v) if !v.is_empty() && v != "0" => Then::Next,
            _ => Then::Stay,
        }
    }
}

/// What a refused post puts back in the page: the comment (or free-text answer), the
/// form's fields and the edited context, as typed.
#[derive(Default)]
struct Kept {
    comment: String,
    typed: HashMap<String, String>,
    edit_text: Option<String>,
}

/// After a decision (or a cancellation): the pause, or with `Then::Next` the next
/// pending one; on a refusal, the page again with what went wrong and what the
/// reviewer typed kept.
async fn after_change(
    who: &SignedIn,
    state: &AppState,
    watch_id: String,
    outcome: Result<pauses::Pause, Error>,
    kept: Kept,
    then: Then,
) -> Result<HttpResponse, PageError> {
    let (status, notice) = match outcome {
        Ok(decided) if then == Then::Next => {
            let seat = who.seat();
            let beside = state
                .read(move |conn| pauses::pending_beside(conn, &decided, seat))
                .await?;
            return Ok(redirect(
                &beside
                    .next
                    .map_or_else(|| "/".to_string(), |id| urls::review(&id)),
            ));
        }
        Ok(_) => return Ok(redirect(&urls::review(&watch_id))),
        Err(Error::AlreadyResolved(_)) => (StatusCode::CONFLICT, Notice::TooLate),
        Err(Error::Conflict(message)) => (StatusCode::CONFLICT, Notice::Error(message)),
        Err(Error::Validation(message)) => (StatusCode::BAD_REQUEST, Notice::Error(message)),
        Err(e) => return Err(e.into()),
    };
    let mut r = load(state, who.principal(), watch_id).await?;
    r.notice = Some(notice);
    r.comment = kept.comment;
    r.edit_text = kept.edit_text;
    r.typed = kept.typed;
    Ok(html_status(status, review::view(&who.viewer, &r)))
}

/// "Retry now" / "Send again" on a delivery.
async fn retry(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<(String, i64)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let (watch_id, id) = path.into_inner();
    let w = watch_id.clone();
    who.write(&state, move |tx, principal, now| {
        outbox::retry(tx, now, principal, &w, id)
    })
    .await?;
    Ok(redirect(&urls::review(&watch_id)))
}
