//! The review page and the queue for deciding fast, in a real browser at 1280×800 and
//! 390×844: the whole context in view and wrapped, risk and summary first, hidden
//! characters called out, the decision always in reach, state that never goes stale,
//! then-next, keyboard shortcuts and deciding several pauses at once.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::harness::*;
use crate::web_pages::setup_admin;

const SIZES: [(u32, u32); 2] = [(1280, 800), (390, 844)];

fn wait(browser: &Browser, what: &str, script: &str) {
    browser.wait_until(what, script, Duration::from_secs(8));
}

/// The page's width against the window's, and whether `selector`'s box lies wholly
/// inside the window.
fn in_view(browser: &Browser, selector: &str) -> Value {
    browser.js(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
         return [r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth, r.top, r.bottom, r.height, innerHeight]",
        vec![json!(selector)],
    )
}

fn no_sideways_scroll(browser: &Browser, what: &str) {
    let widths = browser.js(
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        vec![],
    );
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "{what} scrolls sideways: {widths}"
    );
}

#[test]
fn the_context_is_shown_whole_and_wrapped_and_the_decision_stays_in_reach() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("deploy-bot");
    let small = server.create(
        &agent,
        &json!({ "action": "Small nested", "context": { "a": { "b": { "c": { "d": { "e": "deepest value" } } } } } }),
    );
    // About 150 values and 20 KB: more than a screen, still shown whole.
    let medium_context = json!({
        "long_word": "x".repeat(3000),
        "diff": format!("--- a/f\n+++ b/f\n+{}\n-{}", "y".repeat(900), "z ".repeat(500)),
        "changes": (1..=48).map(|i| json!({ "file": format!("src/module_{i}.rs"), "lines": i, "deep": { "ok": true } })).collect::<Vec<_>>(),
    });
    let medium = server.create(
        &agent,
        &json!({ "action": "Medium context", "context": medium_context }),
    );
    let large = server.create(
        &agent,
        &json!({ "action": "Large context", "context": { "rows": (0..400).collect::<Vec<_>>(), "meta": { "a": { "b": { "c": 1 } } } } }),
    );

    for (w, h) in SIZES {
        browser.set_viewport(w, h);
        browser.goto(&format!("{}/review/{small}", server.url));
        assert_eq!(
            browser.js(
                "return document.querySelectorAll('details.json-node:not([open])').length",
                vec![]
            ),
            json!(0),
            "{w}px: a small context is open to the last level"
        );
        assert!(browser.text(".json-tree").contains("deepest value"));

        browser.goto(&format!("{}/review/{medium}", server.url));
        no_sideways_scroll(&browser, &format!("the medium context at {w}px"));
        let boxes = browser.js(
            "const b = document.querySelector('.context-box'); const s = getComputedStyle(b); \
             const scrollers = Array.from(document.querySelectorAll('.context-box, .context-box *')).filter(e => \
               e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1).map(e => e.className); \
             return [s.overflowY, s.maxHeight, scrollers, document.querySelectorAll('details.json-node:not([open])').length]",
            vec![],
        );
        assert_eq!(
            boxes,
            json!(["visible", "none", [], 0]),
            "{w}px: the context has no inner scroll box and nothing folded"
        );
        // The decision is on screen on load, context or not.
        for button in ["button.approve", "button.reject"] {
            let r = in_view(&browser, button);
            assert_eq!(r[0], true, "{w}px: {button} off screen: {r}");
        }
        let panel = in_view(&browser, "section.decision");
        eprintln!("decision panel at {w}x{h}: {} px high", panel[3]);
        if w == 390 {
            assert!(
                panel[3].as_f64().unwrap() <= 150.0,
                "the phone's panel takes {} of {h} px",
                panel[3]
            );
        }
        // The raw view wraps too.
        browser.click("[data-toggle-raw]");
        wait(
            &browser,
            "the raw view",
            "!document.querySelector('[data-raw]').hidden",
        );
        no_sideways_scroll(&browser, &format!("the raw view at {w}px"));
        assert_eq!(
            browser.js(
                "return getComputedStyle(document.querySelector('[data-raw] pre')).whiteSpace",
                vec![]
            ),
            json!("pre-wrap")
        );

        // Only a large context folds, and says so; one click opens it all.
        browser.goto(&format!("{}/review/{large}", server.url));
        let note = browser.text(".notice.folded");
        assert!(
            note.contains("2 of 5 objects and lists are folded"),
            "{note}"
        );
        browser.click("[data-open-all]");
        wait(
            &browser,
            "everything open",
            "location.search === '?open=all'",
        );
        assert_eq!(
            browser.js(
                "return [document.querySelectorAll('details.json-node:not([open])').length, !!document.querySelector('.notice.folded')]",
                vec![]
            ),
            json!([0, false])
        );
        no_sideways_scroll(&browser, &format!("the large context at {w}px"));
    }
}

