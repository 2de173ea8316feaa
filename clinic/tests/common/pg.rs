//! The private PostgreSQL cluster of the tests: `cairn_clinic::testing`
//! (feature `testing`, which this package's dev-dependency on itself turns
//! on), shared with the benchmarks. One cluster per test binary, started on
//! first use ([`cluster`]); the tests fail, naming the package, when the
//! PostgreSQL 15 server binaries are missing.

pub use cairn_clinic::testing::*;
