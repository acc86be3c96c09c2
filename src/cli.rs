//! The command line. Every flag can also be set by the `HITL_*` environment variable
//! shown in `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  hitl serve                                    run the server on 127.0.0.1:8080
  hitl key create --name deploy-bot             create an agent key (printed once)
  hitl user invite alice@example.com --role admin  a link with which Alice sets her password
  HITL_API_KEY=hitl_... hitl ask \"Drop table users\" && psql -c 'drop table users'
  hitl healthcheck --url http://127.0.0.1:8080  exit 0 when the server answers";

#[derive(Debug, Parser)]
#[command(
    name = "hitl",
    version,
    about = "A self-hosted human approval gate for AI agents and automation",
    long_about = "A self-hosted human approval gate for AI agents and automation.\n\n\
        An agent calls POST /api/pause with the action it wants to take; a person approves \
        or rejects it in hitl's web page; the agent learns the decision by polling, \
        long-polling or a signed webhook, and only then acts.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub data: DataDir,

    /// Log filter, e.g. info, debug, hitl=debug
    #[arg(
        long,
        global = true,
        env = "HITL_LOG",
        default_value = "info",
        value_name = "FILTER"
    )]
    pub log: String,

    // --- Log format (op-metrics) ---
    /// How log lines are written on standard error: text for people, json for log
    /// collectors (one JSON object per line)
    #[arg(
        long,
        global = true,
        env = "HITL_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people
    Text,
    /// One JSON object per line: timestamp, level, fields (with the message), target
    Json,
}

/// `--data-dir`, for the commands that use it: given before the command
/// (`hitl --data-dir DIR key list`) or after it (`hitl key list --data-dir DIR`).
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Where hitl keeps its database [default: the platform data directory, e.g. ~/.local/share/hitl]
    #[arg(long, env = "HITL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The same, passed down to the subcommands of `key` and `user`.
#[derive(Debug, Clone, Args)]
pub struct GlobalDataDir {
    /// Where hitl keeps its database [default: the platform data directory, e.g. ~/.local/share/hitl]
    #[arg(long, global = true, env = "HITL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A boolean flag that also reads `1/0`, `true/false`, `yes/no`, `on/off` (any case)
/// from its environment variable, and refuses anything else.
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (API and web page)
    Serve(Box<ServeArgs>),
    /// Manage API keys (works while the server runs)
    Key(KeyArgs),
    /// Manage the people who review (works while the server runs)
    User(UserArgs),
    /// Manage groups of users (works while the server runs)
    Group(GroupArgs),
    /// Manage routing policies: who decides which pauses (works while the server runs)
    Policy(PolicyArgs),
    /// Ask for approval and wait: exit 0 approved, 1 rejected, 2 expired or cancelled, 3 error
    Ask(AskArgs),
    /// Exit 0 when the server at --url answers its health check
    Healthcheck(ClientArgs),
    /// Check a signed decision receipt before acting on it
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Answer an agent's hook: its input on stdin, the decision on stdout
    #[command(subcommand)]
    Hook(HookCommand),
    /// Remove the content of pauses decided before a date, keeping who decided what and
    /// when (exit 0 done, 1 failed)
    Purge {
        /// A date (YYYY-MM-DD, UTC midnight) or an RFC 3339 time
        #[arg(long, value_name = "DATE")]
        before: String,
        /// Then rewrite the database to give the space back (stop the server first);
        /// needed once for a database made before hitl gave space back by itself
        #[arg(long)]
        vacuum: bool,
        #[command(flatten)]
        data: GlobalDataDir,
    },
    /// Check a data directory and the settings, and say what to fix (exit 0 nothing
    /// wrong, 1 something to fix)
    Doctor {
        #[command(flatten)]
        data: GlobalDataDir,
        #[command(flatten)]
        smtp: SmtpArgs,
    },
    /// Check the audit log's hash chain (exit 0 intact, 1 an entry does not match, 2 cannot check)
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Copy the database to FILE while the server runs (exit 0 done, 1 failed)
    Backup {
        /// The new file (never overwritten; mode 0600)
        file: PathBuf,
        #[command(flatten)]
        data: GlobalDataDir,
    },
    /// Fill an empty data directory from a backup (exit 0 done, 1 refused or failed)
    Restore {
        /// A file made by `hitl backup` (or a copy of hitl.db)
        file: PathBuf,
        #[command(flatten)]
        data: GlobalDataDir,
    },
    /// Send a test mail with the SMTP settings, and explain what fails
    SendTestEmail {
        /// Where to send it
        address: String,
        #[command(flatten)]
        smtp: SmtpArgs,
    },
}

