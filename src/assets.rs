//! The CSS, script and icons, embedded in the binary at build time.

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
pub struct Assets;

/// The URL of an embedded asset, with a content hash so it can be cached for ever.
pub fn url(name: &str) -> String {
    match Assets::get(name) {
        Some(file) => {
            let hash = file.metadata.sha256_hash();
            format!(
                "/assets/{name}?v={:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                hash[0], hash[1], hash[2], hash[3], hash[4], hash[5]
            )
        }
        None => format!("/assets/{name}"),
    }
}

/// An embedded SVG icon, for inlining into a page (our own files, never agent text).
pub fn icon(name: &str) -> maud::PreEscaped<String> {
    let svg = Assets::get(&format!("icons/{name}.svg"))
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    maud::PreEscaped(svg)
}
