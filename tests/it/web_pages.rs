//! The web page in a real browser: setup, sign-in, the live queue, reviewing
//! hostile input, deciding, CSRF, phone layout, keys, the audit log.

use std::time::Duration;

use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;

/// A server whose first admin was created through the setup link in a browser.
pub fn setup_admin(hitl: &Hitl, browser: &Browser) -> Server {
    let server = hitl.serve(&[]);
    let link = eventually(Duration::from_secs(10), "the setup link in the log", || {
        server.log().lines().find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/setup/"))
                .map(str::to_string)
        })
    });
    assert!(link.starts_with(&server.url), "{link}");
    browser.goto(&link);
    browser.fill("input[name=email]", "admin@example.com");
    browser.fill("input[name=password]", PASSWORD);
    browser.fill("input[name=password_again]", PASSWORD);
    browser.click("form button[type=submit]");
    browser.wait_until(
        "the queue",
        "location.pathname === '/'",
        Duration::from_secs(10),
    );
    server
}

#[test]
fn setup_link_creates_the_first_admin_once() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    assert!(browser.text("h1").contains("Waiting for a decision"));
    assert!(browser
        .text(".user-menu summary")
        .contains("admin@example.com"));
    let users: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users[0]["role"], "admin");

    // The link works once.
    let link = server
        .log()
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/setup/"))
                .map(str::to_string)
        })
        .unwrap();
    let other = Browser::new();
    other.goto(&link);
    assert!(
        other.text("h1").contains("does not work"),
        "{}",
        other.text("body")
    );
}

#[test]
fn sign_in_refuses_a_wrong_password_and_signs_out() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let server = hitl.serve(&[]);
    let browser = Browser::new();
    browser.goto(&format!("{}/", server.url));
    assert!(
        browser.url().contains("/signin"),
        "the queue needs a session"
    );
    browser.fill("input[name=email]", "alice@example.com");
    browser.fill("input[name=password]", "not the password");
    browser.click("form button[type=submit]");
    assert_eq!(browser.text(".notice.error"), "Wrong email or password.");
    assert!(browser.url().contains("/signin"));

    browser.sign_in(&server.url, "alice@example.com", PASSWORD);
    assert!(browser
        .text(".user-menu summary")
        .contains("alice@example.com"));
    // Approvers do not see the admin pages.
    assert!(!browser.exists("nav.primary a[href='/keys']"));
    browser.goto(&format!("{}/keys", server.url));
    assert!(browser.text("h1").contains("Not allowed"));

    browser.goto(&format!("{}/", server.url));
    browser.click(".user-menu summary");
    browser.click(".menu-panel form[action='/signout'] button");
    browser.wait_until(
        "the sign-in page",
        "location.pathname === '/signin'",
        Duration::from_secs(5),
    );
    browser.goto(&format!("{}/", server.url));
    assert!(browser.url().contains("/signin"), "signed out");
    let events: Vec<String> = hitl
        .db()
        .prepare("SELECT event FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(events.contains(&"signin.failed".to_string()), "{events:?}");
    assert!(events.contains(&"session.created".to_string()));
    assert!(events.contains(&"session.ended".to_string()));
}

#[test]
fn the_queue_updates_live() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("bob@example.com");
    assert!(browser.exists(".empty"), "an empty queue says so");
    browser.wait_until(
        "the live connection",
        "document.querySelector('[data-live]').classList.contains('on')",
        Duration::from_secs(10),
    );

    let first = server.create(&agent, &json!({ "action": "Deploy to production (v2.4.1)", "tags": ["deploy"], "timeoutSeconds": 3600 }));
    browser.wait_until(
        "the new pause in the queue",
        &format!("document.querySelector('li.row[data-watch-id=\"{first}\"]')"),
        Duration::from_secs(5),
    );
    assert!(browser
        .text(&format!("li.row[data-watch-id='{first}'] .row-action"))
        .contains("Deploy to production (v2.4.1)"));
    assert!(browser
        .text(&format!("li.row[data-watch-id='{first}']"))
        .contains("deploy-bot"));
    browser.wait_until(
        "the title count",
        "document.title.startsWith('(1) ')",
        Duration::from_secs(5),
    );

    let second = server.create(&agent, &json!({ "action": "Send renewal email" }));
    browser.wait_until(
        "the second pause",
        &format!("document.querySelector('li.row[data-watch-id=\"{second}\"]')"),
        Duration::from_secs(5),
    );
    let order: Vec<String> = browser
        .js(
            "return Array.from(document.querySelectorAll('li.row')).map(r => r.dataset.watchId)",
            vec![],
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        vec![first.clone(), second.clone()],
        "oldest waiting first"
    );

    // Decided elsewhere: it leaves the queue without a reload.
    browser.js("window.__notReloaded = true", vec![]);
    assert_eq!(
        server.decide(&reviewer, &first, "approved", "ok").status,
        200
    );
    browser.wait_until(
        "the decided pause to leave",
        &format!("!document.querySelector('li.row[data-watch-id=\"{first}\"]')"),
        Duration::from_secs(8),
    );
    assert_eq!(
        browser.js("return window.__notReloaded === true", vec![]),
        json!(true)
    );
    browser.wait_until(
        "the title count",
        "document.title.startsWith('(1) ')",
        Duration::from_secs(5),
    );
}

