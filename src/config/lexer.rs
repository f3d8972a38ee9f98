//! Lexer for the nats-server config language. INTERFACE STUB.
