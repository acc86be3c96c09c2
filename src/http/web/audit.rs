//! The audit log (admin): filters, pages, and a CSV export.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{html, parse_date, Admin, PageError};
use crate::clock;
use crate::domain::audit::{self, Entry, Filter};
use crate::domain::Error;
use crate::http::AppState;
use crate::views::audit::{self as view, Audit, Filters};

const PAGE: u32 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(page))
        .route("/audit.csv", web::get().to(export));
}

fn filters(req: &HttpRequest) -> (Filters, Option<String>) {
    let mut f = Filters::default();
    let mut cursor = None;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let value = value.trim().to_string();
        match name.as_ref() {
            "event" => f.event = value,
            "actor" => f.actor = value,
            "watch_id" => f.watch_id = value,
            "from" => f.from = value,
            "to" => f.to = value,
            "cursor" if !value.is_empty() => cursor = Some(value),
            _ => {}
        }
    }
    (f, cursor)
}

fn filter(f: &Filters) -> Result<Filter, Error> {
    let non_empty = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    Ok(Filter {
        event: non_empty(&f.event),
        actor: non_empty(&f.actor),
        watch_id: non_empty(&f.watch_id),
        from: parse_date(&f.from, "From")?,
        before: parse_date(&f.to, "To")?.map(|d| d + clock::DAY_MS),
    })
}

async fn page(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (f, cursor) = filters(&req);
    let wanted = filter(&f);
    let (events, listed) = state
        .read(move |conn| {
            let events = audit::event_names(conn)?;
            let listed = match wanted {
                Ok(wanted) => {
                    audit::list(conn, &wanted, cursor.as_deref(), PAGE).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            Ok((events, listed))
        })
        .await?;
    let (items, next_cursor, prev_cursor, error) = match listed {
        Ok(p) => (p.items, p.next_cursor, p.prev_cursor, None),
        Err(e) => (Vec::new(), None, None, Some(e)),
    };
    Ok(html(view::view(
        &admin.0.viewer,
        &Audit {
            filters: f,
            events,
            items,
            next_cursor,
            prev_cursor,
            error,
        },
    )))
}

/// A cell as a spreadsheet will read it: text that starts like a formula gets a
/// leading apostrophe, so an agent's text can never run as one.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn write_row(w: &mut csv::Writer<Vec<u8>>, e: &Entry) -> Result<(), Error> {
    w.write_record([
        clock::rfc3339(e.at),
        cell(&e.event),
        cell(&e.actor),
        cell(e.watch_id.as_deref().unwrap_or("")),
        cell(&e.details),
        cell(e.key_name.as_deref().unwrap_or("")),
        e.id.to_string(),
        e.hash
            .as_deref()
            .map(crate::secret::hex)
            .unwrap_or_default(),
    ])
    .map_err(Error::internal)
}

/// All matching entries as CSV (UTF-8, RFC 4180 quoting by the csv crate): the stored
/// columns as they are, the acting key's name, then the entry's id and chain hash.
async fn export(
    req: HttpRequest,
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (f, _) = filters(&req);
    let wanted = filter(&f)?;
    let body = state
        .read(move |conn| {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "time", "event", "actor", "watchId", "details", "keyName", "id", "hash",
            ])
            .map_err(Error::internal)?;
            audit::for_each(conn, &wanted, |e| write_row(&mut w, &e))?;
            w.into_inner().map_err(Error::internal)
        })
        .await?;
    Ok(super::hardened(actix_web::http::StatusCode::OK)
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"hitl-audit.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("pause.approved"), "pause.approved");
    }
}
