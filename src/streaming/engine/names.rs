//! The name rules of the protocol: client IDs and channel names.

/// `^[a-zA-Z0-9_-]+$`, nats-streaming-server's client ID rule.
pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A channel is a literal NATS subject: non-empty tokens, no wildcards, no
/// `/` (channels are directories in the file store), no white space.
pub fn valid_channel(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && name.split('.').all(|t| {
            !t.is_empty()
                && t != "*"
                && t != ">"
                && !t.bytes().any(|b| b.is_ascii_whitespace() || b == 0)
        })
        && !name.contains(['*', '>'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        assert!(valid_client_id("me-1_x"));
        assert!(!valid_client_id(""));
        assert!(!valid_client_id("a.b"));
        assert!(!valid_client_id("a b"));
    }

    #[test]
    fn channels() {
        for ok in ["foo", "foo.bar", "a-b_c.1"] {
            assert!(valid_channel(ok), "{ok}");
        }
        for bad in [
            "", ".foo", "foo.", "a..b", "a.*", "a.>", "a/b", "a b", "a*b",
        ] {
            assert!(!valid_channel(bad), "{bad}");
        }
    }
}
