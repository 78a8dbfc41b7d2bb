//! SASL on a connection: the mechanism in progress between SaslAuthenticate rounds, and the
//! brake on repeated failures from one address.

use parking_lot::Mutex;
use schloss_auth::{
    AuthError, Authenticated, CredentialStore, PlainServer, SaslMechanism, ScramServer,
    ServerFirstSent,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

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

    /// Runs one round. PLAIN's argon2id check runs on a blocking thread, at most
    /// `verifiers` at a time, so a login storm cannot starve the runtime.
    pub async fn step(self, token: &[u8], verifiers: &Semaphore) -> Result<Round, StepError> {
        match self {
            Self::Plain(server) => {
                let verify = server.step(token)?;
                let _permit = verifiers.acquire().await;
                let outcome = tokio::task::spawn_blocking(move || verify.verify()).await;
                match outcome {
                    Ok(result) => Ok(Round::Done(Vec::new(), result?)),
                    Err(_) => Err(StepError::Internal("verifier task failed")),
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
pub struct FailureBrake {
    failures: Mutex<HashMap<(IpAddr, String), (u32, Instant)>>,
}

const BRAKE_BASE: Duration = Duration::from_millis(100);
const BRAKE_MAX: Duration = Duration::from_secs(5);
const BRAKE_MEMORY: Duration = Duration::from_secs(60);
/// Addresses remembered at most; beyond it the oldest entries are dropped.
const BRAKE_CAPACITY: usize = 65_536;

impl FailureBrake {
    pub fn new() -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure and returns how long to wait before answering it. `login` is what the
    /// client claimed (empty if the message did not get that far).
    pub fn failed(&self, ip: IpAddr, login: &str) -> Duration {
        let now = Instant::now();
        let mut map = self.failures.lock();
        if map.len() >= BRAKE_CAPACITY {
            map.retain(|_, (_, last)| now.duration_since(*last) < BRAKE_MEMORY);
        }
        let entry = map.entry((ip, login.to_owned())).or_insert((0, now));
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
}
