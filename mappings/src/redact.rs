//! URLs as zfsync shows them: without their query string and fragment. A storage link's query often
//! is its credential (an S3 pre-signed URL's `X-Amz-Signature`, a CDN token), so a media URL written
//! into a log line, the console or a private note keeps only its scheme, host and path. The link
//! may no longer open; what it pointed at can still be found.
//!
//! Failure: none. Text that is not a URL is returned as it is.

/// A URL for display: everything from the first `?` or `#` on is dropped (the text as it is when
/// there is neither).
pub fn url(u: &str) -> String {
    let end = u.find(['?', '#']).unwrap_or(u.len());
    u[..end].to_string()
}

/// `text` with the query string and fragment of every `http://` or `https://` URL in it dropped. A
/// URL ends at whitespace, a quote, `<`, `>`, a backtick or a closing bracket.
pub fn urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = next_url(rest) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(ends_url).unwrap_or(tail.len());
        out.push_str(&url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next URL starts (either scheme, any case).
fn next_url(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_query_and_fragment() {
        assert_eq!(
            url("https://b.s3.amazonaws.com/a/b.jpg?X-Amz-Signature=abc&X-Amz-Expires=60#x"),
            "https://b.s3.amazonaws.com/a/b.jpg"
        );
        assert_eq!(url("https://h/p#frag"), "https://h/p");
        assert_eq!(url("https://h/p"), "https://h/p");
        assert_eq!(url(""), "");
    }

    #[test]
    fn redacts_every_url_in_a_text() {
        let t = "error sending request for url (http://127.0.0.1:9/f.pdf?X-Amz-Signature=s3cr3t): refused; see HTTPS://x.y/z?token=t2 and \"https://q/r#f\"";
        let shown = urls_in(t);
        assert!(!shown.contains("s3cr3t") && !shown.contains("t2") && !shown.contains("#f"));
        assert_eq!(
            shown,
            "error sending request for url (http://127.0.0.1:9/f.pdf): refused; see HTTPS://x.y/z and \"https://q/r\""
        );
        assert_eq!(urls_in("no link here?"), "no link here?");
        assert_eq!(urls_in("ends with http://"), "ends with http://");
    }
}
