//! Turns the parsed command line into one validated, immutable configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::cli::{ChatArgs, OidcArgs, ServeArgs, SmtpArgs};
use crate::domain::pauses::MAX_TIMEOUT_SECS;
use crate::domain::settings::WebhookPolicy;
use crate::model::Role;
use crate::notify::email::Smtp;
use crate::notify::policy::Policy;

/// The settings of `hitl serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Set by `--public-url`; otherwise derived from the bound address at start-up.
    pub public_url: Option<String>,
    pub max_context_bytes: usize,
    pub trust_proxy: bool,
    /// API requests per minute per key; 0: no limit.
    pub rate_limit: u32,
    /// How long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    pub workers: usize,
    pub retry_schedule: Vec<std::time::Duration>,
    pub policy: Policy,
    /// The policy's flags as given, stored with the data for the command line.
    pub webhook_policy: WebhookPolicy,
    /// `--default-timeout`: the timeout of a pause created without one.
    pub default_timeout_secs: Option<i64>,
    /// `--retention`: how long a decided pause keeps its content, in milliseconds.
    pub retention_ms: Option<i64>,
    pub smtp: Option<Smtp>,
    pub slack_url: Option<String>,
    /// The Slack app, Telegram, ntfy, Teams and Discord.
    pub chat: Chat,
    /// `--oidc-*`: sign-in with an OpenID Connect provider.
    pub oidc: Option<crate::oidc::Settings>,
    /// `--password-sign-in`.
    pub password_sign_in: bool,
}

/// The data directory: `--data-dir`, else the platform's (e.g. ~/.local/share/hitl).
pub fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    directories::ProjectDirs::from("", "", "hitl")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            "cannot find a home directory for the default data directory; pass --data-dir"
                .to_string()
        })
}

/// `--body-timeout`: from 1 second to 10 minutes.
fn body_timeout(raw: &str) -> Result<std::time::Duration, String> {
    let timeout = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("--body-timeout {raw:?} is not a duration such as 10s or 1m: {e}"))?;
    if timeout < std::time::Duration::from_secs(1) || timeout > std::time::Duration::from_secs(600)
    {
        return Err(format!(
            "--body-timeout must be from 1s to 10m, not {raw:?}"
        ));
    }
    Ok(timeout)
}

/// `--default-timeout`: a duration from 1 second to 30 days, in whole seconds.
fn default_timeout(raw: Option<&str>) -> Result<Option<i64>, String> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let timeout = humantime::parse_duration(raw).map_err(|e| {
        format!("--default-timeout {raw:?} is not a duration such as 30m, 24h or 7d: {e}")
    })?;
    let secs = timeout.as_secs() as i64;
    if timeout.subsec_nanos() != 0 || !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
        return Err(format!(
            "--default-timeout must be whole seconds from 1s to 30 days, not {raw:?}"
        ));
    }
    Ok(Some(secs))
}

/// `--retention`: from 1 hour to 100 years.
fn retention(raw: Option<&str>) -> Result<Option<i64>, String> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let keep = humantime::parse_duration(raw)
        .map_err(|e| format!("--retention {raw:?} is not a duration such as 30d or 1y: {e}"))?;
    if keep < std::time::Duration::from_secs(3600) || keep.as_secs() > 100 * 366 * 86_400 {
        return Err(format!(
            "--retention must be from 1h to 100 years, not {raw:?}"
        ));
    }
    Ok(Some(keep.as_millis() as i64))
}

