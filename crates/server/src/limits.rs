//! Connection admission: `max.connections` across all listeners, `max.connections.per.ip`
//! (with per-address overrides), `connection_creation_rate` per address (see [`crate::conn_rate`])
//! and a connection limit per tenant (with per-tenant overrides).
//!
//! A connection takes a [`ConnectionSlot`] at accept, before any byte is read; the slot counts
//! it against the total and its address. The tenant is known only once the connection is
//! authenticated (at accept for plaintext and mTLS listeners, after SASL otherwise), so the
//! tenant is charged then, through [`ConnectionSlot::bind_tenant`]. Dropping the slot releases
//! everything it holds. A refused connection is closed right away, as Kafka does for
//! `max.connections.per.ip`: the client learns at once instead of waiting in the backlog.

use crate::conn_rate::{CreationRate, CreationRateLimiter};
use parking_lot::Mutex;
use schloss_model::TenantId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The configured bounds. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_per_ip: Option<usize>,
    pub per_ip_overrides: HashMap<IpAddr, usize>,
    pub creation_rate: CreationRate,
    pub max_per_tenant: Option<usize>,
    pub per_tenant_overrides: HashMap<TenantId, usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_ip: Some(DEFAULT_MAX_CONNECTIONS_PER_IP),
            per_ip_overrides: HashMap::new(),
            creation_rate: CreationRate {
                per_ip: Some(DEFAULT_CONNECTION_CREATION_RATE),
                per_ip_overrides: HashMap::new(),
            },
            max_per_tenant: None,
            per_tenant_overrides: HashMap::new(),
        }
    }
}

/// `max.connections` unless configured: Kafka leaves it unlimited; a bound keeps file
/// descriptors and per-connection memory in check.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// `max.connections.per.ip` unless configured (Kafka: unlimited; managed Kafka services
/// commonly default to 1,000). A tenth of `max_connections`, so one address cannot take every
/// slot, while a host with many clients (or a NAT gateway in front of them) rarely needs an
/// override.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 1_000;
/// `connection_creation_rate` per address unless configured (Kafka's IP quota: unlimited).
/// Clients keep connections open, so a hundred new ones a second from one address is a
/// reconnect storm or an attack; it bounds how fast one address can churn through the
/// pre-authentication work (accept, TLS handshake, SASL) of the whole broker.
pub const DEFAULT_CONNECTION_CREATION_RATE: u32 = 100;

impl ConnectionLimits {
    fn ip_limit(&self, ip: IpAddr) -> Option<usize> {
        self.per_ip_overrides.get(&ip).copied().or(self.max_per_ip)
    }

    fn tenant_limit(&self, tenant: &TenantId) -> Option<usize> {
        self.per_tenant_overrides
            .get(tenant)
            .copied()
            .or(self.max_per_tenant)
    }
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("max.connections ({0}) reached")]
    Total(usize),
    #[error("max.connections.per.ip ({0}) reached for this address")]
    PerIp(usize),
    #[error("connection_creation_rate ({0}/s) exceeded by this address")]
    CreationRate(u32),
    #[error("the tenant's connection limit ({0}) is reached")]
    PerTenant(usize),
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
    by_tenant: HashMap<TenantId, usize>,
}

/// Live connection counts, shared by every listener.
pub struct ConnectionRegistry {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
    rate: CreationRateLimiter,
}

impl ConnectionRegistry {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            rate: CreationRateLimiter::new(limits.creation_rate.clone()),
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Admits a new connection from `ip`, or says which limit refuses it. Every attempt
    /// takes a creation-rate token, refused or not: the rate bounds the work an address
    /// causes, and a refused connection was accepted too.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refused> {
        self.rate
            .allow(ip, Instant::now())
            .map_err(Refused::CreationRate)?;
        let mut counts = self.counts.lock();
        if counts.total >= self.limits.max_connections {
            return Err(Refused::Total(self.limits.max_connections));
        }
        let from_ip = counts.by_ip.get(&ip).copied().unwrap_or(0);
        if let Some(limit) = self.limits.ip_limit(ip) {
            if from_ip >= limit {
                return Err(Refused::PerIp(limit));
            }
        }
        counts.total += 1;
        counts.by_ip.insert(ip, from_ip + 1);
        Ok(ConnectionSlot {
            registry: self.clone(),
            ip,
            tenant: OnceLock::new(),
        })
    }

    /// Connections currently admitted (for tests and diagnostics).
    pub fn total(&self) -> usize {
        self.counts.lock().total
    }

    fn release(&self, ip: IpAddr, tenant: Option<&TenantId>) {
        let mut counts = self.counts.lock();
        counts.total = counts.total.saturating_sub(1);
        decrement(&mut counts.by_ip, &ip);
        if let Some(t) = tenant {
            decrement(&mut counts.by_tenant, t);
        }
    }
}

