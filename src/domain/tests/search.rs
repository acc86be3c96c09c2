//! Searching pauses by action: the same pages whether the search index holds none, some
//! or all of the pauses (it is filled after the fact).

use super::*;
use crate::domain::pauses::{decode_cursor, Cursor};
use crate::domain::Status;

const ACTIONS: [&str; 8] = [
    "Deploy billing-api to production",
    "Send the renewal email to 1,204 customers",
    "DEPLOY search cluster",
    "Refund invoice #4521 (100% of it)",
    "Rotate TLS keys_2026",
    "Délai de paiement: DÉPLOYER",
    "Restart workers",
    "deployment notes for ticket #77",
];

/// Every page of `q` for `who`, following the cursors (older, then back newer).
pub(super) fn pages(w: &World, who: &Principal, q: &ListQuery) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut q = q.clone();
    loop {
        let page = pauses::list(w.db.conn(), who, &q).unwrap();
        out.push(page.items.iter().map(|p| p.watch_id.clone()).collect());
        let Some(next) = page.next_cursor else { break };
        q.cursor = Some(decode_cursor(&next).unwrap());
    }
    // And one page back towards the newest, from the last.
    if let Some(Some(prev)) = out
        .len()
        .gt(&1)
        .then(|| pauses::list(w.db.conn(), who, &q).unwrap().prev_cursor)
    {
        q.cursor = Some(decode_cursor(&prev).unwrap());
        let back = pauses::list(w.db.conn(), who, &q).unwrap();
        assert!(matches!(q.cursor, Some(Cursor::After(_))));
        out.push(back.items.iter().map(|p| p.watch_id.clone()).collect());
    }
    out
}

