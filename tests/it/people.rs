//! People: invitations and password-reset links (from the command line and the Users
//! page), mailed when the server has mail; `hitl user set`; the first-run setup link
//! when a user is added another way; the "mail is off" notes.

use std::time::Duration;

use serde_json::Value;

use crate::harness::*;
use crate::peers::SmtpServer;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

/// The path of a `/password/...` link printed by the CLI or shown on a page.
fn path_of(link: &str, server: &Server) -> String {
    assert!(
        link.starts_with(&server.url),
        "{link} is not on {}",
        server.url
    );
    link.trim_start_matches(&server.url).to_string()
}

/// Sets a password through the link's page, as a browser would; the response.
fn set_password(server: &Server, path: &str, password: &str, again: &str) -> Resp {
    form_post(
        server,
        path,
        None,
        &format!(
            "password={}&password_again={}",
            url_encode(password),
            url_encode(again)
        ),
        &[("Origin", &server.url)],
    )
}

fn users(hitl: &Hitl) -> Vec<Value> {
    let list: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    list.as_array().unwrap().clone()
}

#[test]
fn an_invited_person_sets_a_password_and_is_signed_in() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    let server = hitl.serve(&[]);

    let out = hitl.cmd(&["user", "invite", "Bob@Example.com", "--role", "admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let link = stdout.lines().next().unwrap().trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Mail is off"), "{stderr}");
    let path = path_of(&link, &server);
    assert!(path.starts_with("/password/"), "{path}");

    // Invited, not yet able to sign in; listed as such.
    let bob = users(&hitl)
        .into_iter()
        .find(|u| u["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(
        (&bob["role"], &bob["invitePending"]),
        (&"admin".into(), &true.into())
    );
    assert!(sign_in(&server, "bob@example.com", "").is_err());

    // The page names the person; bad passwords change nothing.
    let shown = request_raw("GET", &link, "", &[]);
    assert_eq!(shown.status, 200);
    assert!(shown.text.contains("bob@example.com"));
    let differ = set_password(&server, &path, PASSWORD, "something else entirely");
    assert_eq!(differ.status, 400);
    assert!(differ.text.contains("The two passwords differ."));
    let short = set_password(&server, &path, "short", "short");
    assert_eq!(short.status, 400);
    assert!(short.text.contains("too short"));

    // A cross-site post is refused.
    let cross = form_post(
        &server,
        &path,
        None,
        &format!("password={0}&password_again={0}", url_encode(PASSWORD)),
        &[("Origin", "https://evil.example")],
    );
    assert_ne!(cross.status, 303);

    // Set: signed in at once, with a session that works.
    let done = set_password(&server, &path, PASSWORD, PASSWORD);
    assert_eq!(done.status, 303, "{}", done.text);
    let cookie = done.headers["set-cookie"]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let users_page = page(&server, "/users", &cookie);
    assert_eq!(users_page.status, 200, "an invited admin manages users");
    assert!(sign_in(&server, "bob@example.com", PASSWORD).is_ok());
    let bob = users(&hitl)
        .into_iter()
        .find(|u| u["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(bob["invitePending"], false);

    // The link works once.
    assert_eq!(request_raw("GET", &link, "", &[]).status, 404);
    assert_eq!(set_password(&server, &path, PASSWORD, PASSWORD).status, 404);

    // Inviting an existing user is refused and points at reset-password.
    let again = hitl.cmd(&["user", "invite", "bob@example.com"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("reset-password"));
    // A bad address is refused and adds nobody.
    let bad = hitl.cmd(&["user", "invite", "not-an-address"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid email address"));
    assert_eq!(users(&hitl).len(), 2);
}

#[test]
fn invitations_need_a_server_address_and_are_mailed_when_mail_is_on() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    // No hitl serve yet: the link's address is unknown, and nothing is added.
    let out = hitl.cmd(&["user", "invite", "early@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hitl serve has not run"));
    assert_eq!(users(&hitl).len(), 1);

    let smtp = SmtpServer::start(None);
    let server = hitl.serve(&[
        "--smtp-url",
        &format!("smtp://127.0.0.1:{}", smtp.port),
        "--smtp-from",
        "hitl <hitl@example.com>",
    ]);
    let j: Value =
        serde_json::from_str(&hitl.ok(&["user", "invite", "carol@example.com", "--json"])).unwrap();
    assert_eq!(j["email"], "carol@example.com");
    assert_eq!(j["role"], "approver");
    assert_eq!(j["mailed"], true);
    let link = j["link"].as_str().unwrap();
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails[0]["to"], serde_json::json!(["carol@example.com"]));
    assert!(mails[0]["subject"].as_str().unwrap().contains("invited"));
    assert!(
        mails[0]["text"].as_str().unwrap().contains(link),
        "the mail carries the printed link: {}",
        mails[0]["text"]
    );
    // The outbox keeps no usable link.
    let payloads: String = hitl
        .db()
        .query_row("SELECT group_concat(payload) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let token = link.rsplit('/').next().unwrap();
    assert!(!payloads.contains(token));

    // The invitation from the Users page is mailed too, and shown once.
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let users_page = page(&server, "/users", &cookie);
    assert!(!users_page.text.contains("Email notifications are off"));
    let csrf = csrf_of(&users_page.text);
    let r = form_post(
        &server,
        "/users/invite",
        Some(&cookie),
        &format!("csrf={csrf}&email=dave%40example.com&role=approver"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Invitation for dave@example.com"));
    assert!(r.text.contains("It was also mailed to them."));
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    assert_eq!(mails[1]["to"], serde_json::json!(["dave@example.com"]));
    let mailed_path = mails[1]["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains("/password/"))
        .unwrap()
        .trim_start_matches(&server.url)
        .to_string();
    assert!(
        r.text.contains(&mailed_path),
        "the page shows the mailed link"
    );
    let done = set_password(&server, &mailed_path, PASSWORD, PASSWORD);
    assert_eq!(done.status, 303, "{}", done.text);
    assert!(sign_in(&server, "dave@example.com", PASSWORD).is_ok());
}

#[test]
fn a_reset_link_ends_the_old_password_and_every_session() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    hitl.add_user("erin@example.com", "approver");
    let server = hitl.serve(&[]);
    let old_session = sign_in(&server, "erin@example.com", PASSWORD).unwrap();
    assert_eq!(page(&server, "/account", &old_session).status, 200);

    let link = hitl.ok(&["user", "reset-password", "erin@example.com"]);
    let path = path_of(link.trim(), &server);
    // Until the new password is set, the old one still works.
    assert!(sign_in(&server, "erin@example.com", PASSWORD).is_ok());
    let shown = request_raw("GET", link.trim(), "", &[]);
    assert!(shown.text.contains("Set a new password"));

    let new_password = "a brand new passphrase";
    let done = set_password(&server, &path, new_password, new_password);
    assert_eq!(done.status, 303, "{}", done.text);
    assert!(
        sign_in(&server, "erin@example.com", PASSWORD).is_err(),
        "the old password still works"
    );
    assert!(sign_in(&server, "erin@example.com", new_password).is_ok());
    let r = page(&server, "/account", &old_session);
    assert_ne!(r.status, 200, "the old session still works");

    // From the Users page: a new link for someone else, shown once; unknown users refused.
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let users_page = page(&server, "/users", &cookie);
    assert!(
        users_page.text.contains("Email notifications are off"),
        "the page says mail is off"
    );
    let account = page(&server, "/account", &cookie);
    assert!(account
        .text
        .contains("This server has no mail (SMTP) settings"));
    let csrf = csrf_of(&users_page.text);
    let erin = users(&hitl)
        .into_iter()
        .find(|u| u["email"] == "erin@example.com")
        .unwrap();
    let r = form_post(
        &server,
        &format!("/users/{}/reset", erin["id"]),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Password reset link for erin@example.com"));
    assert!(r.text.contains("/password/"));
    // The newer link replaced the CLI's... which was used anyway; an unknown user is 404.
    let unknown = hitl.cmd(&["user", "reset-password", "nobody@example.com"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user with email"));
}

#[test]
fn user_set_changes_a_role_and_keeps_the_last_admin() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    hitl.add_user("fay@example.com", "approver");
    let out = hitl.ok(&["user", "set", "fay@example.com", "--role", "admin"]);
    assert!(out.contains("fay@example.com is now admin"), "{out}");
    let j: Value = serde_json::from_str(&hitl.ok(&[
        "user",
        "set",
        "FAY@example.com",
        "--role",
        "approver",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        (&j["email"], &j["role"]),
        (&"fay@example.com".into(), &"approver".into())
    );
    for field in [
        "id",
        "email",
        "role",
        "notifyEmail",
        "createdAt",
        "invitePending",
    ] {
        assert!(!j[field].is_null(), "{field} missing: {j}");
    }

    let last = hitl.cmd(&["user", "set", "root@example.com", "--role", "approver"]);
    assert_eq!(last.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&last.stderr).contains("last admin"));
    let nothing = hitl.cmd(&["user", "set", "fay@example.com"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to change"));
    let bad = hitl.cmd(&["user", "set", "fay@example.com", "--role", "owner"]);
    assert_eq!(bad.status.code(), Some(2));
    let roles: Vec<(String, String)> = users(&hitl)
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap().into(),
                u["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("fay@example.com".into(), "approver".into()),
            ("root@example.com".into(), "admin".into())
        ]
    );
}

#[test]
fn adding_a_user_says_that_it_closed_the_setup_link() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let link = eventually(Duration::from_secs(5), "the setup link", || {
        server.log().lines().find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/setup/"))
                .map(str::to_string)
        })
    });
    assert_eq!(request_raw("GET", &link, "", &[]).status, 200);
    let out = hitl.cmd_stdin(
        &[
            "user",
            "add",
            "gus@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("setup link") && stderr.contains("closed"),
        "{stderr}"
    );
    let gone = request_raw("GET", &link, "", &[]);
    assert_eq!(gone.status, 404);
    assert!(
        gone.text.contains("closed because a user was added"),
        "{}",
        gone.text
    );
    // A second user closes nothing more, and says nothing about it.
    let out = hitl.cmd_stdin(
        &["user", "add", "hal@example.com", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("setup link"));
}

/// In Chromium, at a desktop's and a phone's width: the invitation link's page fits the
/// screen, refuses a mismatched password in words, then sets the password and signs the
/// person in; the link does not work twice.
#[test]
fn in_the_browser_an_invitation_link_sets_a_password_and_signs_in() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    // Running, so the invitation links carry its address; kept alive until the end.
    let _server = hitl.serve(&[]);
    let browser = crate::browser::Browser::new();
    for (i, (width, height)) in [(1280, 800), (390, 844)].into_iter().enumerate() {
        let email = format!("new{i}@example.com");
        let link = hitl.ok(&["user", "invite", &email]);
        let link = link.lines().next().unwrap().trim().to_string();
        browser.set_viewport(width, height);
        browser.goto(&link);
        assert!(browser.text("h1").contains("Welcome to hitl"));
        assert!(browser.text("main").contains(&email));
        let fits = browser.js(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        );
        assert_eq!(fits, Value::Bool(true), "{width} px: sideways scroll");

        browser.fill("input[name=password]", PASSWORD);
        browser.fill("input[name=password_again]", "something else entirely");
        browser.click("form.stack button[type=submit]");
        browser.wait_until(
            "the mismatch message",
            "document.querySelector('.notice.error')",
            Duration::from_secs(5),
        );
        browser.fill("input[name=password]", PASSWORD);
        browser.fill("input[name=password_again]", PASSWORD);
        browser.click("form.stack button[type=submit]");
        browser.wait_until(
            "the signed-in queue",
            "location.pathname === '/' && document.body.textContent.includes('Waiting for a decision')",
            Duration::from_secs(5),
        );
        assert!(
            browser.text("header").contains(&email),
            "signed in as {email}"
        );
        let user = users(&hitl)
            .into_iter()
            .find(|u| u["email"] == email.as_str())
            .unwrap();
        assert_eq!(user["invitePending"], false);

        // The link worked once.
        browser.goto(&link);
        assert!(
            !browser.exists("input[name=password_again]"),
            "the link works once"
        );
    }
}

/// A link replaced before its mail went out is not mailed: only the newest arrives.
#[test]
fn a_replaced_invitation_is_not_mailed() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    let smtp = SmtpServer::start(None);
    let flags = [
        "--smtp-url".to_string(),
        format!("smtp://127.0.0.1:{}", smtp.port),
        "--smtp-from".to_string(),
        "hitl <hitl@example.com>".to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // Run once, so the address and the mail settings are stored; then stop.
    let mut server = hitl.serve(&flags);
    server.signal_and_wait("TERM");
    // Two invitations while the server is down: the second replaces the first.
    let first: Value =
        serde_json::from_str(&hitl.ok(&["user", "invite", "dan@example.com", "--json"])).unwrap();
    let second: Value =
        serde_json::from_str(&hitl.ok(&["user", "invite", "dan@example.com", "--json"])).unwrap();
    assert_eq!(
        (&first["mailed"], &second["mailed"]),
        (&true.into(), &true.into())
    );
    let _server = hitl.serve(&flags);
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    // (The server came back on another port, so compare the tokens.)
    let token = |j: &Value| {
        j["link"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let text = mails[0]["text"].as_str().unwrap();
    assert!(text.contains(&token(&second)), "{text}");
    assert!(!text.contains(&token(&first)), "{text}");
    // The first row is skipped, not sent late.
    let skipped = eventually(Duration::from_secs(15), "the old row to be skipped", || {
        let state: String = hitl
            .db()
            .query_row(
                "SELECT group_concat(state) FROM outbox WHERE target = 'dan@example.com'",
                [],
                |r| r.get(0),
            )
            .ok()?;
        (!state.contains("pending")).then_some(state)
    });
    assert!(skipped.contains("skipped"), "{skipped}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.messages().len(), 1, "the replaced link was mailed too");
}
