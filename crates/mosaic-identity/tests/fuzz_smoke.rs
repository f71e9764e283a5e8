//! A deterministic stand-in for the fuzzer that runs with every `cargo test`:
//! thousands of mutations of real certificates and CSRs (bit flips, byte
//! overwrites, truncations, splices) through every parser a stranger can
//! reach. The coverage-guided fuzzer (`cargo xtask fuzz-smoke`) goes further;
//! this keeps a panic from ever landing unnoticed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_identity::fuzzing::{identity_der, seeds};

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_certificates_never_panic() {
    let seeds = seeds();
    assert_eq!(seeds.len(), 5, "every seed kind was generated");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (_, seed) in &seeds {
        identity_der(seed);
        for round in 0..600 {
            let mut data = seed.clone();
            match round % 4 {
                0 => {
                    for _ in 0..=rng.below(4) {
                        let at = rng.below(data.len());
                        data[at] ^= 1 << rng.below(8);
                    }
                }
                1 => {
                    let at = rng.below(data.len());
                    data[at] = rng.next() as u8;
                }
                2 => data.truncate(rng.below(data.len())),
                _ => {
                    let (_, other) = &seeds[rng.below(seeds.len())];
                    let at = rng.below(data.len());
                    let from = rng.below(other.len());
                    data.truncate(at);
                    data.extend_from_slice(&other[from..]);
                }
            }
            identity_der(&data);
        }
    }
    for len in 0..64 {
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        identity_der(&junk);
    }
}