fn decrement<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, usize>, key: &K) {
    match map.get_mut(key) {
        Some(n) if *n > 1 => *n -= 1,
        Some(_) => {
            map.remove(key);
        }
        None => {}
    }
}

/// One admitted connection's share of the limits; released on drop.
pub struct ConnectionSlot {
    registry: Arc<ConnectionRegistry>,
    ip: IpAddr,
    tenant: OnceLock<TenantId>,
}

impl ConnectionSlot {
    /// Charges the connection to `tenant` once it is authenticated. Binding again to the same
    /// tenant is a no-op (re-authentication); a connection never moves between tenants, since
    /// re-authentication must prove the same principal.
    pub fn bind_tenant(&self, tenant: &TenantId) -> Result<(), Refused> {
        if self.tenant.get().is_some() {
            return Ok(());
        }
        let mut counts = self.registry.counts.lock();
        let current = counts.by_tenant.get(tenant).copied().unwrap_or(0);
        if let Some(limit) = self.registry.limits.tenant_limit(tenant) {
            if current >= limit {
                return Err(Refused::PerTenant(limit));
            }
        }
        if self.tenant.set(tenant.clone()).is_ok() {
            counts.by_tenant.insert(tenant.clone(), current + 1);
        }
        Ok(())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.registry.release(self.ip, self.tenant.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::new(name).unwrap()
    }

    #[test]
    fn the_total_limit_refuses_and_recovers_on_drop() {
        let r = ConnectionRegistry::new(ConnectionLimits {
            max_connections: 2,
            ..Default::default()
        });
        let a = r.admit(ip(1)).unwrap();
        let _b = r.admit(ip(2)).unwrap();
        assert_eq!(r.admit(ip(3)).err(), Some(Refused::Total(2)));
        drop(a);
        assert!(r.admit(ip(3)).is_ok());
    }

    #[test]
    fn per_ip_limits_and_overrides() {
        let r = ConnectionRegistry::new(ConnectionLimits {
            max_per_ip: Some(1),
            per_ip_overrides: [(ip(9), 3)].into_iter().collect(),
            ..Default::default()
        });
        let _a = r.admit(ip(1)).unwrap();
        assert_eq!(r.admit(ip(1)).err(), Some(Refused::PerIp(1)));
        assert!(r.admit(ip(2)).is_ok());
        let held: Vec<_> = (0..3).map(|_| r.admit(ip(9)).unwrap()).collect();
        assert_eq!(r.admit(ip(9)).err(), Some(Refused::PerIp(3)));
        drop(held);
        assert!(r.admit(ip(9)).is_ok());
    }

    #[test]
    fn the_creation_rate_refuses_a_burst_beyond_it_per_address() {
        let r = ConnectionRegistry::new(ConnectionLimits {
            creation_rate: CreationRate {
                per_ip: Some(3),
                per_ip_overrides: [(ip(9), 5)].into_iter().collect(),
            },
            ..Default::default()
        });
        // Closing a connection does not give its token back: the rate counts creations.
        for _ in 0..3 {
            drop(r.admit(ip(1)).unwrap());
        }
        assert_eq!(r.admit(ip(1)).err(), Some(Refused::CreationRate(3)));
        assert!(r.admit(ip(2)).is_ok());
        let held: Vec<_> = (0..5).map(|_| r.admit(ip(9)).unwrap()).collect();
        assert_eq!(r.admit(ip(9)).err(), Some(Refused::CreationRate(5)));
        assert_eq!(r.total(), 5);
        drop(held);
    }

    #[test]
    fn defaults_bound_each_address() {
        let limits = ConnectionLimits::default();
        assert_eq!(limits.max_per_ip, Some(1_000));
        assert_eq!(limits.creation_rate.per_ip, Some(100));
    }

    #[test]
    fn tenant_limits_count_bound_connections_only() {
        let r = ConnectionRegistry::new(ConnectionLimits {
            max_per_tenant: Some(1),
            per_tenant_overrides: [(tenant("big"), 2)].into_iter().collect(),
            ..Default::default()
        });
        let a = r.admit(ip(1)).unwrap();
        let b = r.admit(ip(1)).unwrap();
        a.bind_tenant(&tenant("acme")).unwrap();
        a.bind_tenant(&tenant("acme")).unwrap(); // re-authentication: no second charge
        assert_eq!(
            b.bind_tenant(&tenant("acme")).err(),
            Some(Refused::PerTenant(1))
        );
        b.bind_tenant(&tenant("big")).unwrap();
        let c = r.admit(ip(2)).unwrap();
        c.bind_tenant(&tenant("big")).unwrap();
        drop(a);
        let d = r.admit(ip(3)).unwrap();
        d.bind_tenant(&tenant("acme")).unwrap();
        assert_eq!(r.total(), 3);
        drop((b, c, d));
        assert_eq!(r.total(), 0);
        assert!(r.counts.lock().by_tenant.is_empty());
        assert!(r.counts.lock().by_ip.is_empty());
    }
}
