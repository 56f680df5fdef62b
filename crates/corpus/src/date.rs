//! Tolerant WARC-Date / W3C-DTF / 14-digit timestamp parsing.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// Parses a WARC date to unix seconds.
///
/// Accepts W3C-DTF with reduced precision (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm`), seconds with fractions, `Z` or numeric offsets
/// (`+hh:mm`, `+hhmm`), a space instead of `T`, and 14-digit
/// `YYYYMMDDhhmmss` timestamps. Anything else is an error message.
pub fn parse_warc_date(raw: &str) -> Result<i64, String> {
    parse(raw.trim()).ok_or_else(|| format!("unparseable date {raw:?}"))
}

fn digits(s: &[u8], n: usize) -> Option<(u32, &[u8])> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    Some((v, &s[n..]))
}

fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() == 14 && b.iter().all(u8::is_ascii_digit) {
        let (y, r) = digits(b, 4)?;
        let (mo, r) = digits(r, 2)?;
        let (d, r) = digits(r, 2)?;
        let (h, r) = digits(r, 2)?;
        let (mi, r) = digits(r, 2)?;
        let (se, _) = digits(r, 2)?;
        return build(y, mo, d, h, mi, se, 0);
    }
    let (y, mut r) = digits(b, 4)?;
    let (mut mo, mut d, mut h, mut mi, mut se) = (1, 1, 0, 0, 0);
    if let Some(rest) = r.strip_prefix(b"-") {
        let (v, rest) = digits(rest, 2)?;
        mo = v;
        r = rest;
        if let Some(rest) = r.strip_prefix(b"-") {
            let (v, rest) = digits(rest, 2)?;
            d = v;
            r = rest;
            if let Some(rest) = r.strip_prefix(b"T").or_else(|| r.strip_prefix(b" ")) {
                let (v, rest) = digits(rest, 2)?;
                h = v;
                let rest = rest.strip_prefix(b":")?;
                let (v, rest) = digits(rest, 2)?;
                mi = v;
                r = rest;
                if let Some(rest) = r.strip_prefix(b":") {
                    let (v, rest) = digits(rest, 2)?;
                    se = v;
                    r = rest;
                    if let Some(rest) = r.strip_prefix(b".") {
                        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                        if n == 0 {
                            return None;
                        }
                        r = &rest[n..];
                    }
                }
            }
        }
    }
    let offset_secs: i32 = match r {
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, rest) = digits(rest, 2)?;
            let rest = rest.strip_prefix(b":").unwrap_or(rest);
            let (om, rest) = digits(rest, 2)?;
            if !rest.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            let v = (oh * 3600 + om * 60) as i32;
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    build(y, mo, d, h, mi, se, offset_secs)
}

fn build(y: u32, mo: u32, d: u32, h: u32, mi: u32, se: u32, offset_secs: i32) -> Option<i64> {
    let month = Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    // Leap seconds (ss = 60) are folded into the next second.
    let (se, extra) = if se == 60 { (59, 1) } else { (se, 0) };
    let t = Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(se).ok()?,
    )
    .ok()?;
    let off = UtcOffset::from_whole_seconds(offset_secs).ok()?;
    Some(
        PrimitiveDateTime::new(date, t)
            .assume_offset(off)
            .unix_timestamp()
            + extra,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_warc_date as p;

    #[test]
    fn formats() {
        assert_eq!(p("2008-04-30T20:48:25Z"), Ok(1209588505));
        assert_eq!(p("2008-04-30T20:48:25.123456Z"), Ok(1209588505));
        assert_eq!(p("2008-04-30T13:48:25-0700"), Ok(1209588505));
        assert_eq!(p("2008-04-30T22:48:25+02:00"), Ok(1209588505));
        assert_eq!(p("20080430204825"), Ok(1209588505));
        assert_eq!(p("2008-04-30"), Ok(1209513600));
        assert_eq!(p("2008-04-30T20:48Z"), Ok(1209588480));
        assert!(p("2008-10-294T05:21:46-0700").is_err());
        assert!(p("2019-08-15T14:0").is_err());
        assert!(p("").is_err());
        assert!(p("2008-13-01").is_err());
    }
}
