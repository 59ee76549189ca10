//! The lexical rules of FHIR R4's string-valued primitives (the regexes of the R4 spec, section 2.24, written
//! out by hand for speed), with calendar checks the regexes leave out (no 30 February).

use super::schema::Prim;

/// Why a string is not a valid value of `prim`: the hint that ends the message ("use YYYY-MM-DD").
pub(crate) fn check_str(prim: Prim, s: &str) -> Result<(), &'static str> {
    let ok = match prim {
        Prim::String | Prim::Markdown => true,
        Prim::Xhtml => true,
        Prim::Code => is_code(s),
        Prim::Id => {
            (1..=64).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        Prim::Uri | Prim::Url | Prim::Canonical => !s.bytes().any(is_xsd_space),
        Prim::Oid => is_oid(s),
        Prim::Uuid => is_uuid(s),
        Prim::Base64Binary => is_base64(s),
        Prim::Date => date(s.as_bytes()).is_some_and(|rest| rest.is_empty()),
        Prim::DateTime => is_date_time(s.as_bytes(), false),
        Prim::Instant => is_date_time(s.as_bytes(), true),
        Prim::Time => time(s.as_bytes()).is_some_and(|rest| rest.is_empty()),
        Prim::Boolean | Prim::Integer | Prim::Decimal | Prim::PositiveInt | Prim::UnsignedInt => {
            unreachable!("JSON-typed primitives are not strings")
        }
    };
    if ok { Ok(()) } else { Err(hint(prim)) }
}

fn hint(prim: Prim) -> &'static str {
    match prim {
        Prim::Code => "a code has no leading, trailing or doubled white space: space, tab, CR or LF",
        Prim::Id => "use 1-64 of A-Z a-z 0-9 - .",
        Prim::Uri | Prim::Url | Prim::Canonical => "a URI has no spaces",
        Prim::Oid => "use urn:oid:1.2.3...",
        Prim::Uuid => "use urn:uuid: and a lower-case UUID",
        Prim::Base64Binary => "use base64 (A-Z a-z 0-9 + / =)",
        Prim::Date => "use YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date",
        Prim::DateTime => {
            "use YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz, with a time zone when there is a time"
        }
        Prim::Instant => "use YYYY-MM-DDThh:mm:ss.sss+zz:zz (or Z), with a time zone",
        Prim::Time => "use hh:mm:ss",
        _ => "",
    }
}

/// The spec's regexes are XML Schema's, whose `\s` is exactly these four ASCII characters: a no-break space
/// (U+00A0) or a form feed is not white space there.
pub(crate) fn is_xsd_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_code(s: &str) -> bool {
    // [^\s]+(\s[^\s]+)*
    let b = s.as_bytes();
    !b.is_empty()
        && !is_xsd_space(b[0])
        && !is_xsd_space(b[b.len() - 1])
        && !b.windows(2).any(|w| is_xsd_space(w[0]) && is_xsd_space(w[1]))
}

fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else { return false };
    let mut arcs = rest.split('.');
    let first_ok = matches!(arcs.next(), Some("0" | "1" | "2"));
    let mut count = 0;
    let rest_ok = arcs.all(|arc| {
        count += 1;
        !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()) && (arc == "0" || !arc.starts_with('0'))
    });
    first_ok && rest_ok && count > 0
}

fn is_uuid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:uuid:") else { return false };
    rest.len() == 36
        && rest.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn is_base64(s: &str) -> bool {
    let mut n = 0usize;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' {
            n += 1;
        } else if !is_xsd_space(b) {
            return false;
        }
    }
    n.is_multiple_of(4) && n > 0
}

fn digits<const N: usize>(s: &[u8]) -> Option<(u32, &[u8])> {
    if s.len() < N || !s[..N].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = s[..N].iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, &s[N..]))
}

/// `YYYY(-MM(-DD)?)?`, calendar-valid; returns what follows and whether the day was given.
fn date_parts(s: &[u8]) -> Option<(&[u8], bool)> {
    let (year, rest) = digits::<4>(s)?;
    if year == 0 {
        return None;
    }
    let Some(rest) = rest.strip_prefix(b"-") else { return Some((rest, false)) };
    let (month, rest) = digits::<2>(rest)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let Some(rest) = rest.strip_prefix(b"-") else { return Some((rest, false)) };
    let (day, rest) = digits::<2>(rest)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((rest, true))
}

