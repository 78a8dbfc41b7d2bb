//! `[authorization]`: how requests are authorized (docs/authorization.md).

use super::{invalid, ConfigError};
use schloss_policy::{Mode, PrincipalName, StoreConfig};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthorization {
    mode: Option<String>,
    policy_dir: Option<PathBuf>,
    #[serde(default)]
    super_users: Vec<String>,
}

/// No `[authorization]` section: mode `allow-tenant`, the zero-config development default.
pub(super) fn authorization(raw: Option<RawAuthorization>) -> Result<StoreConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(StoreConfig {
            mode: Mode::AllowTenant,
            super_users: Vec::new(),
        });
    };
    let mode = match (raw.mode.as_deref(), raw.policy_dir) {
        (Some("cedar"), Some(dir)) => Mode::Cedar { dir },
        (Some("cedar"), None) => {
            return Err(invalid(
                "authorization.policy_dir",
                "mode \"cedar\" needs the directory of the policy files",
            ))
        }
        (Some("allow-tenant") | None, None) => Mode::AllowTenant,
        (Some("allow-tenant") | None, Some(_)) => {
            return Err(invalid(
                "authorization.policy_dir",
                "is read only in mode \"cedar\"; set `mode = \"cedar\"` or remove it",
            ))
        }
        (Some(other), _) => {
            return Err(invalid(
                "authorization.mode",
                format!("`{other}` is not \"cedar\" or \"allow-tenant\""),
            ))
        }
    };
    let super_users = raw
        .super_users
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<PrincipalName>()
                .map_err(|e| invalid(format!("authorization.super_users[{i}]"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StoreConfig { mode, super_users })
}

#[cfg(test)]
mod tests {
    use super::super::{Config, EMBEDDED_DEFAULT};
    use super::*;

    /// The embedded default with its `[authorization]` body replaced by `section`.
    fn with(section: &str) -> Result<Config, ConfigError> {
        let body = "[authorization]\nmode = \"allow-tenant\"\n";
        assert!(EMBEDDED_DEFAULT.contains(body));
        Config::parse(&EMBEDDED_DEFAULT.replace(body, &format!("[authorization]\n{section}\n")))
    }

    #[test]
    fn the_embedded_default_allows_the_own_tenant() {
        let c = Config::parse(EMBEDDED_DEFAULT).unwrap();
        assert_eq!(c.authorization.mode, Mode::AllowTenant);
    }

    #[test]
    fn cedar_needs_a_directory_and_super_users_are_principals() {
        let c = with("mode = \"cedar\"\npolicy_dir = \"policies\"\nsuper_users = [\"ops/root\"]")
            .unwrap();
        assert_eq!(
            c.authorization.mode,
            Mode::Cedar {
                dir: PathBuf::from("policies")
            }
        );
        assert_eq!(c.authorization.super_users[0].to_string(), "ops/root");
        let err = with("mode = \"cedar\"").unwrap_err().to_string();
        assert!(err.contains("authorization.policy_dir"), "{err}");
        let err = with("mode = \"acl\"").unwrap_err().to_string();
        assert!(err.contains("authorization.mode"), "{err}");
        let err = with("mode = \"cedar\"\npolicy_dir = \"p\"\nsuper_users = [\"root\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("authorization.super_users[0]"), "{err}");
    }
}
