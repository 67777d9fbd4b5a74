//! SAP's search query, the `q` of `GET /scheduler/search/jobs` and
//! `GET /scheduler/search/schedules`: space-separated tokens, each free text or a qualifier
//! `field:operatorValue`.
//!
//! - Free text: a token without a `:`, or one that starts with `"`. Double quotes group a
//!   phrase with spaces or colons (`"sales order"`, `"https://x"`). Each term must occur,
//!   case-insensitively, in one of the searched fields (a job's `name` or `description`; a
//!   schedule's `description` or its job's `name`).
//! - `active:true|false`: the job's (job search) or the schedule's (schedule search) state.
//! - `startTime:<op><date>` and `endTime:<op><date>`, `op` one of `<`, `>`, `<=`, `>=`,
//!   `date` `YYYY-MM-DD` (its midnight, UTC) or `YYYY-MM-DDTHH:mm:ss` (UTC). A job or
//!   schedule without that time never matches a comparison.
//!
//! Every token must hold: the tokens are and-ed. Errors carry SAP's messages, followed by
//! the offending token of `q`.

use chime_core::model::{Job, Schedule};
use chime_core::time::parse_stored_instant;
use chrono::{NaiveDate, NaiveDateTime};

/// The prefix of every search error (SAP's).
pub const CTX: &str = "Error in Job Scheduler action";

/// A time qualifier's operator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, left: i64, right: i64) -> bool {
        match self {
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

/// A parsed `q`.
#[derive(Debug, Default, PartialEq)]
pub struct Search {
    /// Free-text terms, in lower case.
    pub terms: Vec<String>,
    /// `active:` qualifiers (each must hold).
    pub active: Vec<bool>,
    /// `startTime:` comparisons, in ms.
    pub start: Vec<(Cmp, i64)>,
    /// `endTime:` comparisons, in ms.
    pub end: Vec<(Cmp, i64)>,
}

/// One token of `q`: its text (quotes removed) and where its qualifier's `:` is (the first
/// `:` before any quote; none when the token starts with a quote).
struct Token {
    text: String,
    colon: Option<usize>,
}

fn tokens(q: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let (mut text, mut colon) = (String::new(), None);
        let (mut in_quote, mut seen_quote) = (false, false);
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() && !in_quote {
                break;
            }
            chars.next();
            if c == '"' {
                in_quote = !in_quote;
                seen_quote = true;
            } else {
                if c == ':' && !seen_quote && colon.is_none() {
                    colon = Some(text.len());
                }
                text.push(c);
            }
        }
        if in_quote {
            return Err(format!("{CTX}: Unterminated quote in q (q: '{q}')"));
        }
        if !text.is_empty() {
            out.push(Token { text, colon });
        }
    }
}

/// A qualifier's date: `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:mm:ss`, UTC, in ms.
fn date(v: &str) -> Option<i64> {
    if !v
        .get(..4)
        .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let at = match v.len() {
        10 => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?,
        19 => NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").ok()?,
        _ => return None,
    };
    Some(at.and_utc().timestamp_millis())
}

fn comparison(field: &str, value: &str, token: &str) -> Result<(Cmp, i64), String> {
    let (cmp, rest) = if let Some(r) = value.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = value.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = value.strip_prefix('<') {
        (Cmp::Lt, r)
    } else if let Some(r) = value.strip_prefix('>') {
        (Cmp::Gt, r)
    } else {
        return Err(format!(
            "{CTX}: Operator not specified for {field} (q: '{token}')"
        ));
    };
    let at = date(rest).ok_or_else(|| {
        format!("{CTX}: Date format must be YYYY-MM-DDTHH:mm:ss or YYYY-MM-DD (q: '{token}')")
    })?;
    Ok((cmp, at))
}

impl Search {
    /// Parses `q`; `Err` is the 400's message. A missing or blank `q` is SAP's "Search query
    /// not provided".
    pub fn parse(q: Option<&str>) -> Result<Search, String> {
        let missing = || format!("{CTX}: Search query not provided");
        let toks = tokens(q.ok_or_else(missing)?)?;
        if toks.is_empty() {
            return Err(missing());
        }
        let mut s = Search::default();
        for t in toks {
            let Some(i) = t.colon else {
                s.terms.push(t.text.to_lowercase());
                continue;
            };
            let (field, value) = (&t.text[..i], &t.text[i + 1..]);
            match field {
                "active" => s.active.push(match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(format!(
                            "{CTX}: active must be true or false (q: '{}')",
                            t.text
                        ))
                    }
                }),
                "startTime" => s.start.push(comparison(field, value, &t.text)?),
                "endTime" => s.end.push(comparison(field, value, &t.text)?),
                _ => return Err(format!("{CTX}: Field not recognized (q: '{}')", t.text)),
            }
        }
        Ok(s)
    }

    /// Whether job `j` matches (job search).
    pub fn job(&self, j: &Job) -> bool {
        self.active.iter().all(|a| *a == j.active)
            && times(&self.start, j.start_time.as_deref())
            && times(&self.end, j.end_time.as_deref())
            && self.text(&[&j.name, &j.description])
    }

    /// Whether schedule `sc` of job `j` matches (schedule search).
    pub fn schedule(&self, j: &Job, sc: &Schedule) -> bool {
        self.active.iter().all(|a| *a == sc.active)
            && times(&self.start, sc.start_time.as_deref())
            && times(&self.end, sc.end_time.as_deref())
            && self.text(&[&sc.description, &j.name])
    }

    fn text(&self, fields: &[&str]) -> bool {
        let lower: Vec<String> = fields.iter().map(|f| f.to_lowercase()).collect();
        self.terms
            .iter()
            .all(|t| lower.iter().any(|f| f.contains(t.as_str())))
    }
}

