//! The job list's `filter`, `sort_by`, `sort_order` and `jobType` (`GET /scheduler/jobs`).
//!
//! `filter` is SAP's OData-like expression: terms `prop eq 'value'` and
//! `contains(prop, 'value')` over the properties `name`, `subDomain` and `tenantId`, joined
//! by `and` and `or` (`and` binds tighter; no brackets). A value is single-quoted; `''` in it
//! is one quote. Comparisons are case-sensitive; the keywords (`eq`, `contains`, `and`,
//! `or`) are read in any case. In chime a job's `tenantId` is the tenant it belongs to (the
//! caller's) and its `subDomain` is null, which no term matches.

use chime_core::model::Job;
use std::cmp::Ordering;

/// The prefix of the job list's errors (SAP's).
pub const CTX: &str = "Error while fetching list of jobs";

/// A property `filter` can test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prop {
    Name,
    SubDomain,
    TenantId,
}

/// One term of `filter`.
#[derive(Debug, PartialEq)]
pub enum Term {
    Eq(Prop, String),
    Contains(Prop, String),
}

/// A parsed `filter`: a disjunction of conjunctions.
#[derive(Debug, PartialEq)]
pub struct Filter(pub Vec<Vec<Term>>);

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
}

fn bad(detail: impl std::fmt::Display) -> String {
    format!("{CTX}: 'filter': {detail}")
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            ',' => out.push(Tok::Comma),
            '\'' => {
                let mut v = String::new();
                loop {
                    match chars.next() {
                        None => return Err(bad("a quoted value is not closed")),
                        Some('\'') if chars.next_if_eq(&'\'').is_some() => v.push('\''),
                        Some('\'') => break,
                        Some(c) => v.push(c),
                    }
                }
                out.push(Tok::Str(v));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut w = String::from(c);
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_') {
                    w.push(c);
                }
                out.push(Tok::Word(w));
            }
            c => return Err(bad(format_args!("unexpected '{c}'"))),
        }
    }
    Ok(out)
}

fn prop(t: Option<Tok>) -> Result<Prop, String> {
    match t {
        Some(Tok::Word(w)) => match w.as_str() {
            "name" => Ok(Prop::Name),
            "subDomain" => Ok(Prop::SubDomain),
            "tenantId" => Ok(Prop::TenantId),
            _ => Err(bad(format_args!(
                "unknown property '{w}' (name, subDomain or tenantId)"
            ))),
        },
        _ => Err(bad("expected a property (name, subDomain or tenantId)")),
    }
}

fn value(t: Option<Tok>) -> Result<String, String> {
    match t {
        Some(Tok::Str(v)) => Ok(v),
        _ => Err(bad("expected a single-quoted value")),
    }
}

fn expect(t: Option<Tok>, want: Tok, what: &str) -> Result<(), String> {
    if t.as_ref() == Some(&want) {
        Ok(())
    } else {
        Err(bad(format_args!("expected {what}")))
    }
}

fn is_word(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
}

impl Filter {
    /// Parses `filter`; `Err` is the 400's message, naming the parameter.
    pub fn parse(s: &str) -> Result<Filter, String> {
        let mut toks = lex(s)?.into_iter().peekable();
        if toks.peek().is_none() {
            return Err(bad("empty"));
        }
        let mut any = vec![vec![]];
        loop {
            let term = if is_word(toks.peek(), "contains") {
                toks.next();
                expect(toks.next(), Tok::Open, "'(' after contains")?;
                let p = prop(toks.next())?;
                expect(toks.next(), Tok::Comma, "',' after the property")?;
                let v = value(toks.next())?;
                expect(toks.next(), Tok::Close, "')' after the value")?;
                Term::Contains(p, v)
            } else {
                let p = prop(toks.next())?;
                if !is_word(toks.next().as_ref(), "eq") {
                    return Err(bad("expected 'eq' or contains(…)"));
                }
                Term::Eq(p, value(toks.next())?)
            };
            any.last_mut().expect("a conjunction").push(term);
            match toks.next() {
                None => return Ok(Filter(any)),
                Some(t) if is_word(Some(&t), "and") => {}
                Some(t) if is_word(Some(&t), "or") => any.push(vec![]),
                Some(_) => return Err(bad("expected 'and' or 'or' between terms")),
            }
        }
    }

    /// Whether job `j` of tenant `tenant` matches.
    pub fn matches(&self, j: &Job, tenant: &str) -> bool {
        let get = |p: Prop| match p {
            Prop::Name => Some(j.name.as_str()),
            Prop::SubDomain => None,
            Prop::TenantId => Some(tenant),
        };
        self.0.iter().any(|all| {
            all.iter().all(|t| match t {
                Term::Eq(p, v) => get(*p) == Some(v.as_str()),
                Term::Contains(p, v) => get(*p).is_some_and(|x| x.contains(v.as_str())),
            })
        })
    }
}

/// The fields `sort_by` accepts: the job's fields as answered.
pub const SORT_FIELDS: &[&str] = &[
    "_id",
    "jobId",
    "name",
    "description",
    "action",
    "active",
    "httpMethod",
    "startTime",
    "endTime",
    "createdAt",
    "modifiedAt",
];

