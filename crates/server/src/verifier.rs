//! The pool of PLAIN verifiers. argon2id is expensive on purpose (about 19 MiB and tens of
//! milliseconds per check), so checks run on blocking threads, at most [`PLAIN_VERIFIERS`] at
//! once. Without more, one address sending thousands of bogus PLAIN logins a second would fill
//! that queue and every real user would wait behind it. So:
//!
//! * each address may have at most [`PER_ADDRESS`] checks in flight (running or waiting); a
//!   further attempt from it fails at once, so one address holds at most half the verifiers
//!   and never queues ahead of others;
//! * a check that does not get a verifier within [`WAIT`] fails instead of waiting on.
//!
//! Both failures answer the client as a wrong password does (SASL_AUTHENTICATION_FAILED with
//! the generic message) and are logged as "verifier busy". The failed-login brake per
//! (address, login) does not help here: a flood varies the login.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// PLAIN verifications (argon2id, ~19 MiB each) running at once.
pub const PLAIN_VERIFIERS: usize = 4;
/// Verifications one address may have running or waiting. Half of [`PLAIN_VERIFIERS`]: a
/// client from another address always finds a verifier free or next in line.
pub const PER_ADDRESS: usize = 2;
/// How long a verification may wait for a verifier.
pub const WAIT: Duration = Duration::from_secs(2);

/// Why a verification did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("verifier busy: this address already has {PER_ADDRESS} PLAIN verifications in flight")]
    AddressShare,
    #[error("verifier busy: no PLAIN verifier free within {WAIT:?}")]
    Timeout,
    #[error("verifier task failed")]
    TaskFailed,
}

pub struct PlainVerifiers {
    permits: Arc<Semaphore>,
    /// Verifications in flight per address; an address leaves the map when its last one ends,
    /// so the map holds at most one entry per verification in flight.
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
    per_address: usize,
    wait: Duration,
}

impl PlainVerifiers {
    pub fn new() -> Self {
        Self::with_limits(PLAIN_VERIFIERS, PER_ADDRESS, WAIT)
    }

    pub fn with_limits(verifiers: usize, per_address: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(verifiers.max(1))),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            per_address: per_address.max(1),
            wait,
        }
    }

    /// Runs `check` on a blocking thread for a client at `ip`, within the address's share and
    /// the wait deadline.
    pub async fn run<T: Send + 'static>(
        &self,
        ip: IpAddr,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let share = self.take_share(ip)?;
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy::Timeout)?
            .map_err(|_| Busy::TaskFailed)?;
        // The permit and the share move into the blocking task: if the client goes away while
        // argon2 runs, they are held until it really ends, so the bounds stay true.
        tokio::task::spawn_blocking(move || {
            let _held = (permit, share);
            check()
        })
        .await
        .map_err(|_| Busy::TaskFailed)
    }

    fn take_share(&self, ip: IpAddr) -> Result<Share, Busy> {
        let mut map = self.in_flight.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return Err(Busy::AddressShare);
        }
        *n += 1;
        Ok(Share {
            in_flight: self.in_flight.clone(),
            ip,
        })
    }
}

impl Default for PlainVerifiers {
    fn default() -> Self {
        Self::new()
    }
}

/// One verification's place in its address's share; returned on drop.
struct Share {
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_address_gets_its_share_and_others_still_get_a_verifier() {
        let verifiers = Arc::new(PlainVerifiers::with_limits(4, 2, Duration::from_secs(5)));
        // Two slow checks from the attacker hold its whole share.
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut slow = Vec::new();
        for _ in 0..2 {
            let (v, g) = (verifiers.clone(), gate.clone());
            slow.push(tokio::spawn(async move {
                v.run(ip(2), move || g.lock().recv().is_ok()).await
            }));
        }
        tokio::time::timeout(Duration::from_secs(5), async {
            while verifiers.in_flight.lock().get(&ip(2)) != Some(&2) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        // A third from the same address is refused at once ...
        assert_eq!(verifiers.run(ip(2), || ()).await, Err(Busy::AddressShare));
        // ... while another address runs.
        assert_eq!(verifiers.run(ip(1), || 7).await, Ok(7));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for s in slow {
            assert!(s.await.unwrap().unwrap());
        }
        assert!(verifiers.in_flight.lock().is_empty());
    }

    #[tokio::test]
    async fn a_check_that_gets_no_verifier_in_time_fails() {
        let verifiers = PlainVerifiers::with_limits(1, 2, Duration::from_millis(50));
        let held = verifiers.permits.clone().acquire_owned().await.unwrap();
        assert_eq!(verifiers.run(ip(1), || ()).await, Err(Busy::Timeout));
        drop(held);
        assert_eq!(verifiers.run(ip(1), || 1).await, Ok(1));
        assert!(verifiers.in_flight.lock().is_empty());
    }
}
