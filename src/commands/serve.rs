//! `hitl serve`: open the store, start the writer, the expiry timer and the HTTP server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;

use super::fail;
use crate::cli::ServeArgs;
use crate::clock;
use crate::config::Config;
use crate::db::{Checkpointer, Pool, Store, Writer};
use crate::domain::outbox::{self, Channels};
use crate::domain::pauses::Limits;
use crate::domain::push::{self, Vapid};
use crate::domain::receipts::{self, Receipts};
use crate::domain::throttle::Throttle;
use crate::domain::{settings, setup};
use crate::expiry::Expiry;
use crate::http::web::LiveEvent;
use crate::http::{self, AppState, WebSettings};
use crate::indexer::Indexer;
use crate::memory::Memory;
use crate::metrics::{Metrics, Observed};
use crate::notify::dns::Dns;
use crate::notify::telegram::bot::{Bot as TelegramBot, Poller as TelegramPoller};
use crate::notify::{self, Notifier, Waker};
use crate::urls::Urls;

pub fn run(args: &ServeArgs, data_dir: PathBuf) -> ExitCode {
    let config = match Config::from_args(args, data_dir) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match start(&config, args.metrics.metrics_token.clone(), args.litestream) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn start(config: &Config, metrics_token: Option<String>, litestream: bool) -> Result<(), String> {
    let _lock = Store::lock_for_serving(&config.data_dir).map_err(|e| e.to_string())?;
    let store = Store::open_for_serving(&config.data_dir, litestream).map_err(|e| e.to_string())?;
    raise_open_file_limit();
    let (listener, bound, public_url) = bind(config)?;

    let (live, _) = tokio::sync::broadcast::channel::<LiveEvent>(1024);
    let outbox_waker = Waker::default();
    // What the server keeps in memory, and everything that hears of commits.
    let memory = Arc::new(Memory::new(&store.dir, live.clone(), outbox_waker.clone()));
    let metrics = Arc::new(Metrics::new());
    let parts = Parts::start(config, &store, &memory, &metrics, &public_url, outbox_waker)?;
    let stored = (
        config.webhook_policy.clone(),
        public_url.clone(),
        config.smtp.is_some(),
    );
    let setup_token = parts
        .writer
        .run_blocking(move |tx| {
            // For the command line: `key create` checks webhook URLs by the same rules,
            // `user invite` prints links to this server and knows whether it mails.
            settings::record_serve(tx, &stored.0, &stored.1, stored.2)?;
            // And whether Litestream checkpoints: the command line's connections too.
            settings::record_litestream(tx, litestream)?;
            setup::issue(tx, clock::now())
        })
        .map_err(|e| format!("cannot prepare first-run setup: {e}"))?;
    let (stop_tx, stopping) = tokio::sync::watch::channel(false);
    let state = web::Data::new(AppState {
        reads: parts.reads.clone(),
        read_permits: tokio::sync::Semaphore::new(parts.read_connections as usize),
        writer: parts.writer.clone(),
        memory: Arc::clone(&memory),
        urls: Urls::new(&public_url),
        limits: Limits {
            max_context_bytes: config.max_context_bytes,
            default_timeout_secs: config.default_timeout_secs,
        },
        body_timeout: config.body_timeout,
        channels: parts.channels,
        chat: Arc::new(config.chat.clone()),
        telegram: parts.telegram.as_ref().map(|(bot, _)| Arc::clone(bot)),
        dns: Arc::clone(&parts.dns),
        policy: Arc::new(config.policy.clone()),
        link_key: Arc::clone(&parts.link_key),
        receipts: Arc::clone(&parts.receipts),
        vapid: Arc::clone(&parts.vapid),
        throttle: Throttle::default(),
        rate_limit: http::RateLimit::new(config.rate_limit),
        live,
        stopping,
        web: WebSettings {
            secure_cookies: public_url.starts_with("https://"),
            trust_proxy: config.trust_proxy,
            settings: {
                let mut shown = config.describe(&public_url);
                shown.push((
                    "replication".into(),
                    if litestream {
                        "Litestream (--litestream: checkpoints left to it)"
                    } else {
                        "none"
                    }
                    .into(),
                ));
                shown
            },
            password_sign_in: config.password_sign_in,
            oidc: oidc_provider(config, &parts.dns, &public_url)?,
        },
        metrics,
        metrics_token,
    });

    log_start(config, &store.dir, bound, &public_url, setup_token);
    let served = actix_web::rt::System::new().block_on(http::serve(listener, state, move || {
        let _ = stop_tx.send(true);
        memory.wake_all();
    }));
    parts.stop();
    served.map_err(|e| format!("the HTTP server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// With `--oidc-issuer`: the provider, its discovery document read now so that a
/// wrong issuer stops the start-up instead of every sign-in.
fn oidc_provider(
    config: &Config,
    dns: &Arc<Dns>,
    public_url: &str,
) -> Result<Option<Arc<crate::oidc::Oidc>>, String> {
    let Some(settings) = &config.oidc else {
        return Ok(None);
    };
    let agent = notify::dns::agent(dns, None, std::time::Duration::from_secs(15));
    let discovery = crate::oidc::discover(&agent, &settings.issuer)
        .map_err(|e| format!("--oidc-issuer: {e}"))?;
    Ok(Some(Arc::new(crate::oidc::Oidc::new(
        settings.clone(),
        discovery,
        public_url,
        agent,
    ))))
}

/// The listening socket, the address it is bound to, and the public URL (the flag's,
/// else that address).
fn bind(config: &Config) -> Result<(TcpListener, std::net::SocketAddr, String), String> {
    let listener = listen(config.listen).map_err(|e| {
        format!(
            "cannot listen on {}: {}",
            config.listen,
            describe_bind_error(&e)
        )
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    Ok((listener, bound, public_url))
}

/// What runs beside the HTTP server: the writer, the WAL checkpointer, the read pool,
/// the notifier's workers, the expiry timer and the search indexer. Stopped in the
/// order that lets each finish what the one before queued.
struct Parts {
    writer: Writer,
    writer_thread: std::thread::JoinHandle<()>,
    /// None with `--litestream`: Litestream checkpoints the WAL.
    checkpointer: Option<Checkpointer>,
    reads: Pool,
    read_connections: u32,
    notifier: Notifier,
    expiry: Expiry,
    expiry_thread: std::thread::JoinHandle<()>,
    indexer: Indexer,
    indexer_thread: std::thread::JoinHandle<()>,
    channels: Channels,
    dns: Arc<Dns>,
    link_key: Arc<Vec<u8>>,
    receipts: Arc<Receipts>,
    vapid: Arc<Vapid>,
    /// The Telegram bot and its thread (getMe, and the long poll without a webhook).
    telegram: Option<(Arc<TelegramBot>, TelegramPoller)>,
}

impl Parts {
    fn start(
        config: &Config,
        store: &Store,
        memory: &Arc<Memory>,
        metrics: &Arc<Metrics>,
        public_url: &str,
        outbox_waker: Waker,
    ) -> Result<Parts, String> {
        let write_conn = store
            .connect_writer()
            .map_err(|e| format!("cannot open the database: {e}"))?;
        // Memory hears of every commit as before; the metrics count what committed.
        let listener = Arc::new(Observed {
            memory: Arc::clone(memory),
            metrics: Arc::clone(metrics),
        });
        let (writer, writer_thread) = Writer::start(write_conn, listener)
            .map_err(|e| format!("cannot start the database writer: {e}"))?;
        let checkpointer = if store.litestream {
            tracing::info!("--litestream: WAL checkpoints are left to Litestream");
            None
        } else {
            let started = store
                .start_checkpointer(&writer)
                .map_err(|e| format!("cannot start the WAL checkpointer: {e}"))?;
            Some(started)
        };
        let read_connections = read_pool_size();
        let reads = store
            .read_pool(read_connections)
            .map_err(|e| format!("cannot open the database: {e}"))?;
        let settings = notify::Settings {
            workers: config.workers,
            schedule: config.retry_schedule.clone(),
            policy: Arc::new(config.policy.clone()),
            smtp: config.smtp.clone(),
            slack_url: config.slack_url.clone(),
            chat: Arc::new(config.chat.clone()),
            urls: Urls::new(public_url),
        };
        let channels = settings.channels();
        tracing::info!("{}", settings.describe());
        let dns = Arc::new(Dns::new()?);
        let link_key = Arc::new(
            writer
                .run_blocking(outbox::link_key)
                .map_err(|e| format!("cannot prepare the mail link key: {e}"))?,
        );
        // Made at the first start and kept in the database: the same kid ever after.
        let receipts = writer
            .run_blocking(receipts::key)
            .and_then(|key| Receipts::new(&key, public_url))
            .map_err(|e| format!("cannot prepare the receipt signing key: {e}"))?;
        tracing::info!(
            "decision receipts are signed with the Ed25519 key {}, published at {}",
            receipts.signer().kid(),
            Urls::new(public_url).jwks()
        );
        // Web Push's VAPID key, likewise made once: browsers subscribed to it.
        let vapid = writer
            .run_blocking(push::key)
            .and_then(|key| Vapid::new(&key, public_url))
            .map_err(|e| format!("cannot prepare the Web Push (VAPID) key: {e}"))?;
        let notifier = Notifier::start(
            settings,
            writer.clone(),
            reads.clone(),
            Arc::clone(&dns),
            outbox_waker,
            Arc::clone(&link_key),
        )?;
        let (expiry, expiry_thread) =
            Expiry::start(reads.clone(), writer.clone(), channels, config.retention_ms)
                .map_err(|e| format!("cannot start the expiry timer: {e}"))?;
        memory.set_expiry(expiry.clone());
        let (indexer, indexer_thread) = Indexer::start(writer.clone())
            .map_err(|e| format!("cannot start the search indexer: {e}"))?;
        let telegram = match &config.chat.telegram {
            Some(settings) => {
                let bot = Arc::new(TelegramBot::new(
                    settings,
                    &dns,
                    writer.clone(),
                    reads.clone(),
                    channels,
                    Arc::clone(&link_key),
                    Urls::new(public_url),
                ));
                let poll = settings.webhook_secret.is_none();
                let poller = TelegramPoller::start(Arc::clone(&bot), &dns, poll)?;
                Some((bot, poller))
            }
            None => None,
        };
        Ok(Parts {
            writer,
            writer_thread,
            checkpointer,
            reads,
            read_connections,
            notifier,
            expiry,
            expiry_thread,
            indexer,
            indexer_thread,
            channels,
            dns,
            link_key,
            receipts: Arc::new(receipts),
            vapid: Arc::new(vapid),
            telegram,
        })
    }

    /// Once the HTTP server has stopped: the timer, the notifier, then the writer
    /// (which commits what is queued) and the checkpointer.
    fn stop(self) {
        // The bot holds a handle to the writer: both go before the writer stops.
        if let Some((bot, poller)) = self.telegram {
            poller.stop();
            drop(bot);
        }
        self.expiry.stop();
        self.indexer.stop();
        let _ = self.expiry_thread.join();
        let _ = self.indexer_thread.join();
        // Within the 10 s a SIGTERM allows, with the HTTP server's own stop before:
        // 5 s for deliveries in flight, then up to 3 s for the writer.
        self.notifier.stop(std::time::Duration::from_secs(5));
        drop(self.writer);
        drop(self.reads);
        wait_for_writer(self.writer_thread);
        if let Some(checkpointer) = self.checkpointer {
            checkpointer.stop();
        }
    }
}

/// Tells the operator where hitl listens, and how to create the first admin.
fn log_start(
    config: &Config,
    dir: &Path,
    bound: std::net::SocketAddr,
    public_url: &str,
    setup_token: Option<String>,
) {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %dir.display(),
        "hitl starting"
    );
    if config.public_url.is_none() && bound.ip().is_unspecified() {
        tracing::warn!("listening on all interfaces without --public-url: links will say {public_url}; set --public-url to the address reviewers use");
    }
    tracing::info!("listening on http://{bound} (public URL {public_url})");
    match setup_token {
        Some(token) => tracing::warn!(
            "no users yet: open this link within an hour to create the first admin (it works once): {}",
            Urls::new(public_url).setup(&token)
        ),
        None => tracing::info!("reviewers sign in at {}", Urls::new(public_url).home()),
    }
}

/// Binds the listening socket with a deep accept queue: a burst of thousands of
/// long-polls must not overflow the default queue of 128.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Waits (a few seconds at most) for the writer to commit what is queued and end; it
/// ends once the last handle to it is gone.
fn wait_for_writer(thread: std::thread::JoinHandle<()>) {
    // A delivery left running at shutdown holds a handle to the writer: do not wait
    // for it beyond this.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !thread.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if thread.is_finished() {
        let _ = thread.join();
    } else {
        tracing::warn!(
            "the database writer did not stop in time; everything acknowledged is on disk already"
        );
    }
}

fn describe_bind_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is already in use (is another hitl running?)".into()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".into()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "that address does not belong to this machine".into()
        }
        _ => e.to_string(),
    }
}

fn read_pool_size() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cpus * 2).clamp(4, 16) as u32
}

/// Long-polls hold a socket each: take all the open files the hard limit allows.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
}
