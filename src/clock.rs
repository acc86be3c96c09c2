//! The one clock. Time is kept as milliseconds since the Unix epoch (UTC) everywhere
//! inside hitl; it is turned into RFC 3339 text only at the edges.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// The current time. Every part of hitl that needs "now" asks here, and the rules in
/// `domain` take `now` as an argument so that tests can pass any instant.
pub fn now() -> Millis {
    let now = OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as Millis
}

const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

fn to_datetime(ms: Millis) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// `2026-03-30T20:58:12.345Z`: UTC, always three fractional digits.
pub fn rfc3339(ms: Millis) -> String {
    to_datetime(ms)
        .and_then(|t| t.format(RFC3339_MILLIS).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

/// Parses an RFC 3339 timestamp (any offset) into milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// The UTC midnight that starts a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<Millis> {
    let date = time::Date::parse(text, DATE).ok()?;
    let start = date.midnight().assume_utc();
    Some((start.unix_timestamp_nanos() / 1_000_000) as Millis)
}

pub const DAY_MS: Millis = 86_400_000;

/// `2026-03` for the calendar month (UTC) that contains `ms`: the unit of key quotas.
pub fn month_of(ms: Millis) -> String {
    match to_datetime(ms) {
        Some(t) => format!("{:04}-{:02}", t.year(), u8::from(t.month())),
        None => "1970-01".to_string(),
    }
}

/// The first instant of the calendar month (UTC) after the one that contains `ms`.
pub fn start_of_next_month(ms: Millis) -> Millis {
    let Some(t) = to_datetime(ms) else { return ms };
    let (year, month) = match t.month() {
        time::Month::December => (t.year() + 1, time::Month::January),
        m => (t.year(), m.next()),
    };
    time::Date::from_calendar_date(year, month, 1)
        .map(|d| {
            let start = d.midnight().assume_utc();
            (start.unix_timestamp_nanos() / 1_000_000) as Millis
        })
        .unwrap_or(ms)
}

/// A span of time as people read it: `45s`, or from a minute on in whole minutes
/// (`2h 5m`).
pub fn rough_duration(ms: Millis) -> String {
    let secs = (ms.max(0) / 1000) as u64;
    let shown = if secs >= 60 { secs - secs % 60 } else { secs };
    humantime::format_duration(std::time::Duration::from_secs(shown)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_774_904_292_345), "2026-03-30T20:58:12.345Z");
        assert_eq!(
            parse_rfc3339("2026-03-30T20:58:12.345Z"),
            Some(1_774_904_292_345)
        );
        assert_eq!(
            parse_rfc3339("2026-03-30T22:58:12.345+02:00"),
            Some(1_774_904_292_345)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            parse_date("2026-03-30").map(rfc3339).as_deref(),
            Some("2026-03-30T00:00:00.000Z")
        );
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("30/03/2026"), None);
    }

    #[test]
    fn months_roll_over_in_utc() {
        let dec31 = parse_rfc3339("2026-12-31T23:59:59.999Z").unwrap_or_default();
        assert_eq!(month_of(dec31), "2026-12");
        assert_eq!(
            rfc3339(start_of_next_month(dec31)),
            "2027-01-01T00:00:00.000Z"
        );
        let mar = parse_rfc3339("2026-03-15T10:00:00Z").unwrap_or_default();
        assert_eq!(
            rfc3339(start_of_next_month(mar)),
            "2026-04-01T00:00:00.000Z"
        );
    }
}
