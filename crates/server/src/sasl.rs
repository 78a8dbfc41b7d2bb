//! SASL on a connection: the mechanism in progress between SaslAuthenticate rounds, and the
//! brake on repeated failures from one address.

use crate::lru::BoundedLru;
use crate::verifier::{Busy, PlainVerifiers};
use parking_lot::Mutex;
use schloss_auth::{
    AuthError, Authenticated, CredentialStore, PlainServer, SaslMechanism, ScramServer,
    ServerFirstSent,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A mechanism between rounds. Each variant holds only what its next step needs.
pub enum SaslStep {
    Plain(PlainServer),
    ScramFirst(ScramServer),
    ScramFinal(Box<ServerFirstSent>),
}

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The client failed to authenticate; the reason is for the log, never the client.
    #[error("{0}")]
    Rejected(AuthError),
    #[error("authentication could not be checked: {0}")]
    Internal(&'static str),
    /// No PLAIN verifier was free for this address in time; the login the client claimed is
    /// kept for the log. The client hears the same as for a wrong password.
    #[error("{busy}")]
    Busy { busy: Busy, login: String },
}

impl From<AuthError> for StepError {
    fn from(e: AuthError) -> Self {
        Self::Rejected(e)
    }
}

/// What one round produced.
pub enum Round {
    /// Send these bytes and wait for the client's next message.
    Continue(Vec<u8>, SaslStep),
    /// Authentication succeeded; send these (possibly empty) bytes.
    Done(Vec<u8>, Authenticated),
}

impl SaslStep {
    pub fn start(mechanism: SaslMechanism, store: Arc<CredentialStore>) -> Self {
        match mechanism.scram() {
            Some(scram) => Self::ScramFirst(ScramServer::new(scram, store)),
            None => Self::Plain(PlainServer::new(store)),
        }
    }

    /// Runs one round for a client at `ip`. PLAIN's argon2id check runs on a blocking thread
    /// through `verifiers`, which bounds how many run at once and how many one address may
    /// hold (see [`PlainVerifiers`]), so a login storm can starve neither the runtime nor
    /// other addresses. Known and unknown users take the same path (a dummy hash for unknown
    /// ones), so neither the cost nor the busy answer tells them apart.
    pub async fn step(
        self,
        token: &[u8],
        verifiers: &PlainVerifiers,
        ip: IpAddr,
    ) -> Result<Round, StepError> {
        match self {
            Self::Plain(server) => {
                let verify = server.step(token)?;
                let login = verify.login().to_owned();
                match verifiers.run(ip, move || verify.verify()).await {
                    Ok(result) => Ok(Round::Done(Vec::new(), result?)),
                    Err(Busy::TaskFailed) => Err(StepError::Internal("verifier task failed")),
                    Err(busy) => Err(StepError::Busy { busy, login }),
                }
            }
            Self::ScramFirst(server) => {
                let sent = server.step(token)?;
                let reply = sent.server_first_message().to_vec();
                Ok(Round::Continue(reply, Self::ScramFinal(Box::new(sent))))
            }
            Self::ScramFinal(sent) => {
                let (server_final, auth) = sent.step(token)?;
                Ok(Round::Done(server_final, auth))
            }
        }
    }
}

/// Slows repeated authentication failures for one login from one address: each consecutive
/// failure doubles the delay before the failure is answered, from 100 ms up to 5 s; a minute
/// without failures forgets it. Counting per (address, login) means a valid login of one
/// account cannot be used to reset the count of guesses against another.
///
/// The table is an LRU bounded at [`BRAKE_CAPACITY`] entries with O(1) work per failure, so
/// a flood of failures with ever new logins costs neither unbounded memory nor a scan of the
/// table under the lock; it forgets the pairs that failed least recently first.
pub struct FailureBrake {
    failures: Mutex<BoundedLru<(IpAddr, String), (u32, Instant)>>,
}

const BRAKE_BASE: Duration = Duration::from_millis(100);
const BRAKE_MAX: Duration = Duration::from_secs(5);
const BRAKE_MEMORY: Duration = Duration::from_secs(60);
/// (address, login) pairs remembered at most (about 20 MiB with 256-byte logins); beyond it
/// the least recently failed pair is forgotten.
pub const BRAKE_CAPACITY: usize = 65_536;

impl FailureBrake {
    pub fn new() -> Self {
        Self::with_capacity(BRAKE_CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            failures: Mutex::new(BoundedLru::new(capacity)),
        }
    }

    /// Records a failure and returns how long to wait before answering it. `login` is what the
    /// client claimed (empty if the message did not get that far).
    pub fn failed(&self, ip: IpAddr, login: &str) -> Duration {
        let now = Instant::now();
        let mut map = self.failures.lock();
        let entry = map.touch((ip, login.to_owned()), || (0, now));
        if now.duration_since(entry.1) >= BRAKE_MEMORY {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        let exponent = entry.0.saturating_sub(1).min(6);
        BRAKE_BASE.saturating_mul(1 << exponent).min(BRAKE_MAX)
    }

    pub fn succeeded(&self, ip: IpAddr, login: &str) {
        self.failures.lock().remove(&(ip, login.to_owned()));
    }
}

impl Default for FailureBrake {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_back_off_and_success_resets() {
        let brake = FailureBrake::new();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(brake.failed(ip, "acme/alice"), Duration::from_millis(100));
        assert_eq!(brake.failed(ip, "acme/alice"), Duration::from_millis(200));
        assert_eq!(brake.failed(ip, "acme/alice"), Duration::from_millis(400));
        for _ in 0..10 {
            brake.failed(ip, "acme/alice");
        }
        assert_eq!(brake.failed(ip, "acme/alice"), BRAKE_MAX);
        // Another account's success does not reset the guesses against alice.
        brake.succeeded(ip, "acme/bob");
        assert_eq!(brake.failed(ip, "acme/alice"), BRAKE_MAX);
        brake.succeeded(ip, "acme/alice");
        assert_eq!(brake.failed(ip, "acme/alice"), Duration::from_millis(100));
    }

    #[test]
    fn the_brake_table_is_bounded_and_forgets_the_least_recent_failures() {
        let brake = FailureBrake::with_capacity(4);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        brake.failed(ip, "acme/alice");
        brake.failed(ip, "acme/alice");
        // A flood of new logins from another address ...
        let attacker: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..1000 {
            brake.failed(attacker, &format!("acme/guess-{i}"));
            assert!(brake.failures.lock().len() <= 4);
            // ... while alice keeps failing stays remembered: she is recently used.
            if i % 2 == 0 {
                brake.failed(ip, "acme/alice");
            }
        }
        assert!(brake.failed(ip, "acme/alice") >= Duration::from_millis(400));
        // A pair pushed out by newer ones starts over.
        assert_eq!(
            brake.failed(attacker, "acme/guess-0"),
            Duration::from_millis(100)
        );
    }
}
