//! Mail through SMTP (lettre, rustls). A new pause mails each reviewer who wants mail:
//! the action, a short view of the context, and their own Approve and Reject links.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use maud::{html, Markup, DOCTYPE};

use super::dns::Dns;
use crate::domain::outbox::{Attempt, MailEvent, Next};
use crate::domain::pauses::Pause;
use crate::text::{marked, marked_preview};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtps://`: TLS from the first byte (port 465).
    Wrapper,
    /// `smtp://…?tls=required`: STARTTLS, or no mail.
    Required,
    /// `smtp://` (the default): STARTTLS when the server offers it.
    Opportunistic,
    /// `smtp://…?tls=none`: never (a relay on the same host).
    None,
}

#[derive(Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    credentials: Option<(String, String)>,
    pub from: Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Smtp {
    /// Reads `--smtp-url` (credentials in it, or the password from `password_file`)
    /// and `--smtp-from`.
    pub fn from_settings(
        url: &str,
        from: Option<&str>,
        password_file: Option<&std::path::Path>,
    ) -> Result<Smtp, String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("--smtp-url is not a valid URL: {e}"))?;
        let scheme = parsed.scheme();
        let host = parsed
            .host_str()
            .ok_or("--smtp-url needs a host, as in smtp://mail.example.com:587")?
            .to_string();
        let tls_param = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let tls = match (scheme, tls_param.as_deref()) {
            ("smtps", None) => TlsMode::Wrapper,
            ("smtp", None | Some("opportunistic")) => TlsMode::Opportunistic,
            ("smtp", Some("required")) => TlsMode::Required,
            ("smtp", Some("none")) => TlsMode::None,
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!("--smtp-url: tls={other} is not known; use tls=required, tls=opportunistic or tls=none with smtp://, or smtps:// for implicit TLS"))
            }
            (other, _) => return Err(format!("--smtp-url must start with smtp:// or smtps://, not {other}://")),
        };
        let port = parsed
            .port()
            .unwrap_or(if tls == TlsMode::Wrapper { 465 } else { 587 });
        let decode = |s: &str| percent_encoding_decode(s);
        let user = decode(parsed.username());
        let mut password = parsed.password().map(decode);
        if let Some(path) = password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --smtp-password-file {}: {e}", path.display()))?;
            password = Some(text.trim_end_matches(['\r', '\n']).to_string());
        }
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (false, Some(p)) => Some((user, p)),
            (false, None) => return Err("--smtp-url has a user name but no password; add it to the URL or use --smtp-password-file".into()),
            (true, Some(_)) => return Err("a password was given but --smtp-url has no user name (smtp://USER@host)".into()),
        };
        let from = from
            .ok_or("--smtp-from is needed with --smtp-url: the address mail comes from")?
            .parse::<Mailbox>()
            .map_err(|e| format!("--smtp-from is not a valid address: {e}"))?;
        Ok(Smtp {
            host,
            port,
            tls,
            credentials,
            from,
        })
    }

    /// The settings without the password, for logs and the About page.
    pub fn describe(&self) -> String {
        let scheme = if self.tls == TlsMode::Wrapper {
            "smtps"
        } else {
            "smtp"
        };
        let user = self
            .credentials
            .as_ref()
            .map(|(u, _)| format!("{u}:***@"))
            .unwrap_or_default();
        let tls = match self.tls {
            TlsMode::Required => "?tls=required",
            TlsMode::None => "?tls=none",
            _ => "",
        };
        format!(
            "{scheme}://{user}{}:{}{tls} from {}",
            self.host, self.port, self.from
        )
    }

    fn transport(&self, dns: &Dns) -> Result<SmtpTransport, String> {
        // Resolve here (pure Rust) and connect to the address; TLS still checks the name.
        let ip: IpAddr = *dns.lookup(&self.host)?.first().ok_or("no address")?;
        let params =
            || TlsParameters::new(self.host.clone()).map_err(|e| format!("TLS setup: {e}"));
        let tls = match self.tls {
            TlsMode::Wrapper => Tls::Wrapper(params()?),
            TlsMode::Required => Tls::Required(params()?),
            TlsMode::Opportunistic => Tls::Opportunistic(params()?),
            TlsMode::None => Tls::None,
        };
        let mut builder = SmtpTransport::builder_dangerous(ip.to_string())
            .port(self.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    /// Connects, says hello, starts TLS and signs in as `send` would, sending nothing:
    /// `Err` says in one line what to change.
    pub fn check(&self, dns: &Dns) -> Result<(), String> {
        let transport = self.transport(dns)?;
        match transport.test_connection() {
            Ok(true) => Ok(()),
            Ok(false) => Err("the server did not answer NOOP".into()),
            Err(e) => Err(self.explain(&e)),
        }
    }

    /// Sends one message and says, in one line, what went wrong if it did.
    pub fn send(&self, dns: &Dns, message: &Message) -> Attempt {
        let started = Instant::now();
        // `Err((why, permanent))`: a 5xx answer (a refused recipient, say) stays so.
        let result = self.transport(dns).map_err(|e| (e, false)).and_then(|t| {
            t.send(message)
                .map(|_| ())
                .map_err(|e| (self.explain(&e), e.is_permanent()))
        });
        let duration_ms = started.elapsed().as_millis() as i64;
        let (ok, error, next) = match result {
            Ok(()) => (true, None, Next::Schedule),
            Err((why, true)) => (false, Some(why), Next::Stop),
            Err((why, false)) => (false, Some(why), Next::Schedule),
        };
        Attempt {
            ok,
            http_status: None,
            error,
            duration_ms,
            next,
        }
    }

    /// One line that says what to change.
    pub fn explain(&self, e: &lettre::transport::smtp::Error) -> String {
        let code = e.status().map(|c| c.to_string());
        let text = e.to_string();
        let wrong_mode = match self.tls {
            TlsMode::Wrapper => format!(
                "port {} may expect STARTTLS rather than implicit TLS: try smtp://{}:{}?tls=required",
                self.port, self.host, self.port
            ),
            _ => format!(
                "port {} may expect implicit TLS: try smtps://{}:{}",
                self.port, self.host, self.port
            ),
        };
        match code.as_deref() {
            Some("535") | Some("534") => format!("the server refused the user name or password (SMTP {}): {text}", code.unwrap_or_default()),
            Some("530") => "the server wants a user name and password (SMTP 530): put them in --smtp-url or use --smtp-password-file".to_string(),
            Some(c @ ("550" | "551" | "553" | "554")) if text.to_lowercase().contains("sender") => {
                format!("the server refused the sender address; check --smtp-from (SMTP {c}): {text}")
            }
            Some(c) => format!("the server answered SMTP {c}: {text}"),
            None if e.is_tls() || text.contains("corrupt message") || text.contains("InvalidContentType") => {
                format!("TLS failed ({text}); {wrong_mode}")
            }
            None if e.is_timeout() => format!("no answer in time; {wrong_mode}"),
            None if text.contains("STARTTLS") || text.to_lowercase().contains("starttls") => {
                format!("the server does not offer STARTTLS ({text}); use smtps:// for implicit TLS, or tls=none for a relay on this host")
            }
            None if text.to_lowercase().contains("refused") => {
                format!("nothing accepts connections at {}:{} ({text})", self.host, self.port)
            }
            None => format!("{text}; if the connection closes at once, {wrong_mode}"),
        }
    }
}

fn percent_encoding_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The context, pretty-printed and cut short for a mail or chat message.
pub fn context_preview(p: &Pause, max_chars: usize) -> Option<String> {
    // What would be approved: a reviewer's edit, once there is one.
    let stored = p.effective_context()?;
    // Text hitl cannot lay out is still shown, as it was stored.
    let pretty = serde_json::from_str::<serde_json::Value>(stored)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| stored.to_string());
    if pretty.chars().count() <= max_chars {
        Some(pretty)
    } else {
        Some(format!(
            "{}\n…",
            pretty.chars().take(max_chars).collect::<String>()
        ))
    }
}

