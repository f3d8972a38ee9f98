//! Store encryption (`--encrypt`): message payloads are sealed with
//! AES-256-GCM or ChaCha20-Poly1305 before any store sees them, so one
//! wrapper serves the file and SQL stores alike.
//!
//! The scheme is nats-streaming-server's, so its documentation holds:
//! - the master key is SHA-256 of the configured key
//!   (`NATS_STREAMING_ENCRYPTION_KEY` wins over `--encryption_key`);
//! - each channel has its own key, SHA-256 over the master key and the
//!   channel name, so equal payloads in two channels do not look alike;
//! - a sealed payload is `[cipher code][12-byte nonce][ciphertext+tag]`,
//!   code 1 = AES, 2 = ChaCha; the nonce is random with the last 8 bytes
//!   seeded from the channel's last sequence, then counted up per message,
//!   so a nonce is never reused with one key;
//! - payloads stored before encryption was turned on (no code byte) are
//!   returned as they are.
//!
//! Only payloads are encrypted; subjects, sequences and timestamps are not.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::{
    ChannelLimits, ChannelStats, ClientInfo, Recovered, Result, ServerInfo, Store, StoreError,
    StoreKind, SubState,
};
use crate::streaming::proto::MsgProto;

const CODE_AES: u8 = 1;
const CODE_CHACHA: u8 = 2;
const NONCE: usize = 12;

/// The cipher new payloads are sealed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes,
    ChaCha,
}

impl Cipher {
    /// `AES`, `CHACHA`, or empty for the platform's best (AES where the CPU
    /// has AES instructions, as upstream picks it).
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(name: &str) -> std::result::Result<Cipher, String> {
        match name.to_ascii_uppercase().as_str() {
            "AES" => Ok(Cipher::Aes),
            "CHACHA" | "CHACHAPOLY" => Ok(Cipher::ChaCha),
            "" if cfg!(any(target_arch = "x86_64", target_arch = "x86")) => Ok(Cipher::Aes),
            "" => Ok(Cipher::ChaCha),
            _ => Err("encryption cipher not supported".into()),
        }
    }

    fn code(self) -> u8 {
        match self {
            Cipher::Aes => CODE_AES,
            Cipher::ChaCha => CODE_CHACHA,
        }
    }
}

/// One channel's ciphers and nonce counter.
struct ChannelCrypto {
    aes: Aes256Gcm,
    chacha: ChaCha20Poly1305,
    nonce: [u8; NONCE],
}

impl ChannelCrypto {
    fn new(master: &[u8; 32], channel: &str, last_seq: u64) -> ChannelCrypto {
        // Upstream hashes a zero prefix as long as the key material before
        // it; kept so the keys are the same as upstream's.
        let mut h = Sha256::new();
        h.update(vec![0u8; master.len() + 1 + channel.len()]);
        h.update(master);
        h.update(b".");
        h.update(channel.as_bytes());
        let key = h.finalize();
        let mut nonce = [0u8; NONCE];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        nonce[NONCE - 8..].copy_from_slice(&(last_seq + 1).to_be_bytes());
        ChannelCrypto {
            aes: Aes256Gcm::new(&key),
            chacha: ChaCha20Poly1305::new(&key),
            nonce,
        }
    }

