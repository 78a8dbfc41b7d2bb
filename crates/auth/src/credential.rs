//! Stored credentials: argon2id PHC strings for PLAIN, RFC 5802 keys for SCRAM. Never a
//! password, never a salted password.

use crate::crypto::{self, CryptoError};
use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use schloss_model::Mechanism;
use std::fmt;

/// The SASL mechanisms this broker offers, as named in SaslHandshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 3] = [Self::Plain, Self::ScramSha256, Self::ScramSha512];

    /// The IANA name clients send in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// Parses a mechanism name as sent by clients (exact, upper case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn mechanism(self) -> Mechanism {
        match self {
            Self::Plain => Mechanism::SaslPlain,
            Self::ScramSha256 => Mechanism::ScramSha256,
            Self::ScramSha512 => Mechanism::ScramSha512,
        }
    }

    pub fn scram(self) -> Option<ScramMechanism> {
        match self {
            Self::Plain => None,
            Self::ScramSha256 => Some(ScramMechanism::Sha256),
            Self::ScramSha512 => Some(ScramMechanism::Sha512),
        }
    }
}

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    /// Kafka's minimum; Java clients refuse fewer iterations.
    pub const MIN_ITERATIONS: u32 = 4096;
    /// Kafka's maximum for AlterUserScramCredentials.
    pub const MAX_ITERATIONS: u32 = 16384;

    pub fn name(self) -> &'static str {
        self.sasl().name()
    }

    pub fn sasl(self) -> SaslMechanism {
        match self {
            Self::Sha256 => SaslMechanism::ScramSha256,
            Self::Sha512 => SaslMechanism::ScramSha512,
        }
    }

    pub fn mechanism(self) -> Mechanism {
        self.sasl().mechanism()
    }

    /// Output length of the hash, which is also the length of every SCRAM key and proof.
    pub fn key_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// Why a credential could not be built or loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("iterations must be between {min} and {max}, got {0}", min = ScramMechanism::MIN_ITERATIONS, max = ScramMechanism::MAX_ITERATIONS)]
    InvalidIterations(u32),
    #[error("salt must be 1 to {MAX_SALT_LEN} bytes, got {0}")]
    InvalidSalt(usize),
    #[error("{what} must be {expected} bytes for {mechanism}, got {actual}")]
    InvalidKeyLength {
        what: &'static str,
        mechanism: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("password must not be empty")]
    EmptyPassword,
    #[error("invalid argon2id password hash: {0}")]
    InvalidPasswordHash(String),
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

impl From<CryptoError> for CredentialError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e.0)
    }
}

/// Longest salt accepted (AlterUserScramCredentials sends the client's salt).
pub const MAX_SALT_LEN: usize = 256;
/// Salt length of credentials generated here; fake salts of unknown users have the same.
pub(crate) const SALT_LEN: usize = 32;

/// A SCRAM credential as RFC 5802 stores it: salt, iteration count, StoredKey, ServerKey.
#[derive(Clone)]
pub struct ScramCredential {
    mechanism: ScramMechanism,
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Secret<Vec<u8>>,
    server_key: Secret<Vec<u8>>,
}

impl ScramCredential {
    /// Derives a credential from a password with a fresh random salt.
    pub fn new(
        mechanism: ScramMechanism,
        password: &str,
        iterations: u32,
    ) -> Result<Self, CredentialError> {
        let salt = crypto::random_bytes::<SALT_LEN>()?;
        Self::with_salt(mechanism, password, &salt, iterations)
    }

    /// Derives a credential from a password and a given salt.
    pub fn with_salt(
        mechanism: ScramMechanism,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, CredentialError> {
        if password.is_empty() {
            return Err(CredentialError::EmptyPassword);
        }
        check_salt_and_iterations(salt, iterations)?;
        let salted = Secret::new(crypto::hi(mechanism, password.as_bytes(), salt, iterations));
        Self::from_salted_password(mechanism, salt, iterations, salted.expose())
    }

    /// Builds a credential from the salted password that AlterUserScramCredentials carries:
    /// ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        iterations: u32,
        salted_password: &[u8],
    ) -> Result<Self, CredentialError> {
        check_salt_and_iterations(salt, iterations)?;
        check_key_len(mechanism, "salted password", salted_password.len())?;
        let client_key = Secret::new(crypto::hmac(mechanism, salted_password, &[b"Client Key"])?);
        let stored_key = crypto::hash(mechanism, client_key.expose());
        let server_key = crypto::hmac(mechanism, salted_password, &[b"Server Key"])?;
        Ok(Self {
            mechanism,
            salt: salt.to_vec(),
            iterations,
            stored_key: Secret::new(stored_key),
            server_key: Secret::new(server_key),
        })
    }

