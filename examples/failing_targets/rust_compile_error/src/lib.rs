//! Sums with a typo: the crate does not compile.

pub fn total(xs: &[i64]) -> i64 {
    let sum: i64 = xs.iter().sum();
    summ
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals() {
        assert_eq!(total(&[1, 2, 3]), 6);
    }
}