    fn seal(&mut self, cipher: Cipher, data: &[u8]) -> Result<Vec<u8>> {
        let nonce = self.nonce;
        for b in self.nonce.iter_mut().rev() {
            *b = b.wrapping_add(1);
            if *b != 0 {
                break;
            }
        }
        let sealed = match cipher {
            Cipher::Aes => self.aes.encrypt((&nonce).into(), data),
            Cipher::ChaCha => self.chacha.encrypt((&nonce).into(), data),
        }
        .map_err(|_| StoreError::Other("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(cipher.code());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, data: Vec<u8>) -> Result<Vec<u8>> {
        let Some(&code) = data.first() else {
            return Ok(data);
        };
        if code != CODE_AES && code != CODE_CHACHA {
            return Ok(data);
        }
        if data.len() <= 1 + NONCE {
            return Err(StoreError::Corrupt {
                what: "encrypted message".into(),
                detail: format!("too short ({} bytes)", data.len()),
            });
        }
        let nonce: [u8; NONCE] = data[1..=NONCE].try_into().unwrap_or([0; NONCE]);
        let body = &data[1 + NONCE..];
        let r = if code == CODE_AES {
            self.aes.decrypt((&nonce).into(), body)
        } else {
            self.chacha.decrypt((&nonce).into(), body)
        };
        r.map_err(|_| StoreError::Corrupt {
            what: "encrypted message".into(),
            detail: "cannot decrypt (wrong encryption key?)".into(),
        })
    }
}

/// A [`Store`] whose message payloads are encrypted.
pub struct EncryptedStore {
    inner: Box<dyn Store>,
    cipher: Cipher,
    master: [u8; 32],
    channels: HashMap<String, ChannelCrypto>,
}

impl EncryptedStore {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// An empty key.
    pub fn new(inner: Box<dyn Store>, cipher: Cipher, key: &[u8]) -> Result<EncryptedStore> {
        if key.is_empty() {
            return Err(StoreError::Other("encryption key required".into()));
        }
        Ok(EncryptedStore {
            inner,
            cipher,
            master: Sha256::digest(key).into(),
            channels: HashMap::new(),
        })
    }

    fn crypto(&mut self, channel: &str) -> &mut ChannelCrypto {
        if !self.channels.contains_key(channel) {
            let last = self.inner.stats(channel).last;
            let c = ChannelCrypto::new(&self.master, channel, last);
            self.channels.insert(channel.to_owned(), c);
        }
        self.channels.get_mut(channel).expect("inserted just above")
    }
}

impl Store for EncryptedStore {
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
    fn recover(&mut self) -> Result<Option<Recovered>> {
        self.inner.recover()
    }
    fn init(&mut self, info: &ServerInfo) -> Result<()> {
        self.inner.init(info)
    }
    fn add_client(&mut self, client: &ClientInfo) -> Result<()> {
        self.inner.add_client(client)
    }
    fn delete_client(&mut self, id: &str) -> Result<()> {
        self.inner.delete_client(id)
    }
    fn create_channel(&mut self, name: &str, limits: &ChannelLimits) -> Result<()> {
        self.inner.create_channel(name, limits)
    }
    fn delete_channel(&mut self, name: &str) -> Result<()> {
        self.channels.remove(name);
        self.inner.delete_channel(name)
    }
    fn store_msg(&mut self, channel: &str, msg: &MsgProto) -> Result<()> {
        if msg.data.is_empty() {
            return self.inner.store_msg(channel, msg);
        }
        let cipher = self.cipher;
        let sealed = self.crypto(channel).seal(cipher, &msg.data)?;
        let m = MsgProto {
            data: sealed,
            ..msg.clone()
        };
        self.inner.store_msg(channel, &m)
    }
    fn lookup(&mut self, channel: &str, seq: u64) -> Result<Option<MsgProto>> {
        let Some(mut m) = self.inner.lookup(channel, seq)? else {
            return Ok(None);
        };
        if !m.data.is_empty() {
            m.data = self.crypto(channel).open(std::mem::take(&mut m.data))?;
        }
        Ok(Some(m))
    }
    fn stats(&self, channel: &str) -> ChannelStats {
        self.inner.stats(channel)
    }
    fn first_seq_at_or_after(&mut self, channel: &str, timestamp: i64) -> Result<u64> {
        self.inner.first_seq_at_or_after(channel, timestamp)
    }
    fn expire(&mut self, channel: &str, now: i64) -> Result<()> {
        self.inner.expire(channel, now)
    }
    fn create_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.inner.create_sub(channel, sub)
    }
    fn update_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.inner.update_sub(channel, sub)
    }
    fn delete_sub(&mut self, channel: &str, sub_id: u64) -> Result<()> {
        self.inner.delete_sub(channel, sub_id)
    }
    fn add_pending(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        self.inner.add_pending(channel, sub_id, seq)
    }
    fn ack(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        self.inner.ack(channel, sub_id, seq)
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn renew_lock(&mut self) -> Result<bool> {
        self.inner.renew_lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streaming::store::memory::MemoryStore;

    fn msg(seq: u64, data: &[u8]) -> MsgProto {
        MsgProto {
            sequence: seq,
            subject: "foo".into(),
            data: data.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn payloads_are_sealed_and_opened() {
        for cipher in [Cipher::Aes, Cipher::ChaCha] {
            let mut s =
                EncryptedStore::new(Box::new(MemoryStore::new()), cipher, b"secret").unwrap();
            s.create_channel("foo", &ChannelLimits::default()).unwrap();
            s.store_msg("foo", &msg(1, b"hello")).unwrap();
            s.store_msg("foo", &msg(2, b"hello")).unwrap();
            s.store_msg("foo", &msg(3, b"")).unwrap();
            let raw1 = s.inner.lookup("foo", 1).unwrap().unwrap().data;
            let raw2 = s.inner.lookup("foo", 2).unwrap().unwrap().data;
            assert_eq!(raw1[0], cipher.code());
            assert_ne!(raw1, raw2, "a nonce is never reused");
            assert!(!raw1.windows(5).any(|w| w == b"hello"));
            assert_eq!(s.lookup("foo", 1).unwrap().unwrap().data, b"hello");
            assert_eq!(s.lookup("foo", 3).unwrap().unwrap().data, b"");
        }
    }

    #[test]
    fn wrong_key_is_an_error_and_plain_data_passes() {
        let mut inner = MemoryStore::new();
        inner
            .create_channel("foo", &ChannelLimits::default())
            .unwrap();
        inner.store_msg("foo", &msg(1, b"plain")).unwrap();
        let mut s = EncryptedStore::new(Box::new(inner), Cipher::Aes, b"k1").unwrap();
        assert_eq!(s.lookup("foo", 1).unwrap().unwrap().data, b"plain");
        s.store_msg("foo", &msg(2, b"x")).unwrap();
        let sealed = s.inner.lookup("foo", 2).unwrap().unwrap();
        let mut other = MemoryStore::new();
        other
            .create_channel("foo", &ChannelLimits::default())
            .unwrap();
        other.store_msg("foo", &sealed).unwrap();
        let mut wrong = EncryptedStore::new(Box::new(other), Cipher::Aes, b"k2").unwrap();
        assert!(wrong.lookup("foo", 2).is_err());
        assert!(Cipher::parse("des").is_err());
    }
}
