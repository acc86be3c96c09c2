//! The web page in headless Chromium, continued: cross-site posts, keys shown once,
//! the audit log, the keyboard alone, JavaScript off.

use std::time::Duration;

use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;
use crate::peers::AttackerSite;
use crate::web_pages::setup_admin;

#[test]
fn a_cross_site_post_decides_nothing() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let id = server.create(&agent, &json!({ "action": "Target of a forged request" }));
    // The attacker's page: another origin on 127.0.0.1, so the SameSite cookie is sent.
    let page = format!(
        r#"<!doctype html><html><body>
<form id="f" method="post" action="{url}/review/{id}/decide">
  <input name="decision" value="approved"><input name="csrf" value="guessed"><input name="comment" value="forged">
</form>
<form id="g" method="post" action="{url}/review/{id}/decide" enctype="text/plain">
  <input name='{{"decision":"approved","x":"' value='"}}'>
</form>
<script>
  fetch("{url}/api/pause/{id}/approve", {{ method: "POST", mode: "no-cors", credentials: "include", body: '{{"decision":"approved"}}' }});
  fetch("{url}/api/pause/{id}/approve", {{ method: "POST", mode: "no-cors", credentials: "include", headers: {{ "Content-Type": "text/plain" }}, body: '{{"decision":"approved","comment":"forged"}}' }});
  setTimeout(function () {{ document.getElementById("f").submit(); }}, 500);
</script></body></html>"#,
        url = server.url
    );
    let attacker = AttackerSite::serve(page);
    let port = attacker.port;
    browser.goto(&format!("http://127.0.0.1:{port}/attack.html"));
    browser.wait_until(
        "the forged form to land",
        "!location.pathname.endsWith('attack.html')",
        Duration::from_secs(10),
    );
    assert!(
        browser.text("body").contains("Request refused"),
        "{}",
        browser.text("body")
    );
    drop(attacker);
    assert_eq!(
        server.status(&agent, &id)["status"],
        "pending",
        "a cross-site request decided"
    );
    let decisions: i64 = hitl
        .db()
        .query_row(
            "SELECT count(*) FROM audit WHERE event IN ('pause.approved', 'pause.rejected')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(decisions, 0);
    // The same browser, on the real page, still can decide.
    browser.goto(&format!("{}/review/{id}", server.url));
    browser.click("button.approve");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-approved')",
        Duration::from_secs(5),
    );
}

#[test]
fn a_created_key_is_shown_once() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    browser.goto(&format!("{}/keys", server.url));
    browser.fill("details.create input[name=name]", "from-the-page");
    browser.fill("details.create input[name=monthly_limit]", "100");
    browser.click("details.create button[type=submit]");
    browser.wait_until(
        "the created key",
        "document.querySelector('section.created')",
        Duration::from_secs(5),
    );
    assert!(browser
        .text("section.created")
        .contains("This is the only time the key is shown"));
    let key = browser
        .js("return document.querySelector('#new-key').value", vec![])
        .as_str()
        .unwrap()
        .to_string();
    let secret = browser
        .js("return document.querySelector('#new-secret').value", vec![])
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("hitl_") && secret.starts_with("whsec_"));
    assert!(browser.exists("section.created button[data-copy]"));
    assert_eq!(server.get("/api/pause", &key).status, 200, "the key works");

    browser.goto(&format!("{}/keys", server.url));
    let html = browser
        .js("return document.documentElement.outerHTML", vec![])
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !html.contains(&key) && !html.contains(&secret),
        "the key is shown again"
    );
    assert!(html.contains(&key[..13]), "only its prefix remains");
    browser.goto(&format!("{}/audit", server.url));
    assert!(browser.text("table.audit").contains("key.created"));
    let page = browser
        .js("return document.documentElement.outerHTML", vec![])
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !page.contains(&key) && !page.contains(&secret),
        "the audit log holds a secret"
    );
    // Revoking from the page stops it at once.
    browser.goto(&format!("{}/keys", server.url));
    browser.js("window.confirm = () => true", vec![]);
    browser.click("form[action$='/revoke'] button");
    browser.wait_until(
        "the notice",
        "document.querySelector('.notice')",
        Duration::from_secs(5),
    );
    assert_eq!(server.get("/api/pause", &key).status, 401);
}

