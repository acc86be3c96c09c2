//! The notifier: a pool of worker threads that take due rows from the outbox (with a
//! lease, so a crashed worker's row is taken over), send them (webhook, mail, Slack),
//! and record every attempt. Nothing is lost in a crash: the row was written with the
//! change that caused it, and stays due until an attempt is recorded.

pub mod discord;
pub mod dns;
pub mod email;
pub mod ntfy;
pub mod policy;
pub mod push;
pub mod slack;
pub mod slack_app;
pub mod teams;
pub mod telegram;
pub mod webhook;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::clock::{self, Millis};
use crate::db::{Pool, Writer};
use crate::domain::accounts;
use crate::domain::links::{self, Link};
use crate::domain::outbox::{self, Attempt, Channels, Job, Kind, Next};
use crate::domain::pauses::Decision;
use crate::domain::Status;
use crate::urls::Urls;
use dns::Dns;
use email::Smtp;
use policy::Policy;

/// Longer than the slowest attempt: an SMTP exchange has several steps of up to 20 s
/// each. A lease only matters while this process runs; at start-up all are released.
const LEASE: Duration = Duration::from_secs(300);
/// How long an idle worker sleeps before it looks for due rows again. Rows this process
/// writes wake it at once; rows the command line writes (a mailed invitation) are
/// found within this time. The look is one indexed query.
const IDLE_WAIT: Duration = Duration::from_secs(5);
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The retry schedule of the issue: about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h,
/// 6 h, 12 h, 24 h; then failed.
pub const DEFAULT_SCHEDULE: &str = "5s,30s,2m,10m,30m,1h,3h,6h,12h,24h";

pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let steps: Vec<Duration> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            humantime::parse_duration(s)
                .map_err(|e| format!("--webhook-retry-schedule: {s:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    if steps.len() > 50 || steps.iter().any(|d| *d > Duration::from_secs(7 * 86_400)) {
        return Err("--webhook-retry-schedule: at most 50 steps of at most 7 days each".into());
    }
    Ok(steps)
}

/// Everything the workers need to know.
pub struct Settings {
    pub workers: usize,
    pub schedule: Vec<Duration>,
    pub policy: Arc<Policy>,
    pub smtp: Option<Smtp>,
    pub slack_url: Option<String>,
    /// The Slack app, Telegram, ntfy, Teams and Discord.
    pub chat: Arc<crate::config::Chat>,
    /// Links in mail and chat messages.
    pub urls: Urls,
}

impl Settings {
    pub fn channels(&self) -> Channels {
        let app = self.chat.slack_app.as_ref();
        Channels {
            email: self.smtp.is_some(),
            slack: self.slack_url.is_some(),
            slack_app: app.is_some(),
            slack_channel: app.is_some_and(|a| a.channel.is_some()),
            telegram: self.chat.telegram.is_some(),
            ntfy: true,
            push: true,
            teams: self.chat.teams_url.is_some(),
            discord: self.chat.discord_url.is_some(),
        }
    }

    /// One line for the start-up log: which channels are on.
    pub fn describe(&self) -> String {
        let on = |yes: bool| if yes { "on" } else { "off" };
        format!(
            "notifier: {} workers; webhooks on ({}); email {}; Slack {}; Slack app {}; Telegram {}; Teams {}; Discord {}; ntfy and Web Push for reviewers who set them up",
            self.workers,
            self.policy.describe(),
            self.smtp
                .as_ref()
                .map_or("off (no --smtp-url)".to_string(), |s| format!(
                    "on via {}",
                    s.describe()
                )),
            if self.slack_url.is_some() {
                "on"
            } else {
                "off (no --slack-webhook-url)"
            },
            on(self.chat.slack_app.is_some()),
            on(self.chat.telegram.is_some()),
            on(self.chat.teams_url.is_some()),
            on(self.chat.discord_url.is_some()),
        )
    }
}

/// What became of a pause, for a chat message: "Approved by ann@example.com: ship it".
/// `agent` prepares text from outside (the decider's name, the comment) for the
/// platform, at most so many characters.
pub fn outcome(p: &crate::domain::pauses::Pause, agent: impl Fn(&str, usize) -> String) -> String {
    let what = match p.status {
        Status::Approved => "Approved",
        Status::Rejected => "Rejected",
        Status::Answered => "Answered",
        Status::Expired => "Expired",
        Status::Cancelled => "Cancelled",
        Status::Pending => "Still pending",
    };
    let by = match (&p.status, &p.resolved_by) {
        (Status::Expired, _) => " (nobody decided in time)".to_string(),
        _ if p.timed_out() => " by the timeout (nobody decided in time)".to_string(),
        (_, Some(by)) => format!(" by {}", agent(by, 100)),
        _ => String::new(),
    };
    let comment = p
        .answer
        .as_deref()
        .or(p.comment.as_deref())
        .map(|c| format!(": {}", agent(c, 500)))
        .unwrap_or_default();
    format!("{what}{by}{comment}")
}

