//! Creds files. STUB.
