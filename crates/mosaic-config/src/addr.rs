//! Socket addresses with an error that says what a valid one looks like.

use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serializer};
use std::net::SocketAddr;

const EXPECTED: &str = "a socket address such as 127.0.0.1:7420 or [::1]:7420";

pub(crate) fn serialize<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(addr)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let raw = String::deserialize(d)?;
    socket_addr(&raw).map_err(|_| D::Error::invalid_value(Unexpected::Str(&raw), &EXPECTED))
}

/// Parses `host:port`, also accepting `localhost:port`.
pub fn socket_addr(raw: &str) -> Result<SocketAddr, std::net::AddrParseError> {
    let raw = raw.trim();
    match raw.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}").parse(),
        None => raw.parse(),
    }
}

/// For compile-time constant defaults, which are known to parse.
pub(crate) fn parse_default(raw: &str) -> SocketAddr {
    socket_addr(raw).unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}
