//! NATS nkeys. TEMPORARY STUB until the nkeys module lands.
pub struct KeyPair(String);
impl KeyPair {
    pub fn new_server() -> Self {
        use rand::RngCore;
        let mut b = [0u8; 34];
        rand::thread_rng().fill_bytes(&mut b);
        let s = data_encoding::BASE32_NOPAD.encode(&b);
        KeyPair(format!("N{}", &s[..55]))
    }
    pub fn public_key(&self) -> String {
        self.0.clone()
    }
}
