//! Questions over HTTP: created by an agent, answered by a reviewer through the API,
//! the web page or not at all; the webhook, the mail, the race and MCP's ask_human.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::mcp::{call, structured};
use crate::peers::{Receiver, SmtpServer};
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

fn answer(server: &Server, key: &str, id: &str, text: &str) -> Resp {
    server.post(
        &format!("/api/pause/{id}/answer"),
        key,
        &json!({ "answer": text }),
    )
}

#[test]
fn a_reviewer_answers_one_option_and_the_webhook_carries_it() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "bot", "--webhook-url", &hook.url]);
    let (agent, secret) = (
        j["key"].as_str().unwrap(),
        j["webhookSecret"].as_str().unwrap(),
    );
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    let r = server.post(
        "/api/pause",
        agent,
        &json!({ "action": "Which region?", "kind": "question", "options": ["eu-west", "us-east"] }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["watchId"].as_str().unwrap().to_string();
    let status = server.status(agent, &id);
    assert_eq!(status["kind"], "question");
    assert_eq!(status["options"], json!(["eu-west", "us-east"]));
    assert_eq!(
        (&status["answer"], &status["status"]),
        (&Value::Null, &json!("pending"))
    );

    let r = answer(&server, agent, &id, "eu-west");
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = answer(&server, &reviewer, &id, "asia");
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    let r = server.decide(&reviewer, &id, "approved", "");
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("question"));

    let r = answer(&server, &reviewer, &id, "us-east");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "answered");
    assert_eq!(r.json["answer"], "us-east");
    assert_eq!(r.json["resolvedBy"], "alice@example.com");
    assert_eq!(r.json["comment"], Value::Null);
    assert!(r.json["resolvedAt"].is_string());
    let r = answer(&server, &reviewer, &id, "eu-west");
    assert_eq!(
        (r.status, r.code()),
        (409, "already_resolved"),
        "{}",
        r.text
    );
    assert_eq!(server.status(agent, &id)["answer"], "us-east");

    let got = hook.wait_for(1, Duration::from_secs(10));
    got[0].verify(secret).unwrap();
    let body = got[0].json();
    assert_eq!(body["status"], "answered");
    assert_eq!(body["kind"], "question");
    assert_eq!(body["answer"], "us-east");
    assert_eq!(body["resolvedBy"], "alice@example.com");
    assert_eq!(body["agentContext"]["action"], "Which region?");

    let listed = server.get("/api/pause?status=answered", &reviewer);
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["watchId"], id.as_str());
    let events: Vec<String> = hitl.audit_events(&id).into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["pause.created", "pause.answered"]);
}

#[test]
fn free_text_answers_and_what_is_refused() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "bot", "--webhook-url", &hook.url]);
    let agent = j["key"].as_str().unwrap();
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    for (body, why) in [
        (json!({ "action": "x", "kind": "poll" }), "unknown kind"),
        (
            json!({ "action": "x", "kind": "question", "options": [] }),
            "no options",
        ),
        (
            json!({ "action": "x", "kind": "question", "options": ["a", "a"] }),
            "twice",
        ),
        (
            json!({ "action": "x", "kind": "question", "options": [""] }),
            "empty",
        ),
    ] {
        let r = server.post("/api/pause", agent, &body);
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{why}: {}",
            r.text
        );
    }

    let id = server.create(
        agent,
        &json!({ "action": "Why did the build fail?", "kind": "question" }),
    );
    assert_eq!(server.status(agent, &id)["options"], Value::Null);
    for wrong in ["", "   ", &"x".repeat(4001)] {
        let r = answer(&server, &reviewer, &id, wrong);
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{}",
            r.text
        );
    }
    let r = answer(&server, &reviewer, &id, "  a flaky test\nin ci  ");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["answer"], "a flaky test\nin ci");
    let body = hook.wait_for(1, Duration::from_secs(10))[0].json();
    assert_eq!(
        (&body["kind"], &body["answer"]),
        (&json!("question"), &json!("a flaky test\nin ci"))
    );

    // A decision is approved or rejected, never answered, and its webhook says so.
    let decision = server.create(agent, &json!({ "action": "Deploy" }));
    assert_eq!(server.status(agent, &decision)["kind"], "decision");
    let r = answer(&server, &reviewer, &decision, "yes");
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("decision"));
    assert_eq!(
        server.decide(&reviewer, &decision, "approved", "ok").status,
        200
    );
    let body = hook.wait_for(2, Duration::from_secs(10))[1].json();
    assert_eq!(
        (&body["kind"], &body["answer"]),
        (&json!("decision"), &Value::Null)
    );

    // Questions are cancelled like decisions.
    let withdrawn = server.create(agent, &json!({ "action": "Hm?", "kind": "question" }));
    let r = server.post(&format!("/api/pause/{withdrawn}/cancel"), agent, &json!({}));
    assert_eq!(
        (r.status, &r.json["status"]),
        (200, &json!("cancelled")),
        "{}",
        r.text
    );
}

