//! DEP-3 patch headers (<https://dep-team.pages.debian.net/deps/dep3/>).
//!
//! Every patch we ship starts with `Description:`, `Author:`, `Origin:`,
//! `Forwarded:` and `Last-Update:` so that packagers can take the files as
//! they are, and so that the git export can build commit messages from them.

use std::fmt;

/// The fields every patch must carry, in the order we document them.
pub const REQUIRED: [&str; 5] = [
    "Description",
    "Author",
    "Origin",
    "Forwarded",
    "Last-Update",
];

/// A validated DEP-3 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dep3 {
    /// The summary line followed by the long description, `\n`-separated.
    pub description: String,
    pub author: Author,
    pub origin: String,
    pub forwarded: String,
    pub last_update: Date,
    /// Every field in file order, including optional ones (`Bug:`, …).
    pub fields: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Dep3Error {
    #[error("the DEP-3 header is not valid UTF-8; save the patch header as UTF-8")]
    NotUtf8,
    #[error(
        "the DEP-3 header at the top (before the diff) has no `{field}:` field; add `{}`",
        hint(field)
    )]
    Missing { field: &'static str },
    #[error("the DEP-3 header has `{field}:` twice; keep one")]
    Duplicate { field: &'static str },
    #[error("`{field}:` is empty; write `{}`", hint(field))]
    Empty { field: &'static str },
    #[error("`Last-Update: {value}` is not a date; write `Last-Update: YYYY-MM-DD`")]
    BadDate { value: String },
    #[error("`Author: {value}` must be `Author: Name <email>` (the git export needs both)")]
    BadAuthor { value: String },
}

fn hint(field: &str) -> &'static str {
    match field {
        "Description" => "Description: <one-line summary>, then further lines indented by a space",
        "Author" => "Author: Name <email>",
        "Origin" => "Origin: upstream|backport|vendor|other, <URL or note>",
        "Forwarded" => "Forwarded: no|not-needed|<URL>",
        _ => "Last-Update: YYYY-MM-DD",
    }
}

impl Dep3 {
    /// The summary: the first line of `Description:`.
    pub fn subject(&self) -> &str {
        self.description.lines().next().unwrap_or("")
    }

    /// The long description: every line after the summary, without the
    /// blank lines around it.
    pub fn body(&self) -> String {
        let rest: Vec<&str> = self.description.lines().skip(1).collect();
        rest.join("\n").trim_matches('\n').to_string()
    }
}

/// Reads and validates the DEP-3 header at the top of a patch file.
pub fn parse(text: &[u8]) -> Result<Dep3, Dep3Error> {
    let fields = header_fields(text)?;
    let mut found: [Option<&str>; 5] = [None; 5];
    for (name, value) in &fields {
        // Field names are case-insensitive in RFC 822 style headers.
        if let Some(i) = REQUIRED.iter().position(|r| r.eq_ignore_ascii_case(name)) {
            if found[i].is_some() {
                return Err(Dep3Error::Duplicate { field: REQUIRED[i] });
            }
            found[i] = Some(value.as_str());
        }
    }
    let mut values = [""; 5];
    for (i, field) in REQUIRED.iter().enumerate() {
        let value = found[i].ok_or(Dep3Error::Missing { field })?;
        // The summary line must not be empty; later lines may be.
        if value.lines().next().unwrap_or("").trim().is_empty() {
            return Err(Dep3Error::Empty { field });
        }
        values[i] = value;
    }
    let [description, author, origin, forwarded, last_update] = values;
    Ok(Dep3 {
        description: description.to_string(),
        author: parse_author(author).ok_or_else(|| Dep3Error::BadAuthor {
            value: author.to_string(),
        })?,
        origin: origin.to_string(),
        forwarded: forwarded.to_string(),
        last_update: parse_date(last_update.trim()).ok_or_else(|| Dep3Error::BadDate {
            value: last_update.to_string(),
        })?,
        fields,
    })
}

/// The `Name: value` lines at the top of the file, with continuation lines
/// (starting with a space or tab) folded into their field; a lone `.` is
/// DEP-3's (and Debian control's) empty line. Stops at the first blank line,
/// the diff, or free-form text.
fn header_fields(text: &[u8]) -> Result<Vec<(String, String)>, Dep3Error> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for raw in text.split(|&b| b == b'\n') {
        let line = std::str::from_utf8(raw).map_err(|_| Dep3Error::NotUtf8)?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with("---") || line.starts_with("diff ") {
            break;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = fields.last_mut() else {
                break;
            };
            let cont = line.trim();
            value.push('\n');
            if cont != "." {
                value.push_str(cont);
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if is_field_name(name) => {
                fields.push((name.to_string(), value.trim().to_string()));
            }
            _ => break,
        }
    }
    Ok(fields)
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `Name <email>`, both parts non-empty and the email with an `@`.
fn parse_author(value: &str) -> Option<Author> {
    let value = value.trim();
    let inner = value.strip_suffix('>')?;
    let (name, email) = inner.rsplit_once('<')?;
    let (name, email) = (name.trim(), email.trim());
    if name.is_empty() || !email.contains('@') || email.contains(['<', '>', ' ']) {
        return None;
    }
    Some(Author {
        name: name.to_string(),
        email: email.to_string(),
    })
}

/// `YYYY-MM-DD`, checked against the calendar.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let year = i32::try_from(year).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(Date { year, month, day })
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The RFC 2822 form at midnight UTC, as mail headers want it:
    /// `Mon, 2 Jun 2025 00:00:00 +0000`.
    pub fn rfc2822(self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        // 1970-01-01 was a Thursday.
        let weekday = DAYS[self.days_since_epoch().rem_euclid(7) as usize];
        let month = MONTHS[(self.month - 1) as usize % 12];
        format!(
            "{weekday}, {} {month} {} 00:00:00 +0000",
            self.day, self.year
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Description: Add DTrace probes\n more detail\n .\n last line\n\
Author: Jane Doe <jane@example.org>\nOrigin: vendor\nForwarded: not-needed\n\
Bug: https://example.org/1\nLast-Update: 2024-02-29\n\n--- a/x\n+++ b/x\n";

    #[test]
    fn parses_all_fields_and_continuations() {
        let h = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(h.subject(), "Add DTrace probes");
        assert_eq!(h.body(), "more detail\n\nlast line");
        assert_eq!(h.author.to_string(), "Jane Doe <jane@example.org>");
        assert_eq!(h.last_update.to_string(), "2024-02-29");
        assert!(h.fields.iter().any(|(k, _)| k == "Bug"));
    }

    #[test]
    fn each_missing_field_is_named() {
        for field in REQUIRED {
            let text: String = GOOD
                .lines()
                .filter(|l| !l.starts_with(&format!("{field}:")))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(
                parse(text.as_bytes()),
                Err(Dep3Error::Missing { field }),
                "{field}"
            );
        }
    }

    #[test]
    fn fields_after_the_diff_do_not_count() {
        let text = "Description: x\nAuthor: A <a@b>\n\nOrigin: vendor\n";
        assert_eq!(
            parse(text.as_bytes()),
            Err(Dep3Error::Missing { field: "Origin" })
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let date = GOOD.replace("2024-02-29", "2023-02-29");
        assert!(matches!(
            parse(date.as_bytes()),
            Err(Dep3Error::BadDate { .. })
        ));
        let author = GOOD.replace("Jane Doe <jane@example.org>", "Jane Doe");
        assert!(matches!(
            parse(author.as_bytes()),
            Err(Dep3Error::BadAuthor { .. })
        ));
        let empty = GOOD.replace("Origin: vendor", "Origin:");
        assert_eq!(
            parse(empty.as_bytes()),
            Err(Dep3Error::Empty { field: "Origin" })
        );
        let twice = GOOD.replace("Origin: vendor", "Origin: vendor\nOrigin: other");
        assert_eq!(
            parse(twice.as_bytes()),
            Err(Dep3Error::Duplicate { field: "Origin" })
        );
    }

    #[test]
    fn dates_and_weekdays() {
        assert_eq!(parse_date("1970-01-01").unwrap().days_since_epoch(), 0);
        assert_eq!(parse_date("2000-03-01").unwrap().days_since_epoch(), 11_017);
        assert_eq!(
            parse_date("2025-06-02").unwrap().rfc2822(),
            "Mon, 2 Jun 2025 00:00:00 +0000"
        );
        assert_eq!(
            parse_date("2024-02-29").unwrap().rfc2822(),
            "Thu, 29 Feb 2024 00:00:00 +0000"
        );
        for bad in [
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-00",
            "2024/01/01",
            "２024-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
