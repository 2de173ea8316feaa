//! Benchmarks against baselines run in the same process (harness to come).