fn date(s: &[u8]) -> Option<&[u8]> {
    date_parts(s).map(|(rest, _)| rest)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `hh:mm:ss(.s+)?` (a leap second `60` is allowed).
fn time(s: &[u8]) -> Option<&[u8]> {
    let (hour, rest) = digits::<2>(s)?;
    let (minute, rest) = digits::<2>(rest.strip_prefix(b":")?)?;
    let (second, mut rest) = digits::<2>(rest.strip_prefix(b":")?)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    Some(rest)
}

/// `Z` or `(+|-)hh:mm` up to 14:00.
fn zone(s: &[u8]) -> bool {
    if s == b"Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix(b"+").or_else(|| s.strip_prefix(b"-")) else { return false };
    let Some((hour, rest)) = digits::<2>(rest) else { return false };
    let Some((minute, rest)) = rest.strip_prefix(b":").and_then(digits::<2>) else { return false };
    rest.is_empty() && minute <= 59 && (hour < 14 || (hour == 14 && minute == 0))
}

fn is_date_time(s: &[u8], instant: bool) -> bool {
    let Some((rest, full_date)) = date_parts(s) else { return false };
    if rest.is_empty() {
        return !instant;
    }
    let Some(rest) = rest.strip_prefix(b"T") else { return false };
    if !full_date {
        return false;
    }
    time(rest).is_some_and(zone)
}

/// How two valid values of the same temporal kind (date, dateTime, instant, or time) order by FHIRPath's rules:
/// with times on both sides, as moments (zones applied); otherwise part by part to the lesser precision, and
/// `None` when they agree that far but one is more precise (`2020` against `2020-05`: unknown).
pub(crate) fn compare_temporal(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    if let (Some(x), Some(y)) = (time_of_day(a.as_bytes()), time_of_day(b.as_bytes())) {
        return x.partial_cmp(&y);
    }
    let (x, y) = (Temporal::parse(a.as_bytes())?, Temporal::parse(b.as_bytes())?);
    if let (Some(m), Some(n)) = (x.moment, y.moment) {
        return m.partial_cmp(&n);
    }
    let shared = x.parts.min(y.parts);
    match x.date[..shared].cmp(&y.date[..shared]) {
        std::cmp::Ordering::Equal if x.parts == y.parts && x.moment.is_none() && y.moment.is_none() => {
            Some(std::cmp::Ordering::Equal)
        }
        std::cmp::Ordering::Equal => None,
        order => Some(order),
    }
}

/// A `time` value in seconds since midnight.
fn time_of_day(s: &[u8]) -> Option<f64> {
    if s.get(2) != Some(&b':') {
        return None;
    }
    seconds(s).map(|(t, _)| t)
}

/// `hh:mm:ss(.s+)?` in seconds, and what follows.
fn seconds(s: &[u8]) -> Option<(f64, &[u8])> {
    let rest = time(s)?;
    let text = std::str::from_utf8(&s[..s.len() - rest.len()]).ok()?;
    let mut fields = text.split(':');
    let hour: f64 = fields.next()?.parse().ok()?;
    let minute: f64 = fields.next()?.parse().ok()?;
    let second: f64 = fields.next()?.parse().ok()?;
    Some((hour * 3600.0 + minute * 60.0 + second, rest))
}

struct Temporal {
    /// Year, month, day; `parts` of them were given.
    date: [u32; 3],
    parts: usize,
    /// With a time: seconds since 1970-01-01T00:00:00Z.
    moment: Option<f64>,
}

impl Temporal {
    fn parse(s: &[u8]) -> Option<Temporal> {
        let mut date = [0u32; 3];
        let (year, mut rest) = digits::<4>(s)?;
        date[0] = year;
        let mut parts = 1;
        for slot in &mut date[1..] {
            let Some(after) = rest.strip_prefix(b"-") else { break };
            let (value, after) = digits::<2>(after)?;
            *slot = value;
            parts += 1;
            rest = after;
        }
        let moment = match rest.strip_prefix(b"T") {
            Some(time) => {
                let (clock, zone) = seconds(time)?;
                let offset = match zone {
                    b"Z" => 0.0,
                    [sign, h1, h2, b':', m1, m2] => {
                        let minutes = f64::from(u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0')) * 60.0
                            + f64::from(u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0'));
                        if *sign == b'-' { -minutes * 60.0 } else { minutes * 60.0 }
                    }
                    _ => return None,
                };
                Some(days_from_civil(date[0], date[1], date[2]) as f64 * 86_400.0 + clock - offset)
            }
            None => None,
        };
        Some(Temporal { date, parts, moment })
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let (y, m, d) = (i64::from(year) - i64::from(month <= 2), i64::from(month), i64::from(day));
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_calendar() {
        for good in ["1965", "1965-02", "1965-02-28", "2024-02-29", "2000-02-29"] {
            assert_eq!(check_str(Prim::Date, good), Ok(()), "{good}");
        }
        for bad in [
            "01/02/1965",
            "1965-2-3",
            "1965-02-30",
            "1900-02-29",
            "0000",
            "1965-13",
            "1965-02-28T10:00:00Z",
            "",
        ] {
            assert!(check_str(Prim::Date, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_times_need_a_zone_with_a_time() {
        for good in [
            "2015",
            "2015-02-07",
            "2015-02-07T13:28:17-05:00",
            "2017-01-01T00:00:00.000Z",
            "2017-01-01T23:59:60Z",
        ] {
            assert_eq!(check_str(Prim::DateTime, good), Ok(()), "{good}");
        }
        for bad in [
            "2015-02-07T13:28:17",
            "2015-02T13:28:17Z",
            "2015-02-07T24:00:00Z",
            "2015-02-07T10:00:00+15:00",
            "2015-02-07 10:00:00Z",
        ] {
            assert!(check_str(Prim::DateTime, bad).is_err(), "{bad}");
        }
        assert!(check_str(Prim::Instant, "2015-02-07").is_err());
        assert_eq!(check_str(Prim::Instant, "2015-02-07T13:28:17.239+02:00"), Ok(()));
    }

    #[test]
    fn other_formats() {
        assert_eq!(check_str(Prim::Code, "final"), Ok(()));
        assert!(check_str(Prim::Code, " final").is_err());
        assert!(check_str(Prim::Code, "a  b").is_err());
        assert_eq!(check_str(Prim::Oid, "urn:oid:2.16.840.1.113883"), Ok(()));
        assert!(check_str(Prim::Oid, "urn:oid:3.1").is_err());
        assert_eq!(check_str(Prim::Uuid, "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"), Ok(()));
        assert!(check_str(Prim::Uuid, "urn:uuid:C757873D-EC9A-4326-A141-556F43239520").is_err());
        assert!(check_str(Prim::Uri, "http://x y").is_err());
        assert_eq!(check_str(Prim::Base64Binary, "aGVsbG8="), Ok(()));
        assert!(check_str(Prim::Base64Binary, "aGVsbG8").is_err());
        assert_eq!(check_str(Prim::Time, "10:15:00.5"), Ok(()));
        assert!(check_str(Prim::Time, "10:15").is_err());
    }

    #[test]
    fn temporal_values_order_as_fhirpath_says() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        assert_eq!(compare_temporal("2020-01-02", "2020-01-10"), Some(Less));
        assert_eq!(compare_temporal("2020-02", "2020-01-31"), Some(Greater));
        assert_eq!(compare_temporal("2020", "2020-05"), None);
        assert_eq!(compare_temporal("2020-05-01", "2020-05-01"), Some(Equal));
        // Zones apply: 10:00 in New York is after 14:00 in London on the same day.
        assert_eq!(compare_temporal("2020-05-01T10:00:00-05:00", "2020-05-01T14:00:00Z"), Some(Greater));
        assert_eq!(compare_temporal("2020-05-01T10:00:00.5Z", "2020-05-01T10:00:00.25Z"), Some(Greater));
        assert_eq!(compare_temporal("2020-05-01T10:00:00Z", "2020-05-01"), None);
        assert_eq!(compare_temporal("2020-05-01T10:00:00Z", "2020-04-30"), Some(Greater));
        assert_eq!(compare_temporal("10:00:00", "09:59:59.9"), Some(Greater));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
