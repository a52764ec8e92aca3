//! Agent text to plain text for Zalo: Freshchat's agent editor sends light HTML (`<b>`, `<br/>`,
//! `<p>`, links) and entities. Zalo shows plain text, so:
//!
//! - only tags on an allow-list of formatting tags are removed; anything else that merely looks like
//!   a tag stays as written, so `x<3 and y>2` or `<script>` reach the customer untouched;
//! - line breaks are kept (`<br>`, the end of a paragraph, list item or heading);
//! - links keep their target: `see <a href="https://x">our policy</a>` becomes
//!   `see our policy (https://x)`; a link whose text is its URL stays just the URL;
//! - entities are decoded once: numeric ones (`&#8217;`, `&#x1F600;`, with the Windows-1252
//!   reading of `&#128;`–`&#159;` browsers apply), the HTML 4 named set and the named Vietnamese
//!   letters (`&abreve;`, `&dstrok;`, ...). An unknown name or a malformed reference stays as
//!   written, so `a & b` and `AT&T` pass unchanged.
//!
//! It cannot fail and never panics (property-tested).

/// Tags that are formatting only and are removed (their text stays).
const FORMATTING_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "big",
    "blockquote",
    "br",
    "cite",
    "code",
    "del",
    "div",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "tt",
    "u",
    "ul",
];

/// Tags whose end (or, for `br`/`hr`, the tag itself) ends a line.
const LINE_TAGS: &[&str] = &[
    "blockquote",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "p",
];

/// Agent HTML to the plain text the customer reads on Zalo (see the module docs).
pub fn plain_text(content: &str) -> String {
    if !content.contains('<') && !content.contains('&') {
        return content.to_owned();
    }
    let mut out = String::with_capacity(content.len());
    // Where the open link's text starts in `out`, and its target.
    let mut link: Option<(usize, Option<String>)> = None;
    let mut rest = content;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt + 1..];
        match read_tag(after) {
            Some(tag) => {
                if tag.name == "a" {
                    if tag.closing {
                        if let Some((start, href)) = link.take() {
                            close_link(&mut out, start, href.as_deref());
                        }
                    } else {
                        link = Some((out.len(), tag.href));
                    }
                } else if tag.name == "br"
                    || tag.name == "hr"
                    || (tag.closing && LINE_TAGS.contains(&tag.name.as_str()))
                {
                    out.push('\n');
                }
                rest = &after[tag.len..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

/// A formatting tag at the start of `s` (just after its `<`).
struct Tag {
    name: String,
    closing: bool,
    /// `href` of an `<a>`, entities decoded.
    href: Option<String>,
    /// Bytes up to and including the `>`.
    len: usize,
}

fn read_tag(s: &str) -> Option<Tag> {
    let gt = s.find('>')?;
    let inner = &s[..gt];
    if inner.contains('<') {
        return None;
    }
    let (closing, body) = match inner.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, inner),
    };
    let end = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let name = body[..end].to_ascii_lowercase();
    // A tag name is followed by the end, white space or `/`: `<b>`, `<br/>`, `<a href=..>`.
    let next = body[end..].chars().next();
    if !matches!(next, None | Some('/')) && !next.is_some_and(char::is_whitespace) {
        return None;
    }
    if !FORMATTING_TAGS.contains(&name.as_str()) {
        return None;
    }
    let href = (name == "a" && !closing)
        .then(|| attribute(&body[end..], "href"))
        .flatten();
    Some(Tag {
        name,
        closing,
        href,
        len: gt + 1,
    })
}

/// The value of attribute `name` in a tag's attribute text, entities decoded.
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower[..at].ends_with(|c: char| c.is_whitespace());
        let rest = attrs[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=').filter(|_| before_ok) else {
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest.split(char::is_whitespace).next().unwrap_or(""),
        };
        return Some(decode_entities(value.trim()));
    }
    None
}