/// Mail settings (for `serve` and `send-test-email`).
#[derive(Debug, Clone, Args)]
pub struct SmtpArgs {
    /// SMTP server: smtps://user:pass@host:465 (implicit TLS), smtp://host:587
    /// (STARTTLS if offered), smtp://…?tls=required, or smtp://…?tls=none
    #[arg(
        long,
        env = "HITL_SMTP_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub smtp_url: Option<String>,

    /// The address mail comes from
    #[arg(long, env = "HITL_SMTP_FROM", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,

    /// Read the SMTP password from this file instead of the URL
    #[arg(long, env = "HITL_SMTP_PASSWORD_FILE", value_name = "FILE")]
    pub smtp_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDir,

    /// Address and port to listen on (an IP address, not a host name)
    #[arg(
        long,
        env = "HITL_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT"
    )]
    pub listen: String,

    /// The URL people and agents use to reach this server; statusUrl, reviewUrl and
    /// links are built from it [default: http:// and the listen address]
    #[arg(long, env = "HITL_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Largest accepted `context` of a pause, in bytes of JSON
    #[arg(
        long,
        env = "HITL_MAX_CONTEXT_BYTES",
        default_value_t = 262_144,
        value_name = "BYTES"
    )]
    pub max_context_bytes: usize,

    /// Behind a reverse proxy: take the client address (for the sign-in throttle and
    /// the audit log) from its X-Forwarded-For / Forwarded header
    #[arg(long, env = "HITL_TRUST_PROXY", value_parser = boolish())]
    pub trust_proxy: bool,

    /// The timeout of a pause created without `timeoutSeconds` (e.g. 30m, 24h, 7d)
    /// [default: none: such a pause waits until it is decided or cancelled]
    #[arg(long, env = "HITL_DEFAULT_TIMEOUT", value_name = "DURATION")]
    pub default_timeout: Option<String>,

    /// Decided pauses older than this lose their content (context, approved context,
    /// summary, answer, response), keeping who decided what and when (e.g. 90d)
    /// [default: off: everything is kept]
    #[arg(long, env = "HITL_RETENTION", value_name = "DURATION")]
    pub retention: Option<String>,

    /// Refuse webhooks to loopback and private addresses too (link-local, metadata,
    /// broadcast and multicast addresses are always refused). Stored with the data,
    /// so that `hitl key create --webhook-url` checks the same rules
    #[arg(long, env = "HITL_WEBHOOK_DENY_PRIVATE", value_parser = boolish())]
    pub webhook_deny_private: bool,

    /// Allow webhooks to this CIDR range or host name whatever the rules above say
    /// (repeat, or separate with commas). Stored with the data, like the flag above
    #[arg(
        long,
        env = "HITL_WEBHOOK_ALLOW",
        value_delimiter = ',',
        value_name = "CIDR|HOST"
    )]
    pub webhook_allow: Vec<String>,

    /// API requests per minute per key (0: no limit); beyond it, 429 `rate_limited`
    /// with Retry-After. A key may use a minute's worth at once
    #[arg(long, env = "HITL_RATE_LIMIT", default_value_t = 0, value_name = "N")]
    pub rate_limit: u32,

    /// How long a request body may take to arrive, from the end of its headers
    /// (e.g. 10s, 1m). A slower or stalled body is answered 408 and its connection closed
    #[arg(
        long,
        env = "HITL_BODY_TIMEOUT",
        default_value = "10s",
        value_name = "DURATION"
    )]
    pub body_timeout: String,

    /// Threads that send webhooks, mail and Slack messages
    #[arg(long, env = "HITL_WORKERS", default_value_t = 4, value_name = "N")]
    pub workers: usize,

    /// Waits between attempts of a failing webhook (or mail, or Slack message);
    /// after the last, the delivery is marked failed
    #[arg(long, env = "HITL_WEBHOOK_RETRY_SCHEDULE", default_value = crate::notify::DEFAULT_SCHEDULE, value_name = "LIST")]
    pub webhook_retry_schedule: String,

    /// A Slack incoming-webhook URL: a message per new pause and per decision
    #[arg(
        long,
        env = "HITL_SLACK_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub slack_webhook_url: Option<String>,

    #[command(flatten)]
    pub chat: ChatArgs,

    #[command(flatten)]
    pub smtp: SmtpArgs,

    #[command(flatten)]
    pub oidc: OidcArgs,

    #[command(flatten)]
    pub metrics: MetricsArgs,

    // Replication (Litestream).
    /// Litestream replicates the database: hitl leaves WAL checkpoints to it (no
    /// checkpointer thread, wal_autocheckpoint = 0 on every connection, the command
    /// line's too: it reads this from the database)
    #[arg(long, env = "HITL_LITESTREAM", value_parser = boolish())]
    pub litestream: bool,
}

