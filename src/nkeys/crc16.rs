//! CRC-16/XMODEM, the checksum nkeys append to every encoded key.
//!
//! Parameters (as nats-io/nkeys `crc16.go`): polynomial 0x1021, initial
//! value 0, no input/output reflection, no final xor. The checksum is
//! appended little-endian after the prefix and key bytes.

/// The 256-entry table for polynomial 0x1021, built at compile time so the
/// checksum costs one lookup per byte and no start-up work.
const TABLE: [u16; 256] = build_table();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC-16/XMODEM of `data`.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ TABLE[(((crc >> 8) as u8) ^ b) as usize]
    })
}

/// True when `expected` is the checksum of `data`.
pub fn valid(data: &[u8], expected: u16) -> bool {
    crc16(data) == expected
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit reference implementation, to cross-check the table.
    fn slow(data: &[u8]) -> u16 {
        let mut crc: u16 = 0;
        for &b in data {
            crc ^= (b as u16) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn standard_check_value() {
        // The catalogue check value of CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn table_matches_bitwise() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for n in [0, 1, 2, 35, 36, 255, 1000] {
            assert_eq!(crc16(&data[..n]), slow(&data[..n]));
        }
    }

    #[test]
    fn valid_rejects_wrong_checksum() {
        let c = crc16(b"abc");
        assert!(valid(b"abc", c));
        assert!(!valid(b"abc", c ^ 1));
        assert!(!valid(b"abd", c));
    }
}
