//! API keys themselves: made (`eik_` and 43 base64url characters, 32 bytes from the OS's
//! CSPRNG), recognized by shape, and hashed (SHA-256, lowercase hex) into the `KeyHash` that
//! event-store stores and looks up by. Here and not in event-store, so the store keeps no key
//! crypto: it only ever sees hashes. Used by the functions (authentication), `tools/admin`
//! and the integration tests (creating keys).

use base64::Engine;
use event_store::KeyHash;
use sha2::{Digest, Sha256};

/// The recognizable start of every key.
pub const KEY_PREFIX: &str = "eik_";
/// `eik_` + 43 base64url characters.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 43;

/// A new API key. Shown once at creation; only its hash is stored.
pub struct ApiKey(String);

impl ApiKey {
    /// 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Ok(ApiKey(format!("{KEY_PREFIX}{text}")))
    }

    /// A key given as text (a development key kept in a file), if it has the shape of one.
    pub fn parse(text: &str) -> Option<Self> {
        looks_like_key(text).then(|| ApiKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> KeyHash {
        key_hash(&self.0)
    }
}

/// Whether `text` has the shape of a key (before any lookup: a malformed one costs nothing).
pub fn looks_like_key(text: &str) -> bool {
    text.len() == KEY_LEN
        && text.starts_with(KEY_PREFIX)
        && text[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The lowercase hex SHA-256 of `key`: what the table stores and lookups use.
pub fn key_hash(key: &str) -> KeyHash {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    KeyHash::from_hex(hex).expect("a SHA-256 is 64 hex digits")
}

/// Whether two hashes are equal, in time independent of where they differ.
pub fn same_hash(a: &KeyHash, b: &KeyHash) -> bool {
    use subtle::ConstantTimeEq;
    a.as_str().as_bytes().ct_eq(b.as_str().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_shape_and_distinct_hashes() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        assert!(looks_like_key(a.as_str()), "{}", a.as_str());
        assert_ne!(a.as_str(), b.as_str());
        assert_ne!(a.hash(), b.hash());
        assert!(same_hash(&a.hash(), &key_hash(a.as_str())));
        assert!(!same_hash(&a.hash(), &b.hash()));
        assert_eq!(a.hash().id().len(), 12);
    }

    #[test]
    fn the_hash_is_the_lowercase_hex_sha256_of_the_key() {
        // SHA-256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            key_hash("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_keys_are_recognized_before_any_lookup() {
        let key = ApiKey::generate().unwrap();
        let key = key.as_str();
        assert!(!looks_like_key(&format!(" {key}")));
        assert!(!looks_like_key(&key[..KEY_LEN - 1]));
        assert!(!looks_like_key(&key.replace("eik_", "eak_")));
        assert!(!looks_like_key(&format!("{}!", &key[..KEY_LEN - 1])));
        assert!(ApiKey::parse(key).is_some());
        assert!(ApiKey::parse(&key[1..]).is_none());
    }
}