#[test]
fn the_audit_log_lists_the_decision_and_exports_csv() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("carol@example.com");
    let id = server.create(&agent, &json!({ "action": "=HYPERLINK(\"http://evil\")" }));
    server.decide(&reviewer, &id, "approved", "=1+1");
    browser.goto(&format!("{}/audit", server.url));
    let table = browser.text("table.audit");
    assert!(table.contains("pause.approved"), "{table}");
    // The watchId is cut short in the table; its link and title keep it whole.
    assert!(
        browser.exists(&format!("table.audit a[href='/review/{id}'][title='{id}']")),
        "{table}"
    );
    browser.goto(&format!("{}/audit?event=pause.approved", server.url));
    assert_eq!(browser.find_all("table.audit tbody tr").len(), 1);
    browser.goto(&format!("{}/audit?watch_id={id}", server.url));
    assert_eq!(
        browser.find_all("table.audit tbody tr").len(),
        2,
        "created and approved"
    );
    let csv = browser.js(
        "const r = await fetch('/audit.csv?watch_id=' + arguments[0]); return [r.status, r.headers.get('content-type'), await r.text()]",
        vec![json!(id)],
    );
    assert_eq!(csv[0], 200);
    assert!(csv[1].as_str().unwrap().starts_with("text/csv"));
    let text = csv[2].as_str().unwrap();
    assert!(
        text.starts_with("time,event,actor,watchId,details"),
        "{text}"
    );
    assert!(text.contains("pause.approved") && text.contains(&id));
    // No cell starts like a spreadsheet formula.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
        }
    }
}

#[test]
fn deciding_works_from_the_keyboard_alone() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let id = server.create(&agent, &json!({ "action": "Keyboard only" }));
    browser.goto(&format!("{}/review/{id}", server.url));
    browser.click("textarea[name=comment]");
    let active = |b: &Browser| {
        b.js(
            "return document.activeElement.className + '|' + document.activeElement.name",
            vec![],
        )
    };
    browser.js(
        "document.activeElement.value = 'typed without a mouse'",
        vec![],
    );
    // Tab from the comment reaches Approve, which shows a visible focus ring.
    let focused = browser.find("textarea[name=comment]");
    browser.send_keys(&focused, "\u{E004}");
    assert_eq!(active(&browser), json!("approve|decision"));
    let outline = browser.js("const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]", vec![]);
    assert_ne!(outline[0], json!("none"), "no visible focus: {outline}");
    let approve = browser.find("button.approve");
    browser.send_keys(&approve, "\u{E007}");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-approved')",
        Duration::from_secs(5),
    );
    assert_eq!(
        server.status(&agent, &id)["comment"],
        "typed without a mouse"
    );
}

#[test]
fn the_page_works_with_javascript_off() {
    let hitl = Hitl::new();
    hitl.add_user("nojs@example.com", "approver");
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "Decide me without scripts", "context": { "a": { "b": [1, 2] } } }),
    );
    let browser = Browser::without_javascript();
    browser.sign_in(&server.url, "nojs@example.com", PASSWORD);
    assert!(browser
        .text(&format!("li.row[data-watch-id='{id}']"))
        .contains("Decide me without scripts"));
    browser.click(&format!("li.row[data-watch-id='{id}'] a"));
    // The context still folds (plain <details>), and the raw JSON is there.
    assert!(browser.exists("details.json-node[open]"));
    assert!(browser.exists("details.raw"));
    // Proof that the page's script did not run: it would have shown the Raw toggle.
    assert_eq!(
        browser.js(
            "return document.querySelector('[data-toggle-raw]').hidden",
            vec![]
        ),
        json!(true)
    );
    browser.fill("textarea[name=comment]", "no scripts needed");
    browser.click("button.reject");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-rejected')",
        Duration::from_secs(5),
    );
    let status = server.status(&agent, &id);
    assert_eq!(
        (status["status"].as_str(), status["comment"].as_str()),
        (Some("rejected"), Some("no scripts needed"))
    );
}
