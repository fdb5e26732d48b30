//! Approximate 2023 province populations, the weights that give larger
//! provinces' statistics offices more tasks.

use std::collections::BTreeMap;

/// `reference/province-population-2023.csv`: thousands of people by 2024
/// province code. Rounded best estimates of the 2023 average population, not
/// official figures; they only shape the demo's spread of tasks.
const CSV: &str = include_str!("../../../reference/province-population-2023.csv");

/// Population in thousands by province code ("01" → 8,587).
pub fn province_populations() -> BTreeMap<&'static str, u64> {
    CSV.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with("code,"))
        .filter_map(|line| {
            let (code, population) = line.split_once(',')?;
            Some((code.trim(), population.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_2024_province_has_a_population() {
        let populations = province_populations();
        let provinces = include_str!("../../../reference/provinces-2024.csv");
        let codes: Vec<&str> = provinces
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next())
            .collect();
        assert_eq!(codes.len(), 63);
        assert_eq!(populations.len(), 63);
        for code in codes {
            assert!(populations.contains_key(code), "{code}");
        }
        assert_eq!(populations["01"], 8_587);
        assert_eq!(populations["79"], 9_456);
        let total: u64 = populations.values().sum();
        assert!((99_000..101_500).contains(&total), "{total}");
    }
}
