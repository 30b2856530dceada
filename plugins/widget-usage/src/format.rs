//! Numbers and times as readers see them: digits grouped by the locale's
//! language, milliseconds, percentages, and UTC hour and day labels. Kept
//! deliberately small (no CLDR): grouping and the decimal mark follow a short
//! table of languages, month names are English abbreviations.

/// Languages that group with `.` and use `,` as the decimal mark.
const DOT_GROUPING: &[&str] = &[
    "da", "de", "el", "es", "hr", "id", "it", "nl", "pt", "ro", "sl", "sr", "tr",
];

/// Languages that group with a narrow no-break space and use `,` as the decimal mark.
const SPACE_GROUPING: &[&str] = &[
    "bg", "cs", "et", "fi", "fr", "hu", "lt", "lv", "nb", "nn", "no", "pl", "ru", "sk", "sv", "uk",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const MS_PER_HOUR: u64 = 3_600_000;
const MS_PER_DAY: u64 = 86_400_000;

/// How a locale writes numbers: `1,234.5` (`en` and anything unlisted),
/// `1.234,5` (`de`, `es`, ...) or `1 234,5` (`fr`, `sv`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Numbers {
    group: char,
    decimal: char,
}

impl Numbers {
    /// The style of a BCP 47 tag, read from its language subtag (`de-AT` is `de`).
    pub(crate) fn for_locale(tag: &str) -> Self {
        let language = tag
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if DOT_GROUPING.contains(&language.as_str()) {
            Self {
                group: '.',
                decimal: ',',
            }
        } else if SPACE_GROUPING.contains(&language.as_str()) {
            Self {
                group: '\u{202f}',
                decimal: ',',
            }
        } else {
            Self {
                group: ',',
                decimal: '.',
            }
        }
    }

    /// A whole number, rounded: `1,234`.
    pub(crate) fn int(self, value: f64) -> String {
        self.fixed(value, 0)
    }

    /// A number with `places` decimals: `1,234.5`.
    pub(crate) fn fixed(self, value: f64, places: usize) -> String {
        let value = if value.is_finite() { value } else { 0.0 };
        let text = format!("{:.places$}", value.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let mut out = String::new();
        if value < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
            out.push('-');
        }
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(self.group);
            }
            out.push(digit);
        }
        if !fraction.is_empty() {
            out.push(self.decimal);
            out.push_str(fraction);
        }
        out
    }

    /// A latency: `4.5 ms` below 10 ms, `1,234 ms` above.
    pub(crate) fn ms(self, value: f64) -> String {
        let places = usize::from(value < 9.95 && value.fract() != 0.0);
        format!("{} ms", self.fixed(value, places))
    }

    /// A percentage with one decimal: `87.5%`.
    pub(crate) fn percent(self, value: f64) -> String {
        format!("{}%", self.fixed(value, 1))
    }
}

/// The bucket sizes of the widgets' time axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// One-hour buckets.
    Hour,
    /// One-day buckets.
    Day,
}

impl Step {
    /// The bucket's length in milliseconds.
    pub(crate) fn ms(self) -> u64 {
        match self {
            Self::Hour => MS_PER_HOUR,
            Self::Day => MS_PER_DAY,
        }
    }

    /// When a bucket starts, for sentences: `14:00 on 27 Nov`, or `27 Nov`.
    pub(crate) fn moment(self, at: u64) -> String {
        match self {
            Self::Hour => format!("{} on {}", hour(at), day(at)),
            Self::Day => day(at),
        }
    }
}

/// The UTC hour of a time in milliseconds since the epoch: `14:00`.
pub(crate) fn hour(at: u64) -> String {
    format!("{:02}:00", at % MS_PER_DAY / MS_PER_HOUR)
}

/// The UTC day of a time in milliseconds since the epoch: `27 Nov`.
pub(crate) fn day(at: u64) -> String {
    let (_, month, day) = civil_date(at / MS_PER_DAY);
    format!("{day} {}", MONTHS[month as usize - 1])
}

/// The proleptic Gregorian (year, month 1-12, day 1-31) of a day count since
/// 1970-01-01; Howard Hinnant's `civil_from_days`, for non-negative days.
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_groups_with_commas() {
        let en = Numbers::for_locale("en-GB");
        assert_eq!(en.int(1_234_567.4), "1,234,567");
        assert_eq!(en.int(999.0), "999");
        assert_eq!(en.int(0.0), "0");
        assert_eq!(en.fixed(1234.56, 1), "1,234.6");
        assert_eq!(en.percent(112.04), "112.0%");
    }

    #[test]
    fn german_and_french_group_their_own_way() {
        assert_eq!(Numbers::for_locale("de").fixed(1234.5, 1), "1.234,5");
        assert_eq!(
            Numbers::for_locale("fr-CA").int(1_234_567.0),
            "1\u{202f}234\u{202f}567"
        );
        assert_eq!(Numbers::for_locale("").int(1234.0), "1,234");
    }

    #[test]
    fn non_finite_numbers_read_as_zero() {
        let en = Numbers::for_locale("en");
        assert_eq!(en.int(f64::NAN), "0");
        assert_eq!(en.int(f64::INFINITY), "0");
        assert_eq!(en.int(-0.2), "0");
        assert_eq!(en.int(-1234.0), "-1,234");
    }

    #[test]
    fn latency_keeps_a_decimal_only_when_small() {
        let en = Numbers::for_locale("en");
        assert_eq!(en.ms(4.5), "4.5 ms");
        assert_eq!(en.ms(4.0), "4 ms");
        assert_eq!(en.ms(1234.4), "1,234 ms");
    }

    #[test]
    fn dates_are_utc_days_and_hours() {
        // 2026-11-27T14:00:00Z
        let at = 1_795_788_000_000;
        assert_eq!(hour(at), "14:00");
        assert_eq!(day(at), "27 Nov");
        assert_eq!(Step::Hour.moment(at), "14:00 on 27 Nov");
        assert_eq!(day(0), "1 Jan");
        assert_eq!(civil_date(59), (1970, 3, 1));
        // 2024-02-29 is day 19,782.
        assert_eq!(civil_date(19_782), (2024, 2, 29));
    }
}
