//! Facts about agent-supplied text shared by the rules and the pages.

/// Characters that change how surrounding text is displayed or are invisible:
/// bidi controls, zero-width and other default-ignorable characters, blank fillers,
/// tag characters, and control characters.
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
        '\u{034F}' => "CGJ",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => "FILLER",
        '\u{17B4}' | '\u{17B5}' => "KIV",
        '\u{180B}'..='\u{180F}' => "MVS",
        '\u{2028}' => "LSEP",
        '\u{2029}' => "PSEP",
        '\u{2061}'..='\u{2064}' => "INV",
        '\u{206A}'..='\u{206F}' => "DFMT",
        '\u{2800}' => "BLANK",
        // Variation selectors; U+FE0E and U+FE0F only pick text or emoji style.
        '\u{FE00}'..='\u{FE0D}' | '\u{E0100}'..='\u{E01EF}' => "VS",
        '\u{FFF9}'..='\u{FFFB}' => "IAA",
        '\u{1BCA0}'..='\u{1BCA3}' => "SFMT",
        // Tag characters can spell out hidden ASCII.
        '\u{E0000}'..='\u{E007F}' => "TAG",
        c if c.is_control() && c != '\n' && c != '\t' => "CTRL",
        _ => return None,
    })
}

/// Agent text for plain-text places (mail, chat): every invisible or
/// direction-changing character replaced by the visible marker the pages show
/// (`⟨RLO⟩`), so a NUL or a bidi override never reaches the reader.
pub fn marked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match invisible_name(c) {
            Some(name) => {
                out.push('⟨');
                out.push_str(name);
                out.push('⟩');
            }
            None => out.push(c),
        }
    }
    out
}

/// `marked`, of at most the first `max` characters of `text` (then `…`).
pub fn marked_preview(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        marked(text)
    } else {
        format!("{}…", marked(&text.chars().take(max).collect::<String>()))
    }
}

/// `text` cut to at most `max` bytes on a character boundary, ending in `…` when cut
/// (an action, for one, is limited in bytes).
pub fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// True when the text holds a character `invisible_name` names (a bidi control, a
/// zero-width or tag character…), other than plain line breaks and tabs.
pub fn has_hidden(text: &str) -> bool {
    text.chars().any(|c| invisible_name(c).is_some())
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
        assert!(looks_empty("\u{3164}\u{2800}\u{E0041}\u{E0042}"));
        assert!(!looks_empty("\u{202E}drop"));
        assert!(!looks_empty("x"));
        assert!(has_hidden("a\u{202E}b") && has_hidden("\u{E0041}") && has_hidden("\u{200B}"));
        assert!(!has_hidden("plain\ttext\nwith é and 日本"));
    }

    #[test]
    fn marked_text_shows_every_hidden_character() {
        assert_eq!(marked("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            marked("a\u{202E}b\u{200B}c\u{E0041}\0"),
            "a⟨RLO⟩b⟨ZWSP⟩c⟨TAG⟩⟨CTRL⟩"
        );
        assert_eq!(marked_preview("\u{202E}abcdef", 3), "⟨RLO⟩ab…");
        assert_eq!(marked_preview("abc", 3), "abc");
    }
}
