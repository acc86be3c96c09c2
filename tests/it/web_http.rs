//! The web page's security, spoken to over plain HTTP: headers, cookies, CSRF,
//! origins, the sign-in throttle, assets.

use serde_json::json;

use crate::harness::*;

/// Signs in through the form and returns the `name=value` of the session cookie.
pub fn sign_in(server: &Server, email: &str, password: &str) -> Result<String, Box<Resp>> {
    let body = format!(
        "email={}&password={}&next=%2F",
        url_encode(email),
        url_encode(password)
    );
    let r = form_post(server, "/signin", None, &body, &[]);
    if r.status != 303 {
        return Err(Box::new(r));
    }
    let cookie = r
        .headers
        .get("set-cookie")
        .expect("a session cookie")
        .clone();
    Ok(cookie.split(';').next().unwrap().to_string())
}

pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn form_post(
    server: &Server,
    path: &str,
    cookie: Option<&str>,
    body: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let mut headers: Vec<(&str, &str)> =
        vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    headers.extend_from_slice(extra);
    request_raw("POST", &format!("{}{path}", server.url), body, &headers)
}

pub fn page(server: &Server, path: &str, cookie: &str) -> Resp {
    request_raw(
        "GET",
        &format!("{}{path}", server.url),
        "",
        &[("Cookie", cookie)],
    )
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..].split('"').next().unwrap().to_string()
}

#[test]
fn every_html_page_sends_the_security_headers() {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    for path in [
        "/",
        "/history",
        "/keys",
        "/users",
        "/groups",
        "/audit",
        "/about",
        "/account",
        "/signin",
        "/nope",
        "/review/wch_missing",
    ] {
        let r = page(&server, path, &cookie);
        let csp = r
            .headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(
            r.headers.get("x-content-type-options").map(String::as_str),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.headers.get("referrer-policy").map(String::as_str),
            Some("no-referrer"),
            "{path}"
        );
        if r.status == 200 {
            assert!(r.headers["content-type"].starts_with("text/html"), "{path}");
            // No inline scripts or styles, and nothing from elsewhere.
            assert!(
                !r.text.contains("<script>")
                    && !r.text.contains(" style=")
                    && !r.text.contains("<style"),
                "{path}"
            );
            assert!(
                !r.text.contains("src=\"http") && !r.text.contains("href=\"http"),
                "{path} loads from elsewhere"
            );
        }
    }
    assert_eq!(page(&server, "/nope", &cookie).status, 404);
    assert_eq!(page(&server, "/review/wch_missing", &cookie).status, 404);
}

#[test]
fn assets_are_embedded_with_etags() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "admin");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "a@example.com", PASSWORD).unwrap();
    let html = page(&server, "/", &cookie).text;
    let css = html
        .split("href=\"")
        .find(|s| s.starts_with("/assets/app.css?v="))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = request_raw("GET", &format!("{}{css}", server.url), "", &[]);
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].starts_with("text/css"));
    assert!(r.headers["cache-control"].contains("immutable"));
    let etag = r.headers["etag"].clone();
    let again = request_raw(
        "GET",
        &format!("{}{css}", server.url),
        "",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());
    assert_eq!(
        request_raw("GET", &format!("{}/assets/app.js", server.url), "", &[]).status,
        200
    );
    assert_eq!(
        request_raw("GET", &format!("{}/assets/nothing.js", server.url), "", &[]).status,
        404
    );
    assert_eq!(
        request_raw(
            "GET",
            &format!("{}/assets/../Cargo.toml", server.url),
            "",
            &[]
        )
        .status,
        404
    );
}

