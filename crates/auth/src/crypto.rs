//! The SCRAM primitives of RFC 5802 section 2.2 over SHA-256 and SHA-512, and the CSPRNG.

use crate::credential::ScramMechanism;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// A primitive refused its input or the OS random source failed. Neither happens with the
/// inputs this crate passes; it exists so that nothing panics if one ever does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CryptoError(pub(crate) &'static str);

/// HMAC(key, parts concatenated).
pub(crate) fn hmac(
    mechanism: ScramMechanism,
    key: &[u8],
    parts: &[&[u8]],
) -> Result<Vec<u8>, CryptoError> {
    match mechanism {
        ScramMechanism::Sha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| CryptoError("hmac"))?;
            for part in parts {
                mac.update(part);
            }
            Ok(mac.finalize().into_bytes().to_vec())
        }
        ScramMechanism::Sha512 => {
            let mut mac = Hmac::<Sha512>::new_from_slice(key).map_err(|_| CryptoError("hmac"))?;
            for part in parts {
                mac.update(part);
            }
            Ok(mac.finalize().into_bytes().to_vec())
        }
    }
}

/// H(data).
pub(crate) fn hash(mechanism: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
        ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// Hi(password, salt, i): PBKDF2 with HMAC of the mechanism's hash.
pub(crate) fn hi(
    mechanism: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    let mut out = vec![0u8; mechanism.key_len()];
    match mechanism {
        ScramMechanism::Sha256 => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
        }
        ScramMechanism::Sha512 => {
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
        }
    }
    out
}

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| CryptoError("os random source"))?;
    Ok(out)
}
