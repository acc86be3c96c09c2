//! The tables of History, Keys, Users and Audit: readable at desktop widths (no word
//! broken in the middle), cards on a phone; the audit log in words.

use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;
use crate::web_http::{page, sign_in};
use crate::web_pages::setup_admin;

/// The table row (`<tr>` to `</tr>`) holding `marker`.
fn row<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    &html[start..end]
}

/// The markup of a row's cell with this label.
fn cell<'a>(row: &'a str, label: &str) -> &'a str {
    let marker = format!("data-label=\"{label}\"");
    let at = row
        .find(&marker)
        .unwrap_or_else(|| panic!("{label} in {row}"));
    row[at..].split("</td>").next().unwrap()
}

#[test]
fn the_audit_log_names_keys_and_reads_in_words() {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let deploy = hitl.key_json(&[
        "--name",
        "deploy-bot",
        "--webhook-url",
        "http://127.0.0.1:9/hooks/hitl",
    ]);
    let agent = deploy["key"].as_str().unwrap().to_string();
    let key_id = deploy["id"].as_str().unwrap().to_string();
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let id = server.create(&agent, &json!({ "action": "Deploy", "tags": ["prod"] }));
    server.decide(&reviewer, &id, "approved", "ship it");
    // A revoked key keeps its name in the log.
    hitl.ok(&["key", "revoke", &key_id]);

    let html = page(&server, "/audit", &cookie).text;
    assert!(
        !html.contains(&format!("key:{key_id}<")) && !html.contains(">key:key_"),
        "a key shown by its id: {html}"
    );
    assert!(
        !html.contains("{\"") && !html.contains("{&quot;"),
        "raw JSON in the audit page: {html}"
    );
    let created = row(&html, "<code>pause.created</code>");
    let actor = cell(created, "Actor");
    assert!(
        actor.contains("deploy-bot") && actor.contains(&format!("title=\"{key_id}\"")),
        "{actor}"
    );
    let approved = row(&html, "<code>pause.approved</code>");
    let actor = cell(approved, "Actor");
    assert!(actor.contains("review-alice@example.com"), "{actor}");
    let details = cell(approved, "Details");
    for field in ["by:", "alice@example.com", "comment:", "ship it"] {
        assert!(details.contains(field), "{field} in {details}");
    }
    let key_created = row(&html, "hooks/hitl");
    assert!(
        key_created.contains("<code>key.created</code>"),
        "{key_created}"
    );
    let details = cell(key_created, "Details");
    for field in [
        "webhook:",
        "http://127.0.0.1:9/hooks/hitl",
        "name:",
        "deploy-bot",
    ] {
        assert!(details.contains(field), "{field} in {details}");
    }
    assert!(
        !details.contains("monthly limit"),
        "empty fields are left out: {details}"
    );

    // The export keeps its machine-readable columns and adds the key's name.
    let csv = page(&server, &format!("/audit.csv?watch_id={id}"), &cookie).text;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["time", "event", "actor", "watchId", "details", "keyName", "id", "hash"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let created = rows.iter().find(|r| &r[1] == "pause.created").unwrap();
    assert_eq!(&created[2], format!("key:{key_id}"));
    assert_eq!(&created[5], "deploy-bot");
    let approved = rows.iter().find(|r| &r[1] == "pause.approved").unwrap();
    let details: serde_json::Value = serde_json::from_str(&approved[4]).unwrap();
    assert_eq!(details["comment"], "ship it");
    assert_eq!(&approved[5], "review-alice@example.com");

    // History: who decided, and when.
    let resolved_at = server.status(&reviewer, &id)["resolvedAt"]
        .as_str()
        .unwrap()
        .to_string();
    let history = page(&server, "/history", &cookie).text;
    let decided = cell(row(&history, &format!("/review/{id}")), "Decided");
    assert!(
        decided.contains("alice@example.com")
            && decided.contains(&format!("datetime=\"{resolved_at}\"")),
        "{decided}"
    );
}

/// Words (runs of non-space) in table headers and cells that the layout split across
/// lines, with the text around them.
const BROKEN_WORDS: &str = r#"
const broken = [];
for (const cell of document.querySelectorAll('table.list th, table.list td')) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    if (node.parentElement.closest('.visually-hidden')) continue;
    const re = /\S+/g;
    let m;
    while ((m = re.exec(node.textContent))) {
      const r = document.createRange();
      r.setStart(node, m.index);
      r.setEnd(node, m.index + m[0].length);
      const lines = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
      if (lines.size > 1) broken.push(m[0]);
    }
  }
}
return broken;
"#;

/// Headers, times, codes and badges that take more than one line or overflow (an
/// audit time may put its date and its clock on two lines; a
/// header for screen readers only is 1 px wide on purpose).
const SHORT_CELLS_WRAPPED: &str = r#"
const wrapped = [];
for (const el of document.querySelectorAll('table.list th, table.list time:not(.stamp), table.list code, table.list .badge')) {
  if (el.querySelector('.visually-hidden')) continue;
  const r = document.createRange();
  r.selectNodeContents(el);
  const lines = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
  const cell = el.closest('th, td');
  if (lines.size > 1 || cell.scrollWidth > cell.clientWidth) wrapped.push(el.textContent);
}
return wrapped;
"#;

