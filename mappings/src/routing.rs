//! Which Freshchat group a new conversation goes to (table `[routing]`): the rules are tried in
//! order when zfsync creates a conversation, the first that matches names the group, and
//! `default_group` (when set) takes the rest. A rule matches when every condition it sets holds:
//! the pairing or the OA, a keyword in the customer's first message, business hours (or outside
//! them) in the routing's time zone, a Zalo tag of the customer. A condition listing several values
//! holds when any of them does. A group is named by its Freshchat id or by its name; the daemon
//! resolves names through `GET /v2/groups`.
//!
//! Pure: the time is the first message's own time, given by the caller, never a clock read here.
//! Failure: malformed hours or an unknown time zone are refused when the rules load, naming the
//! value and the shape it should have; matching cannot fail.

use chrono::{Datelike, TimeZone, Timelike};
use serde::Deserialize;

/// The time zone of business hours when the rules name none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Ho_Chi_Minh";

/// Routing of new conversations to Freshchat groups (table `[routing]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    /// Route at all; `false` leaves every new conversation unassigned.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The time zone business hours are read in (an IANA name).
    #[serde(default)]
    pub time_zone: Zone,
    /// The group (id or name) of a conversation no rule matched; unassigned when absent.
    #[serde(default)]
    pub default_group: Option<String>,
    /// The rules, tried in order (`[[routing.rules]]`).
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

impl Default for RoutingRules {
    fn default() -> Self {
        RoutingRules {
            enabled: true,
            time_zone: Zone::default(),
            default_group: None,
            rules: Vec::new(),
        }
    }
}

/// One routing rule (`[[routing.rules]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// How `zfsync check` and the logs name the rule.
    pub name: String,
    /// The Freshchat group: its id or its name.
    pub group: String,
    /// `false` skips the rule.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Only for these pairings (names as in `zfsync pairing list`).
    #[serde(default)]
    pub pairings: Vec<String>,
    /// Only for these OAs (ids).
    #[serde(default)]
    pub oa_ids: Vec<String>,
    /// The first message contains one of these (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The customer has one of these Zalo tags (case-insensitive).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Business hours: `"mon-fri 08:00-17:30"`, `"sat 08:00-12:00"`, `"daily 22:00-06:00"` (an
    /// end before the start runs past midnight into the next day).
    #[serde(default)]
    pub hours: Vec<Hours>,
    /// Match outside `hours` rather than within them.
    #[serde(default)]
    pub outside_hours: bool,
}

fn yes() -> bool {
    true
}

/// What is known of a conversation zfsync is about to create.
#[derive(Debug, Clone, Copy)]
pub struct RouteFacts<'a> {
    /// The pairing's name (`default` for the configuration file's).
    pub pairing: &'a str,
    /// The OA the customer wrote to.
    pub oa_id: &'a str,
    /// The text of the message that opens the conversation.
    pub first_text: &'a str,
    /// That message's own time, unix milliseconds.
    pub at_ms: i64,
    /// The customer's Zalo tags, as zfsync last saw them.
    pub tags: &'a [String],
}

/// The routing decision: a group and the rule that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    /// The group, as the rules name it (an id or a name).
    pub group: &'a str,
    /// The rule's name; `None` for `default_group`.
    pub rule: Option<&'a str>,
}

impl RoutingRules {
    /// The group of a new conversation: the first enabled rule that matches, else the default
    /// group, else none (unassigned).
    pub fn route(&self, f: &RouteFacts<'_>) -> Option<Route<'_>> {
        if !self.enabled {
            return None;
        }
        self.rules
            .iter()
            .find(|r| r.enabled && r.matches(f, self.time_zone.0))
            .map(|r| Route {
                group: r.group.as_str(),
                rule: Some(r.name.as_str()),
            })
            .or_else(|| {
                self.default_group.as_deref().map(|g| Route {
                    group: g,
                    rule: None,
                })
            })
    }

    /// Every group the rules name, with who names it (a rule's name, or `default_group`), for
    /// `zfsync check`. Switched-off rules are left out.
    pub fn groups(&self) -> Vec<(&str, &str)> {
        if !self.enabled {
            return Vec::new();
        }
        let mut out: Vec<(&str, &str)> = self
            .rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| (r.name.as_str(), r.group.as_str()))
            .collect();
        if let Some(g) = &self.default_group {
            out.push(("default_group", g.as_str()));
        }
        out
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            if r.name.trim().is_empty() {
                return Err(format!("routing.rules[{i}] needs a name"));
            }
            if !seen.insert(r.name.as_str()) {
                return Err(format!(
                    "routing.rules has two rules named {:?}; give each its own name",
                    r.name
                ));
            }
            if r.group.trim().is_empty() {
                return Err(format!(
                    "routing rule {:?} needs a group (a Freshchat group id or name)",
                    r.name
                ));
            }
            if r.outside_hours && r.hours.is_empty() {
                return Err(format!(
                    "routing rule {:?} says outside_hours but lists no hours",
                    r.name
                ));
            }
        }
        if self
            .default_group
            .as_deref()
            .is_some_and(|g| g.trim().is_empty())
        {
            return Err("routing.default_group is empty; remove it or name a group".into());
        }
        Ok(())
    }
}

