//! Secrets at rest, and where new ones come from.
//!
//! SigV4 cannot work from a one-way hash: both sides derive the HMAC signing
//! key from the secret itself, so the server must be able to recover it.
//! Secrets are therefore sealed with AES-256-GCM (RustCrypto `aes-gcm`) under
//! the credentials key (32 random bytes, given as base64), with the access
//! key id as associated data: a sealed secret copied onto another
//! credential's row does not open. A sealed secret is the 12-byte random
//! nonce followed by the ciphertext and its tag. A copy of the database
//! without the key reveals no secret; the key without the database reveals
//! nothing either.
//!
//! New access key ids and secrets come from the operating system's random
//! number generator (`getrandom`), never from a seeded generator.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::credential::{
    ACCESS_KEY_ID_LENGTH, ACCESS_KEY_PREFIX, AccessKeyId, SecretAccessKey,
};

const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;

/// Why the credentials key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the credentials key is not base64")]
    NotBase64,
    #[error(
        "the credentials key is {0} bytes; it must be 32 random bytes (`head -c 32 /dev/urandom | base64`)"
    )]
    WrongLength(usize),
}

/// Why a sealed secret does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the secret of {access_key_id} does not open: it was sealed under another credentials key, or altered"
)]
pub struct OpenError {
    pub access_key_id: String,
}

/// The key secrets are sealed under.
#[derive(Clone)]
pub struct CredentialsKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for CredentialsKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CredentialsKey(<redacted>)")
    }
}

impl CredentialsKey {
    /// The key from its base64 text (surrounding whitespace, as a file
    /// written by `base64` has, is ignored).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::NotBase64)?;
        if bytes.len() != KEY_BYTES {
            return Err(KeyError::WrongLength(bytes.len()));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self { cipher })
    }

    /// Seals `secret` for `access_key_id`: nonce, then ciphertext and tag.
    pub fn seal(&self, access_key_id: &AccessKeyId, secret: &SecretAccessKey) -> Vec<u8> {
        let mut nonce = [0_u8; NONCE_BYTES];
        fill_random(&mut nonce);
        let payload = Payload {
            msg: secret.expose().as_bytes(),
            aad: access_key_id.as_str().as_bytes(),
        };
        // Encryption fails only for messages beyond GCM's 64 GiB limit.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("a 40-byte secret is within AES-GCM's message limit");
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens a secret [`seal`](Self::seal) made for the same access key id.
    pub fn open(
        &self,
        access_key_id: &AccessKeyId,
        sealed: &[u8],
    ) -> Result<SecretAccessKey, OpenError> {
        let failed = || OpenError {
            access_key_id: access_key_id.to_string(),
        };
        if sealed.len() < NONCE_BYTES {
            return Err(failed());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: access_key_id.as_str().as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| failed())?;
        String::from_utf8(plain)
            .map(SecretAccessKey::new)
            .map_err(|_| failed())
    }
}

/// Fills `buffer` from the operating system's generator. A machine whose
/// generator fails cannot issue credentials safely; there is nothing to fall
/// back to.
fn fill_random(buffer: &mut [u8]) {
    getrandom::fill(buffer).expect("the operating system's random number generator works");
}

/// The RFC 4648 base32 alphabet: upper-case letters and 2-7, as AWS key ids.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh access key id: `SGAK` and 16 base32 characters (80 random bits).
pub fn generate_access_key_id() -> AccessKeyId {
    let mut random = [0_u8; 10];
    fill_random(&mut random);
    let mut text = String::with_capacity(ACCESS_KEY_ID_LENGTH);
    text.push_str(ACCESS_KEY_PREFIX);
    // 80 bits, five at a time.
    let bits = random.iter().fold(0_u128, |accumulated, byte| {
        (accumulated << 8) | u128::from(*byte)
    });
    for index in (0..16).rev() {
        let five_bits = ((bits >> (index * 5)) & 0x1f) as usize;
        text.push(char::from(BASE32[five_bits]));
    }
    AccessKeyId::parse(&text).expect("a generated access key id is well formed")
}

/// A fresh secret: 30 random bytes as 40 characters of base64, the length
/// and alphabet of an AWS secret access key.
pub fn generate_secret_access_key() -> SecretAccessKey {
    let mut random = [0_u8; 30];
    fill_random(&mut random);
    SecretAccessKey::new(STANDARD.encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CredentialsKey {
        CredentialsKey::from_base64(&STANDARD.encode([7_u8; 32])).unwrap()
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        assert!(CredentialsKey::from_base64(&format!("{}\n", STANDARD.encode([1_u8; 32]))).is_ok());
        assert_eq!(
            CredentialsKey::from_base64(&STANDARD.encode([1_u8; 16])).unwrap_err(),
            KeyError::WrongLength(16)
        );
        assert_eq!(
            CredentialsKey::from_base64("not base64!").unwrap_err(),
            KeyError::NotBase64
        );
    }

    #[test]
    fn sealed_secrets_open_only_for_their_key_id_and_key() {
        let access_key_id = generate_access_key_id();
        let secret = generate_secret_access_key();
        let sealed = key().seal(&access_key_id, &secret);
        assert!(
            !sealed
                .windows(40)
                .any(|window| window == secret.expose().as_bytes())
        );
        assert_eq!(key().open(&access_key_id, &sealed).unwrap(), secret);

        let other_id = generate_access_key_id();
        assert!(
            key().open(&other_id, &sealed).is_err(),
            "bound to its key id"
        );
        let other_key = CredentialsKey::from_base64(&STANDARD.encode([8_u8; 32])).unwrap();
        assert!(other_key.open(&access_key_id, &sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key().open(&access_key_id, &altered).is_err());
        assert!(key().open(&access_key_id, &sealed[..5]).is_err());
    }

    #[test]
    fn generated_values_have_the_aws_shapes() {
        let first = generate_access_key_id();
        assert_eq!(first.as_str().len(), 20);
        assert!(first.as_str().starts_with("SGAK"));
        assert_ne!(first, generate_access_key_id());
        let secret = generate_secret_access_key();
        assert_eq!(secret.expose().len(), 40);
        assert!(
            secret
                .expose()
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/')
        );
    }
}
