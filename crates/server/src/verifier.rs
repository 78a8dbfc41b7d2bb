//! The pool of PLAIN verifiers. argon2id is expensive on purpose (about 19 MiB and tens of
//! milliseconds per check), so checks run on blocking threads, at most [`PLAIN_VERIFIERS`] at
//! once. Without more, one address sending thousands of bogus PLAIN logins a second would fill
//! that queue and every real user would wait behind it. So:
//!
//! * each address may run at most [`PER_ADDRESS_RUNNING`] check at once, so one address
//!   holds at most a quarter of the verifiers (and of the cores argon2 can use), and a client
//!   from elsewhere finds one free or next in line; up to [`PER_ADDRESS_QUEUED`] more from it wait their turn (a host with several
//!   clients logging in together is served), and further attempts from it fail at once;
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
/// Verifications one address may run at once: a quarter of [`PLAIN_VERIFIERS`].
pub const PER_ADDRESS_RUNNING: usize = 1;
/// Verifications from one address that may wait for their turn besides the running one:
/// enough for a host whose clients all log in at once (a restart) to be served within [`WAIT`]
/// at tens of milliseconds per check.
pub const PER_ADDRESS_QUEUED: usize = 16;
/// How long a verification may wait for a verifier.
pub const WAIT: Duration = Duration::from_secs(2);

/// Why a verification did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("verifier busy: too many PLAIN verifications from this address in flight")]
    AddressShare,
    #[error("verifier busy: no PLAIN verifier free in time")]
    Timeout,
    #[error("verifier task failed")]
    TaskFailed,
}

/// Per address with verifications in flight: how many, and the permits for running them.
type InFlight = Arc<Mutex<HashMap<IpAddr, (usize, Arc<Semaphore>)>>>;

pub struct PlainVerifiers {
    permits: Arc<Semaphore>,
    /// Per address with verifications in flight: how many, and the permits for running. An
    /// address leaves the map when its last one ends, so the map holds at most one entry per
    /// verification in flight.
    in_flight: InFlight,
    running: usize,
    in_flight_max: usize,
    wait: Duration,
}

impl PlainVerifiers {
    pub fn new() -> Self {
        Self::with_limits(
            PLAIN_VERIFIERS,
            PER_ADDRESS_RUNNING,
            PER_ADDRESS_QUEUED,
            WAIT,
        )
    }

    pub fn with_limits(verifiers: usize, running: usize, queued: usize, wait: Duration) -> Self {
        let running = running.max(1);
        Self {
            permits: Arc::new(Semaphore::new(verifiers.max(1))),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            running,
            in_flight_max: running.saturating_add(queued),
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
        let (share, turn) = self.take_share(ip)?;
        let permits = async {
            let mine = turn.acquire_owned().await.map_err(|_| Busy::TaskFailed)?;
            let global = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Busy::TaskFailed)?;
            Ok::<_, Busy>((mine, global))
        };
        let permits = tokio::time::timeout(self.wait, permits)
            .await
            .map_err(|_| Busy::Timeout)??;
        // The permits and the share move into the blocking task: if the client goes away while
        // argon2 runs, they are held until it really ends, so the bounds stay true.
        tokio::task::spawn_blocking(move || {
            let _held = (permits, share);
            check()
        })
        .await
        .map_err(|_| Busy::TaskFailed)
    }

    fn take_share(&self, ip: IpAddr) -> Result<(Share, Arc<Semaphore>), Busy> {
        let mut map = self.in_flight.lock();
        let (n, turn) = map
            .entry(ip)
            .or_insert_with(|| (0, Arc::new(Semaphore::new(self.running))));
        if *n >= self.in_flight_max {
            return Err(Busy::AddressShare);
        }
        *n += 1;
        let turn = turn.clone();
        Ok((
            Share {
                in_flight: self.in_flight.clone(),
                ip,
            },
            turn,
        ))
    }
}

impl Default for PlainVerifiers {
    fn default() -> Self {
        Self::new()
    }
}

/// One verification's place in its address's share; returned on drop.
struct Share {
    in_flight: InFlight,
    ip: IpAddr,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock();
        if let Some((n, _)) = map.get_mut(&self.ip) {
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

    fn in_flight(v: &PlainVerifiers, ip: IpAddr) -> usize {
        v.in_flight.lock().get(&ip).map_or(0, |(n, _)| *n)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_address_runs_its_share_queues_a_few_and_others_still_get_a_verifier() {
        // 4 verifiers; per address 2 running and 1 waiting.
        let verifiers = Arc::new(PlainVerifiers::with_limits(4, 2, 1, Duration::from_secs(5)));
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut slow = Vec::new();
        for _ in 0..3 {
            let (v, g) = (verifiers.clone(), gate.clone());
            slow.push(tokio::spawn(async move {
                v.run(ip(2), move || g.lock().recv().is_ok()).await
            }));
        }
        tokio::time::timeout(Duration::from_secs(5), async {
            while in_flight(&verifiers, ip(2)) != 3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        // Two run, one waits for its address's turn; a fourth is refused at once ...
        assert_eq!(verifiers.permits.available_permits(), 2);
        assert_eq!(verifiers.run(ip(2), || ()).await, Err(Busy::AddressShare));
        // ... while another address runs.
        assert_eq!(verifiers.run(ip(1), || 7).await, Ok(7));
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for s in slow {
            assert!(s.await.unwrap().unwrap());
        }
        assert!(verifiers.in_flight.lock().is_empty());
    }

    #[tokio::test]
    async fn a_check_that_gets_no_verifier_in_time_fails() {
        let verifiers = PlainVerifiers::with_limits(1, 2, 0, Duration::from_millis(50));
        let held = verifiers.permits.clone().acquire_owned().await.unwrap();
        assert_eq!(verifiers.run(ip(1), || ()).await, Err(Busy::Timeout));
        drop(held);
        assert_eq!(verifiers.run(ip(1), || 1).await, Ok(1));
        assert!(verifiers.in_flight.lock().is_empty());
    }
}