// --- Metrics (op-metrics) ---
/// `GET /metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Require `Authorization: Bearer TOKEN` on GET /metrics (16 to 256 visible ASCII
    /// characters) [default: /metrics is open: keep it behind your proxy]
    #[arg(
        long,
        env = "HITL_METRICS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = metrics_token
    )]
    pub metrics_token: Option<String>,
}

/// The chat and push channels: the Slack app, Telegram, ntfy, Teams and Discord.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The Slack app's bot token (xoxb-…): messages with Approve and Reject buttons,
    /// in --slack-channel and as direct messages to reviewers
    #[arg(
        long,
        env = "HITL_SLACK_BOT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub slack_bot_token: Option<String>,

    /// The Slack app's signing secret: checks the button presses Slack sends to
    /// /slack/interactions (required with --slack-bot-token)
    #[arg(
        long,
        env = "HITL_SLACK_SIGNING_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub slack_signing_secret: Option<String>,

    /// The Slack channel id (C…) every new pause is posted to by the app
    #[arg(long, env = "HITL_SLACK_CHANNEL", value_name = "ID")]
    pub slack_channel: Option<String>,

    /// The base URL of Slack's Web API
    #[arg(
        long,
        env = "HITL_SLACK_API_URL",
        default_value = "https://slack.com/api",
        value_name = "URL"
    )]
    pub slack_api_url: String,

    /// The Telegram bot's token (from @BotFather)
    #[arg(
        long,
        env = "HITL_TELEGRAM_BOT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub telegram_bot_token: Option<String>,

    /// The base URL of the Telegram Bot API
    #[arg(
        long,
        env = "HITL_TELEGRAM_API_URL",
        default_value = "https://api.telegram.org",
        value_name = "URL"
    )]
    pub telegram_api_url: String,

    /// Webhook mode: Telegram posts updates to /telegram/webhook with this secret
    /// (set it with setWebhook's secret_token); without it hitl long-polls getUpdates
    #[arg(
        long,
        env = "HITL_TELEGRAM_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub telegram_webhook_secret: Option<String>,

    /// A file holding the access token for a protected ntfy server (--ntfy-server)
    #[arg(
        long,
        env = "HITL_NTFY_TOKEN_FILE",
        value_name = "FILE",
        requires = "ntfy_server"
    )]
    pub ntfy_token_file: Option<std::path::PathBuf>,

    /// The protected ntfy server the token is for (its base URL): only topics there
    /// get the token, never a topic elsewhere a reviewer typed in
    #[arg(
        long,
        env = "HITL_NTFY_SERVER",
        value_name = "URL",
        requires = "ntfy_token_file"
    )]
    pub ntfy_server: Option<String>,

    /// A Microsoft Teams Workflows webhook URL: an Adaptive Card per new pause
    #[arg(
        long,
        env = "HITL_TEAMS_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub teams_webhook_url: Option<String>,

    /// A Discord webhook URL: an embed per new pause
    #[arg(
        long,
        env = "HITL_DISCORD_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub discord_webhook_url: Option<String>,
}

