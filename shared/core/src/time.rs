//! Instants as chime stores and shows them: milliseconds since the epoch inside, RFC 3339 in
//! UTC with milliseconds and `Z` outside (`2024-01-25T14:00:00.000Z`).

use chrono::{DateTime, TimeZone, Utc};

/// The instant `ms` as a UTC date-time (the epoch when out of range).
pub fn to_dt(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Parses an RFC 3339 instant stored by chime into milliseconds.
pub fn parse_stored_instant(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Formats milliseconds as chime stores and shows instants (`2024-01-25T14:00:00.000Z`).
pub fn format_instant(ms: i64) -> String {
    to_dt(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_back_as_written() {
        let ms = 1_706_191_200_123;
        assert_eq!(format_instant(ms), "2024-01-25T14:00:00.123Z");
        assert_eq!(parse_stored_instant(&format_instant(ms)), Some(ms));
        assert_eq!(
            parse_stored_instant("2024-01-25T15:00:00.123+01:00"),
            Some(ms)
        );
        assert_eq!(parse_stored_instant("yesterday"), None);
    }
}
