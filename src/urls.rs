//! Every URL hitl hands out or links to, built in one place: the paths of the web page
//! and the API (relative, for links within the page), and [`Urls`], which puts the
//! public URL in front of them for everything that leaves the server (the API's
//! `statusUrl` and `reviewUrl`, mail, Slack, the first-run setup link, `hitl ask`).
//! Each path segment is percent-encoded, so no id or token can add a segment, a query
//! or a fragment. The routes themselves are declared next to their handlers.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// What may not appear raw in one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn seg(text: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(text, SEGMENT)
}

/// A value for a query string.
pub fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Deciding several pauses of the queue at once (confirm, then decide).
pub const QUEUE_BULK: &str = "/queue/bulk";

pub fn review(watch_id: &str) -> String {
    format!("/review/{}", seg(watch_id))
}

pub fn review_decide(watch_id: &str) -> String {
    format!("/review/{}/decide", seg(watch_id))
}

pub fn review_answer(watch_id: &str) -> String {
    format!("/review/{}/answer", seg(watch_id))
}

pub fn review_extend(watch_id: &str) -> String {
    format!("/review/{}/extend", seg(watch_id))
}

pub fn review_cancel(watch_id: &str) -> String {
    format!("/review/{}/cancel", seg(watch_id))
}

pub fn delivery_retry(watch_id: &str, delivery_id: i64) -> String {
    format!("/review/{}/deliveries/{delivery_id}/retry", seg(watch_id))
}

pub fn status(watch_id: &str) -> String {
    format!("/api/pause/{}", seg(watch_id))
}

pub fn cancel(watch_id: &str) -> String {
    format!("/api/pause/{}/cancel", seg(watch_id))
}

/// The confirm page of a one-time link in mail.
pub fn mail(token: &str) -> String {
    format!("/mail/{}", seg(token))
}

/// The first-run page that creates the first admin.
pub fn setup(token: &str) -> String {
    format!("/setup/{}", seg(token))
}

/// An invitation or password-reset link: the page that sets a password.
pub fn password_link(token: &str) -> String {
    format!("/password/{}", seg(token))
}

pub fn user_reset(id: i64) -> String {
    format!("/users/{id}/reset")
}

pub fn key_rotate_secret(id: &str) -> String {
    format!("/keys/{}/rotate-secret", seg(id))
}

/// The sign-in page, then back to `next`.
pub fn signin_then(next: &str) -> String {
    format!("/signin?next={}", query_value(next))
}

pub fn key(id: &str) -> String {
    format!("/keys/{}", seg(id))
}

pub fn key_test_webhook(id: &str) -> String {
    format!("/keys/{}/test-webhook", seg(id))
}

pub fn key_revoke(id: &str) -> String {
    format!("/keys/{}/revoke", seg(id))
}

pub fn user_role(id: i64) -> String {
    format!("/users/{id}/role")
}

pub fn user_notify(id: i64) -> String {
    format!("/users/{id}/notify")
}

pub fn user_remove(id: i64) -> String {
    format!("/users/{id}/remove")
}

/// The public key that signs decision receipts, as a JWK Set.
pub const JWKS: &str = "/.well-known/jwks.json";

/// The Groups page (admin).
pub const GROUPS: &str = "/groups";

/// Adding members to a group.
pub fn group_members(name: &str) -> String {
    format!("/groups/{}/members", seg(name))
}

/// Taking one member out of a group.
pub fn group_member_remove(name: &str) -> String {
    format!("/groups/{}/members/remove", seg(name))
}

pub fn policy_remove(name: &str) -> String {
    format!("/policies/{}/remove", seg(name))
}

pub fn policy_move_up(name: &str) -> String {
    format!("/policies/{}/move-up", seg(name))
}

/// Absolute URLs: the public URL (`--public-url`, else the listen address) in front
/// of a path.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Without a trailing slash.
    base: String,
}

impl Urls {
    pub fn new(public_url: &str) -> Urls {
        Urls {
            base: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The public URL itself, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn status(&self, watch_id: &str) -> String {
        format!("{}{}", self.base, status(watch_id))
    }

    /// The status URL that long-polls for up to `wait` seconds.
    pub fn status_wait(&self, watch_id: &str, wait: u64) -> String {
        format!("{}{}?wait={wait}", self.base, status(watch_id))
    }

    pub fn cancel(&self, watch_id: &str) -> String {
        format!("{}{}", self.base, cancel(watch_id))
    }

    pub fn create(&self) -> String {
        format!("{}/api/pause", self.base)
    }

    pub fn review(&self, watch_id: &str) -> String {
        format!("{}{}", self.base, review(watch_id))
    }

    pub fn mail(&self, token: &str) -> String {
        format!("{}{}", self.base, mail(token))
    }

    pub fn setup(&self, token: &str) -> String {
        format!("{}{}", self.base, setup(token))
    }

    pub fn password_link(&self, token: &str) -> String {
        format!("{}{}", self.base, password_link(token))
    }

    pub fn healthz(&self) -> String {
        format!("{}/healthz", self.base)
    }

    pub fn jwks(&self) -> String {
        format!("{}{JWKS}", self.base)
    }

    /// The page itself (where reviewers sign in).
    pub fn home(&self) -> String {
        format!("{}/", self.base)
    }
}

/// The Rules page (standing approvals).
pub const RULES: &str = "/rules";

/// Revoking a standing approval from the Rules page.
pub fn rule_revoke(id: i64) -> String {
    format!("/rules/{id}/revoke")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_put_the_public_url_in_front() {
        let urls = Urls::new("https://hitl.example.com/");
        assert_eq!(
            urls.status("wch_abc"),
            "https://hitl.example.com/api/pause/wch_abc"
        );
        assert_eq!(
            urls.status_wait("wch_abc", 30),
            "https://hitl.example.com/api/pause/wch_abc?wait=30"
        );
        assert_eq!(
            urls.review("wch_abc"),
            "https://hitl.example.com/review/wch_abc"
        );
        assert_eq!(urls.mail("t0k-_"), "https://hitl.example.com/mail/t0k-_");
        assert_eq!(urls.home(), "https://hitl.example.com/");
    }

    #[test]
    fn no_segment_can_escape_its_place() {
        assert_eq!(review("../admin?x=1#y"), "/review/..%2Fadmin%3Fx=1%23y");
        assert_eq!(key("a b/c"), "/keys/a%20b%2Fc");
        assert_eq!(group_members("ops/x?y"), "/groups/ops%2Fx%3Fy/members");
        assert_eq!(
            signin_then("/review/x?y=1&z"),
            "/signin?next=%2Freview%2Fx%3Fy%3D1%26z"
        );
    }
}
