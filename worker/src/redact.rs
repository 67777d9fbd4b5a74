//! Secrets of a target URL kept out of run texts: a failed call's error names its URL
//! (`error sending request for url (https://user:pass@host/?apikey=…)`), and run texts are
//! served by every run-log dialect, the export and the live tail, to every key of the tenant
//! that may read. The URL's userinfo and its query values become `***` wherever they appear.

use url::Url;

/// What is hidden: values shorter than this are left alone where they appear outside the
/// URL (a `?page=2` would otherwise blank every 2 in the text).
const SHORTEST_SECRET: usize = 4;

/// `text` with the secrets of `url` (its username, password and query values) replaced by
/// `***`, both within the URL as it is written and wherever they appear alone.
pub fn redact(text: &str, url: &str) -> String {
    let Ok(parsed) = Url::parse(url.trim()) else {
        return text.to_string();
    };
    let mut out = text.replace(parsed.as_str(), &redacted_url(&parsed));
    for secret in secrets(&parsed) {
        if secret.len() >= SHORTEST_SECRET {
            out = out.replace(&secret, "***");
        }
    }
    out
}

/// `text` with each of `values` (a job's secret header values) replaced by `***`: a target
/// that echoes a header back in its answer or its error does not put it in the run log.
/// Values shorter than four characters are left alone.
pub fn hide(text: &str, values: &[&str]) -> String {
    let mut values: Vec<&str> = values
        .iter()
        .copied()
        .filter(|v| v.len() >= SHORTEST_SECRET)
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for v in values {
        out = out.replace(v, "***");
    }
    out
}

/// The URL as written, its userinfo and query values replaced by `***`.
fn redacted_url(url: &Url) -> String {
    let mut r = url.clone();
    if !r.username().is_empty() {
        let _ = r.set_username("***");
    }
    if r.password().is_some() {
        let _ = r.set_password(Some("***"));
    }
    if let Some(q) = url.query() {
        let hidden: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => pair.to_string(),
            })
            .collect();
        r.set_query(Some(&hidden.join("&")));
    }
    r.to_string()
}

/// The URL's secrets as they are written in it (percent-encoded as in the URL).
fn secrets(url: &Url) -> Vec<String> {
    let mut out = Vec::new();
    if !url.username().is_empty() {
        out.push(url.username().to_string());
    }
    if let Some(p) = url.password() {
        out.push(p.to_string());
    }
    if let Some(q) = url.query() {
        for pair in q.split('&') {
            if let Some((_, v)) = pair.split_once('=') {
                out.push(v.to_string());
            }
        }
    }
    // Longest first, so a secret that contains another is hidden whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::{hide, redact};

    #[test]
    fn secret_values_are_hidden_longest_first() {
        let text = "echo: Bearer tok-123456 and tok-123456 and abc";
        let out = hide(text, &["tok-123456", "Bearer tok-123456", "abc"]);
        assert_eq!(out, "echo: *** and *** and abc");
    }

    const URL: &str = "https://alice:s3cr3t-pw@api.example.test/hook?apikey=k-12345&page=2";

    #[test]
    fn userinfo_and_query_values_are_hidden_in_the_url_and_alone() {
        let text = format!(
            "error sending request for url ({URL}): connection refused; key k-12345 page 2"
        );
        let out = redact(&text, URL);
        assert!(!out.contains("s3cr3t-pw"), "{out}");
        assert!(!out.contains("k-12345"), "{out}");
        assert!(!out.contains("alice"), "{out}");
        assert!(
            out.contains("https://***:***@api.example.test/hook?apikey=***&page=***"),
            "{out}"
        );
        assert!(
            out.contains("page 2"),
            "short values stay outside the URL: {out}"
        );
    }

    #[test]
    fn a_url_without_secrets_or_an_unreadable_one_leaves_the_text_alone() {
        let text = "endpoint returned status code 503";
        assert_eq!(redact(text, "https://api.example.test/hook"), text);
        assert_eq!(redact(text, "not a url"), text);
    }
}
