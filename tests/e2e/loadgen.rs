//! The load generator, run briefly.
