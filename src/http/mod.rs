//! The HTTP server: shared state, one module per resource, error mapping.

mod body;
mod compact;
mod deadline;
mod deliveries;
pub mod error;
mod extend;
mod health;
mod hooks;
mod humanlayer;
mod jwks;
pub mod mcp;
mod metrics;
mod openapi;
mod pause;
mod rate;
pub use rate::RateLimit;
pub mod request_id;
mod rules;
mod slack;
mod telegram;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web as aweb, App, HttpRequest, HttpResponse, HttpServer};
use rusqlite::Connection;

use crate::clock::{self, Millis};
use crate::db::{self, Pool, Tx, Writer};
use crate::domain::keys::{self, Authenticated};
use crate::domain::pauses::{self, Pause};
use crate::domain::{Error, Principal, Result};
use crate::memory::Memory;
use error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub reads: Pool,
    /// One permit per pooled read connection: requests wait their turn here, on the
    /// async side, instead of parking blocking threads on the pool.
    pub read_permits: tokio::sync::Semaphore,
    pub writer: Writer,
    /// Keys and pauses kept in memory, and long-poll waiters (see `crate::memory`).
    pub memory: Arc<Memory>,
    /// The absolute URLs hitl hands out, under the public URL (`urls.base()`).
    pub urls: crate::urls::Urls,
    pub limits: crate::domain::pauses::Limits,
    /// `--body-timeout`: how long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// The notification channels in effect (SMTP and Slack configured or not).
    pub channels: crate::domain::outbox::Channels,
    /// The Slack app, Telegram, ntfy, Teams and Discord settings.
    pub chat: Arc<crate::config::Chat>,
    /// The Telegram bot, when `--telegram-bot-token` is given.
    pub telegram: Option<Arc<crate::notify::telegram::bot::Bot>>,
    pub dns: Arc<crate::notify::dns::Dns>,
    /// Where webhooks may go.
    pub policy: Arc<crate::notify::policy::Policy>,
    /// Signs and checks the Approve and Reject links in mail.
    pub link_key: Arc<Vec<u8>>,
    /// Signs the receipts of decided pauses; its public key is the JWKS.
    pub receipts: Arc<crate::domain::receipts::Receipts>,
    /// The Web Push (VAPID) key; its public half is the page's `applicationServerKey`.
    pub vapid: Arc<crate::domain::push::Vapid>,
    pub throttle: crate::domain::throttle::Throttle,
    /// `--rate-limit`: API requests per minute per key.
    pub rate_limit: rate::RateLimit,
    /// Pauses arriving and being decided, for open pages (Server-Sent Events).
    pub live: tokio::sync::broadcast::Sender<web::LiveEvent>,
    /// Becomes true when the server is stopping; event streams end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    pub web: WebSettings,
    /// What `GET /metrics` shows; counted by handlers, middleware and the writer.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// `--metrics-token`: `/metrics` needs it as a bearer token.
    pub metrics_token: Option<String>,
}

/// Settings of the web page.
pub struct WebSettings {
    /// The public URL is https: cookies are `Secure` (and `__Host-`).
    pub secure_cookies: bool,
    /// Client addresses come from `X-Forwarded-For` / `Forwarded` (behind a proxy).
    pub trust_proxy: bool,
    /// Shown on the About page, secrets redacted.
    pub settings: Vec<(String, String)>,
    /// `--password-sign-in`: the email and password form is offered.
    pub password_sign_in: bool,
    /// `--oidc-issuer`: sign-in with an OpenID Connect provider.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
}