/// Per row: is it a card of its own, and is each labelled field's label shown?
const CARDS: &str = r#"
const vw = document.documentElement.clientWidth;
return [...document.querySelectorAll('table.list tbody tr')].map(tr => {
  const s = getComputedStyle(tr);
  const box = tr.getBoundingClientRect();
  const labels = [...tr.querySelectorAll('td[data-label]')].map(td => {
    const before = getComputedStyle(td, '::before');
    const shown = before.display !== 'none' && before.content === JSON.stringify(td.dataset.label)
      && td.getBoundingClientRect().height > 0;
    return shown ? null : td.dataset.label;
  }).filter(x => x);
  return {
    card: s.display !== 'table-row' && s.borderTopStyle !== 'none' && box.left >= 0 && box.right <= vw,
    hidden_labels: labels,
  };
});
"#;

#[test]
fn tables_keep_words_whole_on_desktop_and_become_cards_on_a_phone() {
    let hitl = Hitl::new();
    let browser = Browser::with_size(1280, 800);
    let server = setup_admin(&hitl, &browser);
    let deploy = hitl.agent_key("deploy-bot");
    let outreach = hitl.key_json(&[
        "--name",
        "outreach-agent",
        "--webhook-url",
        "http://127.0.0.1:9/hooks/outreach",
        "--monthly-limit",
        "500",
    ]);
    let outreach_key = outreach["key"].as_str().unwrap().to_string();
    hitl.add_user("carol.reviewer@example.com", "approver");
    let reviewer = hitl.key_json(&[
        "--name",
        "carol-laptop",
        "--user",
        "carol.reviewer@example.com",
    ])["key"]
        .as_str()
        .unwrap()
        .to_string();
    hitl.add_user("notifications.person@example.com", "approver");
    hitl.ok(&["group", "create", "release-managers"]);
    hitl.ok(&[
        "group",
        "add",
        "release-managers",
        "carol.reviewer@example.com",
        "notifications.person@example.com",
    ]);
    hitl.ok(&["group", "create", "on-call"]);
    let a = server.create(&deploy, &json!({
        "action": "Deploy to production (v2.4.1) after the canary has been healthy for thirty minutes",
        "tags": ["deploy", "prod"],
        "timeoutSeconds": 3600
    }));
    let b = server.create(
        &outreach_key,
        &json!({
            "action": "Send renewal email to 1,204 customers whose subscription ends this month",
            "tags": ["email"]
        }),
    );
    server.create(
        &deploy,
        &json!({ "action": "Run database migration 0042_add_invoices_index" }),
    );
    server.decide(&reviewer, &a, "approved", "ship it, the canary is green");
    server.decide(&reviewer, &b, "rejected", "not before the pricing change");
    hitl.ok(&["key", "revoke", outreach["id"].as_str().unwrap()]);

    // Screenshots, when asked for, go to $HITL_SCREENSHOTS (tables-history.png, ...).
    let dir = std::env::var("HITL_SCREENSHOTS")
        .ok()
        .map(std::path::PathBuf::from);
    let shot = |path: &str, suffix: &str| {
        if let Some(dir) = &dir {
            let name = format!("tables-{}{suffix}.png", path.trim_start_matches('/'));
            browser.screenshot(&dir.join(name));
        }
    };
    let pages = ["/history", "/keys", "/users", "/groups", "/audit"];
    for path in pages {
        browser.goto(&format!("{}{path}", server.url));
        shot(path, "");
        let rows = browser.find_all("table.list tbody tr").len();
        assert!(rows >= 2, "{path} has {rows} rows");
        let broken = browser.js(BROKEN_WORDS, vec![]);
        assert_eq!(broken, json!([]), "{path}: words broken at 1280 px");
        let wrapped = browser.js(SHORT_CELLS_WRAPPED, vec![]);
        assert_eq!(wrapped, json!([]), "{path}: short cells wrapped at 1280 px");
        let fit = browser.js(
            "const w = document.querySelector('.table-wrap'); return [w.scrollWidth, w.clientWidth, document.documentElement.scrollWidth, document.documentElement.clientWidth]",
            vec![],
        );
        assert!(
            fit[0].as_u64() <= fit[1].as_u64() && fit[2].as_u64() <= fit[3].as_u64(),
            "{path}: the table does not fit at 1280 px: {fit}"
        );
    }

    browser.set_viewport(390, 844);
    for path in pages {
        browser.goto(&format!("{}{path}", server.url));
        let widths = browser.js(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
            vec![],
        );
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{path} scrolls sideways at 390 px: {widths}"
        );
        shot(path, "-phone");
        let cards = browser.js(CARDS, vec![]);
        let cards = cards.as_array().unwrap();
        assert!(cards.len() >= 2, "{path}: {cards:?}");
        for card in cards {
            assert_eq!(card["card"], true, "{path}: a row is not a card: {cards:?}");
            assert_eq!(
                card["hidden_labels"],
                json!([]),
                "{path}: fields without their label"
            );
        }
        if path == "/history" {
            // The action, the headline, comes first in its card.
            let first = browser.js(
                "const tr = document.querySelector('table.list tbody tr'); const a = tr.querySelector('td.action-cell').getBoundingClientRect(); return [...tr.querySelectorAll('td')].every(td => td.getBoundingClientRect().top >= a.top)",
                vec![],
            );
            assert_eq!(first, true, "the action is not at the top of its card");
        }
    }
}
