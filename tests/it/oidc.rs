//! Sign-in with an OpenID Connect provider, against a real one on loopback: the
//! Python package oidc-provider-mock (installed by tests/run), which signs its ID
//! tokens with RS256 and asks, on its authorization page, whom to sign in.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{agent, eventually, Hitl, Server, PASSWORD};

/// The mock provider, stopped when dropped.
struct Provider {
    url: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start() -> Provider {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("python3")
            .args(["-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3 -m oidc_provider_mock");
        let provider = Provider {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let discovery = format!("{}/.well-known/openid-configuration", provider.url);
        eventually(Duration::from_secs(30), "the mock provider", || {
            agent()
                .get(&discovery)
                .call()
                .ok()
                .filter(|r| r.status() == 200)
        });
        provider
    }

    /// Sets the claims the provider gives the subject `sub`.
    fn user(&self, sub: &str, claims: serde_json::Value) {
        let response = agent()
            .put(&format!("{}/users/{sub}", self.url))
            .header("Content-Type", "application/json")
            .send(claims.to_string())
            .expect("PUT user");
        assert!(response.status().is_success(), "{}", response.status());
    }
}

fn start_hitl(hitl: &Hitl, provider: &Provider, extra: &[&str]) -> Server {
    let secret = hitl.path().join("client-secret");
    std::fs::write(&secret, "s3cret-of-the-client\n").expect("write secret");
    let mut args = vec![
        "--oidc-issuer",
        &provider.url,
        "--oidc-client-id",
        "hitl-test",
        "--oidc-client-secret-file",
        path_str(&secret),
    ];
    args.extend_from_slice(extra);
    hitl.serve(&args)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

struct Answer {
    status: u16,
    location: String,
    cookies: Vec<(String, String)>,
    body: String,
}

fn call(method: &str, url: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
    let agent = agent();
    let result = if method == "GET" {
        let mut req = agent.get(url);
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        req.call()
    } else {
        let mut req = agent.post(url);
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        req.send_form(form.iter().copied())
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let header = |name: &str| -> Vec<String> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_string())
            .collect()
    };
    let location = header("location").pop().unwrap_or_default();
    let cookies = header("set-cookie")
        .iter()
        .filter_map(|c| {
            let pair = c.split(';').next()?;
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Answer {
        status: response.status().as_u16(),
        location,
        cookies,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn cookie<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .cookies
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", answer.cookies))
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Goes to the provider as `sub` and comes back: the callback URL and the state
/// cookie to present there.
fn through_provider(server: &Server, provider: &Provider, sub: &str) -> (String, String) {
    let start = call(
        "GET",
        &format!("{}/signin/oidc?next=/", server.url),
        None,
        &[],
    );
    assert_eq!(start.status, 303, "{}", start.body);
    assert!(
        start.location.starts_with(&provider.url),
        "{}",
        start.location
    );
    let params = query(&start.location);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], "hitl-test");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert_eq!(
        params["redirect_uri"],
        format!("{}/signin/oidc/callback", server.url)
    );
    assert!(params["nonce"].len() >= 32 && params["state"].len() >= 32);
    let state = cookie(&start, "hitl_oidc_state").to_string();
    assert_eq!(state, params["state"]);

    // The provider's authorization form, answered as `sub`.
    let authorized = call("POST", &start.location, None, &[("sub", sub)]);
    assert_eq!(authorized.status, 302, "{}", authorized.body);
    assert!(
        authorized
            .location
            .starts_with(&format!("{}/signin/oidc/callback?", server.url)),
        "{}",
        authorized.location
    );
    (authorized.location, format!("hitl_oidc_state={state}"))
}

/// The whole round trip; returns the session cookie.
fn sign_in(server: &Server, provider: &Provider, sub: &str) -> String {
    let (callback, state_cookie) = through_provider(server, provider, sub);
    let back = call("GET", &callback, Some(&state_cookie), &[]);
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location, "/");
    format!("hitl_session={}", cookie(&back, "hitl_session"))
}

fn opens_queue(server: &Server, session: &str) {
    let queue = call("GET", &format!("{}/", server.url), Some(session), &[]);
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue.body.contains("Waiting for a decision"),
        "{}",
        queue.body
    );
}

#[test]
fn a_known_verified_email_signs_in_and_opens_the_queue() {
    let provider = Provider::start();
    provider.user(
        "alice",
        serde_json::json!({"email": "Alice@Example.com", "email_verified": true}),
    );
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let server = start_hitl(&hitl, &provider, &[]);

    let page = call("GET", &format!("{}/signin", server.url), None, &[]);
    assert!(page.body.contains("Sign in with your identity provider"));
    assert!(page.body.contains("name=\"password\""), "both ways offered");

    let session = sign_in(&server, &provider, "alice");
    opens_queue(&server, &session);

    // The code and state are good once.
    let (callback, state_cookie) = through_provider(&server, &provider, "alice");
    assert_eq!(call("GET", &callback, Some(&state_cookie), &[]).status, 303);
    let again = call("GET", &callback, Some(&state_cookie), &[]);
    assert_eq!(again.status, 400, "{}", again.body);
}

#[test]
fn an_unknown_or_unverified_email_is_refused() {
    let provider = Provider::start();
    provider.user(
        "mallory",
        serde_json::json!({"email": "mallory@example.com", "email_verified": true}),
    );
    provider.user(
        "bob",
        serde_json::json!({"email": "bob@example.com", "email_verified": false}),
    );
    let hitl = Hitl::new();
    hitl.add_user("bob@example.com", "approver");
    let server = start_hitl(&hitl, &provider, &[]);

    let (callback, state_cookie) = through_provider(&server, &provider, "mallory");
    let refused = call("GET", &callback, Some(&state_cookie), &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("mallory@example.com has no account"));
    assert!(!refused.cookies.iter().any(|(k, _)| k == "hitl_session"));

    let (callback, state_cookie) = through_provider(&server, &provider, "bob");
    let refused = call("GET", &callback, Some(&state_cookie), &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("verified email"));
    assert!(!refused.cookies.iter().any(|(k, _)| k == "hitl_session"));
}

#[test]
fn auto_create_makes_the_user_with_the_role() {
    let provider = Provider::start();
    provider.user(
        "carol",
        serde_json::json!({"email": "carol@example.com", "email_verified": true}),
    );
    let hitl = Hitl::new();
    let server = start_hitl(&hitl, &provider, &["--oidc-auto-create", "approver"]);
    let session = sign_in(&server, &provider, "carol");
    opens_queue(&server, &session);
    let role: String = hitl
        .db()
        .query_row(
            "SELECT role FROM users WHERE email = 'carol@example.com'",
            [],
            |r| r.get(0),
        )
        .expect("carol was created");
    assert_eq!(role, "approver");
    // The second time she is found, not created again.
    opens_queue(&server, &sign_in(&server, &provider, "carol"));
    // She is an active user (mailed, counted), yet no password signs her in.
    let users: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users[0]["email"], "carol@example.com");
    assert_eq!(users[0]["invitePending"], false, "{users}");
    for password in ["", "!oidc", PASSWORD] {
        let body = format!(
            "email=carol%40example.com&password={}&next=%2F",
            crate::web_http::url_encode(password)
        );
        let r = crate::web_http::form_post(&server, "/signin", None, &body, &[]);
        assert_ne!(
            r.status, 303,
            "no password signs in an identity-provider user"
        );
    }
}

#[test]
fn an_invited_user_who_signs_in_with_the_provider_is_no_longer_pending() {
    let provider = Provider::start();
    provider.user(
        "dan",
        serde_json::json!({"email": "dan@example.com", "email_verified": true}),
    );
    let hitl = Hitl::new();
    let server = start_hitl(&hitl, &provider, &[]);
    hitl.ok(&["user", "invite", "dan@example.com"]);
    let pending = |hitl: &Hitl| {
        let users: serde_json::Value =
            serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
        users[0]["invitePending"].clone()
    };
    assert_eq!(pending(&hitl), true);
    opens_queue(&server, &sign_in(&server, &provider, "dan"));
    assert_eq!(pending(&hitl), false);
}

#[test]
fn a_tampered_or_foreign_state_is_refused() {
    let provider = Provider::start();
    provider.user(
        "alice",
        serde_json::json!({"email": "alice@example.com", "email_verified": true}),
    );
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let server = start_hitl(&hitl, &provider, &[]);

    let (callback, state_cookie) = through_provider(&server, &provider, "alice");
    let params = query(&callback);
    let mut tampered = url::Url::parse(&callback).expect("URL");
    tampered
        .query_pairs_mut()
        .clear()
        .append_pair("code", &params["code"])
        .append_pair("state", &format!("{}x", params["state"]));
    let refused = call("GET", tampered.as_str(), Some(&state_cookie), &[]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    // The same state in a forged cookie: still no pending sign-in under it.
    let forged = format!("hitl_oidc_state={}x", params["state"]);
    let refused = call("GET", tampered.as_str(), Some(&forged), &[]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    // Without the cookie (another browser), the genuine answer is refused too.
    let refused = call("GET", &callback, None, &[]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(!refused.cookies.iter().any(|(k, _)| k == "hitl_session"));
}

#[test]
fn password_sign_in_can_be_turned_off() {
    let provider = Provider::start();
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "admin");
    let server = start_hitl(&hitl, &provider, &["--password-sign-in", "false"]);

    let page = call("GET", &format!("{}/signin", server.url), None, &[]);
    assert!(page.body.contains("Sign in with your identity provider"));
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);

    let agent = agent();
    let mut response = agent
        .post(&format!("{}/signin", server.url))
        .header("Origin", &server.url)
        .send_form([
            ("email", "alice@example.com"),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .expect("POST /signin");
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
    let body = response.body_mut().read_to_string().unwrap_or_default();
    assert!(body.contains("Password sign-in is turned off"), "{body}");

    // Without a provider nobody could sign in: the server refuses to start.
    let out = hitl.cmd(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--password-sign-in",
        "false",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --oidc-issuer"));
}

/// `hitl group list --json` as (name, members) pairs.
fn groups(hitl: &Hitl) -> Vec<(String, Vec<String>)> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&hitl.ok(&["group", "list", "--json"])).expect("group list JSON");
    list.iter()
        .map(|g| {
            let members = g["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m.as_str().expect("email").to_string())
                .collect();
            (g["name"].as_str().expect("name").to_string(), members)
        })
        .collect()
}

fn group(name: &str, members: &[&str]) -> (String, Vec<String>) {
    (
        name.to_string(),
        members.iter().map(|m| m.to_string()).collect(),
    )
}

#[test]
fn the_groups_claim_decides_membership_of_existing_groups_at_each_sign_in() {
    let provider = Provider::start();
    let dana = |groups: serde_json::Value| {
        let mut claims = serde_json::json!({"email": "dana@example.com", "email_verified": true});
        if !groups.is_null() {
            claims["groups"] = groups;
        }
        provider.user("dana", claims);
    };
    dana(serde_json::json!(["ops", "finance"]));
    let hitl = Hitl::new();
    hitl.add_user("dana@example.com", "approver");
    hitl.add_user("erin@example.com", "approver");
    for name in ["dev", "oncall", "ops"] {
        hitl.ok(&["group", "create", name]);
    }
    hitl.ok(&[
        "group",
        "add",
        "oncall",
        "dana@example.com",
        "erin@example.com",
    ]);
    hitl.ok(&["group", "add", "dev", "erin@example.com"]);
    let server = start_hitl(&hitl, &provider, &["--oidc-groups-claim", "groups"]);

    // Named and existing: joined. Existing and not named: left. Unknown: no group made.
    opens_queue(&server, &sign_in(&server, &provider, "dana"));
    assert_eq!(
        groups(&hitl),
        [
            group("dev", &["erin@example.com"]),
            group("oncall", &["erin@example.com"]),
            group("ops", &["dana@example.com"]),
        ]
    );
    let audit: Vec<(String, String, String)> = {
        let db = hitl.db();
        let mut stmt = db
            .prepare("SELECT actor, event, details FROM audit WHERE event LIKE 'group.member%' AND actor LIKE 'user:%' ORDER BY id")
            .expect("audit query");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("audit rows")
            .collect::<rusqlite::Result<_>>()
            .expect("audit rows");
        rows
    };
    assert_eq!(audit.len(), 2, "{audit:?}");
    // By the user herself, one entry per group changed, in the groups' order.
    assert!(audit
        .iter()
        .all(|(actor, _, _)| actor == "user:dana@example.com"));
    assert_eq!(audit[0].1, "group.member_removed");
    let details: serde_json::Value = serde_json::from_str(&audit[0].2).expect("JSON");
    assert_eq!(
        details,
        serde_json::json!({"name": "oncall", "removed": "dana@example.com", "via": "oidc"})
    );
    assert_eq!(audit[1].1, "group.members_added");
    let details: serde_json::Value = serde_json::from_str(&audit[1].2).expect("JSON");
    assert_eq!(
        details,
        serde_json::json!({"name": "ops", "added": ["dana@example.com"], "via": "oidc"})
    );

    // One string is one group: the next sign-in moves her from ops to oncall.
    dana(serde_json::json!("oncall"));
    sign_in(&server, &provider, "dana");
    assert_eq!(
        groups(&hitl),
        [
            group("dev", &["erin@example.com"]),
            group("oncall", &["dana@example.com", "erin@example.com"]),
            group("ops", &[]),
        ]
    );

    // No claim, or one that is not strings: she still signs in, memberships stay.
    for unchanged in [serde_json::Value::Null, serde_json::json!(42)] {
        dana(unchanged);
        opens_queue(&server, &sign_in(&server, &provider, "dana"));
        assert_eq!(
            groups(&hitl),
            [
                group("dev", &["erin@example.com"]),
                group("oncall", &["dana@example.com", "erin@example.com"]),
                group("ops", &[]),
            ]
        );
    }

    eventually(Duration::from_secs(5), "the warning in the log", || {
        let log = server.log();
        log.contains("\"groups\" claim for dana@example.com is a number")
            .then_some(())
    });

    // An empty list: she leaves every group, erin stays where she was.
    dana(serde_json::json!([]));
    sign_in(&server, &provider, "dana");
    assert_eq!(
        groups(&hitl),
        [
            group("dev", &["erin@example.com"]),
            group("oncall", &["erin@example.com"]),
            group("ops", &[]),
        ]
    );
}

#[test]
fn without_the_flag_a_groups_claim_changes_nothing() {
    let provider = Provider::start();
    provider.user(
        "dana",
        serde_json::json!({"email": "dana@example.com", "email_verified": true, "groups": ["ops"]}),
    );
    let hitl = Hitl::new();
    hitl.add_user("dana@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "create", "oncall"]);
    hitl.ok(&["group", "add", "oncall", "dana@example.com"]);
    let server = start_hitl(&hitl, &provider, &[]);
    opens_queue(&server, &sign_in(&server, &provider, "dana"));
    assert_eq!(
        groups(&hitl),
        [group("oncall", &["dana@example.com"]), group("ops", &[])]
    );

    // The flag without a provider is a mistake: the server refuses to start.
    let out = hitl.cmd(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--oidc-groups-claim",
        "groups",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--oidc-groups-claim needs --oidc-issuer")
    );
}