impl AppState {
    /// Runs `f` on a pooled read connection on a blocking thread.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let _permit = self.read_permits.acquire().await.map_err(Error::internal)?;
        let pool = self.reads.clone();
        aweb::block(move || {
            let conn = pool.get()?;
            f(&conn)
        })
        .await
        .map_err(Error::internal)?
    }

    /// Authenticates a bearer key and runs `f` as it, on one pooled read connection.
    pub async fn read_as<R, F>(&self, token: String, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &Principal) -> Result<R> + Send + 'static,
    {
        let memory = Arc::clone(&self.memory);
        let (result, auth) = self
            .read(move |conn| {
                db::read_tx(conn, |conn| {
                    let auth = memory.authenticate(conn, &token, clock::now(), true)?;
                    Ok((f(conn, &auth.principal), auth))
                })
            })
            .await?;
        self.touch_later(&auth);
        result
    }

    /// A pause as the bearer of `token` may see it: from memory when the key and the
    /// pause are both kept under the current auth epoch, else from the database.
    pub async fn pause_as(&self, token: String, watch_id: String) -> Result<Arc<Pause>> {
        let (known, epoch) = self.memory.cached_key(&token, clock::now());
        if let Some(auth) = known {
            self.touch_later(&auth);
            if let Some(pause) = self.memory.cached_pause(&watch_id, epoch) {
                pauses::visible(&auth.principal, &pause)?;
                return Ok(pause);
            }
        }
        // Epoch and version both taken before the read: a change committed after it
        // is not kept.
        let version = self.memory.pause_version();
        let pause = self
            .read_as(token, move |conn, principal| {
                pauses::get(conn, principal, &watch_id)
            })
            .await?;
        self.memory.keep_pause(&pause, epoch, version);
        Ok(Arc::new(pause))
    }

    /// The largest request body that creates a pause (by any integration): the
    /// context's limit and room for the rest.
    pub fn max_create_body(&self) -> usize {
        self.limits.max_context_bytes + pause::BODY_OVERHEAD
    }

    /// Creates a pause as the bearer of `token` (an agent key): the one way every
    /// integration (the API, MCP, hooks) creates one, under the same rules.
    pub async fn create_pause(
        &self,
        token: String,
        new: pauses::NewPause,
    ) -> Result<pauses::Created> {
        if let Some(url) = new.webhook_url() {
            self.check_webhook_url(url).await?;
        }
        let channels = self.channels;
        // In the writer's bulk lane: a decision queued with creates commits first.
        let create = self.as_key(token, move |tx, auth, now| {
            pauses::create(tx, now, &auth.principal, auth.monthly_limit, new, &channels)
        });
        self.writer.run_bulk(create).await
    }

    /// The pause as the bearer of `token` may see it, once it leaves `pending` or
    /// `wait` passes, whichever is first. Waiting costs no database work.
    pub async fn wait_for_decision(
        &self,
        token: String,
        watch_id: String,
        wait: std::time::Duration,
    ) -> Result<Arc<Pause>> {
        // Every read is boxed: in place, each kept its room in this future for the
        // whole wait, so each long-poll held 1,600 bytes of it instead of 600.
        if wait.is_zero() {
            return Box::pin(self.pause_as(token, watch_id)).await;
        }
        // Register first, then read: a decision committed in between still wakes us.
        let registration = self.memory.register(&watch_id);
        let changed = tokio::time::timeout(wait, registration.changed());
        let pause = Box::pin(self.pause_as(token.clone(), watch_id.clone())).await?;
        if pause.status.is_terminal() {
            return Ok(pause);
        }
        match changed.await {
            Ok(()) => Box::pin(self.pause_as(token, watch_id)).await,
            Err(_) => Ok(pause),
        }
    }

    /// A guard that cancels the pending pause `watch_id` as the bearer of `token`
    /// (its creator), with `reason` as the comment, if it is dropped before
    /// [`CancelOnDrop::disarm`]: a handler holds it while it waits for a decision, and
    /// actix drops the handler's future when its client goes away (see `serve`).
    pub fn cancel_on_drop(
        &self,
        token: String,
        watch_id: String,
        reason: &'static str,
    ) -> CancelOnDrop {
        CancelOnDrop {
            armed: Some(Cancel {
                writer: self.writer.clone(),
                memory: Arc::clone(&self.memory),
                channels: self.channels,
                token,
                watch_id,
                reason,
            }),
        }
    }

    /// Records "last used" in a later commit when it is stale; nobody waits for it.
    fn touch_later(&self, auth: &Authenticated) {
        if let (true, Some(key_id)) = (auth.needs_touch, auth.principal.key_id()) {
            let key_id = key_id.to_string();
            self.writer
                .spawn(move |tx| keys::touch(tx, &key_id, clock::now()));
        }
    }

    /// Authenticates a bearer key and runs `f` as it, in the writer's next commit.
    pub async fn write_as<R, F>(&self, token: String, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx, &Authenticated, Millis) -> Result<R> + Send + 'static,
    {
        self.writer.run(self.as_key(token, f)).await
    }

    /// The write `f` as the bearer of `token`. The key is checked in the writer's
    /// transaction: a key revoked by an earlier write, even one still queued when this
    /// request came, is refused.
    fn as_key<R, F>(&self, token: String, f: F) -> impl FnOnce(&mut Tx) -> Result<R> + Send
    where
        F: FnOnce(&mut Tx, &Authenticated, Millis) -> Result<R> + Send + 'static,
    {
        let memory = Arc::clone(&self.memory);
        // Hashed here, on the request's worker: the writer's thread is the bottleneck.
        let presented = memory.present(&token);
        move |tx| {
            let now = clock::now();
            let auth = memory.authenticate_presented(tx, &token, presented?, now, false)?;
            let done = f(tx, &auth, now)?;
            // After `f`: a create changes nothing before its rules have passed.
            if auth.needs_touch {
                if let Some(id) = auth.principal.key_id() {
                    keys::touch(tx, id, now)?;
                }
            }
            Ok(done)
        }
    }

    /// Runs `f` as the user of a web page session, in the writer's next commit. The
    /// session and its user are checked again inside that transaction, as keys are: a
    /// user removed, signed out or demoted after the request's first check cannot act
    /// on the strength of it. `admin`: the change needs an admin.
    pub async fn write_as_session<R, F>(&self, id_hash: Vec<u8>, admin: bool, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx, &Principal, Millis) -> Result<R> + Send + 'static,
    {
        self.writer
            .run(move |tx| {
                let now = clock::now();
                let user = crate::domain::sessions::recheck(tx, &id_hash, now)?;
                if admin && user.role != crate::domain::Role::Admin {
                    return Err(Error::Forbidden("only admins can do this".into()));
                }
                f(tx, &Principal::User(user), now)
            })
            .await
    }

    /// Runs `f` as whoever makes the request (key or session), in the next commit.
    pub async fn write_as_caller<R, F>(&self, caller: Caller, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx, &Principal, Millis) -> Result<R> + Send + 'static,
    {
        match caller {
            Caller::Key(token) => {
                self.write_as(token, move |tx, auth, now| f(tx, &auth.principal, now))
                    .await
            }
            Caller::Session(id_hash) => self.write_as_session(id_hash, false, f).await,
        }
    }

    /// Refuses a webhook URL whose address the policy refuses (checked as it is set;
    /// every delivery checks again). A name that does not resolve yet passes.
    pub async fn check_webhook_url(&self, url: &str) -> Result<()> {
        let (dns, policy, url) = (
            Arc::clone(&self.dns),
            Arc::clone(&self.policy),
            url.to_string(),
        );
        aweb::block(move || {
            dns.check_url(&url, &policy)
                .map_err(|e| Error::validation(format!("webhookUrl {url}: {e}")))
        })
        .await
        .map_err(Error::internal)?
    }
}