/// `--metrics-token`: long enough not to be guessed, and sendable in a header as is.
fn metrics_token(value: &str) -> Result<String, String> {
    if !(16..=256).contains(&value.len()) {
        return Err(format!(
            "the token must be 16 to 256 characters long (this one has {}); make one with: head -c 32 /dev/urandom | base64",
            value.len()
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "the token must be visible ASCII characters only (no spaces or control characters)"
                .into(),
        );
    }
    Ok(value.to_string())
}

/// Sign-in with an OpenID Connect provider.
#[derive(Debug, Args)]
pub struct OidcArgs {
    /// The OpenID Connect issuer URL (its /.well-known/openid-configuration is read at
    /// start-up); adds a "Sign in with your identity provider" button
    #[arg(long, env = "HITL_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,

    /// The client ID hitl is registered under at the provider
    #[arg(long, env = "HITL_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// A file holding the client secret
    #[arg(long, env = "HITL_OIDC_CLIENT_SECRET_FILE", value_name = "FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,

    /// Create a user with this role (approver or admin) for a verified email hitl does
    /// not know, instead of refusing the sign-in
    #[arg(long, env = "HITL_OIDC_AUTO_CREATE", value_name = "ROLE")]
    pub oidc_auto_create: Option<String>,

    /// The ID token claim (e.g. groups) listing the person's groups: at each sign-in it
    /// decides their membership of every existing hitl group
    #[arg(long, env = "HITL_OIDC_GROUPS_CLAIM", value_name = "NAME")]
    pub oidc_groups_claim: Option<String>,

    /// Whether people may sign in with an email and password
    #[arg(long, env = "HITL_PASSWORD_SIGN_IN", default_value = "true", value_parser = boolish(), value_name = "BOOL", action = clap::ArgAction::Set)]
    pub password_sign_in: bool,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub data: GlobalDataDir,
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub data: GlobalDataDir,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub data: GlobalDataDir,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create an empty group (1 to 64 letters, digits, '-', '_' or '.')
    Create { name: String },
    /// Add users to a group, by email (all of them, or none if one is unknown)
    Add {
        name: String,
        #[arg(required = true, value_name = "EMAIL")]
        emails: Vec<String>,
    },
    /// Remove a user from a group
    Remove { name: String, email: String },
    /// List groups and their members
    List {
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub data: GlobalDataDir,
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Add a policy, tried after the existing ones. A new pause goes to the first
    /// policy whose conditions all hold; without a match any approver decides it
    #[command(
        after_help = "Example: two approvals from ops for anything tagged prod\n  \
        hitl policy add prod-changes --tag prod --reviewers ops --approvals 2 \\\n      \
        --remind-every 30m --escalate-after 2h --escalate-to sre-leads"
    )]
    Add(Box<PolicyAddArgs>),
    /// List policies in the order they are tried
    List {
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// Remove a policy (pauses it routed keep their reviewers)
    Remove { name: String },
    /// Move a policy just before another, so that it is tried first
    Move {
        name: String,
        #[arg(long, value_name = "OTHER")]
        before: String,
    },
}

#[derive(Debug, Args)]
pub struct PolicyAddArgs {
    /// 1 to 64 letters, digits, '-', '_' or '.'
    pub name: String,
    /// Match pauses carrying this tag (repeat: any of them)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Match pauses of the key with this name
    #[arg(long, value_name = "KEYNAME")]
    pub key: Option<String>,
    /// Match actions by a glob: '*' any text, '?' one character, e.g. 'Bash: git push*'
    #[arg(long, value_name = "GLOB")]
    pub action: Option<String>,
    /// Match pauses the agent rated this risky or more: low, medium, high, critical
    #[arg(long, value_name = "LEVEL")]
    pub risk: Option<String>,
    /// The groups whose members decide (repeat, or separate with commas)
    #[arg(long, required = true, value_name = "GROUP")]
    pub reviewers: Vec<String>,
    /// Distinct approvals needed (1 to 10; an agent may ask for more, never fewer)
    #[arg(long, value_name = "N")]
    pub approvals: Option<u32>,
    /// Remind reviewers who have not voted this often, e.g. 30m
    #[arg(long, value_name = "DUR")]
    pub remind_every: Option<String>,
    /// After this long undecided, the --escalate-to group joins the reviewers
    #[arg(long, value_name = "DUR", requires = "escalate_to")]
    pub escalate_after: Option<String>,
    /// The group that joins the reviewers after --escalate-after
    #[arg(long, value_name = "GROUP", requires = "escalate_after")]
    pub escalate_to: Option<String>,
    /// What the pause's timeout does: expire, reject or approve (the agent's choice
    /// otherwise, but never approve)
    #[arg(long, value_name = "OUTCOME")]
    pub on_timeout: Option<String>,
    /// Print the policy as JSON
    #[arg(long, env = "HITL_JSON", value_parser = boolish())]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; prints the key alone on the first line (it is shown only once)
    Create {
        /// A name that says who uses the key, e.g. deploy-bot
        #[arg(long, env = "HITL_KEY_NAME")]
        name: String,
        /// Make a reviewer key acting for this user (it may list and decide every pause)
        #[arg(long, env = "HITL_KEY_USER", value_name = "EMAIL")]
        user: Option<String>,
        /// Where to send signed webhooks for this key's pauses
        #[arg(long, env = "HITL_KEY_WEBHOOK_URL", value_name = "URL")]
        webhook_url: Option<String>,
        /// Refuse pauses beyond N per calendar month (UTC) with 429 quota_exceeded
        #[arg(long, env = "HITL_KEY_MONTHLY_LIMIT", value_name = "N")]
        monthly_limit: Option<i64>,
        /// The person who runs this agent; they may never approve, reject or answer its
        /// pauses (separation of duties)
        #[arg(long, env = "HITL_KEY_OWNER", value_name = "EMAIL")]
        owner: Option<String>,
        /// Print a JSON object (id, name, key, webhookSecret (null for a reviewer key), ...)
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// List keys (never shows a secret)
    List {
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// Revoke a key at once
    Revoke {
        /// The key's name or id (key_...), as `hitl key list` shows them
        #[arg(value_name = "NAME|ID")]
        key: String,
    },
    /// Give a key a new webhook signing secret, printed once; the old one stops
    /// signing at once (reviewer keys have no webhooks and so no secret)
    RotateSecret {
        /// The key's name or id (key_...)
        #[arg(value_name = "NAME|ID")]
        key: String,
        /// Print a JSON object (id, name, webhookSecret)
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Approver,
}

impl RoleArg {
    pub fn role(self) -> crate::domain::Role {
        match self {
            RoleArg::Admin => crate::domain::Role::Admin,
            RoleArg::Approver => crate::domain::Role::Approver,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Invite a person: prints a one-time link (valid 7 days) with which they set
    /// their own password and are signed in; mails it too when hitl serve has mail
    Invite {
        email: String,
        #[arg(long, env = "HITL_USER_ROLE", value_enum, default_value = "approver")]
        role: RoleArg,
        /// Print a JSON object (email, role, link, expiresAt, mailed)
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// A forgotten password: prints a one-time link (valid 24 hours) with which the
    /// user sets a new one; the old one works until then, and their sessions end
    ResetPassword {
        email: String,
        /// Print a JSON object (email, role, link, expiresAt, mailed)
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// Change a user's settings
    Set {
        email: String,
        /// The user's new role
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Away until this date (YYYY-MM-DD: to the end of that day, UTC) or RFC 3339
        /// time; pauses routed to them go to --delegate meanwhile
        #[arg(
            long,
            value_name = "DATE",
            requires = "delegate",
            conflicts_with = "back"
        )]
        away_until: Option<String>,
        /// Who decides and is told of their routed pauses while they are away
        #[arg(long, value_name = "EMAIL", requires = "away_until")]
        delegate: Option<String>,
        /// Back: no longer away
        #[arg(long)]
        back: bool,
        /// The channels that tell them of pauses, comma-separated, from
        /// email,slack,telegram,ntfy,push (the others are turned off; "" turns all off)
        #[arg(long, value_name = "LIST")]
        notify: Option<String>,
        /// Link the Telegram chat their pauses are sent to (a chat id)
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "no_telegram",
            allow_hyphen_values = true
        )]
        telegram_chat: Option<String>,
        /// Unlink their Telegram chat
        #[arg(long)]
        no_telegram: bool,
        /// The ntfy topic URL their pauses are published to
        #[arg(long, value_name = "URL", conflicts_with = "no_ntfy")]
        ntfy: Option<String>,
        /// Stop publishing their pauses to ntfy
        #[arg(long)]
        no_ntfy: bool,
        /// Print the user as a JSON object
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// Add a user with a password you choose (asked on a terminal); an invitation
    /// lets them choose it themselves
    Add {
        email: String,
        #[arg(long, env = "HITL_USER_ROLE", value_enum, default_value = "approver")]
        role: RoleArg,
        /// Read the password from the first line of standard input
        #[arg(long, env = "HITL_PASSWORD_STDIN", value_parser = boolish())]
        password_stdin: bool,
        /// Print the user as a JSON object
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// List users
    List {
        #[arg(long, env = "HITL_JSON", value_parser = boolish())]
        json: bool,
    },
    /// Remove a user and revoke their reviewer keys
    Remove { email: String },
}

#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The hitl server
    #[arg(long, env = "HITL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// What you want to do, in words a reviewer understands
    pub action: String,
    /// Context for the reviewer, as JSON
    #[arg(long, env = "HITL_ASK_CONTEXT", value_name = "JSON")]
    pub context: Option<String>,
    /// Give up after this long (e.g. 90s, 30m, 2h); the pause then expires
    #[arg(long, env = "HITL_ASK_TIMEOUT", value_name = "DURATION")]
    pub timeout: Option<String>,
    /// What the timeout does: expire (the default, exit 2), or decide reject (exit 1)
    /// or approve (exit 0); needs --timeout
    #[arg(
        long,
        env = "HITL_ASK_ON_TIMEOUT",
        value_name = "OUTCOME",
        value_parser = ["expire", "reject", "approve"],
        requires = "timeout"
    )]
    pub on_timeout: Option<String>,
    /// A tag for filtering (repeat for several)
    #[arg(
        long = "tag",
        env = "HITL_ASK_TAGS",
        value_delimiter = ',',
        value_name = "TAG"
    )]
    pub tags: Vec<String>,
    /// Print the final pause as JSON on standard output
    #[arg(long, env = "HITL_JSON", value_parser = boolish())]
    pub json: bool,
    /// The agent key to ask with
    #[arg(long, env = "HITL_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Verify a receipt's signature with the server's JWKS, and that it approved this
    /// action and context: exit 0 valid, 1 bad signature, 2 cannot check (bad receipt,
    /// JWKS or file), 3 no key in the JWKS for it, 4 another action, 5 another context,
    /// 6 not an approval
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The receipt (a compact JWS), or - to read it from standard input
    pub receipt: String,
    /// The server's JWK Set: a URL (a server's base URL means its
    /// /.well-known/jwks.json) or a file
    #[arg(long, env = "HITL_JWKS", value_name = "URL|FILE")]
    pub jwks: String,
    /// The action about to be taken: the receipt must be for this exact text
    #[arg(long, value_name = "TEXT")]
    pub action: Option<String>,
    /// A file with the context (JSON) about to be used, or - for standard input: the
    /// receipt must be for this context (compared in RFC 8785 canonical form; a file
    /// holding `null` for a pause without context)
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Accept a receipt of any outcome (rejected, expired, ...), not only an approval
    #[arg(long)]
    pub any_status: bool,
    /// Print the receipt's claims as JSON on standard output once it verifies
    #[arg(long, env = "HITL_JSON", value_parser = boolish())]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// A Claude Code hook of type "command" (PreToolUse or PermissionRequest): asks
    /// for approval and prints the decision; exits 2 (block) when the server cannot
    /// answer
    ClaudeCode(HookArgs),
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// Seconds to wait for a decision, at most 590; keep it under the hook's `timeout`.
    /// The pause expires when it passes
    #[arg(
        long,
        env = "HITL_HOOK_WAIT",
        default_value_t = crate::claude_code::MAX_WAIT_SECS,
        value_name = "SECONDS"
    )]
    pub wait: u64,
    /// The agent key to ask with
    #[arg(long, env = "HITL_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain from the first entry: exit 0 when every entry matches, 1 naming
    /// the first that does not (edited, inserted or removed)
    Verify {
        #[command(flatten)]
        data: GlobalDataDir,
    },
}