impl RouteRule {
    fn matches(&self, f: &RouteFacts<'_>, tz: chrono_tz::Tz) -> bool {
        if !self.pairings.is_empty() && !self.pairings.iter().any(|p| p == f.pairing) {
            return false;
        }
        if !self.oa_ids.is_empty() && !self.oa_ids.iter().any(|o| o == f.oa_id) {
            return false;
        }
        if !self.keywords.is_empty() {
            let text = f.first_text.to_lowercase();
            if !self
                .keywords
                .iter()
                .any(|k| !k.is_empty() && text.contains(&k.to_lowercase()))
            {
                return false;
            }
        }
        if !self.tags.is_empty() {
            let has = |t: &String| f.tags.iter().any(|u| u.to_lowercase() == t.to_lowercase());
            if !self.tags.iter().any(has) {
                return false;
            }
        }
        if !self.hours.is_empty() {
            let within = self.hours.iter().any(|h| h.contains(f.at_ms, tz));
            if within == self.outside_hours {
                return false;
            }
        }
        true
    }
}

/// A time zone by its IANA name (`Asia/Ho_Chi_Minh` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Zone(pub chrono_tz::Tz);

impl Default for Zone {
    fn default() -> Self {
        Zone(chrono_tz::Asia::Ho_Chi_Minh)
    }
}

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        name.parse::<chrono_tz::Tz>().map(Zone).map_err(|_| {
            format!("unknown time zone {name:?}; use an IANA name such as {DEFAULT_TIME_ZONE:?}")
        })
    }
}

/// Days of the week and a time range in them: `"mon-fri 08:00-17:30"`. Days are `mon` … `sun`,
/// a range (`fri-mon` wraps), a comma list (`sat,sun`) or `daily`; times are `HH:MM`, the end up to
/// `24:00`. An end before the start runs past midnight: `"fri 22:00-02:00"` is Friday 22:00 to
/// Saturday 02:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Hours {
    /// Bit `d` set: the range starts on weekday `d` (0 = Monday).
    days: u8,
    /// Minutes after midnight.
    start: u32,
    /// Minutes after midnight (1440 for 24:00).
    end: u32,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl TryFrom<String> for Hours {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Hours::parse(&text).ok_or_else(|| {
            format!(
                "business hours {text:?} are not \"<days> HH:MM-HH:MM\", e.g. \"mon-fri 08:00-17:30\", \"sat,sun 09:00-12:00\" or \"daily 22:00-06:00\""
            )
        })
    }
}

impl Hours {
    fn parse(text: &str) -> Option<Hours> {
        let mut words = text.split_whitespace();
        let (days, times) = (words.next()?, words.next()?);
        if words.next().is_some() {
            return None;
        }
        let days = parse_days(&days.to_ascii_lowercase())?;
        let (start, end) = times.split_once('-')?;
        let (start, end) = (minutes(start)?, minutes(end)?);
        if start >= 1440 || start == end {
            return None;
        }
        Some(Hours { days, start, end })
    }

    /// Whether the instant `at_ms` falls within these hours, read in `tz`.
    pub fn contains(&self, at_ms: i64, tz: chrono_tz::Tz) -> bool {
        let Some(t) = tz.timestamp_millis_opt(at_ms).single() else {
            return false;
        };
        let day = t.weekday().num_days_from_monday();
        let minute = t.hour() * 60 + t.minute();
        let starts_on = |d: u32| self.days & (1 << d) != 0;
        if self.start < self.end {
            starts_on(day) && (self.start..self.end).contains(&minute)
        } else {
            // Past midnight: the evening of a listed day, or the small hours after it.
            (starts_on(day) && minute >= self.start)
                || (starts_on((day + 6) % 7) && minute < self.end)
        }
    }
}

