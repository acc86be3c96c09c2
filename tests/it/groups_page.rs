//! The Groups page: admins create groups and add and remove members from the web, with
//! the same rules and audit as `hitl group`; mistakes are readable and change nothing;
//! approvers and cross-site posts are refused.

use serde_json::{json, Value};

use crate::harness::*;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

fn groups_json(hitl: &Hitl) -> Value {
    serde_json::from_str(&hitl.ok(&["group", "list", "--json"])).unwrap()
}

/// The rows of the audit log about groups: (event, actor, details).
fn group_audit(hitl: &Hitl) -> Vec<(String, String, Value)> {
    let db = hitl.db();
    let mut stmt = db
        .prepare("SELECT event, actor, details FROM audit WHERE event LIKE 'group.%' ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        let details: String = r.get(2)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            serde_json::from_str(&details).unwrap(),
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The table row of one group on the page.
fn row_of<'a>(html: &'a str, group: &str) -> &'a str {
    let start = html
        .find(&format!("<tr id=\"group-{group}\">"))
        .unwrap_or_else(|| panic!("no row for {group}: {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

#[test]
fn admins_create_groups_and_add_and_remove_members_from_the_page() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    hitl.add_user("bob@example.com", "approver");
    hitl.add_user("carol@example.com", "approver");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();

    let empty = page(&server, "/groups", &cookie);
    assert_eq!(empty.status, 200);
    assert!(empty.text.contains("No groups yet."), "{}", empty.text);
    assert!(
        empty
            .text
            .contains("href=\"/groups\" aria-current=\"page\""),
        "the nav marks the Groups page"
    );
    let csrf = csrf_of(&empty.text);

    let created = form_post(
        &server,
        "/groups",
        Some(&cookie),
        &format!("csrf={csrf}&name=on-call"),
        &[],
    );
    assert_eq!(created.status, 303, "{}", created.text);
    assert_eq!(
        created.headers["location"],
        "/groups?done=created#group-on-call"
    );
    let shown = page(&server, "/groups?done=created", &cookie).text;
    assert!(shown.contains("Group created."), "{shown}");
    assert!(row_of(&shown, "on-call").contains("nobody yet"));

    // Two members in one field, the way a browser's multiple-email input sends them.
    let added = form_post(
        &server,
        "/groups/on-call/members",
        Some(&cookie),
        &format!(
            "csrf={csrf}&emails={}",
            url_encode("bob@example.com, CAROL@example.com")
        ),
        &[],
    );
    assert_eq!(added.status, 303, "{}", added.text);
    assert_eq!(
        added.headers["location"],
        "/groups?done=added#group-on-call"
    );
    assert_eq!(
        groups_json(&hitl)[0]["members"],
        json!(["bob@example.com", "carol@example.com"])
    );
    // Adding someone already in is no change, and says so.
    let again = form_post(
        &server,
        "/groups/on-call/members",
        Some(&cookie),
        &format!("csrf={csrf}&emails=bob%40example.com"),
        &[],
    );
    assert_eq!(
        again.headers["location"],
        "/groups?done=unchanged#group-on-call"
    );

    let removed = form_post(
        &server,
        "/groups/on-call/members/remove",
        Some(&cookie),
        &format!("csrf={csrf}&email=bob%40example.com"),
        &[],
    );
    assert_eq!(removed.status, 303, "{}", removed.text);
    assert_eq!(
        groups_json(&hitl)[0]["members"],
        json!(["carol@example.com"])
    );

    let html = page(&server, "/groups?done=removed", &cookie).text;
    assert!(html.contains("Member removed from the group."), "{html}");
    let row = row_of(&html, "on-call");
    assert!(
        row.contains("<span class=\"member\">carol@example.com</span>"),
        "{row}"
    );
    assert!(!row.contains("bob@example.com"), "{row}");
    assert!(
        row.contains("action=\"/groups/on-call/members/remove\""),
        "each member has a remove button: {row}"
    );
    assert!(row.contains("action=\"/groups/on-call/members\""), "{row}");

    // Every change went through the audited domain functions, as the admin.
    let audit = group_audit(&hitl);
    let events: Vec<(&str, &str)> = audit
        .iter()
        .map(|(e, a, _)| (e.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("group.created", "user:root@example.com"),
            ("group.members_added", "user:root@example.com"),
            ("group.members_added", "user:root@example.com"),
            ("group.member_removed", "user:root@example.com"),
        ]
    );
    assert_eq!(
        audit[1].2["added"],
        json!(["bob@example.com", "carol@example.com"])
    );
    assert_eq!(audit[3].2["removed"], "bob@example.com");

    // The Users page no longer lists groups; it points here.
    let users = page(&server, "/users", &cookie).text;
    assert!(!users.contains("data-groups"), "{users}");
    assert!(
        users.contains("<a href=\"/groups\">Groups</a> page"),
        "{users}"
    );
}

#[test]
fn a_group_named_in_other_letters_works_through_its_encoded_url() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/groups", &cookie).text);
    let created = form_post(
        &server,
        "/groups",
        Some(&cookie),
        &format!("csrf={csrf}&name={}", url_encode("équipe")),
        &[],
    );
    assert_eq!(created.status, 303, "{}", created.text);
    let html = page(&server, "/groups", &cookie).text;
    let action = "/groups/%C3%A9quipe/members";
    assert!(html.contains(&format!("action=\"{action}\"")), "{html}");
    let added = form_post(
        &server,
        action,
        Some(&cookie),
        &format!("csrf={csrf}&emails=root%40example.com"),
        &[],
    );
    assert_eq!(added.status, 303, "{}", added.text);
    let list = groups_json(&hitl);
    assert_eq!(list[0]["name"], "équipe");
    assert_eq!(list[0]["members"], json!(["root@example.com"]));
}

#[test]
fn mistakes_are_shown_in_words_and_change_nothing() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    hitl.add_user("bob@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/groups", &cookie).text);
    let before = groups_json(&hitl);
    let audit_before = group_audit(&hitl).len();
    let error_of = |html: &str| -> String {
        let at = html
            .find("role=\"alert\">")
            .unwrap_or_else(|| panic!("no error shown: {html}"))
            + 13;
        html[at..].split('<').next().unwrap().to_string()
    };

    // A name that breaks the rule: the form comes back with it and the rule in words.
    let bad = form_post(
        &server,
        "/groups",
        Some(&cookie),
        &format!("csrf={csrf}&name={}", url_encode("two words")),
        &[],
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        error_of(&bad.text),
        "Nothing was changed: a group name is 1 to 64 letters, digits, '-', '_' or '.'"
    );
    assert!(bad.text.contains("value=\"two words\""), "the name is kept");
    assert!(bad.text.contains("<details class=\"create\" open>"));

    let taken = form_post(
        &server,
        "/groups",
        Some(&cookie),
        &format!("csrf={csrf}&name=ops"),
        &[],
    );
    assert_eq!(taken.status, 409);
    assert!(error_of(&taken.text).contains("a group is already named &quot;ops&quot;"));

    // One unknown email among known ones: nobody is added.
    let typed = "bob@example.com, nobody@example.com";
    let unknown = form_post(
        &server,
        "/groups/ops/members",
        Some(&cookie),
        &format!("csrf={csrf}&emails={}", url_encode(typed)),
        &[],
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(
        error_of(&unknown.text),
        "Nothing was changed: no user with email nobody@example.com"
    );
    assert!(
        row_of(&unknown.text, "ops").contains(&format!("value=\"{typed}\"")),
        "what was typed stays in that group's field"
    );

    let no_group = form_post(
        &server,
        "/groups/nope/members",
        Some(&cookie),
        &format!("csrf={csrf}&emails=bob%40example.com"),
        &[],
    );
    assert_eq!(no_group.status, 404);
    assert!(error_of(&no_group.text).contains("no group named &quot;nope&quot;"));

    let nothing = form_post(
        &server,
        "/groups/ops/members",
        Some(&cookie),
        &format!("csrf={csrf}&emails=+,+"),
        &[],
    );
    assert_eq!(nothing.status, 400);
    assert!(error_of(&nothing.text).contains("name at least one user to add"));

    let not_member = form_post(
        &server,
        "/groups/ops/members/remove",
        Some(&cookie),
        &format!("csrf={csrf}&email=bob%40example.com"),
        &[],
    );
    assert_eq!(not_member.status, 404);
    assert!(error_of(&not_member.text).contains("bob@example.com is not in the group"));

    assert_eq!(groups_json(&hitl), before);
    assert_eq!(group_audit(&hitl).len(), audit_before, "nothing audited");
}