#[test]
fn a_search_finds_the_same_whether_or_not_the_index_holds_the_pauses() {
    let mut w = World::new();
    for round in 0..5 {
        for (i, action) in ACTIONS.iter().enumerate() {
            let tags = if i % 2 == 0 { r#"["prod"]"# } else { "[]" };
            let body = format!(r#"{{"action": {action:?}, "tags": {tags}}}"#);
            let who = if i % 3 == 0 { &w.other_agent } else { &w.agent };
            let t = t0() + (round * 10 + i as i64) * SECOND;
            let created = w.db.create(t, who, &body).unwrap().pause;
            if i == 6 {
                w.db.decide(
                    t + 1,
                    &w.approver,
                    &created.watch_id,
                    Decision::Rejected,
                    None,
                )
                .unwrap();
            }
        }
    }
    let queries: Vec<ListQuery> = [
        "deploy",
        "DEPLOY",
        "ploy",
        "#4521",
        "100%",
        "keys_2026",
        // LIKE's wildcards and FTS5's quote, as characters (the index asked by trigrams).
        "S_2",
        "keys__2026",
        "0% o",
        "\"_\"",
        "de",
        "zzz",
        "Délai",
    ]
    .into_iter()
    .flat_map(|text| {
        let base = ListQuery {
            text: Some(text.into()),
            limit: 4,
            ..ListQuery::default()
        };
        [
            base.clone(),
            ListQuery {
                tag: Some("prod".into()),
                ..base.clone()
            },
            ListQuery {
                statuses: vec![Status::Pending],
                ..base.clone()
            },
            ListQuery {
                statuses: vec![Status::Rejected, Status::Pending],
                tag: Some("prod".into()),
                ..base
            },
        ]
    })
    .collect();
    let scanned: Vec<_> = queries.iter().map(|q| pages(&w, &w.admin, q)).collect();
    let agent_scanned: Vec<_> = queries.iter().map(|q| pages(&w, &w.agent, q)).collect();

    // A plain scan finds what LIKE finds: "deploy" in any ASCII case, five times each.
    let all_deploy: usize = scanned[0][..scanned[0].len() - 1]
        .iter()
        .map(Vec::len)
        .sum();
    assert_eq!(all_deploy, 15, "{:?}", scanned[0]);

    // Part of the pauses in the index, then all of them: the same pages.
    for batch in [17, 1_000] {
        crate::db::search::index_next(w.db.conn(), batch).unwrap();
        for (i, q) in queries.iter().enumerate() {
            assert_eq!(
                pages(&w, &w.admin, q),
                scanned[i],
                "{q:?} after indexing {batch}"
            );
            assert_eq!(
                pages(&w, &w.agent, q),
                agent_scanned[i],
                "{q:?} for the agent"
            );
        }
    }
    assert_eq!(crate::db::search::indexed_up_to(w.db.conn()).unwrap(), 40);
    assert_eq!(
        crate::db::search::index_next(w.db.conn(), 1_000).unwrap(),
        0
    );
}

/// The index never merges on its own (schema version 16: FTS5's own merging ran inside
/// whichever write flushed it, for up to 30 ms); each batch the indexer writes merges a
/// few pages instead. Batches of one pause each would otherwise leave one segment each.
#[test]
fn the_indexer_merges_the_segments_its_batches_add() {
    let mut w = World::new();
    let setting = |name: &str| -> i64 {
        w.db.conn()
            .query_row(
                "SELECT v FROM pause_search_config WHERE k = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!((setting("automerge"), setting("usermerge")), (0, 8));

    for i in 0..64 {
        let body = format!(r#"{{"action": "deploy service {i}"}}"#);
        w.db.create(t0() + i * SECOND, &w.agent, &body).unwrap();
        assert_eq!(crate::db::search::index_next(w.db.conn(), 1).unwrap(), 1);
    }
    let conn = w.db.conn();
    let segments: i64 = conn
        .query_row(
            "SELECT count(DISTINCT segid) FROM pause_search_idx",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Unmerged, FTS5's last resort (16 segments on one level are merged at once) would
    // leave 4.
    assert!(segments <= 2, "64 batches left {segments} segments");
    let found: i64 = conn
        .query_row(
            "SELECT count(*) FROM pause_search WHERE action LIKE '%deploy serv%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 64);
}

/// A text too short for the index is looked for `SHORT_TEXT_WINDOW` pauses at a time
/// (10 in tests): each page reads one window, and paging on from the window's edge,
/// older and then back newer, finds every match once, in order.
#[test]
fn a_short_text_is_searched_a_window_at_a_time() {
    use crate::domain::pauses::SHORT_TEXT_WINDOW;
    let mut w = World::new();
    let mut matching = Vec::new();
    for i in 0..47 {
        let hit = [3, 4, 5, 17, 40, 41, 46].contains(&i);
        let action = if hit {
            format!("Step {i}: zq")
        } else {
            format!("Step {i}")
        };
        let body = serde_json::json!({ "action": action }).to_string();
        let p =
            w.db.create(t0() + i * SECOND, &w.agent, &body)
                .unwrap()
                .pause;
        if hit {
            matching.push(p.id);
        }
    }
    matching.reverse();
    let mut q = ListQuery {
        text: Some("ZQ".into()),
        limit: 2,
        ..ListQuery::default()
    };
    let mut older = Vec::new();
    let mut cut = 0;
    let mut top = 48;
    let last_prev = loop {
        let page = pauses::list(w.db.conn(), &w.approver, &q).unwrap();
        assert!(page.items.len() <= 2);
        for p in &page.items {
            assert!(
                p.id < top && p.id >= top - SHORT_TEXT_WINDOW,
                "{} of {top}",
                p.id
            );
        }
        older.extend(page.items.iter().map(|p| p.id));
        cut += usize::from(page.window_cut);
        let Some(next) = page.next_cursor else {
            break page.prev_cursor;
        };
        q.cursor = Some(decode_cursor(&next).unwrap());
        if let Some(Cursor::Before(id)) = q.cursor {
            top = id;
        }
    };
    assert_eq!(older, matching);
    assert!(cut >= 4, "47 pauses are five windows: {cut}");

    let mut newer = Vec::new();
    let mut prev = last_prev;
    while let Some(cursor) = prev {
        q.cursor = Some(decode_cursor(&cursor).unwrap());
        let page = pauses::list(w.db.conn(), &w.approver, &q).unwrap();
        newer.extend(page.items.iter().rev().map(|p| p.id));
        prev = page.prev_cursor;
    }
    // Oldest first, but for the oldest: the last page going older held only it, and
    // the walk back starts past it.
    let expected: Vec<i64> = matching.iter().rev().skip(1).copied().collect();
    assert_eq!(newer, expected);
}