#[test]
fn two_reviewers_answering_at_once_one_wins() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewers = [
        hitl.reviewer_key("a@example.com"),
        hitl.reviewer_key("b@example.com"),
    ];
    let server = hitl.serve(&[]);
    for round in 0..5 {
        let id = server.create(
            &agent,
            &json!({ "action": format!("q {round}"), "kind": "question", "options": ["a", "b"] }),
        );
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = reviewers
            .iter()
            .zip(["a", "b"])
            .map(|(key, choice)| {
                let (key, url, id, barrier) = (
                    key.clone(),
                    server.url.clone(),
                    id.clone(),
                    Arc::clone(&barrier),
                );
                thread::spawn(move || {
                    let body = json!({ "answer": choice }).to_string();
                    barrier.wait();
                    let url = format!("{url}/api/pause/{id}/answer");
                    (choice, request("POST", &url, Some(&key), Some(&body), &[]))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let mut codes: Vec<u16> = results.iter().map(|(_, r)| r.status).collect();
        codes.sort();
        assert_eq!(codes, [200, 409], "round {round}");
        let (winner, _) = results.iter().find(|(_, r)| r.status == 200).unwrap();
        let loser = &results.iter().find(|(_, r)| r.status == 409).unwrap().1;
        assert_eq!(loser.code(), "already_resolved");
        assert_eq!(server.status(&agent, &id)["answer"], *winner);
        let answered = hitl
            .audit_events(&id)
            .iter()
            .filter(|(e, _)| e == "pause.answered")
            .count();
        assert_eq!(answered, 1);
    }
}

#[test]
fn the_review_page_answers_with_escaped_options_and_shows_the_answer() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let hostile = "\"><script>alert(1)</script>";
    let options = [hostile, "<b>bold</b> \u{202E}gnp.exe", "plain"];
    let id = server.create(
        &agent,
        &json!({ "action": "Pick <i>one</i>", "kind": "question", "options": options }),
    );
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("QUESTION"), "{html}");
    assert!(
        html.contains(&format!("action=\"/review/{id}/answer\"")),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<b>bold"), "{html}");
    assert!(!html.contains("<i>one"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;"), "{html}");
    assert!(html.contains("span class=\"invisible\""), "{html}");
    assert!(
        !html.contains("name=\"decision\""),
        "a question has no Approve or Reject"
    );
    let csrf = csrf_of(&html);

    let path = format!("/review/{id}/answer");
    let r = form_post(&server, &path, Some(&cookie), "csrf=x&answer=plain", &[]);
    assert_eq!(r.status, 403, "{}", r.text);
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&answer=other"),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("one of the question"), "{}", r.text);
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&answer={}", url_encode(hostile)),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let status = server.status(&agent, &id);
    assert_eq!(
        (&status["status"], &status["answer"]),
        (&json!("answered"), &json!(hostile))
    );
    assert_eq!(status["resolvedBy"], "alice@example.com");

    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("banner-answered"), "{html}");
    assert!(html.contains("badge-answered"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        !html.contains(&format!("action=\"/review/{id}/answer\"")),
        "answered once"
    );
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&answer=plain"),
        &[],
    );
    assert_eq!(r.status, 409, "{}", r.text);
    let history = page(&server, "/history?status=answered", &cookie).text;
    assert!(
        history.contains("QUESTION") && history.contains("badge-answered"),
        "{history}"
    );

    // Free text through the page.
    let free = server.create(&agent, &json!({ "action": "Why?", "kind": "question" }));
    let html = page(&server, &format!("/review/{free}"), &cookie).text;
    assert!(
        html.contains("name=\"answer\"") && html.contains(">Answer<"),
        "{html}"
    );
    let r = form_post(
        &server,
        &format!("/review/{free}/answer"),
        Some(&cookie),
        &format!("csrf={csrf}&answer={}", url_encode("<because>")),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let html = page(&server, &format!("/review/{free}"), &cookie).text;
    assert!(
        html.contains("&lt;because&gt;") && !html.contains("<because>"),
        "{html}"
    );

    // The page's own JSON request: the session with its CSRF token, from this server.
    let third = server.create(&agent, &json!({ "action": "And?", "kind": "question" }));
    let url = format!("{}/api/pause/{third}/answer", server.url);
    let body = json!({ "answer": "by session" }).to_string();
    let json_type = ("Content-Type", "application/json");
    let r = request_raw("POST", &url, &body, &[json_type, ("Cookie", &cookie)]);
    assert_eq!(r.status, 403, "no token: {}", r.text);
    let r = request_raw(
        "POST",
        &url,
        &body,
        &[
            json_type,
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Origin", &server.url),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["answer"], "by session");
}

#[test]
fn a_question_is_mailed_with_only_its_review_link() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let port = smtp.port.to_string();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let server = hitl.serve(&["--smtp-url", &smtp_url, "--smtp-from", "hitl@example.com"]);
    let id = server.create(
        &agent,
        &json!({ "action": "Which region?", "kind": "question", "options": ["eu", "us"] }),
    );
    let mail = smtp.wait_for(1, Duration::from_secs(10))[0].clone();
    assert_eq!(mail["subject"], "Question: Which region?");
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{}/review/{id}", server.url)),
        "{text}"
    );
    assert!(text.contains("  - eu") && text.contains("  - us"), "{text}");
    assert!(
        !text.contains("Approve:") && !text.contains("/mail/"),
        "{text}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(
        !html.contains("/mail/") && !html.contains(">Approve<"),
        "{html}"
    );
}

#[test]
fn mcp_ask_human_waits_for_the_answer() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);

    let asked = structured(&call(
        &server,
        &agent,
        "ask_human",
        json!({ "question": "Which branch?", "options": ["main", "dev"] }),
    ));
    assert_eq!(
        (&asked["status"], &asked["answer"]),
        (&json!("pending"), &Value::Null)
    );
    let id = asked["watchId"].as_str().unwrap().to_string();
    assert!(asked["reviewUrl"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/review/{id}")));
    let status = server.status(&agent, &id);
    assert_eq!(
        (&status["kind"], &status["options"]),
        (&json!("question"), &json!(["main", "dev"]))
    );

    let (url, key, qid) = (server.url.clone(), reviewer.clone(), id.clone());
    let answerer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        let body = json!({ "answer": "dev" }).to_string();
        request(
            "POST",
            &format!("{url}/api/pause/{qid}/answer"),
            Some(&key),
            Some(&body),
            &[],
        )
    });
    let got = structured(&call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": id, "waitSeconds": 30 }),
    ));
    assert_eq!(answerer.join().unwrap().status, 200);
    assert_eq!(
        (&got["status"], &got["answer"]),
        (&json!("answered"), &json!("dev"))
    );
    assert_eq!(got["resolvedBy"], "r@example.com");

    // Waiting inside ask_human itself.
    let (url, key) = (server.url.clone(), reviewer.clone());
    let (srv_url, agent_key) = (server.url.clone(), agent.clone());
    let answerer = thread::spawn(move || {
        let id = eventually(Duration::from_secs(10), "the question", || {
            let r = request(
                "GET",
                &format!("{srv_url}/api/pause?status=pending"),
                Some(&agent_key),
                None,
                &[],
            );
            r.json["items"][0]["watchId"].as_str().map(String::from)
        });
        let body = json!({ "answer": "  free words " }).to_string();
        request(
            "POST",
            &format!("{url}/api/pause/{id}/answer"),
            Some(&key),
            Some(&body),
            &[],
        )
    });
    let got = structured(&call(
        &server,
        &agent,
        "ask_human",
        json!({ "question": "Anything else?", "waitSeconds": 30 }),
    ));
    assert_eq!(answerer.join().unwrap().status, 200);
    assert_eq!(
        (&got["status"], &got["answer"]),
        (&json!("answered"), &json!("free words"))
    );

    let refused = call(
        &server,
        &agent,
        "ask_human",
        json!({ "question": "x", "options": ["a", "a"] }),
    );
    assert_eq!(refused["isError"], true, "{refused}");
}

#[test]
fn slack_says_question_and_links_to_the_review_page() {
    let slack = Receiver::start();
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&["--slack-webhook-url", &slack.url]);
    let id = server.create(
        &agent,
        &json!({ "action": "Which region?", "kind": "question", "options": ["eu", "<!here>"] }),
    );
    let message = slack.wait_for(1, Duration::from_secs(10))[0].json();
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .starts_with("Question: Which region?"),
        "{message}"
    );
    let body = message.to_string();
    assert!(
        body.contains(&format!("{}/review/{id}", server.url)),
        "{body}"
    );
    assert!(body.contains("Choices: eu"), "{body}");
    assert!(!body.contains("/mail/"), "{body}");
}