fn parse_days(spec: &str) -> Option<u8> {
    if spec == "daily" {
        return Some(0x7f);
    }
    let mut bits = 0u8;
    for item in spec.split(',') {
        let day = |s: &str| DAY_NAMES.iter().position(|d| *d == s);
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => bits |= 1 << day(item)?,
        }
    }
    Some(bits)
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Unix ms of a local time in Vietnam (UTC+7, no daylight saving).
    fn vn(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono_tz::Asia::Ho_Chi_Minh
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    fn hours(s: &str) -> Hours {
        Hours::try_from(s.to_string()).unwrap()
    }

    const HCM: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

    #[test]
    fn office_hours_hold_on_weekdays_only() {
        let h = hours("mon-fri 08:00-17:30");
        // 2025-06-02 is a Monday.
        assert!(h.contains(vn(2025, 6, 2, 8, 0), HCM));
        assert!(h.contains(vn(2025, 6, 6, 17, 29), HCM));
        assert!(
            !h.contains(vn(2025, 6, 6, 17, 30), HCM),
            "the end is outside"
        );
        assert!(!h.contains(vn(2025, 6, 2, 7, 59), HCM));
        assert!(!h.contains(vn(2025, 6, 7, 10, 0), HCM), "Saturday");
    }

    #[test]
    fn a_range_past_midnight_belongs_to_the_day_it_starts() {
        let h = hours("fri 22:00-06:00");
        assert!(h.contains(vn(2025, 6, 6, 23, 0), HCM), "Friday night");
        assert!(
            h.contains(vn(2025, 6, 7, 5, 59), HCM),
            "Saturday small hours"
        );
        assert!(!h.contains(vn(2025, 6, 7, 6, 0), HCM));
        assert!(
            !h.contains(vn(2025, 6, 6, 5, 0), HCM),
            "Friday small hours are Thursday's"
        );
        assert!(!h.contains(vn(2025, 6, 7, 23, 0), HCM), "Saturday night");
        // Sunday night runs into Monday (the week wraps).
        let h = hours("sun 20:00-02:00");
        assert!(h.contains(vn(2025, 6, 9, 1, 0), HCM), "Monday 01:00");
        assert!(!h.contains(vn(2025, 6, 2, 21, 0), HCM), "Monday 21:00");
    }

    #[test]
    fn hours_are_read_in_the_time_zone() {
        let h = hours("daily 09:00-10:00");
        let at = vn(2025, 6, 2, 9, 30); // 02:30 UTC
        assert!(h.contains(at, HCM));
        assert!(!h.contains(at, chrono_tz::UTC));
        // Berlin in summer is UTC+2: 09:30 there is 14:30 in Vietnam.
        let berlin = Zone::try_from("Europe/Berlin".to_string()).unwrap().0;
        assert!(h.contains(vn(2025, 6, 2, 14, 30), berlin));
        assert!(!h.contains(vn(2025, 6, 2, 9, 30), berlin));
    }

    #[test]
    fn day_lists_ranges_and_wrapping_ranges() {
        assert_eq!(parse_days("sat,sun"), Some(0b110_0000));
        assert_eq!(parse_days("fri-mon"), Some(0b111_0001));
        assert_eq!(parse_days("daily"), Some(0x7f));
        assert_eq!(parse_days("mon-tue,thu"), Some(0b1011));
        assert_eq!(parse_days("monday"), None);
    }

    #[test]
    fn malformed_hours_and_zones_are_named() {
        for bad in [
            "mon-fri",
            "mon-fri 8-17",
            "mon-fri 08:00",
            "xyz 08:00-09:00",
            "mon 25:00-26:00",
            "mon 08:00-08:00",
            "mon 08:00-09:00 extra",
        ] {
            let err = Hours::try_from(bad.to_string()).unwrap_err();
            assert!(
                err.contains(bad) && err.contains("mon-fri 08:00-17:30"),
                "{err}"
            );
        }
        assert_eq!(hours("mon 08:00-24:00").end, 1440);
        let err = Zone::try_from("Asia/Saigon_x".to_string()).unwrap_err();
        assert!(err.contains("Asia/Saigon_x") && err.contains(DEFAULT_TIME_ZONE));
    }

    fn rules(toml_text: &str) -> RoutingRules {
        #[derive(Deserialize)]
        struct Only {
            routing: RoutingRules,
        }
        let r = toml::from_str::<Only>(toml_text).unwrap().routing;
        r.validate().unwrap();
        r
    }

    fn facts<'a>(text: &'a str, at_ms: i64, tags: &'a [String]) -> RouteFacts<'a> {
        RouteFacts {
            pairing: "default",
            oa_id: "111",
            first_text: text,
            at_ms,
            tags,
        }
    }

    #[test]
    fn the_first_matching_rule_wins_then_the_default() {
        let r = rules(
            r#"
            [routing]
            default_group = "Support"
            [[routing.rules]]
            name = "vip"
            group = "VIP"
            tags = ["VIP"]
            [[routing.rules]]
            name = "orders"
            group = "Sales"
            keywords = ["đơn hàng", "order"]
            [[routing.rules]]
            name = "night"
            group = "Night"
            hours = ["mon-fri 08:00-17:30"]
            outside_hours = true
            [[routing.rules]]
            name = "off"
            group = "Never"
            enabled = false
            "#,
        );
        let day = vn(2025, 6, 2, 10, 0);
        let night = vn(2025, 6, 2, 23, 0);
        let vip = vec!["vip".to_string()];
        let route = |t, at, tags| r.route(&facts(t, at, tags)).map(|r| (r.group, r.rule));
        assert_eq!(route("Đơn Hàng DH1", day, &vip), Some(("VIP", Some("vip"))));
        assert_eq!(
            route("ĐƠN HÀNG DH1", day, &[]),
            Some(("Sales", Some("orders")))
        );
        assert_eq!(route("hello", night, &[]), Some(("Night", Some("night"))));
        assert_eq!(route("hello", day, &[]), Some(("Support", None)));
        let mut off = r.clone();
        off.enabled = false;
        assert_eq!(off.route(&facts("order", day, &[])), None);
        assert_eq!(
            r.groups(),
            vec![
                ("vip", "VIP"),
                ("orders", "Sales"),
                ("night", "Night"),
                ("default_group", "Support")
            ]
        );
    }

    #[test]
    fn pairing_and_oa_conditions() {
        let r = rules(
            r#"
            [routing]
            [[routing.rules]]
            name = "shop"
            group = "Shop"
            pairings = ["shop"]
            [[routing.rules]]
            name = "oa"
            group = "OA 222"
            oa_ids = ["222"]
            "#,
        );
        let mut f = facts("hi", 0, &[]);
        assert_eq!(r.route(&f), None, "no default group: unassigned");
        f.pairing = "shop";
        assert_eq!(r.route(&f).unwrap().group, "Shop");
        f.pairing = "default";
        f.oa_id = "222";
        assert_eq!(r.route(&f).unwrap().group, "OA 222");
    }

    #[test]
    fn rules_that_cannot_work_are_refused() {
        #[derive(Deserialize)]
        struct Only {
            routing: RoutingRules,
        }
        let load = |t: &str| {
            toml::from_str::<Only>(t)
                .map_err(|e| e.to_string())
                .and_then(|o| o.routing.validate())
        };
        let e = load("[routing]\n[[routing.rules]]\nname = \"a\"\ngroup = \"\"\n").unwrap_err();
        assert!(e.contains("needs a group"), "{e}");
        let e = load(
            "[routing]\n[[routing.rules]]\nname = \"a\"\ngroup = \"g\"\n[[routing.rules]]\nname = \"a\"\ngroup = \"h\"\n",
        )
        .unwrap_err();
        assert!(e.contains("two rules named"), "{e}");
        let e = load(
            "[routing]\n[[routing.rules]]\nname = \"a\"\ngroup = \"g\"\noutside_hours = true\n",
        )
        .unwrap_err();
        assert!(e.contains("lists no hours"), "{e}");
        let e = load("[routing]\ntime_zone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
        let e =
            load("[routing]\n[[routing.rules]]\nname = \"a\"\ngroup = \"g\"\nkeyword = [\"x\"]\n")
                .unwrap_err();
        assert!(e.contains("keyword"), "{e}");
    }
}