fn times(conds: &[(Cmp, i64)], at: Option<&str>) -> bool {
    if conds.is_empty() {
        return true;
    }
    let Some(at) = at.and_then(parse_stored_instant) else {
        return false;
    };
    conds.iter().all(|(c, v)| c.holds(at, *v))
}

/// The search routes' paging: `None` without `page_size` and `offset` (every result, no
/// links), else `(offset, size)`: `page_size` a positive integer (10 when only `offset` is
/// given), `offset` a non-negative one. `Err` is the 400's message, naming the parameter.
pub fn paging(page_size: Option<&str>, offset: Option<&str>) -> Result<Option<(u64, u64)>, String> {
    if page_size.is_none() && offset.is_none() {
        return Ok(None);
    }
    let size = match page_size {
        None => 10,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "{CTX}: 'page_size' must be a positive number, got '{v}'"
                ))
            }
        },
    };
    let offset = match offset {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("{CTX}: 'offset' must be a non-negative number, got '{v}'"))?,
    };
    Ok(Some((offset, size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: &str) -> i64 {
        parse_stored_instant(d).unwrap()
    }

    #[test]
    fn terms_qualifiers_and_quotes() {
        let s = Search::parse(Some(
            "salesOrder active:true startTime:>2025-01-01 endTime:<=2025-12-31T10:00:00 \"sales order\" \"https://x\"",
        ))
        .unwrap();
        assert_eq!(
            s,
            Search {
                terms: vec![
                    "salesorder".into(),
                    "sales order".into(),
                    "https://x".into()
                ],
                active: vec![true],
                start: vec![(Cmp::Gt, ms("2025-01-01T00:00:00Z"))],
                end: vec![(Cmp::Le, ms("2025-12-31T10:00:00Z"))],
            }
        );
        let s = Search::parse(Some("  startTime:>=\"2025-01-01\"  ")).unwrap();
        assert_eq!(s.start, vec![(Cmp::Ge, ms("2025-01-01T00:00:00Z"))]);
    }

    #[test]
    fn sap_errors() {
        let err = |q: Option<&str>| Search::parse(q).unwrap_err();
        for q in [None, Some(""), Some("   "), Some("\"\"")] {
            assert_eq!(err(q), format!("{CTX}: Search query not provided"));
        }
        for (q, msg) in [
            ("owner:me", "Field not recognized"),
            ("https://x", "Field not recognized"),
            ("Active:true", "Field not recognized"),
            ("active:yes", "active must be true or false"),
            (
                "startTime:2025-01-01",
                "Operator not specified for startTime",
            ),
            ("endTime:=2025-01-01", "Operator not specified for endTime"),
            (
                "startTime:>2025-13-01",
                "Date format must be YYYY-MM-DDTHH:mm:ss or YYYY-MM-DD",
            ),
            (
                "endTime:<2025-01-01T10:00",
                "Date format must be YYYY-MM-DDTHH:mm:ss or YYYY-MM-DD",
            ),
            (
                "startTime:>+202-01-01",
                "Date format must be YYYY-MM-DDTHH:mm:ss or YYYY-MM-DD",
            ),
            ("\"open", "Unterminated quote in q"),
        ] {
            let e = err(Some(q));
            assert!(e.starts_with(&format!("{CTX}: {msg}")), "{q}: {e}");
        }
    }

    #[test]
    fn search_paging() {
        assert_eq!(paging(None, None), Ok(None));
        assert_eq!(paging(None, Some("5")), Ok(Some((5, 10))));
        assert_eq!(paging(Some("3"), None), Ok(Some((0, 3))));
        for (size, offset, name) in [
            (Some("0"), None, "page_size"),
            (Some("-1"), None, "page_size"),
            (Some("x"), None, "page_size"),
            (None, Some("-1"), "offset"),
        ] {
            let e = paging(size, offset).unwrap_err();
            assert!(e.contains(&format!("'{name}'")), "{e}");
        }
    }
}