/// Checks a base URL (http or https, no query) and drops any trailing slash.
pub fn base_url(raw: &str, what: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| format!("{what} {raw:?} is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{what} must be an http:// or https:// URL with a host, not {raw:?}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{what} must not have a query or fragment: {raw:?}"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

impl Config {
    /// The settings as the About page shows them (nothing here is secret yet).
    pub fn describe(&self, public_url: &str) -> Vec<(String, String)> {
        let schedule: Vec<String> = self
            .retry_schedule
            .iter()
            .map(|d| humantime::format_duration(*d).to_string())
            .collect();
        vec![
            ("data directory".into(), self.data_dir.display().to_string()),
            ("listen".into(), self.listen.to_string()),
            ("public URL".into(), public_url.to_string()),
            (
                "max context bytes".into(),
                self.max_context_bytes.to_string(),
            ),
            ("trust proxy".into(), self.trust_proxy.to_string()),
            (
                "default pause timeout".into(),
                self.default_timeout_secs.map_or("none".to_string(), |s| {
                    humantime::format_duration(std::time::Duration::from_secs(s as u64)).to_string()
                }),
            ),
            (
                "API requests per key".into(),
                match self.rate_limit {
                    0 => "no limit".into(),
                    n => format!("{n} a minute"),
                },
            ),
            (
                "request body timeout".into(),
                humantime::format_duration(self.body_timeout).to_string(),
            ),
            (
                "retention of decided pauses' content".into(),
                self.retention_ms
                    .map_or("off (kept for ever)".to_string(), |ms| {
                        humantime::format_duration(std::time::Duration::from_millis(ms as u64))
                            .to_string()
                    }),
            ),
            ("notifier workers".into(), self.workers.to_string()),
            ("webhook retries after".into(), schedule.join(", ")),
            ("webhook addresses".into(), self.policy.describe()),
            (
                "email (SMTP)".into(),
                self.smtp.as_ref().map_or("off".to_string(), Smtp::describe),
            ),
            (
                "Slack".into(),
                self.slack_url
                    .as_deref()
                    .map_or("off".to_string(), redact_url),
            ),
            (
                "Slack app".into(),
                self.chat.slack_app.as_ref().map_or("off".to_string(), |a| {
                    format!(
                        "on via {}{}",
                        a.api_url,
                        a.channel
                            .as_ref()
                            .map_or(String::new(), |c| format!(", posting to {c}"))
                    )
                }),
            ),
            (
                "Telegram".into(),
                self.chat.telegram.as_ref().map_or("off".to_string(), |t| {
                    format!(
                        "on via {} ({})",
                        t.api_url,
                        if t.webhook_secret.is_some() {
                            "webhook"
                        } else {
                            "long polling"
                        }
                    )
                }),
            ),
            (
                "ntfy access token".into(),
                self.chat
                    .ntfy_token
                    .as_ref()
                    .map_or("none".to_string(), |(_, server)| {
                        format!("set, for {server}")
                    }),
            ),
            (
                "Microsoft Teams".into(),
                self.chat
                    .teams_url
                    .as_deref()
                    .map_or("off".to_string(), redact_url),
            ),
            (
                "Discord".into(),
                self.chat
                    .discord_url
                    .as_deref()
                    .map_or("off".to_string(), redact_url),
            ),
            (
                "OpenID Connect sign-in".into(),
                self.oidc.as_ref().map_or("off".to_string(), |o| {
                    let groups = o
                        .groups_claim
                        .as_ref()
                        .map_or(String::new(), |c| format!(", groups from the {c:?} claim"));
                    format!("{} (client {}{groups})", o.issuer, o.client_id)
                }),
            ),
            (
                "password sign-in".into(),
                if self.password_sign_in { "on" } else { "off" }.into(),
            ),
        ]
    }

    pub fn from_args(args: &ServeArgs, data_dir: PathBuf) -> Result<Config, String> {
        let webhook_policy = WebhookPolicy {
            deny_private: args.webhook_deny_private,
            allow: args
                .webhook_allow
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
        };
        let policy = Policy::new(webhook_policy.deny_private, &webhook_policy.allow)?;
        let listen: SocketAddr = args.listen.trim().parse().map_err(|_| {
            format!(
                "--listen {:?} is not an address and port such as 127.0.0.1:8080 or [::]:8080",
                args.listen
            )
        })?;
        let public_url = args
            .public_url
            .as_deref()
            .map(|u| base_url(u, "--public-url"))
            .transpose()?;
        // The page's links and redirects are absolute paths from the root.
        if let Some(url) = &public_url {
            if url::Url::parse(url).is_ok_and(|u| u.path() != "/") {
                return Err(format!(
                    "--public-url {url} has a path; hitl must be served at the root of its host (a proxy may put it on its own host name)"
                ));
            }
        }
        if args.max_context_bytes < 1024 || args.max_context_bytes > 16 * 1024 * 1024 {
            return Err("--max-context-bytes must be from 1024 to 16777216".into());
        }
        Ok(Config {
            data_dir,
            listen,
            public_url,
            max_context_bytes: args.max_context_bytes,
            trust_proxy: args.trust_proxy,
            rate_limit: args.rate_limit,
            body_timeout: body_timeout(&args.body_timeout)?,
            workers: match args.workers {
                1..=64 => args.workers,
                _ => return Err("--workers must be from 1 to 64".into()),
            },
            retry_schedule: crate::notify::parse_schedule(&args.webhook_retry_schedule)?,
            policy,
            webhook_policy,
            default_timeout_secs: default_timeout(args.default_timeout.as_deref())?,
            retention_ms: retention(args.retention.as_deref())?,
            smtp: smtp_settings(&args.smtp)?,
            slack_url: args
                .slack_webhook_url
                .as_deref()
                .filter(|u| !u.trim().is_empty())
                .map(|u| base_url(u, "--slack-webhook-url"))
                .transpose()?,
            chat: Chat::from_args(&args.chat)?,
            oidc: oidc_settings(&args.oidc)?,
            password_sign_in: password_sign_in(&args.oidc)?,
        })
    }
}

/// The SMTP settings, if mail is on.
pub fn smtp_settings(args: &SmtpArgs) -> Result<Option<Smtp>, String> {
    match args.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => Smtp::from_settings(
            url,
            args.smtp_from.as_deref(),
            args.smtp_password_file.as_deref(),
        )
        .map(Some),
        None => Ok(None),
    }
}

/// `--oidc-issuer`, `--oidc-client-id` and `--oidc-client-secret-file` go together.
fn oidc_settings(args: &OidcArgs) -> Result<Option<crate::oidc::Settings>, String> {
    let (issuer, id, secret_file) = match (
        args.oidc_issuer.as_deref().filter(|s| !s.trim().is_empty()),
        args.oidc_client_id
            .as_deref()
            .filter(|s| !s.trim().is_empty()),
        args.oidc_client_secret_file.as_deref(),
    ) {
        (None, None, None) => {
            if args.oidc_auto_create.is_some() {
                return Err("--oidc-auto-create needs --oidc-issuer".into());
            }
            if groups_claim(args).is_some() {
                return Err("--oidc-groups-claim needs --oidc-issuer".into());
            }
            return Ok(None);
        }
        (Some(issuer), Some(id), Some(file)) => (issuer, id, file),
        _ => {
            return Err(
                "--oidc-issuer, --oidc-client-id and --oidc-client-secret-file go together".into(),
            )
        }
    };
    let secret = std::fs::read_to_string(secret_file)
        .map_err(|e| {
            format!(
                "cannot read --oidc-client-secret-file {}: {e}",
                secret_file.display()
            )
        })?
        .trim()
        .to_string();
    if secret.is_empty() {
        return Err(format!(
            "--oidc-client-secret-file {} is empty",
            secret_file.display()
        ));
    }
    let auto_create = match args.oidc_auto_create.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(role) => Some(Role::parse(role).ok_or_else(|| {
            format!("--oidc-auto-create must be approver or admin, not {role:?}")
        })?),
    };
    Ok(Some(crate::oidc::Settings {
        issuer: base_url(issuer, "--oidc-issuer")?,
        client_id: id.trim().to_string(),
        client_secret: secret,
        auto_create,
        groups_claim: groups_claim(args),
    }))
}

