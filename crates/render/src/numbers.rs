//! Exact percentages and number formats. Percentages are computed from
//! integer counts in integer arithmetic, so truncation never suffers from
//! binary floating point (479/1125 must print 42,5 %, not 42,6 %).

use serde::Serialize;

/// How a percentage is cut to its printed decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Rounding {
    /// Drop the extra digits, toward zero: what the source report does
    /// (2,886 against 2,591 is +11.3856 %, printed +11.38 %).
    #[default]
    Truncate,
    /// Round to nearest, ties to the even digit.
    HalfEven,
}

/// The printed language, which decides separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NumberStyle {
    /// `112.587` and `87,94`.
    Vietnamese,
    /// `112,587` and `87.94`.
    English,
}

impl NumberStyle {
    fn separators(self) -> (char, char) {
        match self {
            NumberStyle::Vietnamese => ('.', ','),
            NumberStyle::English => (',', '.'),
        }
    }
}

/// A count with thousands separators.
pub fn format_count(value: i64, style: NumberStyle) -> String {
    let (thousands, _) = style.separators();
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(thousands);
        }
        out.push(digit);
    }
    if value < 0 { format!("-{out}") } else { out }
}

/// `numerator / denominator × 100` cut to `decimals` places, as a signed
/// number of hundredths (for 2 decimals) — `None` when the denominator is 0.
pub fn scaled_percent(
    numerator: i64,
    denominator: i64,
    decimals: u32,
    rounding: Rounding,
) -> Option<i128> {
    if denominator == 0 {
        return None;
    }
    let scale = 10_i128.pow(decimals);
    let numerator = i128::from(numerator) * 100 * scale;
    let denominator = i128::from(denominator);
    let quotient = numerator / denominator; // truncates toward zero
    let remainder = numerator % denominator;
    Some(match rounding {
        Rounding::Truncate => quotient,
        Rounding::HalfEven => {
            let twice = (remainder * 2).abs();
            let away = if (numerator < 0) != (denominator < 0) {
                -1
            } else {
                1
            };
            match twice.cmp(&denominator.abs()) {
                std::cmp::Ordering::Greater => quotient + away,
                std::cmp::Ordering::Equal if quotient % 2 != 0 => quotient + away,
                _ => quotient,
            }
        }
    })
}

/// A percentage without the `%` sign, e.g. `87,94` or `-30.27`; `None` when
/// the denominator is 0.
pub fn format_percent(
    numerator: i64,
    denominator: i64,
    decimals: u32,
    rounding: Rounding,
    style: NumberStyle,
) -> Option<String> {
    let scaled = scaled_percent(numerator, denominator, decimals, rounding)?;
    let (_, decimal_mark) = style.separators();
    let scale = 10_i128.pow(decimals);
    let whole = (scaled.abs() / scale) as i64;
    let mut text = format_count(whole, style);
    if decimals > 0 {
        text.push(decimal_mark);
        text.push_str(&format!(
            "{:0width$}",
            scaled.abs() % scale,
            width = decimals as usize
        ));
    }
    Some(if scaled < 0 { format!("-{text}") } else { text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use NumberStyle::{English, Vietnamese};
    use Rounding::{HalfEven, Truncate};

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(format_count(112_587, Vietnamese), "112.587");
        assert_eq!(format_count(112_587, English), "112,587");
        assert_eq!(format_count(251, Vietnamese), "251");
        assert_eq!(format_count(1_000_000, English), "1,000,000");
        assert_eq!(format_count(-2_886, Vietnamese), "-2.886");
    }

    #[test]
    fn the_source_truncates() {
        assert_eq!(
            format_percent(479, 1125, 1, Truncate, Vietnamese).unwrap(),
            "42,5"
        );
        assert_eq!(
            format_percent(479, 1125, 1, HalfEven, Vietnamese).unwrap(),
            "42,6"
        );
        assert_eq!(
            format_percent(2886 - 2591, 2591, 2, Truncate, Vietnamese).unwrap(),
            "11,38"
        );
        assert_eq!(
            format_percent(251 - 360, 360, 2, Truncate, English).unwrap(),
            "-30.27"
        );
        assert_eq!(
            format_percent(251 - 360, 360, 2, HalfEven, English).unwrap(),
            "-30.28"
        );
        assert_eq!(
            format_percent(99_010, 112_587, 2, Truncate, Vietnamese).unwrap(),
            "87,94"
        );
        assert_eq!(format_percent(1, 0, 2, Truncate, English), None);
    }

    #[test]
    fn half_even_breaks_ties_to_even() {
        // 1/8 = 12.5 %: ties go to the even neighbour.
        assert_eq!(format_percent(1, 8, 0, HalfEven, English).unwrap(), "12");
        // 3/8 = 37.5 %.
        assert_eq!(format_percent(3, 8, 0, HalfEven, English).unwrap(), "38");
        assert_eq!(format_percent(-3, 8, 0, HalfEven, English).unwrap(), "-38");
        assert_eq!(format_percent(-1, 8, 0, HalfEven, English).unwrap(), "-12");
    }
}
