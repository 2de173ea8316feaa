//! Sync with the clinic: the wire format of docs/sync-protocol.md.
//!
//! The core does no network I/O: it builds the bytes a shell sends and
//! reads the bytes it gets back. The modules here are pure (no store), so the
//! reference clinic server uses the same code to read and write them.

pub mod body;
pub mod code;
pub mod device;
pub mod frame;
pub mod hlc;
pub mod hpke;
pub mod lww;
pub mod merge;
pub mod messages;
pub mod wire;

#[cfg(test)]
mod golden;

/// A sync message or enrollment code that cannot be used. Messages name the
/// problem, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes do not decode as the protocol says.
    #[error("malformed sync message: {0}")]
    Malformed(&'static str),
    /// The other side speaks another major version of the protocol.
    #[error(
        "sync protocol version {found} is not supported; this build speaks version {supported}"
    )]
    Incompatible {
        /// The major version received.
        found: u8,
        /// The major version this build speaks.
        supported: u8,
    },
    /// A signature does not verify.
    #[error("the sync message's signature does not verify")]
    BadSignature,
    /// The sealed body does not open: altered, or sealed for another key.
    #[error("the sync message does not open (altered, or sealed for another key)")]
    Unreadable,
    /// A reply that answers another request or another device.
    #[error("the reply does not answer this request")]
    WrongRequest,
    /// An enrollment code that does not read.
    #[error("invalid enrollment code: {0}")]
    BadCode(&'static str),
    /// The system random source failed.
    #[error("the system random source failed")]
    Random,
}