    /// Rebuilds a stored credential (from the credential file).
    pub fn from_keys(
        mechanism: ScramMechanism,
        salt: Vec<u8>,
        iterations: u32,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
    ) -> Result<Self, CredentialError> {
        check_salt_and_iterations(&salt, iterations)?;
        check_key_len(mechanism, "stored_key", stored_key.len())?;
        check_key_len(mechanism, "server_key", server_key.len())?;
        Ok(Self {
            mechanism,
            salt,
            iterations,
            stored_key: Secret::new(stored_key),
            server_key: Secret::new(server_key),
        })
    }

    /// A credential no password matches, with a salt derived from a secret: what an unknown
    /// user gets so that the exchange looks like a wrong password.
    pub(crate) fn fake(
        mechanism: ScramMechanism,
        secret: &[u8],
        login: &str,
        iterations: u32,
    ) -> Result<Self, CryptoError> {
        let label = |what: &[u8]| {
            crypto::hmac(
                ScramMechanism::Sha256,
                secret,
                &[what, mechanism.name().as_bytes(), b"\0", login.as_bytes()],
            )
        };
        let salt = label(b"fake-salt:")?;
        let key = label(b"fake-key:")?;
        let key = crypto::hmac(mechanism, &key, &[b"fake"])?;
        Ok(Self {
            mechanism,
            salt,
            iterations,
            stored_key: Secret::new(key.clone()),
            server_key: Secret::new(key),
        })
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn stored_key(&self) -> &Secret<Vec<u8>> {
        &self.stored_key
    }

    pub fn server_key(&self) -> &Secret<Vec<u8>> {
        &self.server_key
    }
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .field("salt_len", &self.salt.len())
            .field("stored_key", &self.stored_key)
            .field("server_key", &self.server_key)
            .finish()
    }
}

fn check_salt_and_iterations(salt: &[u8], iterations: u32) -> Result<(), CredentialError> {
    if !(ScramMechanism::MIN_ITERATIONS..=ScramMechanism::MAX_ITERATIONS).contains(&iterations) {
        return Err(CredentialError::InvalidIterations(iterations));
    }
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(CredentialError::InvalidSalt(salt.len()));
    }
    Ok(())
}

fn check_key_len(
    mechanism: ScramMechanism,
    what: &'static str,
    actual: usize,
) -> Result<(), CredentialError> {
    let expected = mechanism.key_len();
    if actual != expected {
        return Err(CredentialError::InvalidKeyLength {
            what,
            mechanism: mechanism.name(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Largest argon2 memory cost accepted from a file, in KiB (1 GiB): a hash is verified per
/// login attempt, so its cost bounds what one attempt can make the broker spend.
const MAX_ARGON2_M_COST: u32 = 1 << 20;
const MAX_ARGON2_T_COST: u32 = 64;
const MAX_ARGON2_P_COST: u32 = 16;

/// A PLAIN credential: an argon2id hash in PHC string format
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
#[derive(Clone, PartialEq, Eq)]
pub struct PlainHash(String);

impl PlainHash {
    /// Hashes a password with argon2id and the argon2 crate's default (OWASP) parameters:
    /// m=19456 KiB, t=2, p=1, and a random 16-byte salt.
    pub fn from_password(password: &str) -> Result<Self, CredentialError> {
        if password.is_empty() {
            return Err(CredentialError::EmptyPassword);
        }
        let salt_bytes = crypto::random_bytes::<16>()?;
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| CredentialError::InvalidPasswordHash(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| CredentialError::InvalidPasswordHash(e.to_string()))?;
        Ok(Self(hash.to_string()))
    }

    /// Checks a PHC string: argon2id, with parameters within bounds.
    pub fn parse(phc: &str) -> Result<Self, CredentialError> {
        let invalid = |e: &dyn fmt::Display| CredentialError::InvalidPasswordHash(e.to_string());
        let hash = PasswordHash::new(phc).map_err(|e| invalid(&e))?;
        if hash.algorithm != argon2::Algorithm::Argon2id.ident() {
            return Err(invalid(&"algorithm is not argon2id"));
        }
        let params = argon2::Params::try_from(&hash).map_err(|e| invalid(&e))?;
        if params.m_cost() > MAX_ARGON2_M_COST
            || params.t_cost() > MAX_ARGON2_T_COST
            || params.p_cost() > MAX_ARGON2_P_COST
        {
            return Err(invalid(&"argon2 parameters exceed the accepted maximum"));
        }
        if hash.hash.is_none() {
            return Err(invalid(&"missing hash output"));
        }
        Ok(Self(phc.to_owned()))
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// CPU- and memory-heavy: run it off the async runtime.
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match PasswordHash::new(&self.0) {
            Ok(hash) => Argon2::default().verify_password(password, &hash).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for PlainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainHash([redacted])")
    }
}

impl PlainHash {
    /// Wraps a string without checking it; verification against an invalid one fails.
    pub(crate) fn unchecked(phc: &str) -> Self {
        Self(phc.to_owned())
    }
}
