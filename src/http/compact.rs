//! A request keeps only the memory its headers need while it is handled.
//!
//! actix-http parses every request's headers into a map made for 16 names (32 slots
//! of about 200 bytes: 6.7 KB), whatever the request carries. An agent's request
//! carries four to eight, and a long-poll holds its request, map and all, for up to a
//! minute: with 10,000 held that map was about a third of what each cost. The
//! outermost middleware moves the headers into a map sized for them, before anything
//! reads them, so nothing else changes: every name keeps all its values, in order.

use std::future::Future;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;

/// The middleware: `App::wrap(from_fn(compact::headers))`, outermost, where nothing
/// else holds the request yet (its headers can be changed only there). A plain
/// function: the inner layers' future is all a held request keeps of it.
pub fn headers<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> {
    shrink(req.headers_mut());
    next.call(req)
}

/// Moves the entries into a map sized for them when the one they are in has room for
/// more than twice as many names. A smaller map is kept as it is.
fn shrink(headers: &mut HeaderMap) {
    let names = headers.len_keys();
    if headers.capacity() <= 2 * names {
        return;
    }
    let mut sized = HeaderMap::with_capacity(names);
    for (name, value) in std::mem::take(headers) {
        sized.append(name, value);
    }
    *headers = sized;
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{self, HeaderValue};

    fn values(map: &HeaderMap, name: header::HeaderName) -> Vec<&str> {
        map.get_all(name).filter_map(|v| v.to_str().ok()).collect()
    }

    #[test]
    fn a_roomy_map_shrinks_and_keeps_every_value_in_order() {
        let mut map = HeaderMap::with_capacity(16);
        map.append(header::HOST, HeaderValue::from_static("127.0.0.1"));
        map.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        map.append(header::ACCEPT, HeaderValue::from_static("text/html"));
        map.append(header::ACCEPT, HeaderValue::from_static("application/json"));
        let before = map.capacity();

        shrink(&mut map);

        assert!(
            map.capacity() < before / 2,
            "{} of {before}",
            map.capacity()
        );
        assert_eq!(map.len(), 4);
        assert_eq!(map.len_keys(), 3);
        assert_eq!(values(&map, header::HOST), ["127.0.0.1"]);
        assert_eq!(values(&map, header::AUTHORIZATION), ["Bearer k"]);
        assert_eq!(
            values(&map, header::ACCEPT),
            ["text/html", "application/json"]
        );
    }

    #[test]
    fn a_map_already_near_its_size_is_left_alone() {
        let mut map = HeaderMap::with_capacity(3);
        map.append(header::HOST, HeaderValue::from_static("a"));
        map.append(header::ACCEPT, HeaderValue::from_static("b"));
        let before = map.capacity();
        shrink(&mut map);
        assert_eq!(map.capacity(), before);
        assert_eq!(values(&map, header::ACCEPT), ["b"]);
    }
}