#[test]
fn risk_summary_and_hidden_characters_lead_the_page() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("deploy-bot");
    let risky = server.create(
        &agent,
        &json!({ "action": "Drop the orders table", "risk": "critical",
                 "summary": "Deletes 1,204 orders for good.\nNo backup covers them.", "timeoutSeconds": 3600 }),
    );
    let sneaky = server.create(
        &agent,
        &json!({ "action": "Looks harmless", "context": { "cmd": "rm -rf /\u{202E}txt.exe" } }),
    );

    browser.goto(&format!("{}/review/{risky}", server.url));
    assert_eq!(browser.text(".review-head .risk"), "CRITICAL RISK");
    let summary = browser.text("p.summary");
    assert!(
        summary.contains("Deletes 1,204 orders for good."),
        "{summary}"
    );
    // Who asked, when and the time left come before the context.
    assert_eq!(
        browser.js(
            "const m = document.querySelector('.meta'), c = document.querySelector('section.context'); \
             return [m.textContent.includes('deploy-bot'), m.textContent.includes('expires in'), \
                     !!(m.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING), \
                     !!(document.querySelector('p.summary').compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING)]",
            vec![]
        ),
        json!([true, true, true, true])
    );
    assert!(!browser.exists(".hidden-chars"), "nothing hidden here");

    browser.goto(&format!("{}/", server.url));
    let row = browser.text(&format!("li.row[data-watch-id='{risky}'] .row-action"));
    assert!(
        row.contains("CRITICAL RISK") && row.contains("Drop the orders table"),
        "{row}"
    );

    browser.goto(&format!("{}/review/{sneaky}", server.url));
    let warning = browser.text(".hidden-chars");
    assert!(
        warning.contains("hidden or direction-changing characters")
            && warning.contains("the context"),
        "{warning}"
    );
    assert_eq!(
        browser.js(
            "return !!(document.querySelector('.hidden-chars').compareDocumentPosition(document.querySelector('section.context')) & Node.DOCUMENT_POSITION_FOLLOWING)",
            vec![]
        ),
        json!(true),
        "the warning comes above the context"
    );
    assert!(browser.text(".json-tree").contains("⟨RLO⟩"));
}

#[test]
fn approve_and_next_walks_the_queue_and_the_page_follows_decisions_elsewhere() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("other@example.com");
    let ids: Vec<String> = ["First", "Second", "Third"]
        .iter()
        .map(|a| server.create(&agent, &json!({ "action": a })))
        .collect();

    browser.goto(&format!("{}/review/{}", server.url, ids[0]));
    browser.click("[data-next-choice]");
    assert_eq!(browser.text("button.approve"), "✓ Approve & next");
    browser.click("button.approve");
    wait(
        &browser,
        "the second pause",
        &format!("location.pathname === '/review/{}'", ids[1]),
    );
    assert_eq!(server.status(&agent, &ids[0])["status"], "approved");
    // The choice is remembered: Reject & next from here.
    assert_eq!(browser.text("button.reject"), "✕ Reject & next");
    browser.click("button.reject");
    wait(
        &browser,
        "the third pause",
        &format!("location.pathname === '/review/{}'", ids[2]),
    );
    assert_eq!(server.status(&agent, &ids[1])["status"], "rejected");

    // Decided elsewhere while open: badge, buttons and count change with the notice.
    let fourth = server.create(&agent, &json!({ "action": "Fourth" }));
    browser.goto(&format!("{}/review/{}", server.url, ids[2]));
    wait(
        &browser,
        "two pending",
        "document.querySelector('[data-pending-count]').textContent === '2'",
    );
    assert_eq!(
        server.decide(&reviewer, &ids[2], "rejected", "no").status,
        200
    );
    wait(
        &browser,
        "the notice",
        "document.querySelector('.notice.warn')",
    );
    wait(
        &browser,
        "the badge",
        "document.querySelector('[data-status-badge] .badge').textContent === 'REJECTED'",
    );
    wait(
        &browser,
        "the count",
        "document.querySelector('[data-pending-count]').textContent === '1'",
    );
    assert_eq!(
        browser.js(
            "return [document.querySelector('button.approve').disabled, document.querySelector('button.reject').disabled, document.querySelector('article.review').dataset.status]",
            vec![]
        ),
        json!([true, true, "rejected"])
    );

    // The last pending one, approved and next: back to the (empty) queue.
    browser.goto(&format!("{}/review/{fourth}", server.url));
    browser.click("button.approve");
    wait(&browser, "the queue", "location.pathname === '/'");
    assert!(browser.text("#queue-list").contains("Nothing is waiting"));
    assert_eq!(server.status(&agent, &fourth)["status"], "approved");
}

