//! What the bot hears: `/start <code>` links a private chat to a hitl user, and a press
//! of Approve or Reject decides as the user the button was made for, from their own
//! linked chat only. Updates come by long polling (`getUpdates`, the offset kept in the
//! database so that a restart does not handle one twice) or, with
//! `--telegram-webhook-secret`, to `POST /telegram/webhook`; both end in
//! [`Bot::handle`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{keyboard, progress_text, resolved_text, Api, Failure, CALL_TIMEOUT};
use crate::clock;
use crate::db::{self, Pool, Writer};
use crate::domain::outbox::Channels;
use crate::domain::pauses::{self, Decision, Pause, Verdict};
use crate::domain::telegram as rules;
use crate::domain::{users, Error, Principal};
use crate::notify::dns::{self, Dns};
use crate::urls::Urls;

/// How long Telegram holds a `getUpdates` open when there is nothing to hand out.
const POLL_SECS: u64 = 25;
/// Telegram's limit on the text of `answerCallbackQuery`.
const MAX_ANSWER: usize = 200;

/// The bot: its API, and what handling an update needs.
pub struct Bot {
    api: Api,
    agent: ureq::Agent,
    /// Learnt with `getMe` (for `https://t.me/<username>` links).
    username: RwLock<Option<String>>,
    writer: Writer,
    reads: Pool,
    channels: Channels,
    link_key: Arc<Vec<u8>>,
    urls: Urls,
}

impl Bot {
    pub fn new(
        settings: &crate::config::Telegram,
        dns: &Arc<Dns>,
        writer: Writer,
        reads: Pool,
        channels: Channels,
        link_key: Arc<Vec<u8>>,
        urls: Urls,
    ) -> Bot {
        Bot {
            api: Api::new(settings),
            agent: dns::agent(dns, None, CALL_TIMEOUT),
            username: RwLock::new(None),
            writer,
            reads,
            channels,
            link_key,
            urls,
        }
    }