/// Who makes an API request that the web page may also make.
pub enum Caller {
    /// A bearer key, checked in the transaction that uses it.
    Key(String),
    /// A signed-in user of the web page (CSRF token and origin already checked): the
    /// session's id hash, checked again in the transaction that uses it.
    Session(Vec<u8>),
}

/// See [`AppState::cancel_on_drop`].
pub struct CancelOnDrop {
    armed: Option<Cancel>,
}

struct Cancel {
    writer: Writer,
    memory: Arc<Memory>,
    channels: crate::domain::outbox::Channels,
    token: String,
    watch_id: String,
    reason: &'static str,
}

impl CancelOnDrop {
    /// The wait ended (decided, timed out, failed): nothing is cancelled.
    pub fn disarm(mut self) {
        self.armed = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(cancel) = self.armed.take() else {
            return;
        };
        let Cancel {
            writer,
            memory,
            channels,
            token,
            watch_id,
            reason,
        } = cancel;
        tracing::info!(
            watch_id = %watch_id,
            "the client went away before a decision: cancelling its pause"
        );
        // Drop cannot wait: the cancel is queued for the writer's next commit. A pause
        // decided in the meantime stays as it was decided.
        writer.spawn(move |tx| {
            let now = clock::now();
            let auth = memory.authenticate(tx, &token, now, false)?;
            match pauses::cancel(
                tx,
                now,
                &auth.principal,
                &watch_id,
                Some(reason.to_string()),
                &channels,
            ) {
                Ok(_) | Err(Error::AlreadyResolved(_)) => Ok(()),
                Err(e) => Err(e),
            }
        });
    }
}

/// A bearer key if the request has one; else the web page's session, which must carry
/// its page's `X-CSRF-Token` and come from this server.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    if req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
    {
        return Ok(Caller::Key(api_key(req, state)?));
    }
    let Some((session, _)) = web::current_session(req, state).await? else {
        return Err(Error::Unauthorized.into());
    };
    let token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !session.csrf_ok(token) || !web::same_origin(req, state.urls.base()) {
        return Err(Error::Forbidden(
            "a signed-in request must carry its page's X-CSRF-Token and come from this server"
                .into(),
        )
        .into());
    }
    Ok(Caller::Session(session.id_hash))
}

/// The bearer key of a request, or `unauthorized`.
/// The bearer key of an API request, within its rate limit.
pub fn api_key(req: &HttpRequest, state: &AppState) -> Result<String, ApiError> {
    let token = bearer(req)?;
    if !keys::well_formed(&token) {
        // Not a key: refused without being counted (and without a bucket).
        return Err(Error::Unauthorized.into());
    }
    state
        .rate_limit
        .take(&token, std::time::Instant::now())
        .map_err(|retry_after_secs| Error::RateLimited {
            per_minute: state.rate_limit.per_minute(),
            retry_after_secs,
        })?;
    Ok(token)
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(Error::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::Unauthorized.into());
    }
    Ok(token.trim().to_string())
}

