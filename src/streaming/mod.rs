//! NATS Streaming (STAN): the engine behind `rnats-streaming-server`.
//!
//! STAN is a service on top of core NATS: clients talk to it with NATS
//! requests carrying protobufs ([`proto`]), and it keeps per channel a
//! message log with subscriptions that acknowledge what they received
//! ([`store`]).
pub mod config;
pub mod engine;
pub mod fuzz_check;
pub mod io;
pub mod monitor;
pub mod proto;
pub mod server;
pub mod store;
