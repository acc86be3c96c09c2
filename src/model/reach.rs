//! Where a reviewer is told of pauses: the personal channels, and which of them each
//! person keeps on. Mail is the `notify_email` column; the others are on unless listed
//! in `notify_off`, so a channel added later reaches everyone who set it up.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    /// A direct message from the Slack app.
    Slack,
    Telegram,
    Ntfy,
    /// Web Push to the installed page.
    Push,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Slack,
        Channel::Telegram,
        Channel::Ntfy,
        Channel::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Slack => "slack",
            Channel::Telegram => "telegram",
            Channel::Ntfy => "ntfy",
            Channel::Push => "push",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Email => "Email",
            Channel::Slack => "Slack (a direct message)",
            Channel::Telegram => "Telegram",
            Channel::Ntfy => "ntfy",
            Channel::Push => "Notifications of the installed page",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// A comma-separated list such as `email,telegram` (an empty list: none).
pub fn parse_list(text: &str) -> Result<Vec<Channel>, String> {
    let mut on = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let channel = Channel::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
            format!(
                "{name:?} is not a channel; the channels are {}",
                Channel::ALL.map(Channel::as_str).join(", ")
            )
        })?;
        if !on.contains(&channel) {
            on.push(channel);
        }
    }
    Ok(on)
}

/// The `notify_off` text for a person who keeps `on` (mail aside).
pub fn off_text(on: &[Channel]) -> String {
    Channel::ALL
        .into_iter()
        .filter(|c| *c != Channel::Email && !on.contains(c))
        .map(Channel::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `channel` is on, given the person's mail switch and `notify_off` text.
pub fn is_on(channel: Channel, notify_email: bool, notify_off: &str) -> bool {
    match channel {
        Channel::Email => notify_email,
        other => !notify_off.split(',').any(|n| n == other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_through_the_off_text() {
        let on = parse_list(" Email, telegram ,push,telegram").unwrap();
        assert_eq!(on, [Channel::Email, Channel::Telegram, Channel::Push]);
        let off = off_text(&on);
        assert_eq!(off, "slack,ntfy");
        for c in Channel::ALL {
            let expected = on.contains(&c);
            assert_eq!(
                is_on(c, on.contains(&Channel::Email), &off),
                expected,
                "{c:?}"
            );
        }
        assert!(parse_list("email,pigeon").unwrap_err().contains("pigeon"));
        assert_eq!(parse_list("").unwrap(), []);
        assert!(is_on(Channel::Ntfy, false, ""), "on unless turned off");
    }
}
