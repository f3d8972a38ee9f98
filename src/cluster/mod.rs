//! Clustering: links between servers of one cluster (routes).
//!
//! [`proto`] is the route wire protocol on its own, parser and encoders, so
//! the connection handling built on it can be tested against nats-server's
//! exact frames.

pub mod config;
pub mod proto;
