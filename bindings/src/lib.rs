//! Cairn's FFI facade for Kotlin and Swift.
//!
//! The uniffi-generated bindings arrive with the bindings issue; until then
//! this crate only re-exports the core so the workspace layout is in place.

pub use cairn_core;
