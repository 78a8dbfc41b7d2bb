//! Listener and authentication settings: security protocol, TLS material, client
//! authentication, SASL mechanisms and the credential file.

use super::{invalid, ConfigError};
use schloss_auth::SaslMechanism;
use schloss_model::TenantId;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListener {
    name: String,
    address: String,
    advertised: Option<String>,
    security_protocol: String,
    tenant: Option<String>,
    #[serde(default)]
    allow_insecure: bool,
    sasl_mechanisms: Option<Vec<String>>,
    tls: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    client_auth: Option<String>,
    ca: Option<PathBuf>,
    principal_mapping_rules: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    credentials_file: Option<PathBuf>,
    authentication_timeout_ms: Option<i64>,
    connections_max_reauth_ms: Option<i64>,
}

/// Kafka's listener security protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    /// The same protocol as policies see it (`context.securityProtocol`).
    pub fn for_policy(self) -> schloss_policy::SecurityProtocol {
        match self {
            Self::Plaintext => schloss_policy::SecurityProtocol::Plaintext,
            Self::Ssl => schloss_policy::SecurityProtocol::Ssl,
            Self::SaslPlaintext => schloss_policy::SecurityProtocol::SaslPlaintext,
            Self::SaslSsl => schloss_policy::SecurityProtocol::SaslSsl,
        }
    }
}

/// Kafka's `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_auth: ClientAuth,
    /// CA bundle that client certificates must chain to (when client auth is on).
    pub ca: Option<PathBuf>,
    /// Certificate -> principal rules (`schloss_auth::PrincipalMapper` syntax).
    pub principal_mapping_rules: String,
}

#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub name: String,
    pub address: SocketAddr,
    /// Host and port Metadata tells clients; `None` port means "the port actually bound".
    pub advertised_host: String,
    pub advertised_port: Option<u16>,
    pub protocol: SecurityProtocol,
    /// The tenant of unauthenticated connections, and the default tenant of certificate
    /// rules without a tenant template.
    pub tenant: TenantId,
    pub tls: Option<TlsSettings>,
    /// Mechanisms offered by SaslHandshake (empty on listeners without SASL).
    pub sasl_mechanisms: Vec<SaslMechanism>,
}

/// Broker-wide authentication settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub credentials_file: Option<PathBuf>,
    /// A connection must finish authenticating within this time of connecting.
    pub authentication_timeout: Duration,
    /// Kafka's `connections.max.reauth.ms`: 0 disables re-authentication (sessions never
    /// expire).
    pub connections_max_reauth_ms: u64,
}

pub(super) fn auth(raw: Option<RawAuth>) -> Result<AuthConfig, ConfigError> {
    let raw = raw.unwrap_or(RawAuth {
        credentials_file: None,
        authentication_timeout_ms: None,
        connections_max_reauth_ms: None,
    });
    let timeout = raw.authentication_timeout_ms.unwrap_or(10_000);
    let timeout = u64::try_from(timeout)
        .ok()
        .filter(|t| (100..=600_000).contains(t))
        .ok_or_else(|| {
            invalid(
                "auth.authentication_timeout_ms",
                "must be between 100 and 600000",
            )
        })?;
    let reauth = u64::try_from(raw.connections_max_reauth_ms.unwrap_or(0))
        .map_err(|_| invalid("auth.connections_max_reauth_ms", "must be 0 or more"))?;
    Ok(AuthConfig {
        credentials_file: raw.credentials_file,
        authentication_timeout: Duration::from_millis(timeout),
        connections_max_reauth_ms: reauth,
    })
}

