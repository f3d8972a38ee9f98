//! The NATS client protocol: the parser for what clients send, the encoders
//! for what the server sends, and the JSON bodies of INFO and CONNECT.

pub mod encode;
pub(crate) mod framing;
pub mod messages;
pub mod parser;
pub mod replay;

pub use parser::{Limits, Op, ParseError, Parser, UnsubMax};
