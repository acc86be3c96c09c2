//! Every request has an id: the client's `X-Request-Id` when it is sane, else one hitl
//! makes. It comes back in the response header, in every error body, and on the log
//! lines written for the request.

use std::time::Duration;

use crate::harness::*;

fn header_id(r: &Resp) -> String {
    r.headers
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id in {:?}", r.headers))
        .clone()
}

#[test]
fn a_given_request_id_comes_back_in_the_header_and_the_error_body() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    let url = |path: &str| format!("{}{path}", server.url);

    // 401: a wrong key.
    let r = request(
        "GET",
        &url("/api/pause"),
        Some("hitl_not_a_real_key"),
        None,
        &[("X-Request-Id", "client-id-401")],
    );
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(header_id(&r), "client-id-401");
    assert_eq!(r.json["error"]["code"], "unauthorized");
    assert_eq!(r.json["error"]["requestId"], "client-id-401");

    // 404: a pause that does not exist, and an endpoint that does not exist.
    for (path, id) in [
        ("/api/pause/wch_nope", "client-id-404"),
        ("/api/no-such-endpoint", "trace.7f3a:9b/x=1"),
    ] {
        let r = request(
            "GET",
            &url(path),
            Some(&agent),
            None,
            &[("X-Request-Id", id)],
        );
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(header_id(&r), id);
        assert_eq!(r.json["error"]["code"], "not_found");
        assert_eq!(r.json["error"]["requestId"], id, "{path}");
    }

    // 405 and a validation error too.
    let r = request(
        "DELETE",
        &url("/api/pause"),
        Some(&agent),
        None,
        &[("X-Request-Id", "client-id-405")],
    );
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.json["error"]["requestId"], "client-id-405");
    let r = request(
        "POST",
        &url("/api/pause"),
        Some(&agent),
        Some("{\"action\":\"\"}"),
        &[("X-Request-Id", "client-id-400")],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["error"]["requestId"], "client-id-400");

    // A success carries it in the header (and the body is unchanged).
    let r = request(
        "GET",
        &url("/api/pause"),
        Some(&agent),
        None,
        &[("X-Request-Id", "client-id-200")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(header_id(&r), "client-id-200");
    assert!(r.json.get("error").is_none());

    // The HTML error page shows it.
    let r = request_raw(
        "GET",
        &url("/no/such/page"),
        "",
        &[("X-Request-Id", "page-id-404")],
    );
    assert_eq!(r.status, 404);
    assert_eq!(header_id(&r), "page-id-404");
    assert!(
        r.text.contains("Request id <code>page-id-404</code>"),
        "{}",
        r.text
    );
}

#[test]
fn without_a_request_id_the_server_makes_one() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let r = request("GET", &format!("{}/api/pause", server.url), None, None, &[]);
            assert_eq!(r.status, 401);
            let id = header_id(&r);
            assert_eq!(
                r.json["error"]["requestId"],
                id.as_str(),
                "the body has the same id"
            );
            id
        })
        .collect();
    for id in &ids {
        assert!(
            (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "a short random id: {id:?}"
        );
    }
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    let health = request_raw("GET", &format!("{}/healthz", server.url), "", &[]);
    assert_eq!(health.status, 200);
    assert!(!header_id(&health).is_empty(), "successes have one too");
}

#[test]
fn an_insane_request_id_is_replaced() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let too_long = "a".repeat(129);
    let longest = "b".repeat(128);
    for bad in [too_long.as_str(), "has a space", "tab\there", "<script>"] {
        let r = request(
            "GET",
            &format!("{}/api/pause", server.url),
            None,
            None,
            &[("X-Request-Id", bad)],
        );
        assert_eq!(r.status, 401);
        let id = header_id(&r);
        if bad == "<script>" {
            // Visible ASCII is kept as it is (JSON and HTML escape it where shown).
            assert_eq!(id, bad);
            continue;
        }
        assert_ne!(id, bad, "{bad:?} was kept");
        assert!(
            id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{id:?}"
        );
        assert_eq!(r.json["error"]["requestId"], id.as_str());
    }
    let r = request(
        "GET",
        &format!("{}/api/pause", server.url),
        None,
        None,
        &[("X-Request-Id", &longest)],
    );
    assert_eq!(header_id(&r), longest, "128 characters are kept");
    let page = request_raw(
        "GET",
        &format!("{}/nowhere", server.url),
        "",
        &[("X-Request-Id", "<b>x</b>")],
    );
    assert!(
        page.text.contains("&lt;b&gt;x&lt;/b&gt;") && !page.text.contains("<b>x</b>"),
        "escaped on the page"
    );
}

#[test]
fn the_log_has_the_request_id_of_a_failed_request() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    request(
        "GET",
        &format!("{}/api/pause", server.url),
        Some("hitl_wrong"),
        None,
        &[("X-Request-Id", "log-me-401")],
    );
    let r = request(
        "POST",
        &format!("{}/api/pause/wch_missing/approve", server.url),
        Some(&agent),
        Some("{\"decision\":\"approved\"}"),
        &[],
    );
    assert!(r.status >= 400, "{}", r.text);
    let made = header_id(&r);
    let log = eventually(Duration::from_secs(5), "the log lines", || {
        let log = server.log();
        (log.contains("log-me-401") && log.contains(&made)).then_some(log)
    });
    let line = |id: &str| {
        log.lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no line with {id}:\n{log}"))
            .to_string()
    };
    let refused = line("log-me-401");
    assert!(
        refused.contains("request refused") && refused.contains("status=401"),
        "{refused}"
    );
    let other = line(&made);
    assert!(
        other.contains(&format!("status={}", r.status)) && other.contains("route="),
        "{other}"
    );
}

#[test]
fn a_500_shows_only_the_request_id_and_the_log_has_the_cause() {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    // A fault the server cannot foresee: the database refuses new pauses and sessions.
    let db = rusqlite::Connection::open(hitl.db_path()).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fault_p BEFORE INSERT ON pauses BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;
         CREATE TRIGGER fault_s BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
    )
    .unwrap();
    drop(db);

    let r = request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(&agent),
        Some("{\"action\":\"x\"}"),
        &[("X-Request-Id", "api-500")],
    );
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "internal");
    assert_eq!(r.json["error"]["requestId"], "api-500");
    assert_eq!(
        r.json["error"]["message"],
        "internal error (request id api-500)"
    );
    assert!(
        !r.text.contains("disk on fire"),
        "the cause stays in the log"
    );

    let page = crate::web_http::form_post(
        &server,
        "/signin",
        None,
        &format!(
            "email=admin%40example.com&password={}&next=%2F",
            crate::web_http::url_encode(PASSWORD)
        ),
        &[("X-Request-Id", "page-500")],
    );
    assert_eq!(page.status, 500, "{}", page.text);
    assert!(
        page.text.contains("Request id <code>page-500</code>"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("disk on fire"));

    let log = eventually(Duration::from_secs(5), "both causes in the log", || {
        let log = server.log();
        (log.contains("request_id=api-500") && log.contains("request_id=page-500")).then_some(log)
    });
    for id in ["api-500", "page-500"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("request_id={id}")) && l.contains("disk on fire")),
            "no line with {id} and the cause:\n{log}"
        );
        assert!(
            log.lines().any(|l| l.contains(&format!("request_id={id}"))
                && l.contains("request failed")
                && l.contains("status=500")),
            "{log}"
        );
    }
}
