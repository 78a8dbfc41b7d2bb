//! `connection_creation_rate`: new connections per second per client address, Kafka's IP
//! quota of the same name (KIP-612), as a token bucket per address. A bucket holds at most one
//! second's worth of tokens (a client may open `rate` connections at once, then `rate` per
//! second); every accepted connection takes a token, and one that finds none is closed at once.
//!
//! The buckets live in a [`BoundedLru`] of [`RATE_TABLE_CAPACITY`] addresses: an address
//! pushed out (only when that many addresses connected more recently) starts with a full
//! bucket again, which gives it at most one more burst.

use crate::lru::BoundedLru;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Addresses whose buckets are kept.
pub const RATE_TABLE_CAPACITY: usize = 65_536;

/// A rate per address: the default (`None` = unlimited) and overrides by address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreationRate {
    pub per_ip: Option<u32>,
    pub per_ip_overrides: HashMap<IpAddr, u32>,
}

impl CreationRate {
    fn for_ip(&self, ip: IpAddr) -> Option<u32> {
        self.per_ip_overrides.get(&ip).copied().or(self.per_ip)
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct CreationRateLimiter {
    rate: CreationRate,
    buckets: Mutex<BoundedLru<IpAddr, Bucket>>,
}

impl CreationRateLimiter {
    pub fn new(rate: CreationRate) -> Self {
        Self::with_capacity(rate, RATE_TABLE_CAPACITY)
    }

    fn with_capacity(rate: CreationRate, capacity: usize) -> Self {
        Self {
            rate,
            buckets: Mutex::new(BoundedLru::new(capacity)),
        }
    }

    /// Takes a token for a connection from `ip` at `now`; `Err(rate)` if there is none.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> Result<(), u32> {
        let Some(rate) = self.rate.for_ip(ip) else {
            return Ok(());
        };
        let full = f64::from(rate);
        let mut buckets = self.buckets.lock();
        let bucket = buckets.touch(ip, || Bucket {
            tokens: full,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * full).min(full);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn limiter(per_ip: u32) -> CreationRateLimiter {
        CreationRateLimiter::new(CreationRate {
            per_ip: Some(per_ip),
            per_ip_overrides: [(ip(9), 1)].into_iter().collect(),
        })
    }

    #[test]
    fn a_burst_of_one_seconds_worth_then_the_rate() {
        let l = limiter(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.allow(ip(1), t0), Ok(()));
        }
        assert_eq!(l.allow(ip(1), t0), Err(10));
        // Another address has its own bucket.
        assert_eq!(l.allow(ip(2), t0), Ok(()));
        // 100 ms later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(l.allow(ip(1), t1), Ok(()));
        assert_eq!(l.allow(ip(1), t1), Err(10));
        // A long pause refills the bucket only up to one second's worth.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..10 {
            assert_eq!(l.allow(ip(1), t2), Ok(()));
        }
        assert_eq!(l.allow(ip(1), t2), Err(10));
    }

    #[test]
    fn overrides_apply_per_address_and_none_is_unlimited() {
        let l = limiter(10);
        let t0 = Instant::now();
        assert_eq!(l.allow(ip(9), t0), Ok(()));
        assert_eq!(l.allow(ip(9), t0), Err(1));
        let unlimited = CreationRateLimiter::new(CreationRate::default());
        for _ in 0..10_000 {
            assert_eq!(unlimited.allow(ip(1), t0), Ok(()));
        }
        assert!(unlimited.buckets.lock().is_empty());
    }

    #[test]
    fn the_bucket_table_is_bounded() {
        let l = CreationRateLimiter::with_capacity(
            CreationRate {
                per_ip: Some(1),
                ..Default::default()
            },
            16,
        );
        let t0 = Instant::now();
        for i in 0..=255u8 {
            assert_eq!(l.allow(IpAddr::from([10, 0, 1, i]), t0), Ok(()));
            assert!(l.buckets.lock().len() <= 16);
        }
        // The most recent address is still remembered with an empty bucket.
        assert_eq!(l.allow(IpAddr::from([10, 0, 1, 255]), t0), Err(1));
    }
}