/// A message to a team channel's webhook (Teams, Discord): the new pause while it is
/// still pending, or its outcome.
fn send_team_message(
    worker: &Worker,
    job: &Job,
    agent: &ureq::Agent,
    url: Option<&str>,
    created: impl Fn(&crate::domain::pauses::Pause, &str) -> serde_json::Value,
    resolved: impl Fn(&crate::domain::pauses::Pause, &str) -> serde_json::Value,
) -> Sent {
    let (Some(url), Some(pause)) = (url, &job.pause) else {
        return Sent::Skipped("not sent: the channel is not configured any more");
    };
    let event: serde_json::Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
    let review = worker.settings.urls.review(&pause.watch_id);
    let message = if event["event"] == "resolved" {
        resolved(pause, &review)
    } else if pause.status != Status::Pending {
        return Sent::Skipped("not sent: the pause was decided before the message went out");
    } else {
        created(pause, &review)
    };
    let started = std::time::Instant::now();
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(message.to_string());
    Sent::Tried(webhook::judge(response, started))
}

/// Wakes idle workers when rows are added.
#[derive(Clone, Default)]
pub struct Waker {
    inner: Arc<(Mutex<u64>, Condvar)>,
}

impl Waker {
    pub fn wake(&self) {
        let (generation, condvar) = &*self.inner;
        *generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        condvar.notify_all();
    }