    /// The bot's username, once `getMe` told it.
    pub fn username(&self) -> Option<String> {
        self.username
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn call(&self, method: &str, body: Value) {
        if let Err(e) = self.api.call(&self.agent, method, &body) {
            if !super::not_modified(&Err(e.clone())) {
                tracing::info!(method, error = %e, "a Telegram reply failed");
            }
        }
    }

    fn reply(&self, chat: i64, text: &str) {
        self.call("sendMessage", json!({ "chat_id": chat, "text": text }));
    }

    /// Handles one update; what goes wrong is told to the person in the chat, or
    /// logged.
    pub fn handle(&self, update: &Value) {
        if let Some(message) = update.get("message").filter(|m| m.is_object()) {
            self.handle_message(message);
        } else if let Some(query) = update.get("callback_query").filter(|q| q.is_object()) {
            self.handle_callback(query);
        }
    }

    fn handle_message(&self, message: &Value) {
        let (Some(chat), Some(text)) = (message["chat"]["id"].as_i64(), message["text"].as_str())
        else {
            return;
        };
        let private = message["chat"]["type"] == "private";
        let Some(rest) = text.strip_prefix("/start") else {
            if private {
                self.reply(chat, "I tell you of hitl approval requests: decide them with the buttons under each message, or open them in hitl with Review.");
            }
            return;
        };
        // `/start`, `/start <code>`, or `/start@bot <code>` in a group.
        let code = rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, code)| code)
            .trim();
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with('@')) {
            return;
        }
        if !private {
            self.reply(chat, "Link hitl in a private chat with me, not in a group.");
            return;
        }
        if code.is_empty() {
            self.reply(chat, "To link this chat to hitl, open your Account page in hitl and press Link Telegram.");
            return;
        }
        let code = code.to_string();
        let linked =
            self.writer
                .run_blocking(move |tx| match rules::link(tx, clock::now(), &code, chat) {
                    Err(e @ Error::NotFound(_)) => Ok(Err(e)),
                    other => other.map(Ok),
                });
        match linked {
            Ok(Ok(user)) => {
                tracing::info!(email = %user.email, "linked a Telegram chat");
                self.reply(
                    chat,
                    &format!(
                        "Linked to hitl as {}. Pauses for you will come here.",
                        user.email
                    ),
                );
            }
            Ok(Err(e)) => {
                tracing::info!(
                    chat,
                    "refused a Telegram link code that is unknown, expired or used"
                );
                self.reply(chat, &format!("Nothing was linked: {e}."));
            }
            Err(e) => {
                tracing::error!(error = %e, "could not link a Telegram chat");
                self.reply(
                    chat,
                    "hitl could not link this chat just now; try again in a moment.",
                );
            }
        }
    }

    fn answer(&self, query_id: &str, text: &str) {
        let text: String = text.chars().take(MAX_ANSWER).collect();
        self.call(
            "answerCallbackQuery",
            json!({ "callback_query_id": query_id, "text": text }),
        );
    }

    fn handle_callback(&self, query: &Value) {
        let Some(id) = query["id"].as_str() else {
            return;
        };
        let data = query["data"].as_str().unwrap_or("");
        let from = query["from"]["id"].as_i64();
        let chat = query["message"]["chat"]["id"].as_i64();
        let message_id = query["message"]["message_id"].as_i64();
        let button = match rules::verify(&self.link_key, data) {
            Ok(button) => button,
            Err(e) => {
                tracing::warn!(from = ?from, "refused a Telegram button whose token does not verify");
                return self.answer(id, &capitalized(&e.to_string()));
            }
        };
        let reads = self.reads.clone();
        let user_id = button.user_id;
        let user = reads
            .get()
            .map_err(Error::internal)
            .and_then(|conn| users::by_id(&conn, user_id));
        let user = match user {
            Ok(user) => user,
            Err(Error::NotFound(_)) => {
                return self.answer(id, "This hitl user no longer exists; nothing was decided.")
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read a user for a Telegram button");
                return self.answer(id, "hitl could not record it; try again in a moment.");
            }
        };
        // The person who pressed, in the chat the message went to, must be the chat
        // linked to the user the button was made for.
        let linked = user
            .telegram_chat
            .as_deref()
            .and_then(|c| c.parse::<i64>().ok());
        if linked.is_none() || linked != from || linked != chat {
            tracing::warn!(email = %user.email, "refused a Telegram button pressed from a chat not linked to its user");
            return self.answer(
                id,
                "This button is not for this chat (or the chat was unlinked): nothing was decided.",
            );
        }
        let (decision, comment) = match button.decision {
            Decision::Approved => (Decision::Approved, None),
            Decision::Rejected => (
                Decision::Rejected,
                Some("Rejected from Telegram".to_string()),
            ),
        };
        let (channels, watch_id, reviewer) =
            (self.channels, button.watch_id.clone(), user.reviewer());
        let decided = self.writer.run_blocking(move |tx| {
            pauses::decide_outside(
                tx,
                clock::now(),
                &Principal::User(reviewer),
                &watch_id,
                Verdict::new(decision, comment, None),
                &channels,
                pauses::Outside::Message,
            )
        });
        let edit = |pause: &Pause| {
            let (Some(chat), Some(message_id)) = (chat, message_id) else {
                return;
            };
            let mut body = json!({ "chat_id": chat, "message_id": message_id });
            if pause.status.is_terminal() {
                body["text"] = json!(resolved_text(pause));
            } else {
                body["text"] = json!(progress_text(pause));
                let review = self.urls.review(&pause.watch_id);
                body["reply_markup"] = keyboard(&self.link_key, pause, user.id, &review);
            }
            self.call("editMessageText", body);
        };
        match decided {
            Ok(pause) if pause.status.is_terminal() => {
                tracing::info!(watch_id = %pause.watch_id, email = %user.email, "decided from Telegram");
                self.answer(
                    id,
                    if decision == Decision::Approved {
                        "Approved"
                    } else {
                        "Rejected"
                    },
                );
                edit(&pause);
            }
            Ok(pause) => {
                self.answer(
                    id,
                    &format!(
                        "Approval recorded: {} of {} approvals",
                        pause.approvals.len(),
                        pause.required_approvals
                    ),
                );
                edit(&pause);
            }
            Err(Error::AlreadyResolved(status)) => {
                self.answer(id, &format!("Already {status}: nothing was changed."));
                let now = self
                    .reads
                    .get()
                    .map_err(Error::internal)
                    .and_then(|conn| db::pauses::by_watch_id(&conn, &button.watch_id));
                if let Ok(Some(pause)) = now {
                    edit(&pause);
                }
            }
            Err(Error::Internal(e)) => {
                tracing::error!(error = %e, "could not decide from Telegram");
                self.answer(id, "hitl could not record it; try again in a moment.");
            }
            Err(e) => self.answer(id, &format!("Not decided: {e}")),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One call handed to the fetcher thread, and where its answer goes.
type Request = (String, Value, mpsc::Sender<Result<Value, Failure>>);

/// The thread that learns the bot's name and, without a webhook, long-polls
/// `getUpdates`. Its calls that may wait (the long poll) run on a helper thread that
/// holds nothing but the API, so that a stop ends this thread at once and lets the
/// database writer go; the helper ends when its call returns.
pub struct Poller {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Poller {
    /// `poll`: long-poll for updates (no webhook).
    pub fn start(bot: Arc<Bot>, dns: &Arc<Dns>, poll: bool) -> Result<Poller, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (requests, incoming) = mpsc::channel::<Request>();
        let (api, agent) = (
            bot.api.clone(),
            dns::agent(dns, None, Duration::from_secs(POLL_SECS) + CALL_TIMEOUT),
        );
        thread::Builder::new()
            .name("hitl-telegram-fetch".into())
            .spawn(move || {
                for (method, body, answer) in incoming {
                    let _ = answer.send(api.call(&agent, &method, &body));
                }
            })
            .map_err(|e| format!("cannot start the Telegram thread: {e}"))?;
        let flag = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name("hitl-telegram".into())
            .spawn(move || run(&bot, &requests, &flag, poll))
            .map_err(|e| format!("cannot start the Telegram thread: {e}"))?;
        Ok(Poller {
            stop,
            handle: Some(handle),
        })
    }

    /// Ends the thread: an update being handled gets 2 seconds to finish (its Bot API
    /// calls may take longer; then it is left, and the shutdown goes on within its
    /// 10 seconds).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while !handle.is_finished() && std::time::Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                tracing::warn!("the Telegram thread was still answering an update at shutdown");
            }
        }
    }
}