/// Anything else: a JSON 404 under /api, an HTML page elsewhere.
async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        return api_not_found(req).await;
    }
    web::html_status(
        actix_web::http::StatusCode::NOT_FOUND,
        crate::views::signin::error(
            None,
            404,
            "Not found",
            "There is no page at this address.",
            request_id::RequestId::of(&req).as_deref(),
        ),
    )
}

async fn api_not_found(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError(Error::NotFound(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    ))))
}

/// The default service of a resource answered only by `methods` ("GET, POST"): a JSON
/// 405 naming them in `Allow`.
pub fn allow(methods: &'static str) -> actix_web::Route {
    aweb::to(move |req: HttpRequest| async move {
        let body = error::ErrorBody::new(
            error::ErrorCode::MethodNotAllowed,
            format!("{} is not allowed on {}", req.method(), req.path()),
            request_id::RequestId::of(&req),
        );
        HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, methods))
            .json(body)
    })
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    error::json_error(Error::validation(format!(
        "the query string is not valid: {err}"
    )))
}

fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let e = Error::validation(format!("the path is not valid: {err}"));
    if req.path().starts_with("/api/") {
        error::json_error(e)
    } else {
        web::PageError::Domain(e).into()
    }
}

fn form_error(err: actix_web::error::UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    web::PageError::Domain(Error::validation(format!(
        "the form could not be read: {err}"
    )))
    .into()
}

/// The largest form the web page takes.
pub(crate) const FORM_LIMIT: usize = 64 * 1024;

pub fn app_config(cfg: &mut aweb::ServiceConfig) {
    cfg.app_data(aweb::QueryConfig::default().error_handler(query_error))
        .app_data(aweb::PathConfig::default().error_handler(path_error))
        .app_data(
            aweb::FormConfig::default()
                .limit(FORM_LIMIT)
                .error_handler(form_error),
        )
        .configure(health::configure)
        .configure(metrics::configure)
        .configure(jwks::configure)
        .configure(pause::configure)
        .configure(deliveries::configure)
        .configure(rules::configure)
        .configure(openapi::configure)
        .configure(hooks::configure)
        .configure(mcp::configure)
        .configure(humanlayer::configure)
        .configure(slack::configure)
        .configure(telegram::configure)
        .service(aweb::scope("/api").default_service(aweb::to(api_not_found)))
        .configure(web::configure)
        .default_service(aweb::to(not_found));
}

/// Serves until a stop signal; `on_stop` runs first (it wakes long-polls).
pub async fn serve(
    listener: TcpListener,
    state: aweb::Data<AppState>,
    on_stop: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    let body_limits = deadline::BodyLimits {
        timeout: state.body_timeout,
        max_bytes: state.max_create_body().max(FORM_LIMIT) as u64,
    };
    // The last `wrap` is the outermost: the request id is set before anything else
    // runs (but the headers' compaction and the count), so even a body refused for its
    // size or slowness carries it.
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(body_limits)
            .wrap(actix_web::middleware::from_fn(deadline::enforce))
            .wrap(actix_web::middleware::from_fn(request_id::middleware))
            // Outside the request id: counts every answer, whatever inside made it.
            .wrap(actix_web::middleware::from_fn(metrics::count))
            // Outermost, before anything reads or holds the request: its headers in a
            // map sized for them.
            .wrap(actix_web::middleware::from_fn(compact::headers))
            .configure(app_config)
    })
    .max_connections(100_000)
    .shutdown_timeout(10)
    // Close a connection as soon as its answer is written. With a disconnect timeout,
    // actix-http "lingers" after answering a request whose body was not read (a 408
    // or 413 here) and, on a loaded machine, some of those connections were never
    // closed: measured with 300 stalled bodies, 71 stayed open for good under load,
    // none without the linger. `deadline` reads what an early answer left unread.
    .client_disconnect_timeout(std::time::Duration::ZERO)
    // A client that closes its side of the connection while its request is in flight
    // has gone away (HTTP/1.1 clients do not half-close to wait for an answer): the
    // connection is dropped, and with it the handler's future, so a hook or prompt
    // waiting for a decision cancels its pause (`AppState::cancel_on_drop`). By
    // default actix keeps serving a half-closed connection: the wait went on to its
    // end and the pause stayed open for a reviewer to approve with nobody waiting.
    .h1_allow_half_closed(false)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stopping: finishing requests in flight");
        on_stop();
        handle.stop(true).await;
    });
    server.await
}

async fn wait_for_stop_signal() {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for stop signals; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
