//! The Mosaic OID arc and the certificate extensions under it.
//!
//! The arc is `2.25.<UUID>` (ITU-T X.667): a UUID turned into an integer names
//! an arc that needs no registration and collides with no one. It is fixed
//! forever: changing it would orphan every certificate already issued. The
//! table in `docs/federation/OIDS.md` is the reference; a test keeps the two
//! in step.
//!
//! ```text
//! 2.25.241400657918466799825741375372443673910          Mosaic
//!   .1                                                  X.509 certificate extensions
//!     .1  mosaicProfileVersion   INTEGER                version of this profile (1)
//!     .2  mosaicGrantId          UTF8String             the federation grant the cert acts under
//!     .3  mosaicSubjectUserId    UTF8String             the local user whose access the grant lends
//!     .4  mosaicPeerId           UTF8String             the peer (gateway) the grant was given to
//!     .5  mosaicInstanceId       UTF8String             the instance id of the issuing gateway
//! ```

use crate::der;
use std::fmt;
use std::sync::LazyLock;

/// The UUID whose integer value is the arc under `2.25`.
pub const ARC_UUID: &str = "b59c1358-6c95-4215-a26e-8156b05e6536";

/// The same UUID as the integer X.667 uses.
const ARC_VALUE: u128 = 0xb59c_1358_6c95_4215_a26e_8156_b05e_6536;

/// The Mosaic arc in dotted form.
pub const MOSAIC_ARC: &str = "2.25.241400657918466799825741375372443673910";

/// The arc of X.509 certificate extensions, in dotted form.
pub const CERT_EXTENSIONS_ARC: &str = "2.25.241400657918466799825741375372443673910.1";

/// The profile version this crate writes and the only one it accepts.
pub const PROFILE_VERSION: u32 = 1;

/// One Mosaic certificate extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MosaicOid {
    /// `…1.1`: INTEGER, the version of the Mosaic certificate profile.
    ProfileVersion,
    /// `…1.2`: UTF8String, the federation grant id.
    GrantId,
    /// `…1.3`: UTF8String, the local user the grant acts for.
    SubjectUserId,
    /// `…1.4`: UTF8String, the peer the grant was given to.
    PeerId,
    /// `…1.5`: UTF8String, the instance id of the gateway that issued the certificate.
    InstanceId,
}

/// ASN.1 type of an extension's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// A small non-negative INTEGER.
    Integer,
    /// A UTF8String.
    Utf8String,
}

impl ValueType {
    /// The ASN.1 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "INTEGER",
            Self::Utf8String => "UTF8String",
        }
    }
}

impl MosaicOid {
    /// Every Mosaic extension, in arc order.
    pub const ALL: [Self; 5] = [
        Self::ProfileVersion,
        Self::GrantId,
        Self::SubjectUserId,
        Self::PeerId,
        Self::InstanceId,
    ];

    /// The extensions a client certificate must carry to be a Mosaic identity.
    pub const REQUIRED: [Self; 3] = [Self::ProfileVersion, Self::GrantId, Self::SubjectUserId];

    /// The last arc, under [`CERT_EXTENSIONS_ARC`].
    pub const fn leaf(self) -> u8 {
        match self {
            Self::ProfileVersion => 1,
            Self::GrantId => 2,
            Self::SubjectUserId => 3,
            Self::PeerId => 4,
            Self::InstanceId => 5,
        }
    }

    /// The name used in docs and error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ProfileVersion => "mosaicProfileVersion",
            Self::GrantId => "mosaicGrantId",
            Self::SubjectUserId => "mosaicSubjectUserId",
            Self::PeerId => "mosaicPeerId",
            Self::InstanceId => "mosaicInstanceId",
        }
    }

    /// The ASN.1 type of the value.
    pub const fn value_type(self) -> ValueType {
        match self {
            Self::ProfileVersion => ValueType::Integer,
            _ => ValueType::Utf8String,
        }
    }

    /// Whether a Mosaic client certificate must carry it.
    pub const fn required(self) -> bool {
        matches!(
            self,
            Self::ProfileVersion | Self::GrantId | Self::SubjectUserId
        )
    }

    /// The OID in dotted form.
    pub fn dotted(self) -> String {
        format!("{CERT_EXTENSIONS_ARC}.{}", self.leaf())
    }

    /// The DER content octets of the OID (without tag and length).
    pub fn der_content(self) -> &'static [u8] {
        &ENCODED[self.index()].real
    }

    /// The extension whose OID has these content octets, if any.
    pub fn from_der_content(content: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|oid| oid.der_content() == content)
    }

    fn index(self) -> usize {
        usize::from(self.leaf() - 1)
    }

    /// A stand-in OID with 64-bit arcs whose DER encoding is exactly as long as
    /// the real one. rcgen writes arcs as `u64`, and the UUID arc is 128 bits
    /// wide, so certificates are built with the stand-in and the bytes are
    /// swapped (before signing) by [`crate::signer`].
    pub(crate) fn stand_in_arcs(self) -> [u64; 6] {
        let (a, b) = stand_in_pair();
        [2, 25, a, b, 1, u64::from(self.leaf())]
    }

    /// DER content octets of [`Self::stand_in_arcs`].
    pub(crate) fn stand_in_der_content(self) -> &'static [u8] {
        &ENCODED[self.index()].stand_in
    }
}