#[test]
fn approvers_are_refused_like_on_the_other_admin_pages() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    hitl.add_user("plain@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    let server = hitl.serve(&[]);
    let plain = sign_in(&server, "plain@example.com", PASSWORD).unwrap();
    let account = page(&server, "/account", &plain).text;
    assert!(
        !account.contains("href=\"/groups\""),
        "no Groups link for approvers"
    );
    let csrf = csrf_of(&account);

    let users = page(&server, "/users", &plain);
    let groups = page(&server, "/groups", &plain);
    assert_eq!(groups.status, 403);
    assert_eq!(groups.status, users.status);
    assert!(groups.text.contains("only admins can open this page"));
    assert!(!groups.text.contains("data-groups"));

    for (path, body) in [
        ("/groups", format!("csrf={csrf}&name=mine")),
        (
            "/groups/ops/members",
            format!("csrf={csrf}&emails=plain%40example.com"),
        ),
        (
            "/groups/ops/members/remove",
            format!("csrf={csrf}&email=root%40example.com"),
        ),
    ] {
        let r = form_post(&server, path, Some(&plain), &body, &[]);
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }
    let list = groups_json(&hitl);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["members"], json!([]));

    // Admins see the link in the navigation.
    let root = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    assert!(page(&server, "/account", &root)
        .text
        .contains("<a class=\"nav-link\" href=\"/groups\">Groups</a>"));
}

