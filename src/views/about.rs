//! About: version, data directory and the effective settings (secrets redacted).

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::Viewer;

pub struct About {
    pub version: &'static str,
    pub schema_version: i64,
    /// (setting, value) pairs, secrets already redacted.
    pub settings: Vec<(String, String)>,
    /// (what, how many).
    pub counts: Vec<(&'static str, i64)>,
    /// The audit log's last entry: its id and hash (hex).
    pub audit_head: Option<(i64, String)>,
}

pub fn view(viewer: &Viewer, a: &About) -> Markup {
    let content = html! {
        div.page-head { h1 { "About hitl" } }
        p { "hitl " (a.version) " · database schema version " (a.schema_version) }
        h2 { "Settings in effect" }
        dl.settings {
            @for (name, value) in &a.settings { dt { (name) } dd { code { (value) } } }
        }
        h2 { "Contents" }
        dl.settings {
            @for (name, n) in &a.counts { dt { (name) } dd { (n) } }
        }
        h2 { "Audit log" }
        @match &a.audit_head {
            Some((id, hash)) => {
                p { "Each entry carries the SHA-256 of the one before it and its own content. The head, entry " (id) ":" }
                p { code #audit-head { (hash) } }
                p.muted { "Note it somewhere else now and then: " code { "hitl audit verify" } " checks every entry up to it, and an entry edited or removed since breaks the chain." }
            }
            None => { p.muted { "No entries yet." } }
        }
    };
    page("About", viewer, Nav::About, content)
}
