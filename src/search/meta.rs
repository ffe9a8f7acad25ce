//! `author:` and `date:` filters: they keep the documents whose front matter says so, read
//! from each document's metadata (not from its text).
//!
//! Dates are compared as written dates are read by people: `2024-03-05`, `2024/3/5`,
//! `2024.03.05`, `2024年3月5日` and `2024-03-05T10:00:00+08:00` are the same day; a filter is
//! as precise as it is written, so `date:2024` keeps every date of 2024 and `date:>=2023-06`
//! keeps June 2023 onwards.

use std::cmp::Ordering;

use crate::model::DocMeta;
use crate::text::analysis;

/// How a `date:` filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `date:2024-03`: within that year, month or day.
    Within,
    /// `date:>2024`.
    After,
    /// `date:>=2024`.
    From,
    /// `date:<2024`.
    Before,
    /// `date:<=2024`.
    Until,
}

/// A filter on a document's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaFilter {
    /// The author (normalised) contains this text.
    Author(String),
    /// The date compares so with this one (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
    Date(Cmp, String),
}

/// Why a filter cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// `author:` with nothing after it.
    #[error("`author:` needs a name, e.g. author:林小雨")]
    EmptyAuthor,
    /// A `date:` value that is no date.
    #[error(
        "`date:{0}` is not a date: write date:2024, date:2024-03, date:>=2023-06 or date:<2024-01-15"
    )]
    BadDate(String),
}

/// Reads `author:…` or `date:…`; `None` when `text` is neither.
pub fn parse(text: &str) -> Option<Result<MetaFilter, MetaError>> {
    if let Some(name) = text.strip_prefix("author:") {
        let norm = analysis::normalize(name);
        return Some(match norm.trim() {
            "" => Err(MetaError::EmptyAuthor),
            n => Ok(MetaFilter::Author(n.to_string())),
        });
    }
    let value = text.strip_prefix("date:")?;
    let (cmp, rest) = [
        (">=", Cmp::From),
        ("<=", Cmp::Until),
        (">", Cmp::After),
        ("<", Cmp::Before),
    ]
    .into_iter()
    .find_map(|(op, cmp)| value.strip_prefix(op).map(|r| (cmp, r)))
    .unwrap_or((Cmp::Within, value));
    Some(match query_date(rest).filter(|_| whole_date(rest)) {
        Some(key) => Ok(MetaFilter::Date(cmp, key)),
        None => Err(MetaError::BadDate(value.to_string())),
    })
}

/// Whether `s` is nothing but a date (digits and the separators [`date_key`] reads).
fn whole_date(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | '.' | '年' | '月' | '日'))
}

/// A date of a filter as [`date_key`] makes it, from a year, a year and a month, or a day of
/// the calendar, and nothing else: `2024-13`, `2024-02-30` or `2024-1-2-3` is no date (a
/// document's date is read leniently, a filter's is what the user asks for).
fn query_date(s: &str) -> Option<String> {
    let parts: Vec<&str> = (s.split(|c: char| !c.is_ascii_digit()))
        .filter(|n| !n.is_empty())
        .collect();
    let n = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
    let month = |m: u32| (1..=12).contains(&m);
    let valid = parts.first()?.len() == 4
        && match parts.len() {
            1 => true,
            2 => month(n(1)?),
            3 => {
                let (y, m, d) = (n(0)?, n(1)?, n(2)?);
                month(m) && (1..=days_in(y, m)).contains(&d)
            }
            _ => false,
        };
    valid.then(|| date_key(s)).flatten()
}

/// Days in `month` (1–12) of `year` (Gregorian).
fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date as `YYYY`, `YYYY-MM` or `YYYY-MM-DD`: its first number of four digits is the year,
/// the next one or two numbers (1–12, then 1–31) the month and day; anything after (a time)
/// is ignored. `None` when it holds no year.
pub fn date_key(s: &str) -> Option<String> {
    let numbers: Vec<&str> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .collect();
    let year = numbers.iter().position(|n| n.len() == 4)?;
    let mut key = numbers[year].to_string();
    let parts = numbers[year + 1..].iter().map(|n| n.parse::<u32>().ok());
    for (part, max) in parts.zip([12, 31]) {
        match part {
            Some(v) if (1..=max).contains(&v) => key.push_str(&format!("-{v:02}")),
            _ => break,
        }
    }
    Some(key)
}