/// Ends a link whose text starts at `start` in `out`: shows the target after the text unless the
/// text is the target itself (or empty, then the target alone).
fn close_link(out: &mut String, start: usize, href: Option<&str>) {
    let Some(href) = href.filter(|h| !h.is_empty() && !h.starts_with('#')) else {
        return;
    };
    if href.to_ascii_lowercase().starts_with("javascript:") {
        return;
    }
    let text = out.get(start..).unwrap_or("").trim().to_owned();
    if text.is_empty() {
        out.push_str(href);
    } else if same_address(&text, href) {
        // The agent pasted the URL itself: it stays as it is.
    } else {
        out.push_str(" (");
        out.push_str(href);
        out.push(')');
    }
}

/// `https://x.com/` and `x.com` name the same place for a reader.
fn same_address(text: &str, href: &str) -> bool {
    fn bare(s: &str) -> String {
        let s = s.trim().to_ascii_lowercase();
        let s = ["https://", "http://", "mailto:", "tel:"]
            .iter()
            .find_map(|p| s.strip_prefix(p).map(str::to_owned))
            .unwrap_or(s);
        let s = s.strip_prefix("www.").map(str::to_owned).unwrap_or(s);
        s.trim_end_matches('/').to_owned()
    }
    bare(text) == bare(href)
}

/// Decodes character references once; anything that is not one stays as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp + 1..];
        match reference(tail) {
            Some((decoded, used)) => {
                out.push_str(&decoded);
                rest = &tail[used..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character(s) a reference just after `&` stands for, and the bytes it used (with the `;`).
fn reference(tail: &str) -> Option<(String, usize)> {
    // The longest name is short; a `;` further away ends no reference.
    let semi = tail.bytes().take(34).position(|b| b == b';')?;
    let body = &tail[..semi];
    let decoded = if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()?
            }
            Some(_) => return None,
            None if !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()) => {
                num.parse::<u32>().ok()?
            }
            None => return None,
        };
        numeric(code).to_string()
    } else {
        NAMED
            .iter()
            .find(|(n, _)| *n == body)
            .map(|(_, c)| c.to_string())?
    };
    Some((decoded, semi + 1))
}

/// A numeric reference as browsers read it: 128–159 as Windows-1252, invalid ones as U+FFFD.
fn numeric(code: u32) -> char {
    const CP1252: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match code {
        0x80..=0x9F => CP1252[(code - 0x80) as usize],
        0 => '\u{FFFD}',
        _ => char::from_u32(code).unwrap_or('\u{FFFD}'),
    }
}