/// `--oidc-groups-claim`, trimmed; empty is none.
fn groups_claim(args: &OidcArgs) -> Option<String> {
    args.oidc_groups_claim
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `--password-sign-in false` needs another way in.
fn password_sign_in(args: &OidcArgs) -> Result<bool, String> {
    if !args.password_sign_in && args.oidc_issuer.is_none() {
        return Err("--password-sign-in false needs --oidc-issuer: nobody could sign in".into());
    }
    Ok(args.password_sign_in)
}

/// A URL with everything after the host hidden (a Slack webhook URL is a secret).
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}/… (redacted)",
            u.scheme(),
            u.host_str().unwrap_or("")
        ),
        Err(_) => "(redacted)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            base_url("https://hitl.example.com/", "x").as_deref(),
            Ok("https://hitl.example.com")
        );
        assert_eq!(
            base_url("http://10.0.0.5:8080/hitl/", "x").as_deref(),
            Ok("http://10.0.0.5:8080/hitl")
        );
        assert!(base_url("ftp://example.com", "x").is_err());
        assert!(base_url("not a url", "x").is_err());
        assert!(base_url("https://example.com/?a=b", "x").is_err());
    }
}

/// The chat and push channels' settings.
#[derive(Debug, Clone, Default)]
pub struct Chat {
    pub slack_app: Option<SlackApp>,
    pub telegram: Option<Telegram>,
    /// `--ntfy-token-file`'s token, and the origin of `--ntfy-server`, the only server
    /// it is sent to.
    pub ntfy_token: Option<(String, String)>,
    pub teams_url: Option<String>,
    pub discord_url: Option<String>,
}

/// The Slack app (`--slack-bot-token` and friends).
#[derive(Clone)]
pub struct SlackApp {
    pub bot_token: String,
    pub signing_secret: String,
    /// Where every new pause is posted; without it, direct messages only.
    pub channel: Option<String>,
    /// Slack's Web API, without a trailing slash.
    pub api_url: String,
}