#[test]
fn cross_site_posts_are_refused() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    hitl.add_user("bob@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "add", "ops", "root@example.com"]);
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/groups", &cookie).text);
    let before = groups_json(&hitl);

    let forms = [
        ("/groups", "name=evil"),
        ("/groups/ops/members", "emails=bob%40example.com"),
        ("/groups/ops/members/remove", "email=root%40example.com"),
    ];
    for (path, fields) in forms {
        let no_token = form_post(&server, path, Some(&cookie), fields, &[]);
        assert_eq!(no_token.status, 403, "{path} without a token");
        assert!(no_token.text.contains("Request refused"), "{path}");
        let wrong = form_post(
            &server,
            path,
            Some(&cookie),
            &format!("csrf={}&{fields}", "A".repeat(43)),
            &[],
        );
        assert_eq!(wrong.status, 403, "{path} with a wrong token");
        let other_site = form_post(
            &server,
            path,
            Some(&cookie),
            &format!("csrf={csrf}&{fields}"),
            &[
                ("Origin", "http://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
        );
        assert_eq!(other_site.status, 403, "{path} from another site");
        assert!(other_site.text.contains("Request refused"), "{path}");
    }
    assert_eq!(groups_json(&hitl), before);

    // The same posts from the page itself work.
    let ok = form_post(
        &server,
        "/groups/ops/members",
        Some(&cookie),
        &format!("csrf={csrf}&emails=bob%40example.com"),
        &[
            ("Origin", server.url.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    assert_eq!(ok.status, 303, "{}", ok.text);
}
