//! Webhooks, signed the Standard Webhooks way: `webhook-id` (one per event, the same
//! on every retry), `webhook-timestamp` (this attempt's time) and `webhook-signature`
//! = `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")).

use std::time::{Duration, Instant};

use ring::hmac;

use super::{Attempt, Next};
use crate::secret;

/// The signature header value for one attempt. `secret` is the key's `whsec_...`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key_bytes = secret::b64_decode(raw).ok_or("the webhook secret is not valid base64")?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
    let tag = hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", secret::b64(tag.as_ref())))
}

/// `Retry-After` as seconds or an HTTP date, from now; within a second and a day.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let value = value?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        }
    };
    Some(wait.clamp(Duration::from_secs(1), Duration::from_secs(24 * 3600)))
}

/// Turns an HTTP answer into an attempt: 2xx succeeds; a redirect is not followed;
/// 410 Gone stops; 429 and 503 wait as long as `Retry-After` says.
pub fn judge(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    started: Instant,
) -> Attempt {
    let duration_ms = started.elapsed().as_millis() as i64;
    match response {
        Ok(mut r) => {
            let status = r.status().as_u16();
            // Read (a little of) the answer, then let the connection go.
            let _ = r.body_mut().with_config().limit(16 * 1024).read_to_vec();
            let header = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (ok, error, next) = match status {
                200..=299 => (true, None, Next::Schedule),
                300..=399 => (
                    false,
                    Some(format!(
                        "redirect not followed (to {})",
                        header("location").unwrap_or_else(|| "nowhere".into())
                    )),
                    Next::Schedule,
                ),
                410 => (
                    false,
                    Some("410 Gone: the receiver asked for no more deliveries".into()),
                    Next::Stop,
                ),
                429 | 503 => {
                    let next = retry_after(header("retry-after").as_deref())
                        .map_or(Next::Schedule, Next::After);
                    (false, Some(format!("HTTP {status}")), next)
                }
                _ => (false, Some(format!("HTTP {status}")), Next::Schedule),
            };
            Attempt {
                ok,
                http_status: Some(status),
                error,
                duration_ms,
                next,
            }
        }
        Err(e) => Attempt {
            ok: false,
            http_status: None,
            error: Some(describe(&e)),
            duration_ms,
            // The policy will refuse the address on every retry too.
            next: if super::dns::refused_by_policy(&e) {
                Next::Fail
            } else {
                Next::Schedule
            },
        },
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer within 10 s".to_string(),
        ureq::Error::Other(inner) => inner.to_string(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        other => other.to_string(),
    }
}

/// Sends one webhook attempt.
pub fn send(
    agent: &ureq::Agent,
    url: &str,
    secret: &str,
    id: &str,
    body: &str,
    now_secs: i64,
) -> Attempt {
    let started = Instant::now();
    let signature = match sign(secret, id, now_secs, body) {
        Ok(s) => s,
        Err(e) => {
            return Attempt {
                ok: false,
                http_status: None,
                error: Some(e),
                duration_ms: 0,
                next: Next::Stop,
            }
        }
    };
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", &now_secs.to_string())
        .header("webhook-signature", &signature)
        .send(body);
    judge(response, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the Standard Webhooks specification.
    #[test]
    fn signs_like_the_specification() {
        let sig = sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Ok("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(Some("120")), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(Some("0")), Some(Duration::from_secs(1)));
        assert_eq!(
            retry_after(Some("999999999")),
            Some(Duration::from_secs(86_400))
        );
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
        let got = retry_after(Some(&soon)).unwrap_or_default().as_secs();
        assert!((85..=90).contains(&got), "{got}");
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
    }
}