/// Named references: the HTML 4 set and the Vietnamese letters HTML 5 names.
const NAMED: &[(&str, char)] = &[
    ("nbsp", ' '),
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("iexcl", '¡'),
    ("cent", '¢'),
    ("pound", '£'),
    ("curren", '¤'),
    ("yen", '¥'),
    ("brvbar", '¦'),
    ("sect", '§'),
    ("uml", '¨'),
    ("copy", '©'),
    ("ordf", 'ª'),
    ("laquo", '«'),
    ("not", '¬'),
    ("shy", '\u{AD}'),
    ("reg", '®'),
    ("macr", '¯'),
    ("deg", '°'),
    ("plusmn", '±'),
    ("sup2", '²'),
    ("sup3", '³'),
    ("acute", '´'),
    ("micro", 'µ'),
    ("para", '¶'),
    ("middot", '·'),
    ("cedil", '¸'),
    ("sup1", '¹'),
    ("ordm", 'º'),
    ("raquo", '»'),
    ("frac14", '¼'),
    ("frac12", '½'),
    ("frac34", '¾'),
    ("iquest", '¿'),
    ("Agrave", 'À'),
    ("Aacute", 'Á'),
    ("Acirc", 'Â'),
    ("Atilde", 'Ã'),
    ("Auml", 'Ä'),
    ("Aring", 'Å'),
    ("AElig", 'Æ'),
    ("Ccedil", 'Ç'),
    ("Egrave", 'È'),
    ("Eacute", 'É'),
    ("Ecirc", 'Ê'),
    ("Euml", 'Ë'),
    ("Igrave", 'Ì'),
    ("Iacute", 'Í'),
    ("Icirc", 'Î'),
    ("Iuml", 'Ï'),
    ("ETH", 'Ð'),
    ("Ntilde", 'Ñ'),
    ("Ograve", 'Ò'),
    ("Oacute", 'Ó'),
    ("Ocirc", 'Ô'),
    ("Otilde", 'Õ'),
    ("Ouml", 'Ö'),
    ("times", '×'),
    ("Oslash", 'Ø'),
    ("Ugrave", 'Ù'),
    ("Uacute", 'Ú'),
    ("Ucirc", 'Û'),
    ("Uuml", 'Ü'),
    ("Yacute", 'Ý'),
    ("THORN", 'Þ'),
    ("szlig", 'ß'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acirc", 'â'),
    ("atilde", 'ã'),
    ("auml", 'ä'),
    ("aring", 'å'),
    ("aelig", 'æ'),
    ("ccedil", 'ç'),
    ("egrave", 'è'),
    ("eacute", 'é'),
    ("ecirc", 'ê'),
    ("euml", 'ë'),
    ("igrave", 'ì'),
    ("iacute", 'í'),
    ("icirc", 'î'),
    ("iuml", 'ï'),
    ("eth", 'ð'),
    ("ntilde", 'ñ'),
    ("ograve", 'ò'),
    ("oacute", 'ó'),
    ("ocirc", 'ô'),
    ("otilde", 'õ'),
    ("ouml", 'ö'),
    ("divide", '÷'),
    ("oslash", 'ø'),
    ("ugrave", 'ù'),
    ("uacute", 'ú'),
    ("ucirc", 'û'),
    ("uuml", 'ü'),
    ("yacute", 'ý'),
    ("thorn", 'þ'),
    ("yuml", 'ÿ'),
    ("Abreve", 'Ă'),
    ("abreve", 'ă'),
    ("Dstrok", 'Đ'),
    ("dstrok", 'đ'),
    ("Itilde", 'Ĩ'),
    ("itilde", 'ĩ'),
    ("Utilde", 'Ũ'),
    ("utilde", 'ũ'),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
    ("Scaron", 'Š'),
    ("scaron", 'š'),
    ("Yuml", 'Ÿ'),
    ("fnof", 'ƒ'),
    ("circ", 'ˆ'),
    ("tilde", '˜'),
    ("Alpha", 'Α'),
    ("Beta", 'Β'),
    ("Gamma", 'Γ'),
    ("Delta", 'Δ'),
    ("Omega", 'Ω'),
    ("alpha", 'α'),
    ("beta", 'β'),
    ("gamma", 'γ'),
    ("delta", 'δ'),
    ("pi", 'π'),
    ("mu", 'μ'),
    ("omega", 'ω'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("thinsp", '\u{2009}'),
    ("zwnj", '\u{200C}'),
    ("zwj", '\u{200D}'),
    ("lrm", '\u{200E}'),
    ("rlm", '\u{200F}'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("sbquo", '‚'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("bdquo", '„'),
    ("dagger", '†'),
    ("Dagger", '‡'),
    ("bull", '•'),
    ("hellip", '…'),
    ("permil", '‰'),
    ("prime", '′'),
    ("Prime", '″'),
    ("lsaquo", '‹'),
    ("rsaquo", '›'),
    ("oline", '‾'),
    ("frasl", '⁄'),
    ("euro", '€'),
    ("trade", '™'),
    ("larr", '←'),
    ("uarr", '↑'),
    ("rarr", '→'),
    ("darr", '↓'),
    ("harr", '↔'),
    ("minus", '−'),
    ("infin", '∞'),
    ("ne", '≠'),
    ("le", '≤'),
    ("ge", '≥'),
    ("asymp", '≈'),
    ("spades", '♠'),
    ("clubs", '♣'),
    ("hearts", '♥'),
    ("diams", '♦'),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formatting_goes_text_and_breaks_stay() {
        assert_eq!(plain_text("Xin chào 😀"), "Xin chào 😀");
        assert_eq!(
            plain_text("<b>Hi</b><br/>there &amp; you"),
            "Hi\nthere & you"
        );
        assert_eq!(plain_text("<p>a</p><p>b</p>"), "a\nb\n");
        assert_eq!(plain_text("<H2>Title</H2>text"), "Title\ntext");
        assert_eq!(plain_text("1 < 2"), "1 < 2");
        assert_eq!(plain_text("if x<3 and y>2"), "if x<3 and y>2");
        assert_eq!(plain_text("<script>x</script>"), "<script>x</script>");
        assert_eq!(plain_text("<bogus>x</bogus>"), "<bogus>x</bogus>");
        assert_eq!(plain_text("< b>x"), "< b>x");
        assert_eq!(plain_text("&amp;lt; stays &lt;"), "&lt; stays <");
        assert_eq!(
            plain_text("a & b, AT&T; &unknown; &#;"),
            "a & b, AT&T; &unknown; &#;"
        );
    }

    #[test]
    fn links_keep_their_target() {
        assert_eq!(
            plain_text(r#"see <a href="https://x">our policy</a>"#),
            "see our policy (https://x)"
        );
        assert_eq!(
            plain_text(
                r#"<a href="https://shop.vn/a?b=1&amp;c=2" target="_blank">https://shop.vn/a?b=1&amp;c=2</a>"#
            ),
            "https://shop.vn/a?b=1&c=2"
        );
        assert_eq!(
            plain_text(r#"<a href='https://www.shop.vn/'>shop.vn</a>"#),
            "shop.vn"
        );
        assert_eq!(plain_text(r#"<a href="https://x/y"></a>"#), "https://x/y");
        assert_eq!(
            plain_text(r#"<a HREF=https://x/y><b>Đặt lịch</b></a>!"#),
            "Đặt lịch (https://x/y)!"
        );
        assert_eq!(plain_text(r##"<a href="#top">lên đầu</a>"##), "lên đầu");
        assert_eq!(plain_text(r#"<a name="x">no target</a>"#), "no target");
        assert_eq!(plain_text("<a href=\"javascript:alert(1)\">x</a>"), "x");
    }

    #[test]
    fn every_kind_of_entity() {
        assert_eq!(plain_text("It&#8217;s &#x1F600; &nbsp;ok"), "It’s 😀  ok");
        assert_eq!(
            plain_text("&#X1f600;&#146;&#0;&#xD800;"),
            "😀’\u{FFFD}\u{FFFD}"
        );
        assert_eq!(
            plain_text("Ti&ecirc;&#768;n &dstrok;&atilde; nh&#7853;n &hellip; &euro;5"),
            "Tiê\u{300}n đã nhận … €5"
        );
        assert_eq!(decode_entities("&#99999999999;"), "&#99999999999;");
    }

    /// What an HTML editor writes for literal text.
    fn escape(t: &str) -> String {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    }

    proptest! {
        /// Text without markup is untouched.
        #[test]
        fn plain_text_is_untouched(t in "[^<&]{0,200}") {
            prop_assert_eq!(plain_text(&t), t);
        }

        /// Escaped text, in formatting or not, comes back exactly.
        #[test]
        fn escaped_text_round_trips(t in "\\PC{0,120}", tag in prop::sample::select(vec!["b", "i", "span", "strong"])) {
            prop_assert_eq!(plain_text(&escape(&t)), t.clone());
            let wrapped = format!("<{tag}>{}</{tag}>", escape(&t));
            prop_assert_eq!(plain_text(&wrapped), t);
        }

        /// A link shows its text then its target, or the target alone when the text is empty.
        #[test]
        fn links_show_text_and_target(text in "[a-zA-Z ]{0,20}", path in "[a-z0-9/]{0,12}") {
            let url = format!("https://example.vn/{path}");
            let out = plain_text(&format!(r#"<a href="{}">{}</a>"#, escape(&url), escape(&text)));
            if text.trim().is_empty() {
                prop_assert_eq!(out, format!("{text}{url}"));
            } else {
                prop_assert_eq!(out, format!("{text} ({url})"));
            }
        }

        /// Stray angle brackets are never eaten: every `<` and `>` of a text without allowed
        /// tags survives.
        #[test]
        fn stray_brackets_survive(t in "[0-9 xy=<>]{0,60}") {
            let out = plain_text(&t);
            prop_assert_eq!(out.matches('<').count(), t.matches('<').count());
            prop_assert_eq!(out.matches('>').count(), t.matches('>').count());
        }

        /// Anything at all: no panic.
        #[test]
        fn never_panics(t in "\\PC{0,300}") {
            let _ = plain_text(&t);
            let _ = decode_entities(&t);
        }
    }
}
