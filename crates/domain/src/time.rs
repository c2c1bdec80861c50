//! Timestamps: stored as Unix milliseconds, shown as RFC 3339 in UTC.

/// Formats Unix milliseconds as `2026-11-21T23:49:11.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let Civil { year, month, day, hour, minute } = civil(ms);
    let (second, millis) = (ms.div_euclid(1000).rem_euclid(60), ms.rem_euclid(1000));
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// A moment, kept as Unix milliseconds and written as RFC 3339 only where it leaves Souk (the
/// API's JSON); pages format it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-07T14:03:00.000Z"))]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn ms(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_rfc3339(&text).map(Timestamp).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
    }
}

/// A moment as people read it, in UTC: date and minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

/// The UTC date and time of Unix milliseconds.
pub fn civil(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    Civil { year, month, day, hour: (rem / 3600) as u32, minute: (rem % 3600 / 60) as u32 }
}

/// Parses what [`rfc3339`] writes (`YYYY-MM-DDTHH:MM:SS.mmmZ`) back to Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| {
        let part = s.get(from..to)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse::<i64>().ok())?
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    // An optional fraction (milliseconds kept), then `Z` or an offset `±HH:MM`.
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        ms = padded.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_min = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (rest.get(1..3)?.parse::<i64>().ok()?, rest.get(4..6)?.parse::<i64>().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            if *sign == b'+' {
                oh * 60 + om
            } else {
                -(oh * 60 + om)
            }
        }
        _ => return None,
    };
    Some((days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - offset_min * 60) * 1000 + ms)
}

/// Howard Hinnant's civil-to-days algorithm, the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub const SECOND_MS: i64 = 1000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_travels_as_rfc3339() {
        let t = Timestamp(parse_rfc3339("2026-12-07T14:03:00.250Z").unwrap());
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-12-07T14:03:00.250Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn a_moment_reads_as_its_utc_date_and_minute() {
        let ms = parse_rfc3339("2026-12-07T23:59:59.999Z").unwrap();
        assert_eq!(civil(ms), Civil { year: 2026, month: 12, day: 7, hour: 23, minute: 59 });
        assert_eq!(civil(ms + 1), Civil { year: 2026, month: 12, day: 8, hour: 0, minute: 0 });
        assert_eq!(civil(-1), Civil { year: 1969, month: 12, day: 31, hour: 23, minute: 59 });
        assert_eq!(rfc3339(ms), "2026-12-07T23:59:59.999Z", "formatting still round-trips");
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_305_599_999), "2026-11-21T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 951_782_400_000, 1_795_305_599_999, 4_102_444_800_123] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        }
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00.000Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn parses_the_other_rfc3339_forms_carriers_send() {
        let at = parse_rfc3339("2026-09-22T08:00:00.000Z").unwrap();
        assert_eq!(parse_rfc3339("2026-09-22T08:00:00Z"), Some(at));
        assert_eq!(parse_rfc3339("2026-09-22T16:00:00+08:00"), Some(at));
        assert_eq!(parse_rfc3339("2026-09-22T03:00:00.5-05:00"), Some(at + 500));
        assert_eq!(parse_rfc3339("2026-09-22T08:00:00.123456789Z"), Some(at + 123));
        assert_eq!(parse_rfc3339("2026-09-22T08:00:00"), None, "a time needs its offset");
        assert_eq!(parse_rfc3339("2026-09-22T08:00:00.Z"), None);
        assert_eq!(parse_rfc3339("2026-09-22T08:00:00+8:00"), None);
    }
}