/// Calls `method` on the fetcher thread; `None` once stopping.
fn fetch(
    requests: &mpsc::Sender<Request>,
    stop: &AtomicBool,
    method: &str,
    body: Value,
) -> Option<Result<Value, Failure>> {
    let (answer, answered) = mpsc::channel();
    if requests.send((method.to_string(), body, answer)).is_err() {
        return Some(Err(Failure::Network("the fetcher thread ended".into())));
    }
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match answered.recv_timeout(Duration::from_millis(50)) {
            Ok(result) => return Some(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some(Err(Failure::Network("the fetcher thread ended".into())))
            }
        }
    }
}

/// Sleeps `wait`, or less if stopping; false once stopping.
fn nap(stop: &AtomicBool, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !stop.load(Ordering::SeqCst)
}

fn run(bot: &Bot, requests: &mpsc::Sender<Request>, stop: &AtomicBool, poll: bool) {
    let mut me_due = Instant::now();
    let mut me_wait = Duration::from_secs(5);
    let mut backoff = Duration::from_secs(1);
    let mut offset = None;
    while !stop.load(Ordering::SeqCst) {
        if bot.username().is_none() && Instant::now() >= me_due {
            match fetch(requests, stop, "getMe", json!({})) {
                None => return,
                Some(Ok(me)) => match me["username"].as_str() {
                    Some(name) => {
                        tracing::info!(bot = name, "Telegram: the bot is @{name}");
                        *bot.username.write().unwrap_or_else(|e| e.into_inner()) =
                            Some(name.to_string());
                    }
                    None => tracing::warn!("Telegram's getMe answer has no username"),
                },
                Some(Err(e)) => {
                    tracing::warn!(error = %e, retry_in = ?me_wait, "Telegram: getMe failed (links to the bot wait for it); trying again later");
                    me_due = Instant::now() + me_wait;
                    me_wait = (me_wait * 2).min(Duration::from_secs(300));
                }
            }
        }
        if !poll {
            if !nap(stop, Duration::from_millis(500)) {
                return;
            }
            continue;
        }
        let next = match offset {
            Some(n) => n,
            None => {
                let read = bot
                    .reads
                    .get()
                    .map_err(Error::internal)
                    .and_then(|conn| db::telegram::offset(&conn));
                match read {
                    Ok(n) => *offset.insert(n),
                    Err(e) => {
                        tracing::error!(error = %e, "Telegram: cannot read the update offset");
                        if !nap(stop, backoff) {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let body = json!({
            "offset": next,
            "timeout": POLL_SECS,
            "allowed_updates": ["message", "callback_query"],
        });
        match fetch(requests, stop, "getUpdates", body) {
            None => return,
            Some(Ok(updates)) => {
                backoff = Duration::from_secs(1);
                for update in updates.as_array().into_iter().flatten() {
                    // What arrived after the stop is left for the next start.
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Some(id) = update["update_id"].as_i64() else {
                        continue;
                    };
                    if id < next {
                        continue;
                    }
                    bot.handle(update);
                    let after = id + 1;
                    offset = Some(after);
                    if let Err(e) = bot
                        .writer
                        .run_blocking(move |tx| db::telegram::set_offset(tx, after))
                    {
                        tracing::error!(error = %e, "Telegram: cannot keep the update offset");
                    }
                }
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "Telegram: getUpdates failed");
                if !nap(stop, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
