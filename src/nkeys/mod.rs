//! NATS nkeys. STUB.