/// A realistic queue and review page. Their screenshots go to $HITL_SCREENSHOTS (the
/// README's come from here); on a phone-sized screen nothing scrolls sideways.
#[test]
fn pages_fit_desktop_and_phone() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let deploy = hitl.agent_key("deploy-bot");
    let outreach = hitl.agent_key("outreach-agent");
    let id = server.create(&deploy, &json!({
        "action": "Deploy to production (v2.4.1)",
        "risk": "high",
        "summary": "Rolls billing-api v2.4.1 out to all 6 production replicas and doubles max_connections.",
        "context": {
            "environment": "prod",
            "commit": "a3f9b2e",
            "service": "billing-api",
            "replicas": 6,
            "canary": false,
            "approvedBy": null,
            "diff": "--- a/config/prod.yaml\n+++ b/config/prod.yaml\n@@ -12,3 +12,3 @@\n-  max_connections: 200\n+  max_connections: 400\n   timeout_ms: 3000",
            "changes": (1..=14).map(|i| json!({ "file": format!("src/billing/module_{i}.rs"), "lines": i * 7 })).collect::<Vec<_>>(),
            "a_very_long_value_without_spaces": "x".repeat(300),
        },
        "tags": ["deploy", "prod"],
        "timeoutSeconds": 3600
    }));
    server.create(&outreach, &json!({ "action": "Send renewal email to 1,204 customers", "tags": ["email"], "risk": "medium", "timeoutSeconds": 480 }));
    server.create(&deploy, &json!({ "action": "Run database migration 0042_add_invoices_index", "tags": ["db", "prod"], "risk": "critical" }));
    let dir = std::env::var("HITL_SCREENSHOTS")
        .ok()
        .map(std::path::PathBuf::from);
    let shot = |b: &Browser, name: &str| {
        if let Some(dir) = &dir {
            b.screenshot(&dir.join(name));
        }
    };
    let no_sideways_scroll = |b: &Browser, page: &str| {
        let widths = b.js(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
            vec![],
        );
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{page} scrolls sideways at 390 px: {widths}"
        );
    };

    browser.goto(&format!("{}/", server.url));
    browser.wait_until(
        "three rows",
        "document.querySelectorAll('li.row').length === 3",
        Duration::from_secs(5),
    );
    shot(&browser, "queue.png");
    browser.set_viewport(1280, 1250);
    browser.goto(&format!("{}/review/{id}", server.url));
    browser.js("document.querySelectorAll('details.json-node').forEach((d, i) => { if (d.querySelector(':scope > summary > .json-key')?.textContent === 'changes') d.open = false; })", vec![]);
    shot(&browser, "review.png");

    browser.set_viewport(390, 844);
    for page in [
        "/",
        &format!("/review/{id}"),
        "/history",
        "/keys",
        "/users",
        "/groups",
        "/audit",
        "/about",
        "/account",
    ] {
        browser.goto(&format!("{}{page}", server.url));
        no_sideways_scroll(&browser, page);
    }
    browser.goto(&format!("{}/review/{id}", server.url));
    // The decision panel stays on screen at the bottom of a phone.
    let panel = browser.js("const r = document.querySelector('section.decision').getBoundingClientRect(); return [r.top, r.bottom, window.innerHeight]", vec![]);
    assert!(
        panel[1].as_f64() <= panel[2].as_f64() && panel[0].as_f64() < panel[2].as_f64(),
        "decision panel off screen: {panel}"
    );
    shot(&browser, "review-phone.png");
    browser.goto(&format!("{}/", server.url));
    shot(&browser, "queue-phone.png");
}

/// Payloads that set `window.__xss` if anything of them runs.
const XSS_ACTION: &str = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">\"><svg onload=\"window.__xss=3\"></textarea><iframe srcdoc=\"<script>parent.__xss=6</script>\"></iframe>";

