//! Facts about agent-supplied text shared by the rules and the pages.

/// Characters that change how surrounding text is displayed or are invisible:
/// bidi controls, zero-width characters, and other control characters.
pub fn invisible_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{202A}' => "LRE",
        '\u{202B}' => "RLE",
        '\u{202C}' => "PDF",
        '\u{202D}' => "LRO",
        '\u{202E}' => "RLO",
        '\u{2066}' => "LRI",
        '\u{2067}' => "RLI",
        '\u{2068}' => "FSI",
        '\u{2069}' => "PDI",
        '\u{200E}' => "LRM",
        '\u{200F}' => "RLM",
        '\u{061C}' => "ALM",
        '\u{200B}' => "ZWSP",
        '\u{200C}' => "ZWNJ",
        '\u{200D}' => "ZWJ",
        '\u{2060}' => "WJ",
        '\u{FEFF}' => "BOM",
        '\u{00AD}' => "SHY",
        c if c.is_control() && c != '\n' && c != '\t' => "CTRL",
        _ => return None,
    })
}

/// True when a person would see nothing: only whitespace and invisible characters.
pub fn looks_empty(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || invisible_name(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_only_text_looks_empty() {
        assert!(looks_empty(""));
        assert!(looks_empty(" \n\t"));
        assert!(looks_empty("\u{200B}\u{202E} \u{FEFF}"));
        assert!(!looks_empty("\u{202E}drop"));
        assert!(!looks_empty("x"));
    }
}