impl std::fmt::Debug for SlackApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApp")
            .field("channel", &self.channel)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The Telegram bot (`--telegram-bot-token` and friends).
#[derive(Clone)]
pub struct Telegram {
    pub bot_token: String,
    /// The Bot API, without a trailing slash.
    pub api_url: String,
    /// Webhook mode's secret; `None`: hitl long-polls `getUpdates`.
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram")
            .field("api_url", &self.api_url)
            .field("webhook", &self.webhook_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// A flag's value, trimmed, if one was given.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Chat {
    pub fn from_args(args: &ChatArgs) -> Result<Chat, String> {
        let slack_app = match (
            given(&args.slack_bot_token),
            given(&args.slack_signing_secret),
        ) {
            (Some(bot_token), Some(signing_secret)) => Some(SlackApp {
                bot_token: bot_token.to_string(),
                signing_secret: signing_secret.to_string(),
                channel: given(&args.slack_channel).map(str::to_string),
                api_url: base_url(&args.slack_api_url, "--slack-api-url")?,
            }),
            (None, None) if given(&args.slack_channel).is_none() => None,
            (None, None) => {
                return Err("--slack-channel needs --slack-bot-token and --slack-signing-secret".into())
            }
            _ => {
                return Err(
                    "the Slack app needs both --slack-bot-token and --slack-signing-secret (the secret checks Slack's button presses)".into(),
                )
            }
        };
        if let Some(channel) = slack_app.as_ref().and_then(|a| a.channel.as_deref()) {
            if !channel.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "--slack-channel must be a channel id such as C0123456789, not {channel:?}"
                ));
            }
        }
        let telegram = match given(&args.telegram_bot_token) {
            Some(token) => {
                // The token goes into every request path: bot<id>:<secret>.
                let valid = token.split_once(':').is_some_and(|(id, secret)| {
                    !id.is_empty()
                        && id.chars().all(|c| c.is_ascii_digit())
                        && !secret.is_empty()
                        && secret
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
                if !valid {
                    return Err("--telegram-bot-token is not a bot token such as 123456:ABC-DEF1234 (from @BotFather)".into());
                }
                let webhook_secret = given(&args.telegram_webhook_secret).map(str::to_string);
                // Telegram's rule for secret_token: 1-256 of A-Z, a-z, 0-9, _ and -.
                if let Some(secret) = &webhook_secret {
                    if secret.len() > 256
                        || !secret
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        return Err("--telegram-webhook-secret must be 1 to 256 letters, digits, _ or - (Telegram's rule for secret_token)".into());
                    }
                }
                Some(Telegram {
                    bot_token: token.to_string(),
                    api_url: base_url(&args.telegram_api_url, "--telegram-api-url")?,
                    webhook_secret,
                })
            }
            None if given(&args.telegram_webhook_secret).is_some() => {
                return Err("--telegram-webhook-secret needs --telegram-bot-token".into())
            }
            None => None,
        };
        let ntfy_token = match &args.ntfy_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("--ntfy-token-file {}: cannot read it: {e}", path.display())
                })?;
                let token = text.trim();
                if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!(
                        "--ntfy-token-file {}: the file must hold one token (such as tk_…)",
                        path.display()
                    ));
                }
                let server = given(&args.ntfy_server)
                    .ok_or("--ntfy-token-file needs --ntfy-server: the server the token is for")?;
                let origin = url::Url::parse(&base_url(server, "--ntfy-server")?)
                    .map_err(|e| format!("--ntfy-server: {e}"))?
                    .origin()
                    .ascii_serialization();
                Some((token.to_string(), origin))
            }
            None => None,
        };
        // A Teams Workflows URL carries its signature in the query.
        let webhook = |value: &Option<String>, flag: &str| {
            given(value)
                .map(|raw| {
                    let url = url::Url::parse(raw)
                        .map_err(|e| format!("{flag} {raw:?} is not a valid URL: {e}"))?;
                    if !matches!(url.scheme(), "http" | "https")
                        || url.host().is_none()
                        || url.fragment().is_some()
                    {
                        return Err(format!(
                            "{flag} must be an http:// or https:// URL with a host and no fragment"
                        ));
                    }
                    Ok(url.to_string())
                })
                .transpose()
        };
        Ok(Chat {
            slack_app,
            telegram,
            ntfy_token,
            teams_url: webhook(&args.teams_webhook_url, "--teams-webhook-url")?,
            discord_url: webhook(&args.discord_webhook_url, "--discord-webhook-url")?,
        })
    }
}