#[test]
fn keyboard_shortcuts_ask_first_and_never_fire_while_typing() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let first = server.create(&agent, &json!({ "action": "Keyboard first" }));
    let second = server.create(&agent, &json!({ "action": "Keyboard second" }));
    let stub = "window.__asked = []; window.confirm = m => { window.__asked.push(m); return window.__answer === true; };";
    let key = |k: &str| {
        browser.js(
            "document.body.dispatchEvent(new KeyboardEvent('keydown', { key: arguments[0], bubbles: true, cancelable: true }))",
            vec![json!(k)],
        );
    };

    browser.goto(&format!("{}/review/{first}", server.url));
    browser.js(stub, vec![]);
    // Typing in the comment: the letters are text, nothing is asked or decided.
    let area = browser.find("textarea[name=comment]");
    browser.send_keys(&area, "a r j k ?");
    assert_eq!(
        browser.js("return [document.querySelector('textarea[name=comment]').value, window.__asked.length, document.getElementById('shortcuts').open, location.pathname]", vec![]),
        json!(["a r j k ?", 0, false, format!("/review/{first}")])
    );
    browser.js("document.activeElement.blur()", vec![]);

    key("?");
    assert_eq!(
        browser.js("return document.getElementById('shortcuts').open", vec![]),
        json!(true)
    );
    assert!(browser.text("#shortcuts").contains("Approve (asks first)"));
    browser.js("document.getElementById('shortcuts').close()", vec![]);

    // Declined: asked, nothing decided.
    key("a");
    assert_eq!(
        browser.js("return window.__asked", vec![]),
        json!(["Approve “Keyboard first”?"])
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.status(&agent, &first)["status"], "pending");

    key("j");
    wait(
        &browser,
        "the next pending",
        &format!("location.pathname === '/review/{second}'"),
    );
    key("k");
    wait(
        &browser,
        "the previous pending",
        &format!("location.pathname === '/review/{first}'"),
    );

    browser.js(stub, vec![]);
    browser.js("window.__answer = true", vec![]);
    browser.fill("textarea[name=comment]", "by keyboard");
    browser.js("document.activeElement.blur()", vec![]);
    key("r");
    wait(
        &browser,
        "the decided banner",
        "document.querySelector('.banner-rejected')",
    );
    let status = server.status(&agent, &first);
    assert_eq!(
        (status["status"].as_str(), status["comment"].as_str()),
        (Some("rejected"), Some("by keyboard"))
    );
}

#[test]
fn several_pauses_are_decided_at_once_after_a_confirmation() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("other@example.com");
    let ids: Vec<String> = ["Bulk one", "Bulk two", "Bulk three", "Left alone"]
        .iter()
        .map(|a| server.create(&agent, &json!({ "action": a, "risk": "low" })))
        .collect();

    browser.set_viewport(390, 844);
    browser.goto(&format!("{}/", server.url));
    for id in &ids[..3] {
        browser.click(&format!("li.row[data-watch-id='{id}'] input[data-pick]"));
    }
    assert_eq!(browser.text("[data-picked]"), "3 selected");
    no_sideways_scroll(&browser, "the queue with checkboxes");
    browser.click("form#bulk button[value=approved]");
    wait(
        &browser,
        "the confirmation",
        "document.querySelector('form.bulk-confirm')",
    );
    let listed = browser.text("ul.bulk-list");
    for action in ["Bulk one", "Bulk two", "Bulk three"] {
        assert!(listed.contains(action), "{listed}");
    }
    assert!(!listed.contains("Left alone"));
    assert!(browser.text("h1").contains("Approve 3 pauses?"));
    // Nothing is decided before the confirmation.
    assert_eq!(server.status(&agent, &ids[0])["status"], "pending");

    // One is decided elsewhere meanwhile: reported, the others still go through.
    assert_eq!(
        server.decide(&reviewer, &ids[2], "rejected", "mine").status,
        200
    );
    browser.fill("textarea[name=comment]", "batch ok");
    browser.click("form.bulk-confirm button.approve");
    wait(
        &browser,
        "the outcome",
        "document.querySelector('.bulk-outcome')",
    );
    assert!(browser.text("h1").contains("Approved 2 of 3"));
    let already = browser.text("li[data-outcome=already]");
    assert!(
        already.contains("already rejected by other@example.com") && already.contains("Bulk three"),
        "{already}"
    );
    for id in &ids[..2] {
        let s = server.status(&agent, id);
        assert_eq!(
            (s["status"].as_str(), s["comment"].as_str()),
            (Some("approved"), Some("batch ok"))
        );
    }
    let s = server.status(&agent, &ids[2]);
    assert_eq!(
        (s["status"].as_str(), s["comment"].as_str()),
        (Some("rejected"), Some("mine"))
    );
    assert_eq!(server.status(&agent, &ids[3])["status"], "pending");

    // Without a selection, or with a forged token: refused, nothing changes.
    browser.goto(&format!("{}/", server.url));
    browser.click("form#bulk button[value=rejected]");
    wait(
        &browser,
        "the refusal",
        "document.body.textContent.includes('select at least one pause')",
    );
    browser.goto(&format!("{}/", server.url));
    browser.click(&format!(
        "li.row[data-watch-id='{}'] input[data-pick]",
        ids[3]
    ));
    browser.js(
        "document.querySelector('form#bulk input[name=csrf]').value = 'forged'",
        vec![],
    );
    browser.click("form#bulk button[value=rejected]");
    wait(
        &browser,
        "the refusal",
        "document.body.textContent.includes('Nothing was changed')",
    );
    assert_eq!(server.status(&agent, &ids[3])["status"], "pending");
}
