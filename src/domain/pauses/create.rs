//! Creating a pause: the idempotency check, the key's monthly limit, routing by the
//! first matching policy, and a standing approval that decides it at once.

use super::{decide, NewPause, Pause, Routing, IDEMPOTENCY_WINDOW_MS};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::domain::outbox::{self, Channels};
use crate::domain::{audit, policies, rules, Error, Kind, OnTimeout, Principal, Result, Status};
use crate::model::events::Event;
use crate::secret;
/// `wch_`, the creation time in hex, then 22 random base62 characters: unguessable,
/// and roughly time-ordered so the unique index grows at its end.
fn new_watch_id(now: Millis) -> String {
    format!("wch_{:011x}{}", now.max(0), secret::base62(22))
}

/// The outcome of a create: the pause, and whether it is an earlier one returned again
/// for a repeated `Idempotency-Key`.
pub struct Created {
    pub pause: Pause,
    pub replayed: bool,
}

/// Creates a pause for an agent key, honouring `Idempotency-Key` and the key's monthly
/// limit.
pub fn create(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    monthly_limit: Option<i64>,
    new: NewPause,
    channels: &Channels,
) -> Result<Created> {
    let Principal::Agent(key) = principal else {
        return Err(Error::Forbidden(
            "only agent keys create pauses; a reviewer key could approve its own requests".into(),
        ));
    };
    if let Some(idem) = &new.idempotency {
        if let Some(prior) = db::pauses::idempotency_get(tx, &key.id, &idem.key)? {
            if now - prior.created_at < IDEMPOTENCY_WINDOW_MS {
                if !secret::constant_time_eq(&prior.request_hash, &idem.fingerprint) {
                    return Err(Error::IdempotencyConflict);
                }
                let pause = db::pauses::by_id(tx, prior.pause_id)?
                    .ok_or_else(|| Error::internal("idempotency row without its pause"))?;
                return Ok(Created {
                    pause,
                    replayed: true,
                });
            }
        }
    }

    // Every rule before the first change: the writer commits creates without a
    // savepoint each, so a create must not fail once it has written (`Writer::run_bulk`).
    let month = clock::month_of(now);
    if let Some(limit) = monthly_limit {
        if db::pauses::usage(tx, &key.id, &month)? >= limit {
            let wait_ms = clock::start_of_next_month(now) - now;
            return Err(Error::QuotaExceeded {
                limit,
                retry_after_secs: (wait_ms.max(0) as u64).div_ceil(1000),
            });
        }
    }
    let route = policies::route(
        tx,
        &policies::Request {
            key_name: &key.name,
            action: &new.action,
            tags: &new.tags,
            risk: new.risk,
        },
    )?;
    let (required_approvals, on_timeout, routing) = match route {
        None => (
            new.required_approvals.unwrap_or(1),
            new.on_timeout.unwrap_or_default(),
            None,
        ),
        Some(policy) => routed(now, policy, &new)?,
    };

    db::pauses::count_usage(tx, &key.id, &month)?;
    let new_idempotency = new.idempotency;
    let pause = Pause {
        id: 0,
        watch_id: new_watch_id(now),
        key_id: key.id.clone(),
        key_name: key.name.clone(),
        kind: new.kind,
        status: Status::Pending,
        action: new.action,
        options: new.options,
        context: new.context,
        tags: new.tags,
        risk: new.risk,
        summary: new.summary,
        webhook_url: new.webhook_url,
        created_at: now,
        expires_at: new.timeout_seconds.map(|s| now + s * 1000),
        on_timeout,
        resolved_at: None,
        resolved_by: None,
        comment: None,
        answer: None,
        required_approvals,
        approvals: Vec::new(),
        routing,
        approved_context: None,
        response_schema: new.response_schema,
        response: None,
        purged_at: None,
        purged_digests: None,
    };
    let id = db::pauses::insert(tx, &pause)?;
    if let Some(idem) = &new_idempotency {
        db::pauses::idempotency_put(tx, &key.id, &idem.key, &idem.fingerprint, id, now)?;
    }
    audit::record(
        tx,
        now,
        &principal.actor(),
        "pause.created",
        Some(&pause.watch_id),
        CreatedDetails::of(&pause),
    )?;
    // A standing approval that applies approves it at once: no timer, no "new pause"
    // mail; its approval is announced as any other.
    let rule = rules::applying(tx, now, &pause)?;
    tx.emit(Event::PauseCreated {
        watch_id: pause.watch_id.clone(),
        wake_at: pause.next_timer().filter(|_| rule.is_none()),
        key_name: pause.key_name.clone(),
    });
    let pause = Pause { id, ..pause };
    let pause = match rule {
        Some(rule) => decide::approve_by_rule(tx, now, pause, &rule, channels)?,
        None => {
            outbox::pause_created(tx, now, &pause, channels)?;
            pause
        }
    };
    Ok(Created {
        pause,
        replayed: false,
    })
}

/// The audit entry of a new pause: its key, kind, tags, timeout and routing.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedDetails<'a> {
    key: &'a str,
    kind: Kind,
    tags: &'a [String],
    expires_at: Option<String>,
    on_timeout: OnTimeout,
    policy: Option<&'a str>,
    reviewers: Option<&'a [String]>,
    required_approvals: u32,
}

impl<'a> CreatedDetails<'a> {
    fn of(pause: &'a Pause) -> Self {
        CreatedDetails {
            key: &pause.key_name,
            kind: pause.kind,
            tags: &pause.tags,
            expires_at: pause.expires_at.map(clock::rfc3339),
            on_timeout: pause.on_timeout,
            policy: pause.routing.as_ref().map(|r| r.policy.as_str()),
            reviewers: pause.routing.as_ref().map(|r| r.reviewers.as_slice()),
            required_approvals: pause.required_approvals,
        }
    }
}

/// What a matching policy makes of a new pause: at least its number of approvals (an
/// agent may ask for more, never fewer), its timeout outcome, its reviewers and timers.
fn routed(
    now: Millis,
    policy: policies::Policy,
    new: &NewPause,
) -> Result<(u32, OnTimeout, Option<Routing>)> {
    let on_timeout = match (policy.on_timeout, new.on_timeout) {
        (Some(set), _) => set,
        // Approving on timeout would let the clock decide instead of the reviewers.
        (None, Some(OnTimeout::Approve)) => {
            return Err(Error::validation(format!(
                "onTimeout \"approve\" is not allowed here: policy {:?} routes this pause to {}, and only the policy may let a timeout approve",
                policy.name,
                policy.reviewers.join(", ")
            )))
        }
        (None, asked) => asked.unwrap_or_default(),
    };
    let approvals = new.required_approvals.unwrap_or(1).max(policy.approvals);
    // A question is answered once and can only expire: the policy routes it, no more.
    let (approvals, on_timeout) = match new.kind {
        Kind::Question => (1, OnTimeout::Expire),
        Kind::Decision => (approvals, on_timeout),
    };
    let routing = Routing {
        remind_at: policy.remind_every.map(|every| now + every),
        remind_every: policy.remind_every,
        escalate_at: policy.escalate_after.map(|after| now + after),
        escalate_to: policy.escalate_to,
        reviewers: policy.reviewers,
        policy: policy.name,
    };
    Ok((approvals, on_timeout, Some(routing)))
}