pub(super) fn listener(
    i: usize,
    l: RawListener,
    auth: &AuthConfig,
) -> Result<ListenerConfig, ConfigError> {
    let key = |field: &str| format!("listeners[{i}].{field}");
    let address: SocketAddr = l.address.parse().map_err(|_| {
        invalid(
            key("address"),
            format!("`{}` is not an ip:port address", l.address),
        )
    })?;
    let protocol = match l.security_protocol.as_str() {
        "PLAINTEXT" => SecurityProtocol::Plaintext,
        "SSL" => SecurityProtocol::Ssl,
        "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
        "SASL_SSL" => SecurityProtocol::SaslSsl,
        other => {
            return Err(invalid(
                key("security_protocol"),
                format!(
                    "unknown protocol `{other}`: use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
                ),
            ))
        }
    };
    let tenant = TenantId::new(l.tenant.as_deref().unwrap_or("default"))
        .map_err(|e| invalid(key("tenant"), e.to_string()))?;

    let tls = match (protocol.uses_tls(), l.tls) {
        (true, None) => {
            return Err(invalid(
                key("tls"),
                format!(
                    "{} needs a [listeners.tls] table with cert and key",
                    l.security_protocol
                ),
            ))
        }
        (false, Some(_)) => {
            return Err(invalid(
                key("tls"),
                format!(
                    "{} does not use TLS; remove the table or use SSL/SASL_SSL",
                    l.security_protocol
                ),
            ))
        }
        (false, None) => None,
        (true, Some(t)) => {
            let client_auth = match t.client_auth.as_deref().unwrap_or("none") {
                "none" => ClientAuth::None,
                "requested" => ClientAuth::Requested,
                "required" => ClientAuth::Required,
                other => {
                    return Err(invalid(
                        key("tls.client_auth"),
                        format!("`{other}`: use none, requested or required"),
                    ))
                }
            };
            if client_auth != ClientAuth::None && t.ca.is_none() {
                return Err(invalid(
                    key("tls.ca"),
                    "client authentication needs a CA bundle to verify client certificates against",
                ));
            }
            let rules = t
                .principal_mapping_rules
                .unwrap_or_else(|| "DEFAULT".to_owned());
            // Check the rules now so a typo stops the start, not the first client.
            schloss_auth::PrincipalMapper::parse(&rules, Some(tenant.clone()))
                .map_err(|e| invalid(key("tls.principal_mapping_rules"), e.to_string()))?;
            Some(TlsSettings {
                cert: t.cert,
                key: t.key,
                client_auth,
                ca: t.ca,
                principal_mapping_rules: rules,
            })
        }
    };

    let sasl_mechanisms = match (protocol.uses_sasl(), l.sasl_mechanisms) {
        (false, Some(_)) => {
            return Err(invalid(
                key("sasl_mechanisms"),
                "only SASL_PLAINTEXT and SASL_SSL listeners offer SASL",
            ))
        }
        (false, None) => Vec::new(),
        (true, names) => {
            let names = names.unwrap_or_else(|| {
                vec![
                    "SCRAM-SHA-512".into(),
                    "SCRAM-SHA-256".into(),
                    "PLAIN".into(),
                ]
            });
            let mut mechanisms = Vec::new();
            for n in &names {
                let m = SaslMechanism::from_name(n).ok_or_else(|| {
                    invalid(
                        key("sasl_mechanisms"),
                        format!("unknown mechanism `{n}`: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
                    )
                })?;
                mechanisms.push(m);
            }
            if mechanisms.is_empty() {
                return Err(invalid(
                    key("sasl_mechanisms"),
                    "at least one mechanism is required",
                ));
            }
            if auth.credentials_file.is_none() {
                return Err(invalid(
                    "auth.credentials_file",
                    format!(
                        "listener `{}` offers SASL but no credential file is configured",
                        l.name
                    ),
                ));
            }
            mechanisms
        }
    };

    // Nothing fails open: a listener that lets clients in without authenticating them stays
    // on loopback unless the operator says otherwise in so many words.
    let authenticates = protocol.uses_sasl()
        || tls
            .as_ref()
            .is_some_and(|t| t.client_auth == ClientAuth::Required);
    if !authenticates && !address.ip().is_loopback() && !l.allow_insecure {
        return Err(invalid(
            key("address"),
            format!(
                "a {} listener without client authentication may only bind to loopback; `{address}` is not (set allow_insecure = true to override)",
                l.security_protocol
            ),
        ));
    }
    let (advertised_host, advertised_port) = match &l.advertised {
        Some(a) => {
            let (host, port) = a
                .rsplit_once(':')
                .ok_or_else(|| invalid(key("advertised"), "must be host:port"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| invalid(key("advertised"), "port is not a number"))?;
            (host.to_owned(), (port != 0).then_some(port))
        }
        None => (address.ip().to_string(), None),
    };
    Ok(ListenerConfig {
        name: l.name,
        address,
        advertised_host,
        advertised_port,
        protocol,
        tenant,
        tls,
        sasl_mechanisms,
    })
}