#[test]
fn session_cookie_flags_follow_the_public_url() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "admin");
    let server = hitl.serve(&[]);
    let r = form_post(
        &server,
        "/signin",
        None,
        &format!("email=a%40example.com&password={}", url_encode(PASSWORD)),
        &[],
    );
    let set = r.headers["set-cookie"].clone();
    assert!(
        set.starts_with("hitl_session=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http: {set}");
    let value = set
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(value.len(), 43, "256 random bits");
    // Only a hash of it is stored.
    let stored: Vec<u8> = hitl
        .db()
        .query_row("SELECT id_hash FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored.len(), 32);
    drop(server);

    let https = hitl.serve(&["--public-url", "https://hitl.example.com"]);
    let r = form_post(
        &https,
        "/signin",
        None,
        &format!("email=a%40example.com&password={}", url_encode(PASSWORD)),
        &[],
    );
    let set = r.headers["set-cookie"].clone();
    assert!(
        set.starts_with("__Host-hitl_session=") && set.contains("Secure") && set.contains("Path=/"),
        "{set}"
    );
}

#[test]
fn forms_need_the_csrf_token_and_our_origin() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "admin");
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "x" }));
    let cookie = sign_in(&server, "a@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, &format!("/review/{id}"), &cookie).text);
    let decide = format!("/review/{id}/decide");

    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
    let refused: Vec<Case> = vec![
        ("no token", "decision=approved".into(), vec![]),
        ("wrong token", "decision=approved&csrf=abc".into(), vec![]),
        (
            "another session's token",
            format!("decision=approved&csrf={}", "A".repeat(43)),
            vec![],
        ),
        (
            "cross-site fetch metadata",
            format!("decision=approved&csrf={csrf}"),
            vec![("Sec-Fetch-Site", "cross-site")],
        ),
        (
            "same-site, other origin",
            format!("decision=approved&csrf={csrf}"),
            vec![("Sec-Fetch-Site", "same-site")],
        ),
        (
            "other origin",
            format!("decision=approved&csrf={csrf}"),
            vec![("Origin", "http://evil.example")],
        ),
        (
            "null origin without fetch metadata",
            format!("decision=approved&csrf={csrf}"),
            vec![("Origin", "null")],
        ),
    ];
    for (name, body, headers) in refused {
        let r = form_post(&server, &decide, Some(&cookie), &body, &headers);
        assert_eq!(r.status, 403, "{name}: {}", r.status);
        assert!(r.text.contains("Request refused"), "{name}");
    }
    assert_eq!(server.status(&agent, &id)["status"], "pending");

    // The API's decide endpoint: a session needs the page's X-CSRF-Token too.
    let api = format!("{}/api/pause/{id}/approve", server.url);
    let r = request_raw(
        "POST",
        &api,
        r#"{"decision":"approved"}"#,
        &[
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/json"),
        ],
    );
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = request_raw(
        "POST",
        &api,
        r#"{"decision":"approved"}"#,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 401);
    assert_eq!(server.status(&agent, &id)["status"], "pending");

    // With the token and from our origin (as the browser sends it), it works.
    let r = form_post(
        &server,
        &decide,
        Some(&cookie),
        &format!("decision=rejected&comment=no&csrf={csrf}"),
        &[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(server.status(&agent, &id)["status"], "rejected");

    let id2 = server.create(&agent, &json!({ "action": "y" }));
    let r = request_raw(
        "POST",
        &format!("{}/api/pause/{id2}/approve", server.url),
        r#"{"decision":"approved","comment":"via the API with a session"}"#,
        &[
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/json"),
            ("X-CSRF-Token", csrf.as_str()),
            ("Origin", server.url.as_str()),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["resolvedBy"], "a@example.com");
}

#[test]
fn failed_sign_ins_are_slowed_and_audited() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "admin");
    let server = hitl.serve(&[]);
    for _ in 0..5 {
        let r = sign_in(&server, "a@example.com", "wrong password!").unwrap_err();
        assert_eq!(r.status, 401);
        assert!(r.text.contains("Wrong email or password."));
    }
    // Now even the right password waits.
    let r = sign_in(&server, "a@example.com", PASSWORD).unwrap_err();
    assert_eq!(r.status, 429);
    assert!(
        r.text.contains("Too many failed sign-ins. Try again in"),
        "{}",
        r.text
    );
    // An unknown email answers the same way as a wrong password.
    let r = sign_in(&server, "nobody@example.com", "wrong password!").unwrap_err();
    assert_eq!(r.status, 401);
    assert!(r.text.contains("Wrong email or password."));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(
        sign_in(&server, "a@example.com", PASSWORD).is_ok(),
        "the delay ends"
    );

    let failed: Vec<String> = hitl
        .db()
        .prepare("SELECT details FROM audit WHERE event = 'signin.failed' AND actor = 'anonymous'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(failed.len(), 6);
    assert!(failed[0].contains("a@example.com") && failed[0].contains("127.0.0.1"));
}

#[test]
fn setup_links_are_single_use_and_sign_in_redirects_stay_local() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let link = eventually(std::time::Duration::from_secs(5), "the setup link", || {
        server.log().lines().find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/setup/"))
                .map(str::to_string)
        })
    });
    let path = link.trim_start_matches(&server.url).to_string();
    let body = format!(
        "email=first%40example.com&password={p}&password_again={p}",
        p = url_encode(PASSWORD)
    );
    let mismatch = form_post(
        &server,
        &path,
        None,
        &format!(
            "email=first%40example.com&password={}&password_again=other",
            url_encode(PASSWORD)
        ),
        &[],
    );
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.text.contains("The two passwords differ."));
    let short = form_post(
        &server,
        &path,
        None,
        "email=first%40example.com&password=short&password_again=short",
        &[],
    );
    assert_eq!(short.status, 400);
    assert!(short.text.contains("too short"));
    assert_eq!(form_post(&server, &path, None, &body, &[]).status, 303);
    let again = form_post(&server, &path, None, &body.replace("first", "second"), &[]);
    assert_eq!(again.status, 404);
    let users: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(request_raw("GET", &link, "", &[]).status, 404);

    // After sign-in, only local paths are followed.
    for (next, expected) in [
        ("%2Fhistory", "/history"),
        ("%2Fhistory%3Fstatus%3Dpending", "/history?status=pending"),
        ("https%3A%2F%2Fevil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        ("%2F%09%2Fevil.example", "/"),
        ("%2F%0A%2Fevil.example", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%5C%5Cevil.example", "/"),
        ("javascript%3Aalert(1)", "/"),
        ("%2F.%2F%2Fevil.example", "/"),
        ("%2Fx%2F..%2F%2Fevil.example", "/"),
        ("%2Fx%2F..%2Fhistory", "/history"),
    ] {
        let r = form_post(
            &server,
            "/signin",
            None,
            &format!(
                "email=first%40example.com&password={}&next={next}",
                url_encode(PASSWORD)
            ),
            &[],
        );
        assert_eq!(
            r.headers.get("location").map(String::as_str),
            Some(expected)
        );
    }
}

/// The watchIds a history page lists, top to bottom.
#[test]
fn parallel_guesses_do_not_slip_past_the_throttle() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "admin");
    let server = hitl.serve(&[]);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    sign_in(&server, "a@example.com", "wrong password!")
                        .unwrap_err()
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "{statuses:?}"
    );
}
