//! Listing by tag. The tag's pauses are keyed by status first (version 19), so a tag
//! without a status is read one status at a time and merged: every page must be what
//! filtering the pauses one by one gives, and the key must follow each change of status.

use super::search::pages;
use super::*;
use crate::domain::Status;

#[test]
fn a_tag_lists_its_pauses_in_order_whatever_the_statuses() {
    let mut w = World::new();
    let tag_sets = [r#"["deploy"]"#, r#"["deploy","prod"]"#, r#"["prod"]"#, "[]"];
    let mut made = Vec::new();
    for i in 0..40_i64 {
        let tags = tag_sets[(i % 4) as usize];
        let timeout = if i % 5 == 4 { 60 } else { 3_600 };
        let body =
            format!(r#"{{"action": "Deploy {i}", "tags": {tags}, "timeoutSeconds": {timeout}}}"#);
        let t = t0() + i * SECOND;
        let id = w.db.create(t, &w.agent, &body).unwrap().pause.watch_id;
        match i % 7 {
            1 | 3 => drop(
                w.db.decide(t, &w.approver, &id, Decision::Approved, None)
                    .unwrap(),
            ),
            2 => drop(
                w.db.decide(t, &w.approver, &id, Decision::Rejected, None)
                    .unwrap(),
            ),
            5 => drop(w.db.cancel(t, &w.agent, &id).unwrap()),
            _ => {}
        }
        made.push(id);
    }
    assert!(w.db.expire(t0() + 200 * SECOND, 100).unwrap() > 0);

    // The key holds every pause's status as the pause has it now.
    let stale: i64 =
        w.db.conn()
            .query_row(
                "SELECT count(*) FROM pause_tags t JOIN pauses p ON p.id = t.pause_id
             WHERE t.status <> p.status",
                [],
                |r| r.get(0),
            )
            .unwrap();
    assert_eq!(stale, 0);
    assert_eq!(w.db.count("pause_tags"), 40);

    let stored: Vec<_> = made.iter().rev().map(|id| w.db.stored(id)).collect();
    for tag in ["deploy", "prod", "nothing"] {
        for statuses in [
            vec![],
            vec![Status::Pending],
            vec![Status::Approved],
            vec![Status::Rejected, Status::Cancelled],
            vec![Status::Expired],
            vec![Status::Answered],
        ] {
            for limit in [1, 3, 100] {
                let want: Vec<String> = stored
                    .iter()
                    .filter(|p| p.tags.iter().any(|t| t == tag))
                    .filter(|p| statuses.is_empty() || statuses.contains(&p.status))
                    .map(|p| p.watch_id.clone())
                    .collect();
                let mut want_pages: Vec<Vec<String>> =
                    want.chunks(limit).map(<[String]>::to_vec).collect();
                match want_pages.len() {
                    0 => want_pages.push(Vec::new()),
                    1 => {}
                    // `pages` ends with the page back towards the newest, from the last.
                    n => want_pages.push(want_pages[n - 2].clone()),
                }
                let q = ListQuery {
                    tag: Some(tag.into()),
                    statuses: statuses.clone(),
                    limit: limit as u32,
                    ..ListQuery::default()
                };
                assert_eq!(
                    pages(&w, &w.approver, &q),
                    want_pages,
                    "{tag} {statuses:?} {limit}"
                );
            }
        }
    }
}