    fn generation(&self) -> u64 {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until woken after `seen`, or `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        let (generation, condvar) = &*self.inner;
        let guard = generation.lock().unwrap_or_else(|e| e.into_inner());
        let _ = condvar.wait_timeout_while(guard, timeout, |g| *g == seen);
    }
}

pub struct Notifier {
    waker: Waker,
    stop: Arc<AtomicBool>,
    handles: Vec<thread::JoinHandle<()>>,
}

struct Worker {
    settings: Arc<Settings>,
    writer: Writer,
    reads: Pool,
    dns: Arc<Dns>,
    link_key: Arc<Vec<u8>>,
    waker: Waker,
    stop: Arc<AtomicBool>,
}

impl Notifier {
    pub fn start(
        settings: Settings,
        writer: Writer,
        reads: Pool,
        dns: Arc<Dns>,
        waker: Waker,
        link_key: Arc<Vec<u8>>,
    ) -> Result<Notifier, String> {
        // A previous run's workers are gone: their leases are void.
        let released = writer
            .run_blocking(outbox::release_leases)
            .map_err(|e| format!("cannot prepare the outbox: {e}"))?;
        if released > 0 {
            tracing::info!(
                released,
                "took over deliveries that were in flight when hitl last stopped"
            );
        }
        let settings = Arc::new(settings);
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for n in 0..settings.workers.max(1) {
            let worker = Worker {
                settings: Arc::clone(&settings),
                writer: writer.clone(),
                reads: reads.clone(),
                dns: Arc::clone(&dns),
                link_key: Arc::clone(&link_key),
                waker: waker.clone(),
                stop: Arc::clone(&stop),
            };
            let handle = thread::Builder::new()
                .name(format!("hitl-notify-{n}"))
                .spawn(move || worker.run())
                .map_err(|e| format!("cannot start a notifier worker: {e}"))?;
            handles.push(handle);
        }
        Ok(Notifier {
            waker,
            stop,
            handles,
        })
    }

    /// Lets attempts in flight finish (and be recorded) for at most `grace`, then ends
    /// the workers. An attempt still running then is left: its row keeps its lease,
    /// which the next start releases, so it is sent again (receivers deduplicate by
    /// `webhook-id`).
    pub fn stop(self, grace: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        self.waker.wake();
        let deadline = std::time::Instant::now() + grace;
        while self.handles.iter().any(|h| !h.is_finished()) && std::time::Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(10));
        }
        let running = self.handles.iter().filter(|h| !h.is_finished()).count();
        if running > 0 {
            tracing::warn!(
                running,
                "deliveries still in flight at shutdown are left to the next start"
            );
        }
        for handle in self.handles.into_iter().filter(|h| h.is_finished()) {
            let _ = handle.join();
        }
    }
}

impl Worker {
    fn run(self) {
        let hooks = dns::agent(&self.dns, Some(&self.settings.policy), WEBHOOK_TIMEOUT);
        // Addresses the operator gave (Slack, Telegram, Teams, Discord) need no policy;
        // those people set (ntfy topics, push endpoints) go through the webhook policy.
        let chat = dns::agent(&self.dns, None, WEBHOOK_TIMEOUT);
        while !self.stop.load(Ordering::SeqCst) {
            let seen = self.waker.generation();
            match self
                .writer
                .run_blocking(|tx| outbox::claim(tx, clock::now(), LEASE))
            {
                Ok(Some(job)) => {
                    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.send(&job, &hooks, &chat)
                    }));
                    let (attempt, skipped) = sent.unwrap_or_else(|_| {
                        let error =
                            Some("hitl failed while sending (a bug; see the log)".to_string());
                        (
                            Attempt {
                                ok: false,
                                http_status: None,
                                error,
                                duration_ms: 0,
                                next: Next::Schedule,
                            },
                            false,
                        )
                    });
                    if let Some(error) = &attempt.error {
                        tracing::info!(kind = job.row.kind.as_str(), target = %job.row.target, attempt = job.row.attempts, error = %error, "delivery attempt failed");
                    }
                    let schedule = self.settings.schedule.clone();
                    let recorded = self.writer.run_blocking(move |tx| {
                        outbox::record(tx, clock::now(), &job, &attempt, &schedule, skipped)
                    });
                    if let Err(e) = recorded {
                        tracing::error!(error = %e, "could not record a delivery attempt");
                    }
                }
                Ok(None) => self.waker.wait(seen, self.idle_wait()),
                Err(e) => {
                    tracing::error!(error = %e, "could not claim a delivery");
                    self.waker.wait(seen, Duration::from_secs(1));
                }
            }
        }
    }

    /// Until the next row falls due (at most `IDLE_WAIT`).
    fn idle_wait(&self) -> Duration {
        let next = self
            .reads
            .get()
            .ok()
            .and_then(|conn| outbox::next_due(&conn).ok().flatten());
        match next {
            Some(at) => Duration::from_millis(
                (at - clock::now()).clamp(10, IDLE_WAIT.as_millis() as Millis) as u64,
            ),
            None => IDLE_WAIT,
        }
    }

    /// Sends a claimed row: the attempt, and whether there was nothing to send.
    fn send(&self, job: &Job, hooks: &ureq::Agent, chat: &ureq::Agent) -> (Attempt, bool) {
        let outcome = match job.row.kind {
            Kind::Webhook => Self::send_webhook(job, hooks),
            Kind::Slack if job.row.target == "slack" => self.send_slack(job, chat),
            Kind::Slack => slack_app::send(self, job, chat),
            Kind::Email => self.send_mail(job),
            Kind::Telegram => telegram::send(self, job, chat),
            Kind::Ntfy => ntfy::send(self, job, hooks),
            Kind::Push => push::send(self, job, hooks),
            Kind::Teams => teams::send(self, job, chat),
            Kind::Discord => discord::send(self, job, chat),
        };
        match outcome {
            Sent::Tried(attempt) => (attempt, false),
            Sent::Skipped(why) => (
                Attempt {
                    ok: true,
                    http_status: None,
                    error: Some(why.to_string()),
                    duration_ms: 0,
                    next: Next::Schedule,
                },
                true,
            ),
            Sent::Impossible(why) => (
                Attempt {
                    ok: false,
                    http_status: None,
                    error: Some(why),
                    duration_ms: 0,
                    next: Next::Stop,
                },
                false,
            ),
        }
    }

    fn send_webhook(job: &Job, hooks: &ureq::Agent) -> Sent {
        let Some(secret) = &job.secret else {
            return Sent::Impossible("the key that signs this webhook no longer exists".into());
        };
        let r = &job.row;
        let now_secs = clock::now() / 1000;
        Sent::Tried(webhook::send(
            hooks,
            &r.target,
            secret,
            &r.event_id,
            &r.payload,
            now_secs,
        ))
    }

    fn send_slack(&self, job: &Job, slack: &ureq::Agent) -> Sent {
        let (Some(url), Some(pause)) = (&self.settings.slack_url, &job.pause) else {
            return Sent::Skipped("not sent: Slack is not configured any more");
        };
        let review = self.settings.urls.review(&pause.watch_id);
        let event: serde_json::Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
        let message = if event["event"] == "resolved" {
            slack::resolved(pause, &review)
        } else {
            slack::created(pause, &review)
        };
        Sent::Tried(slack::send(slack, url, &message))
    }

    fn send_mail(&self, job: &Job) -> Sent {
        let Some(smtp) = &self.settings.smtp else {
            return Sent::Skipped("not sent: mail is not configured any more");
        };
        if job.row.watch_id == accounts::OUTBOX_WATCH_ID {
            return self.send_account_mail(smtp, job);
        }
        let Some(pause) = job.pause.as_ref().filter(|p| p.status == Status::Pending) else {
            return Sent::Skipped("not sent: the pause was decided before the mail went out");
        };
        let Some(user) = job.user.as_ref().filter(|u| u.notify_email) else {
            return Sent::Skipped("not sent: the reviewer was removed or turned mail off");
        };
        let (user_id, address) = (user.id, user.email.clone());
        let link = |decision| self.decision_link(pause, user_id, decision, links::MAX_AGE_MS);
        // A question gets no one-click links: it is answered on its review page. A
        // pause with a form gets no Approve link: it is filled in on the review page.
        let decide = (pause.kind == crate::domain::Kind::Decision).then(|| email::DecideLinks {
            approve: pause
                .response_schema
                .is_none()
                .then(|| link(Decision::Approved)),
            reject: link(Decision::Rejected),
        });
        let links = email::Links {
            decide,
            review: self.settings.urls.review(&pause.watch_id),
        };
        let event: serde_json::Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
        let event = outbox::MailEvent::parse(event["event"].as_str().unwrap_or_default());
        match email::new_pause_message(&smtp.from, &address, pause, &links, event) {
            Ok(message) => Sent::Tried(smtp.send(&self.dns, &message)),
            Err(e) => Sent::Impossible(e),
        }
    }
}

impl Worker {
    /// Keeps a chat message posted about a pause, so that its outcome edits it, in one
    /// write with a fresh read of the pause: decided before, the caller edits it now;
    /// decided after, the decision finds the message and queues its edit.
    fn keep_message(
        &self,
        watch_id: &str,
        kind: Kind,
        chat: String,
        message: String,
        user_id: Option<i64>,
    ) -> crate::domain::Result<Option<crate::domain::pauses::Pause>> {
        let watch_id = watch_id.to_string();
        self.writer.run_blocking(move |tx| {
            crate::db::chat::insert(tx, &watch_id, kind, &chat, &message, user_id, clock::now())?;
            crate::db::pauses::by_watch_id(tx, &watch_id)
        })
    }

    /// A signed one-click link that decides `pause` as `user_id` (once, on POST). It
    /// works at most `max_age_ms`, and never beyond the pause.
    fn decision_link(
        &self,
        pause: &crate::domain::pauses::Pause,
        user_id: i64,
        decision: Decision,
        max_age_ms: Millis,
    ) -> String {
        let token = links::sign(
            &self.link_key,
            &Link {
                watch_id: pause.watch_id.clone(),
                user_id,
                decision,
                expires: links::expiry_within(pause, clock::now(), max_age_ms),
            },
        );
        self.settings.urls.mail(&token)
    }

    /// An invitation or reset link: derived from the nonce in the row, so that the
    /// outbox never holds a usable link.
    fn send_account_mail(&self, smtp: &email::Smtp, job: &Job) -> Sent {
        let payload: serde_json::Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
        let (Some(nonce), Some(expires)) =
            (payload["nonce"].as_str(), payload["expiresAt"].as_i64())
        else {
            return Sent::Impossible("the invitation row has no link".into());
        };
        if expires <= clock::now() {
            return Sent::Skipped("not sent: the link expired before the mail went out");
        }
        let token = accounts::token_for(&self.link_key, nonce);
        // A link replaced by a newer one, already used, or whose user was removed is
        // not mailed: it would only say "this link is not valid".
        let valid = self
            .reads
            .get()
            .map_err(|e| e.to_string())
            .and_then(|conn| {
                accounts::inspect(&conn, &token, clock::now())
                    .map(|_| true)
                    .or_else(|e| match e {
                        crate::model::Error::NotFound(_) => Ok(false),
                        other => Err(other.to_string()),
                    })
            });
        match valid {
            Ok(true) => {}
            Ok(false) => return Sent::Skipped("not sent: the link was replaced or used first"),
            // The database could not say: try again later like any failed attempt.
            Err(e) => {
                return Sent::Tried(outbox::Attempt {
                    ok: false,
                    http_status: None,
                    error: Some(format!("cannot check the link: {e}")),
                    duration_ms: 0,
                    next: outbox::Next::Schedule,
                })
            }
        }
        let link = self.settings.urls.password_link(&token);
        let invite = payload["event"] == "invite";
        match email::account_message(
            &smtp.from,
            &job.row.target,
            invite,
            &link,
            &clock::rfc3339(expires),
        ) {
            Ok(message) => Sent::Tried(smtp.send(&self.dns, &message)),
            Err(e) => Sent::Impossible(e),
        }
    }
}

/// What became of one claimed row.
enum Sent {
    /// An attempt was made; it went as it says.
    Tried(Attempt),
    /// Nothing to send any more (counts as done).
    Skipped(&'static str),
    /// It can never be sent (no retry).
    Impossible(String),
}