/// The order `sort_by` and `sort_order` ask for: the field (`None`: the id) and whether
/// descending. `Err` is the 400's message, naming the parameter.
pub fn sort_of(by: Option<&str>, order: Option<&str>) -> Result<(Option<String>, bool), String> {
    let by = match by {
        None => None,
        Some(b) if SORT_FIELDS.contains(&b) => Some(b.to_string()),
        Some(b) => {
            return Err(format!(
                "{CTX}: 'sort_by' must be one of {}, got '{b}'",
                SORT_FIELDS.join(", ")
            ))
        }
    };
    let desc = match order {
        None => false,
        Some(o) if o.eq_ignore_ascii_case("asc") => false,
        Some(o) if o.eq_ignore_ascii_case("desc") => true,
        Some(o) => {
            return Err(format!(
                "{CTX}: 'sort_order' must be ASC or DESC, got '{o}'"
            ))
        }
    };
    Ok((by, desc))
}

/// Sorts `jobs` by `by` (ties, and `None`, by id), descending when `desc`.
pub fn sort(jobs: &mut [Job], by: Option<&str>, desc: bool) {
    let key = |a: &Job, b: &Job| -> Ordering {
        match by.unwrap_or("_id") {
            "name" => a.name.cmp(&b.name),
            "description" => a.description.cmp(&b.description),
            "action" => a.action.cmp(&b.action),
            "active" => a.active.cmp(&b.active),
            "httpMethod" => a.http_method.to_string().cmp(&b.http_method.to_string()),
            "startTime" => a.start_time.cmp(&b.start_time),
            "endTime" => a.end_time.cmp(&b.end_time),
            "createdAt" => a.created_at.cmp(&b.created_at),
            "modifiedAt" => a.modified_at.cmp(&b.modified_at),
            _ => Ordering::Equal,
        }
    };
    jobs.sort_by(|a, b| {
        let o = key(a, b).then(a.id.cmp(&b.id));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

/// `jobType`: `Ok(true)` for `HTTP_ENDPOINT` (every chime job), `Ok(false)` for `CF_TASK`
/// (none). `Err` is the 400's message, naming the parameter.
pub fn job_type(v: &str) -> Result<bool, String> {
    match v {
        "HTTP_ENDPOINT" => Ok(true),
        "CF_TASK" => Ok(false),
        _ => Err(format!(
            "{CTX}: 'jobType' must be HTTP_ENDPOINT or CF_TASK, got '{v}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, name: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "_id": id, "name": name, "description": "", "action": "http://x/",
            "active": true, "httpMethod": "POST", "startTime": null, "endTime": null,
            "timeoutMs": 1000, "createdAt": "2025-01-01T00:00:00.000Z",
            "modifiedAt": "2025-01-01T00:00:00.000Z"
        }))
        .unwrap()
    }

    #[test]
    fn sap_filters() {
        let f =
            Filter::parse("contains(name, 'my_test') and subDomain eq 'd' or tenantId EQ 'it''s'")
                .unwrap();
        assert_eq!(
            f,
            Filter(vec![
                vec![
                    Term::Contains(Prop::Name, "my_test".into()),
                    Term::Eq(Prop::SubDomain, "d".into())
                ],
                vec![Term::Eq(Prop::TenantId, "it's".into())],
            ])
        );
        let j = job(1, "my_job('part one')");
        let f = Filter::parse("contains(name, 'my_job(''part one'')')").unwrap();
        assert!(f.matches(&j, "t"));
        assert!(Filter::parse("name eq 'my_job(''part one'')'")
            .unwrap()
            .matches(&j, "t"));
        assert!(!Filter::parse("subDomain eq ''").unwrap().matches(&j, "t"));
        assert!(Filter::parse("name eq 'x' or tenantId eq 't'")
            .unwrap()
            .matches(&j, "t"));
        assert!(!Filter::parse("name eq 'x' and tenantId eq 't'")
            .unwrap()
            .matches(&j, "t"));
        assert!(!Filter::parse("contains(name, 'MY')")
            .unwrap()
            .matches(&j, "t"));
    }

    #[test]
    fn bad_filters_name_the_parameter() {
        for f in [
            "",
            "name",
            "name eq",
            "name eq x",
            "name = 'x'",
            "owner eq 'x'",
            "name eq 'x' and",
            "name eq 'x' nor name eq 'y'",
            "contains(name 'x')",
            "contains(name, 'x'",
            "(name eq 'x')",
            "name eq 'open",
        ] {
            let e = Filter::parse(f).unwrap_err();
            assert!(e.starts_with(&format!("{CTX}: 'filter': ")), "{f}: {e}");
        }
    }

    #[test]
    fn sorting() {
        let mut jobs = vec![job(1, "b"), job(2, "a"), job(3, "b")];
        let (by, desc) = sort_of(Some("name"), Some("desc")).unwrap();
        sort(&mut jobs, by.as_deref(), desc);
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [3, 1, 2]);
        sort(&mut jobs, None, false);
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(sort_of(Some("owner"), None)
            .unwrap_err()
            .contains("'sort_by'"));
        assert!(sort_of(None, Some("up"))
            .unwrap_err()
            .contains("'sort_order'"));
        assert!(job_type("BATCH").unwrap_err().contains("'jobType'"));
    }
}
