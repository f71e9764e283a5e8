//! Arbitrary bytes into everything that reads a certificate or CSR presented
//! by a stranger: OID extraction, inspection, chain verification (as the leaf
//! and as an intermediate), trust-anchor and CSR parsing. None may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_identity::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::identity_der(data);
});