impl fmt::Display for MosaicOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.dotted())
    }
}

struct Encoded {
    real: Vec<u8>,
    stand_in: Vec<u8>,
}

static ENCODED: LazyLock<Vec<Encoded>> = LazyLock::new(|| {
    MosaicOid::ALL
        .into_iter()
        .map(|oid| {
            let leaf = u128::from(oid.leaf());
            let real = der::oid_content(2, 25, &[ARC_VALUE, 1, leaf]);
            let stand_in_arcs: Vec<u128> = oid.stand_in_arcs()[2..]
                .iter()
                .map(|a| u128::from(*a))
                .collect();
            let stand_in = der::oid_content(2, 25, &stand_in_arcs);
            Encoded { real, stand_in }
        })
        .collect()
});

/// Two 64-bit arcs whose encodings together are as long as the UUID arc's.
fn stand_in_pair() -> (u64, u64) {
    // A u64 arc takes at most 10 base-128 groups; the UUID arc takes 19.
    let total = der::arc_len(ARC_VALUE);
    let first = total.div_ceil(2).min(10);
    let second = total - first;
    // The smallest number whose encoding takes `n` groups is 2^(7(n-1)); for
    // n <= 10 that is at most 2^63, which fits a u64.
    let smallest = |n: usize| 1u64 << (7 * (n - 1));
    (smallest(first), smallest(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arc_is_the_uuid_as_an_integer() {
        let hex: String = ARC_UUID.chars().filter(|c| *c != '-').collect();
        let value = u128::from_str_radix(&hex, 16).unwrap();
        assert_eq!(value, ARC_VALUE);
        assert_eq!(MOSAIC_ARC, format!("2.25.{value}"));
        assert_eq!(CERT_EXTENSIONS_ARC, format!("{MOSAIC_ARC}.1"));
    }

    #[test]
    fn arcs_are_fixed() {
        // These strings are a published contract: this test failing means the
        // arc changed, which must never happen.
        let expected = [
            "2.25.241400657918466799825741375372443673910.1.1",
            "2.25.241400657918466799825741375372443673910.1.2",
            "2.25.241400657918466799825741375372443673910.1.3",
            "2.25.241400657918466799825741375372443673910.1.4",
            "2.25.241400657918466799825741375372443673910.1.5",
        ];
        let dotted: Vec<String> = MosaicOid::ALL.iter().map(|o| o.dotted()).collect();
        assert_eq!(dotted, expected);
    }

    #[test]
    fn stand_ins_have_the_real_length_and_differ_from_it() {
        for oid in MosaicOid::ALL {
            assert_eq!(
                oid.der_content().len(),
                oid.stand_in_der_content().len(),
                "{oid}"
            );
            assert_ne!(oid.der_content(), oid.stand_in_der_content());
            assert_eq!(MosaicOid::from_der_content(oid.der_content()), Some(oid));
            assert_eq!(
                MosaicOid::from_der_content(oid.stand_in_der_content()),
                None
            );
        }
    }

    #[test]
    fn the_reference_doc_lists_every_oid() {
        let doc = include_str!("../../../docs/federation/OIDS.md");
        for oid in MosaicOid::ALL {
            let row = doc
                .lines()
                .find(|l| l.contains(&format!("`{}`", oid.dotted())))
                .unwrap_or_else(|| panic!("OIDS.md has no row for {oid}"));
            assert!(row.contains(oid.name()), "{row}");
            assert!(row.contains(oid.value_type().as_str()), "{row}");
        }
        assert!(doc.contains(ARC_UUID));
    }
}
