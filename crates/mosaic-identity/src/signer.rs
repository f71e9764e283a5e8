//! Writing Mosaic OIDs, whose UUID arc is wider than rcgen's 64-bit arcs.
//!
//! rcgen builds the to-be-signed certificate with same-length stand-in OIDs
//! (see [`MosaicOid::stand_in_arcs`]) and hands it to a signer. [`OidSwap`] is
//! that signer: it replaces each stand-in with the real OID, then signs. The
//! certificate rcgen returns still holds the stand-ins, so [`finish`] applies
//! the same replacement to it; because every replacement keeps its length, no
//! DER length changes and the signature covers exactly the bytes that ship.

use crate::der;
use crate::oid::MosaicOid;
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};

/// One stand-in OID TLV, the real TLV that replaces it, and how many times
/// the certificate carries it (once, except in deliberately broken test
/// certificates).
#[derive(Debug, Clone)]
pub(crate) struct Swap {
    stand_in: Vec<u8>,
    real: Vec<u8>,
    count: usize,
}

impl Swap {
    /// One replacement of `stand_in` by `real`, which must have its length
    /// (the test helpers use it to write what rcgen will not, such as a
    /// negative serial).
    #[cfg(feature = "testing")]
    pub(crate) fn once(stand_in: Vec<u8>, real: Vec<u8>) -> Self {
        debug_assert_eq!(stand_in.len(), real.len());
        Self {
            stand_in,
            real,
            count: 1,
        }
    }
}

/// The swaps for the Mosaic OIDs in `oids`, as many times as each is listed.
pub(crate) fn swaps_for(oids: impl IntoIterator<Item = MosaicOid>) -> Vec<Swap> {
    let mut swaps: Vec<(MosaicOid, Swap)> = Vec::new();
    for oid in oids {
        match swaps.iter_mut().find(|(o, _)| *o == oid) {
            Some((_, swap)) => swap.count += 1,
            None => swaps.push((
                oid,
                Swap {
                    stand_in: der::tlv(der::TAG_OID, oid.stand_in_der_content()),
                    real: der::tlv(der::TAG_OID, oid.der_content()),
                    count: 1,
                },
            )),
        }
    }
    swaps.into_iter().map(|(_, swap)| swap).collect()
}

/// Replaces each stand-in, which must occur exactly as often as expected.
pub(crate) fn apply(bytes: &[u8], swaps: &[Swap]) -> Result<Vec<u8>, SwapError> {
    let mut out = bytes.to_vec();
    for swap in swaps {
        debug_assert_eq!(swap.stand_in.len(), swap.real.len());
        let hits: Vec<usize> = out
            .windows(swap.stand_in.len())
            .enumerate()
            .filter(|(_, w)| *w == swap.stand_in.as_slice())
            .map(|(i, _)| i)
            .collect();
        if hits.len() != swap.count {
            return Err(SwapError {
                expected: swap.count,
                found: hits.len(),
            });
        }
        for at in hits {
            out[at..at + swap.real.len()].copy_from_slice(&swap.real);
        }
    }
    Ok(out)
}

/// A stand-in OID was not found as often as written (a bug, never
/// input-dependent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a Mosaic OID stand-in occurred {found} times instead of {expected}")]
pub struct SwapError {
    /// Times written.
    pub expected: usize,
    /// Times found.
    pub found: usize,
}

/// A signing key that signs the to-be-signed bytes with stand-ins swapped.
pub(crate) struct OidSwap<'a, K> {
    key: &'a K,
    swaps: &'a [Swap],
}

impl<'a, K> OidSwap<'a, K> {
    pub(crate) fn new(key: &'a K, swaps: &'a [Swap]) -> Self {
        Self { key, swaps }
    }
}

impl<K: PublicKeyData> PublicKeyData for OidSwap<'_, K> {
    fn der_bytes(&self) -> &[u8] {
        self.key.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.key.algorithm()
    }
}

impl<K: SigningKey> SigningKey for OidSwap<'_, K> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let swapped = apply(msg, self.swaps).map_err(|_| rcgen::Error::RemoteKeyError)?;
        self.key.sign(&swapped)
    }
}

/// The shipped certificate: rcgen's output with the same swaps applied.
pub(crate) fn finish(cert_der: &[u8], swaps: &[Swap]) -> Result<Vec<u8>, SwapError> {
    apply(cert_der, swaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_keep_length_and_need_exactly_one_hit() {
        let swaps = swaps_for([MosaicOid::GrantId]);
        let stand_in = swaps[0].stand_in.clone();
        let mut bytes = vec![1, 2, 3];
        bytes.extend(&stand_in);
        bytes.push(9);
        let out = apply(&bytes, &swaps).unwrap();
        assert_eq!(out.len(), bytes.len());
        assert_eq!(&out[3..3 + stand_in.len()], swaps[0].real.as_slice());

        assert_eq!(
            apply(&[1, 2, 3], &swaps),
            Err(SwapError {
                expected: 1,
                found: 0
            })
        );
        let mut twice = bytes.clone();
        twice.extend(&stand_in);
        assert_eq!(
            apply(&twice, &swaps),
            Err(SwapError {
                expected: 1,
                found: 2
            })
        );
        let both = swaps_for([MosaicOid::GrantId, MosaicOid::GrantId]);
        assert_eq!(both.len(), 1);
        let out = apply(&twice, &both).unwrap();
        assert_eq!(
            out.windows(stand_in.len())
                .filter(|w| *w == stand_in.as_slice())
                .count(),
            0
        );
    }
}
