//! The `zeyos-odata` gateway binary.
fn main() {}