impl MetaFilter {
    /// Whether a document with `meta` is kept (one without an author or a date is not kept
    /// by a filter on it).
    pub fn keeps(&self, meta: &DocMeta) -> bool {
        match self {
            MetaFilter::Author(name) => meta
                .author
                .as_deref()
                .is_some_and(|a| analysis::normalize(a).contains(name.as_str())),
            MetaFilter::Date(cmp, want) => {
                let Some(have) = meta.date.as_deref().and_then(date_key) else {
                    return false;
                };
                // As precise as the less precise of the two: 2024-03-05 is within 2024 and
                // after 2023-12; a document of 2024 (or of 2024-03) is neither before nor
                // after 2024-03-01, but equal to it, as to any day within it.
                let precision = have.len().min(want.len());
                let order = have[..precision].cmp(&want[..precision]);
                match cmp {
                    Cmp::Within => order == Ordering::Equal && precision == want.len(),
                    Cmp::After => order == Ordering::Greater,
                    Cmp::From => order != Ordering::Less,
                    Cmp::Before => order == Ordering::Less,
                    Cmp::Until => order != Ordering::Greater,
                }
            }
        }
    }
}

/// The date of `meta` as [`date_key`] reads it, for sorting by date.
pub fn sort_key(meta: &DocMeta) -> Option<String> {
    meta.date.as_deref().and_then(date_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dated(d: &str) -> DocMeta {
        DocMeta {
            date: Some(d.into()),
            author: Some("林小雨, 王五".into()),
            ..DocMeta::default()
        }
    }

    #[test]
    fn dates_are_read_as_people_write_them() {
        for d in [
            "2024-03-05",
            "2024/3/5",
            "2024.03.05",
            "2024年3月5日",
            "2024-03-05T10:00:00+08:00",
        ] {
            assert_eq!(date_key(d).as_deref(), Some("2024-03-05"), "{d}");
        }
        assert_eq!(date_key("2024").as_deref(), Some("2024"));
        assert_eq!(date_key("2024-13-01").as_deref(), Some("2024"));
        assert_eq!(date_key("March 5, 2024").as_deref(), Some("2024"));
        assert_eq!(date_key("yesterday"), None);
    }

    #[test]
    fn filters_are_as_precise_as_written() {
        let keep = |f: &str, d: &str| match parse(f) {
            Some(Ok(filter)) => filter.keeps(&dated(d)),
            other => panic!("{f}: {other:?}"),
        };
        assert!(keep("date:2024", "2024-03-05 16:24:04"));
        // A date less precise than the filter is equal to every day within it.
        for (filter, kept) in [
            ("date:<2024-01-01", false),
            ("date:<=2023-12-31", false),
            ("date:>=2024-01-01", true),
            ("date:<=2024-06-30", true),
            ("date:>=2024-06-01", true),
            ("date:<=2024-06-01", true),
            ("date:<2024-06-01", false),
            ("date:>2024-06-30", false),
            ("date:2024-06", false),
        ] {
            assert_eq!(keep(filter, "2024"), kept, "{filter} of 2024");
        }
        for (filter, kept) in [
            ("date:<2024-03-01", false),
            ("date:>=2024-03-01", true),
            ("date:<2024-04-01", true),
            ("date:2024-03-05", false),
        ] {
            assert_eq!(keep(filter, "2024-03"), kept, "{filter} of 2024-03");
        }
        assert!(keep("date:2024-03", "2024/3/5"));
        assert!(!keep("date:2024-04", "2024-03-05"));
        assert!(!keep("date:2024-03-05", "2024-03"));
        assert!(keep("date:>=2023-06", "2023-06-01"));
        assert!(!keep("date:>2023-06", "2023-06-30"));
        assert!(keep("date:>2023-06", "2023-07-01"));
        assert!(keep("date:<2024", "2023-12-31"));
        assert!(!keep("date:<2024", "2024-01-01"));
        assert!(keep("date:<=2024", "2024-12-31"));
        assert!(keep("author:王五", "2024"));
        assert!(keep("author:林小雨", "2024"));
        assert!(!keep("author:张三", "2024"));
        assert!(
            !parse("author:林小雨")
                .unwrap()
                .unwrap()
                .keeps(&DocMeta::default())
        );
        assert_eq!(
            parse("date:soon"),
            Some(Err(MetaError::BadDate("soon".into())))
        );
        assert_eq!(
            parse("date:>=2024x"),
            Some(Err(MetaError::BadDate(">=2024x".into())))
        );
        // A filter's date is one of the calendar, whole.
        for bad in [
            "2024-13",
            "2024-00",
            ">=2024-13",
            "2024-02-99",
            "2024-03-00",
            "2023-02-29",
            "2024-04-31",
            "2024-1-2-3",
            "24-03-05",
            "03-05-2024",
            "2024-03-05T10",
        ] {
            let f = format!("date:{bad}");
            assert_eq!(parse(&f), Some(Err(MetaError::BadDate(bad.into()))), "{f}");
        }
        for good in [
            "2024-02-29",
            "2000-02-29",
            "2024年3月",
            "2024/12/31",
            "<2024.1.1",
        ] {
            assert!(
                matches!(parse(&format!("date:{good}")), Some(Ok(_))),
                "{good}"
            );
        }
        assert_eq!(parse("author:"), Some(Err(MetaError::EmptyAuthor)));
        assert_eq!(parse("title:x"), None);
    }
}
