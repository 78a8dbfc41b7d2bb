//! Authentication for schloss, without sockets or async: the SASL mechanisms PLAIN,
//! SCRAM-SHA-256 and SCRAM-SHA-512 as state machines, the credential store they check
//! against, and the mapping from a client certificate to a principal. Every successful path
//! ends in an [`Authenticated`], which only this crate can build.

mod authenticated;
pub mod cert;
mod credential;
mod crypto;
mod error;
pub mod plain;
pub mod scram;
mod secret;
pub mod store;

pub use authenticated::{Authenticated, OPERATOR_ROLE};
pub use cert::{CertIdentity, PrincipalMapper, RuleError, San};
pub use credential::{
    CredentialError, PlainHash, SaslMechanism, ScramCredential, ScramMechanism, MAX_SALT_LEN,
};
pub use error::{AuthError, FailureReason};
pub use plain::{PlainServer, PlainVerify};
pub use scram::{ScramServer, ServerFirstSent};
pub use secret::Secret;
pub use store::{CredentialStore, LoginName, StoreError, UserInfo, UserRecord};
