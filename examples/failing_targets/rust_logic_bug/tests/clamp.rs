use rust_logic_bug::clamp;

#[test]
fn inside_is_unchanged() {
    assert_eq!(clamp(5, 0, 10), 5);
}

#[test]
fn below_goes_to_lo() {
    assert_eq!(clamp(-3, 0, 10), 0);
}

#[test]
fn above_goes_to_hi() {
    assert_eq!(clamp(42, 0, 10), 10);
}
