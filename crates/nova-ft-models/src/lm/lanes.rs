//! Dot products in eight lanes, so that they vectorise: the compiler may not reorder a plain
//! sum of products (float addition is not associative), so it would add one product at a time.

/// `a · b` with `b`'s values read through `widen` (f32 as is, bf16 widened).
#[inline]
pub fn dot<T: Copy>(a: &[f32], b: &[T], widen: impl Fn(T) -> f32) -> f32 {
    let mut lanes = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * widen(*y))
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            lanes[l] += x[l] * widen(y[l]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::dot;

    #[test]
    fn equals_the_plain_sum_for_every_tail() {
        for n in [0, 3, 8, 13, 64] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b, |v| v) - plain).abs() < 1e-3, "n = {n}");
        }
    }
}
