//! How the operator's views (`zfsync status`, the console, the token messages) write a time: "5 s
//! ago" relative to now, or a UTC date. Pure formatting; an unknown time reads "never" or empty.

use crate::store::now_ms;

/// "5 s ago", "3 min ago", ... for a unix-ms time (also the console's wording).
pub fn ago(ms: Option<i64>) -> String {
    match ms {
        None => "never".into(),
        Some(t) => {
            let s = (now_ms() - t).max(0) / 1000;
            match s {
                0..=59 => format!("{s} s ago"),
                60..=3599 => format!("{} min ago", s / 60),
                3600..=86399 => format!("{} h ago", s / 3600),
                _ => format!("{} days ago", s / 86400),
            }
        }
    }
}

/// A unix-ms time as UTC text (also the console's wording).
pub fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
