//! The sync benchmarks (feature `sync`, on by default): a device's pushes
//! as the core builds them ([`mix`], [`device`]), a small HTTP client for
//! the load test ([`http`]), and the cases ([`cases`]). They run the
//! reference clinic server (`cairn-clinic`) in this process.

pub mod cases;
pub mod device;
pub mod http;
pub mod mix;
