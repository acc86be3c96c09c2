//! History: all pauses with filters, search and pages.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{html, parse_date, PageError, SignedIn};
use crate::clock;
use crate::domain::pauses::{self, ListQuery};
use crate::domain::{keys, Error, Status};
use crate::http::AppState;
use crate::views::history::{self, Filters, History};

const PAGE: u32 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/history", web::get().to(page));
}

/// The query string, read by hand: `status` may repeat.
fn filters(req: &HttpRequest) -> (Filters, Option<String>) {
    let mut f = Filters::default();
    let mut cursor = None;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let value = value.into_owned();
        match name.as_ref() {
            "status" => {
                if let Some(s) = Status::parse(&value) {
                    if !f.statuses.contains(&s) {
                        f.statuses.push(s);
                    }
                }
            }
            "tag" => f.tag = value,
            "key" => f.key = value,
            "from" => f.from = value,
            "to" => f.to = value,
            "q" => f.q = value,
            "cursor" if !value.is_empty() => cursor = Some(value),
            _ => {}
        }
    }
    (f, cursor)
}

fn query(f: &Filters, cursor: Option<&str>) -> Result<ListQuery, Error> {
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(ListQuery {
        statuses: f.statuses.clone(),
        tag: non_empty(&f.tag),
        key_id: non_empty(&f.key),
        created_from: parse_date(&f.from, "From")?,
        created_before: parse_date(&f.to, "To")?.map(|d| d + clock::DAY_MS),
        text: non_empty(&f.q),
        limit: PAGE,
        cursor: cursor.map(pauses::decode_cursor).transpose()?,
    })
}

async fn page(
    req: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (f, cursor) = filters(&req);
    let principal = who.principal();
    let q = query(&f, cursor.as_deref());
    let (page, key_list, error) = state
        .read(move |conn| {
            let key_list: Vec<(String, String)> = keys::list(conn, clock::now())?
                .into_iter()
                .filter(|k| k.kind == keys::Kind::Agent)
                .map(|k| (k.id, k.name))
                .collect();
            match q {
                Ok(q) => Ok((Some(pauses::list(conn, &principal, &q)?), key_list, None)),
                Err(e) => Ok((None, key_list, Some(e.to_string()))),
            }
        })
        .await?;
    let (items, next_cursor, prev_cursor, window_cut) = match page {
        Some(p) => (p.items, p.next_cursor, p.prev_cursor, p.window_cut),
        None => (Vec::new(), None, None, false),
    };
    Ok(html(history::view(
        &who.viewer,
        &History {
            filters: f,
            keys: key_list,
            items,
            next_cursor,
            prev_cursor,
            now: clock::now(),
            error,
            window_cut,
        },
    )))
}
