//! Largest-remainder apportionment: splitting an exact total over units in
//! proportion to integer weights, so per-unit counts always sum to the target.

/// Splits `total` in proportion to `weights` (Hamilton's method): each share
/// gets the floor of its quota, and the seats left over go to the largest
/// remainders, earlier entries first on ties. Integer arithmetic throughout,
/// so the result is the same on every machine. All-zero (or no) weights
/// split evenly (or return an empty list).
pub fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let weight_sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if weight_sum == 0 {
        return apportion(total, &vec![1; weights.len()]);
    }
    let quotas: Vec<(u64, u128)> = weights
        .iter()
        .map(|&weight| {
            let scaled = u128::from(total) * u128::from(weight);
            // The floor of the quota fits: it is at most `total`.
            let floor = u64::try_from(scaled / weight_sum).unwrap_or(total);
            (floor, scaled % weight_sum)
        })
        .collect();
    let mut shares: Vec<u64> = quotas.iter().map(|(floor, _)| *floor).collect();
    let left_over = total - shares.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; the stable sort keeps index order among ties.
    order.sort_by(|&a, &b| quotas[b].1.cmp(&quotas[a].1));
    for &index in order
        .iter()
        .take(usize::try_from(left_over).unwrap_or(usize::MAX))
    {
        shares[index] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shares_sum_to_the_total() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..500 {
            let n = rng.random_range(1..80);
            let weights: Vec<u64> = (0..n).map(|_| rng.random_range(0..10_000)).collect();
            let total = rng.random_range(0..200_000);
            let shares = apportion(total, &weights);
            assert_eq!(shares.len(), weights.len());
            assert_eq!(shares.iter().sum::<u64>(), total);
            let weight_sum: f64 = weights.iter().sum::<u64>() as f64;
            for (share, weight) in shares.iter().zip(&weights) {
                if weight_sum > 0.0 {
                    let quota = total as f64 * *weight as f64 / weight_sum;
                    assert!(
                        (*share as f64 - quota).abs() < 1.0 + 1e-9,
                        "{share} vs {quota}"
                    );
                }
            }
        }
    }

    #[test]
    fn exact_quotas_and_ties() {
        assert_eq!(apportion(10, &[1, 1, 3]), vec![2, 2, 6]);
        // 10 / 3 each: one seat left, the first of the tied remainders takes it.
        assert_eq!(apportion(10, &[5, 5, 5]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0, 0]), vec![4, 3]);
        assert_eq!(apportion(0, &[3, 4]), vec![0, 0]);
        assert!(apportion(5, &[]).is_empty());
        // Largest remainder wins: quotas 1.4, 2.6, 1.0 → 1, 3, 1.
        assert_eq!(apportion(5, &[7, 13, 5]), vec![1, 3, 1]);
    }
}