#[test]
fn hostile_text_is_shown_literally_and_never_runs() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("<img src=x onerror=window.__xss=10>");
    let context = json!({
        "<b onmouseover=window.__xss=7>key</b>": "</pre></div><script>window.__xss=8</script>",
        "link": "javascript:window.__xss=4",
        "template": "{{7*7}} ${7*7}",
        "multi": "line one\n<style>body{display:none}</style>\n</pre><script>window.__xss=11</script>",
        "nested": { "deeper": ["<img src=x onerror=window.__xss=12>", null, true, 3.5] }
    });
    let id = server.create(
        &agent,
        &json!({
            "action": XSS_ACTION,
            "context": context,
            "tags": ["<script>window.__xss=9</script>"]
        }),
    );
    let spoof = server.create(
        &agent,
        &json!({ "action": "approve invoice \u{202E}fdp.exe\u{202C} now\u{200B}" }),
    );

    for page in [
        "/".to_string(),
        format!("/review/{id}"),
        "/history".to_string(),
        format!("/review/{spoof}"),
        "/audit".to_string(),
        "/keys".to_string(),
    ] {
        browser.goto(&format!("{}{page}", server.url));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            browser.js("return typeof window.__xss", vec![]),
            json!("undefined"),
            "script ran on {page}"
        );
        assert_eq!(browser.js("return document.querySelectorAll('img[src=x], svg[onload], iframe, b[onmouseover], style:not([href])').length", vec![]), json!(0), "markup injected on {page}");
        assert_eq!(browser.js("return Array.from(document.querySelectorAll('a')).filter(a => a.protocol === 'javascript:').length", vec![]), json!(0));
        assert_eq!(
            browser.js("return getComputedStyle(document.body).display", vec![]),
            json!("block"),
            "injected style on {page}"
        );
    }

    // The review page shows the text exactly as sent.
    browser.goto(&format!("{}/review/{id}", server.url));
    assert_eq!(
        browser.js(
            "return document.querySelector('h1.action').textContent",
            vec![]
        ),
        json!(XSS_ACTION)
    );
    let tree = browser.text(".json-tree");
    assert!(
        tree.contains("<b onmouseover=window.__xss=7>key</b>"),
        "{tree}"
    );
    assert!(tree.contains("</pre></div><script>window.__xss=8</script>"));
    assert!(tree.contains("javascript:window.__xss=4"));
    assert!(browser
        .text(".tags")
        .contains("<script>window.__xss=9</script>"));
    assert!(browser
        .text(".meta")
        .contains("<img src=x onerror=window.__xss=10>"));
    // The raw view is the same JSON, as text.
    browser.click("[data-toggle-raw]");
    let raw: serde_json::Value = serde_json::from_str(&browser.text("[data-raw] pre")).unwrap();
    assert_eq!(raw, context);

    // Direction and invisible characters are shown, not obeyed.
    browser.goto(&format!("{}/review/{spoof}", server.url));
    let shown = browser.text("h1.action");
    assert!(
        shown.contains("⟨RLO⟩") && shown.contains("⟨PDF⟩") && shown.contains("⟨ZWSP⟩"),
        "{shown}"
    );
    assert_eq!(
        browser.js(
            "return document.querySelector('h1.action').textContent.includes('\\u202E')",
            vec![]
        ),
        json!(false)
    );
}

#[test]
fn approve_and_reject_in_the_page_reach_the_api() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("other@example.com");
    let a = server.create(&agent, &json!({ "action": "Ship it?" }));
    let b = server.create(&agent, &json!({ "action": "Drop the table?" }));
    let c = server.create(&agent, &json!({ "action": "Decided elsewhere" }));

    browser.goto(&format!("{}/review/{a}", server.url));
    browser.fill("textarea[name=comment]", "looks good, ship it");
    browser.click("button.approve");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-approved')",
        Duration::from_secs(5),
    );
    let banner = browser.text(".banner-approved");
    assert!(
        banner.contains("Approved by admin@example.com") && banner.contains("looks good, ship it"),
        "{banner}"
    );
    assert!(
        !browser.exists("form[data-decide]"),
        "a decided pause cannot be decided again"
    );
    let status = server.status(&agent, &a);
    assert_eq!(
        (status["status"].as_str(), status["comment"].as_str()),
        (Some("approved"), Some("looks good, ship it"))
    );
    assert_eq!(status["resolvedBy"], "admin@example.com");

    browser.goto(&format!("{}/review/{b}", server.url));
    browser.fill("textarea[name=comment]", "not on a Friday");
    browser.click("button.reject");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-rejected')",
        Duration::from_secs(5),
    );
    let status = server.status(&agent, &b);
    assert_eq!(
        (status["status"].as_str(), status["comment"].as_str()),
        (Some("rejected"), Some("not on a Friday"))
    );
    assert!(browser
        .text("ol.events")
        .contains("rejected by admin@example.com"));

    // A page left open while someone else decides: the late click changes nothing.
    browser.goto(&format!("{}/review/{c}", server.url));
    browser.wait_until("the live connection", "true", Duration::from_secs(1));
    assert_eq!(
        server.decide(&reviewer, &c, "rejected", "first").status,
        200
    );
    browser.wait_until(
        "the notice that it was decided elsewhere",
        "document.querySelector('.notice.warn')",
        Duration::from_secs(8),
    );
    assert!(browser.text(".notice.warn").contains("rejected elsewhere"));
    // Even a forced submit of the stale form does not decide again.
    browser.js("const f = document.querySelector('form[data-decide]'); f.querySelectorAll('button,textarea').forEach(e => e.disabled = false); delete f.dataset.sent; f.querySelector('button.approve').click();", vec![]);
    browser.wait_until(
        "the refusal",
        "document.querySelector('.banner-rejected')",
        Duration::from_secs(5),
    );
    assert!(browser
        .text(".notice.warn")
        .contains("Someone else decided first"));
    let status = server.status(&agent, &c);
    assert_eq!(
        (status["status"].as_str(), status["comment"].as_str()),
        (Some("rejected"), Some("first"))
    );
}