/// The links in one reviewer's mail: the review page, and for a decision (only) the
/// signed one-click Approve and Reject links.
pub struct Links {
    pub decide: Option<DecideLinks>,
    pub review: String,
}

pub struct DecideLinks {
    /// None for a pause with a form: it is approved on its review page.
    pub approve: Option<String>,
    pub reject: String,
}

fn is_question(p: &Pause) -> bool {
    p.kind == crate::domain::Kind::Question
}

fn html_body(p: &Pause, context: Option<&str>, links: &Links, lead: Option<&str>) -> Markup {
    let button = |href: &str, label: &str, colour: &str| {
        html! {
            a href=(href) style=(format!("display:inline-block;padding:12px 22px;margin:4px 16px 4px 0;border-radius:6px;background:{colour};color:#ffffff;font-weight:bold;text-decoration:none;")) { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html {
            body style="font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1c1d1f;line-height:1.5;" {
                @if let Some(lead) = lead {
                    p style="font-weight:bold;margin:0 0 12px;" { (lead) }
                }
                p style="color:#5c6370;margin:0;" {
                    @if is_question(p) { "Question: an agent is waiting for your answer" }
                    @else { "An agent is waiting for your decision" }
                }
                h1 style="font-size:20px;margin:6px 0 12px;" { (crate::views::agent_text(&p.action)) }
                @if let Some(options) = &p.options {
                    p { "Choices:" }
                    ul { @for option in options { li { (crate::views::agent_text(option)) } } }
                }
                p style="color:#5c6370;" {
                    "Requested by " (crate::views::agent_text(&p.key_name))
                    @if !p.tags.is_empty() { " · tags: " (crate::views::agent_text(&p.tags.join(", "))) }
                }
                @if let Some(context) = context {
                    pre style="background:#f1f2f4;padding:12px;border-radius:6px;white-space:pre-wrap;font-size:13px;" { (crate::views::agent_text(context)) }
                }
                @if let Some(decide) = &links.decide {
                    p {
                        @if let Some(approve) = &decide.approve {
                            (button(approve, "Approve", "#15803d"))
                        } @else {
                            (button(&links.review, "Fill in the form to approve", "#15803d"))
                        }
                        (button(&decide.reject, "Reject", "#b91c1c"))
                    }
                    p style="color:#5c6370;font-size:13px;" {
                        "Each button opens a page where you confirm; nothing is decided by opening it. "
                        "The links work once and are yours alone. "
                        a href=(links.review) { "Open the full review page" } "."
                    }
                } @else {
                    p { (button(&links.review, "Answer on the review page", "#1d4ed8")) }
                }
            }
        }
    }
}

/// The mail for one reviewer about one new pause.
pub fn new_pause_message(
    from: &Mailbox,
    to: &str,
    p: &Pause,
    links: &Links,
    event: MailEvent,
) -> Result<Message, String> {
    let to: Mailbox = to.parse().map_err(|e| format!("bad recipient {to}: {e}"))?;
    let context = context_preview(p, 1500);
    let lead = event_lead(p, event);
    // Agent text shows its hidden characters as markers, as on the pages.
    let mut text = format!(
        "{}{}:\n\n    {}\n\nRequested by {}{}\n",
        lead.as_deref()
            .map(|l| format!("{l}\n\n"))
            .unwrap_or_default(),
        if is_question(p) {
            "Question: an agent is waiting for your answer"
        } else {
            "An agent is waiting for your decision"
        },
        marked(&p.action),
        marked(&p.key_name),
        if p.tags.is_empty() {
            String::new()
        } else {
            format!(" · tags: {}", marked(&p.tags.join(", ")))
        }
    );
    if let Some(c) = &context {
        text.push_str(&format!("\nContext:\n{}\n", marked(c)));
    }
    if let Some(options) = &p.options {
        text.push_str("\nChoices:\n");
        for option in options {
            text.push_str(&format!("  - {}\n", marked(option)));
        }
    }
    match &links.decide {
        Some(decide) => text.push_str(&format!(
            "\nApprove: {}\nReject:  {}\n\nEach link opens a page where you confirm; nothing is decided by opening it.\nThe links work once and are yours alone. The full review page: {}\n",
            decide.approve.as_deref().unwrap_or("this request asks for a form: fill it in on the review page below"),
            decide.reject,
            links.review
        )),
        None => text.push_str(&format!("\nAnswer on the review page: {}\n", links.review)),
    }
    let subject = if is_question(p) {
        "Question"
    } else {
        "Approval needed"
    };
    let prefix = match event {
        MailEvent::Created => "",
        MailEvent::Reminder => "Reminder: ",
        MailEvent::Escalated => "Escalated to you: ",
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!(
            "{prefix}{subject}: {}",
            marked_preview(&p.action, 80)
        ))
        .multipart(MultiPart::alternative_plain_html(
            text,
            html_body(p, context.as_deref(), links, lead.as_deref()).into_string(),
        ))
        .map_err(|e| format!("cannot build the mail: {e}"))
}

/// Why this mail comes now, for a reminder or an escalation: one sentence.
fn event_lead(p: &Pause, event: MailEvent) -> Option<String> {
    let waiting = |since: i64| crate::clock::rough_duration(crate::clock::now() - since);
    let routing = p.routing.as_ref();
    let policy = routing.map_or(String::new(), |r| format!(" (policy {})", r.policy));
    match event {
        MailEvent::Created => None,
        MailEvent::Reminder => Some(format!(
            "Reminder: this has waited {} for a decision{policy}, and yours is still missing.",
            waiting(p.created_at)
        )),
        MailEvent::Escalated => Some(format!(
            "Escalated: nobody decided this within the time the policy allows{policy}, so your group was added to its reviewers."
        )),
    }
}

/// The mail with an invitation or password-reset link.
pub fn account_message(
    from: &Mailbox,
    to: &str,
    invite: bool,
    link: &str,
    expires: &str,
) -> Result<Message, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("{to:?} is not a valid address: {e}"))?;
    let (subject, what) = if invite {
        (
            "You are invited to review in hitl",
            "You are invited to review requests in hitl. Open this link to choose your password; you are signed in then.",
        )
    } else {
        (
            "Set a new hitl password",
            "An admin made a link with which you set a new hitl password. Your old password works until you do; then your sessions end.",
        )
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .body(format!(
            "{what}\n\n{link}\n\nThe link works once, until {expires}. If you did not expect it, ignore this mail.\n"
        ))
        .map_err(|e| format!("cannot build the mail: {e}"))
}

/// The mail of `hitl send-test-email`.
pub fn test_message(from: &Mailbox, to: &str) -> Result<Message, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("{to:?} is not a valid address: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject("hitl test email")
        .body("This is a test message from hitl. Its mail settings work.\n".to_string())
        .map_err(|e| format!("cannot build the mail: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read() {
        let s = Smtp::from_settings(
            "smtps://me%40x.com:p%40ss@mail.example.com",
            Some("hitl@example.com"),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.example.com", 465, TlsMode::Wrapper)
        );
        assert_eq!(s.credentials, Some(("me@x.com".into(), "p@ss".into())));
        assert!(!s.describe().contains("p@ss"));
        let s = Smtp::from_settings("smtp://mail.example.com?tls=required", Some("a@b.co"), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.port, s.tls), (587, TlsMode::Required));
        let s = Smtp::from_settings("smtp://127.0.0.1:2525?tls=none", Some("a@b.co"), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.port, s.tls), (2525, TlsMode::None));
        assert!(Smtp::from_settings("http://x", Some("a@b.co"), None).is_err());
        assert!(Smtp::from_settings("smtp://x?tls=maybe", Some("a@b.co"), None).is_err());
        assert!(Smtp::from_settings("smtp://x", None, None).is_err());
        assert!(Smtp::from_settings("smtp://user@x", Some("a@b.co"), None).is_err());
    }
}
