//! `schloss certs dev`: a local CA, a server certificate for localhost / 127.0.0.1 and a
//! client certificate, for development and tests only. Production certificates come from your
//! own PKI (see certs/README.md).

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::path::Path;

/// SPIFFE id carried by the dev client certificate: tenant `default`, principal `dev-client`
/// under the rule in `config/secure.toml`.
pub const DEV_CLIENT_SPIFFE: &str = "spiffe://default/ns/dev/sa/dev-client";

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    Ok(())
}

pub fn write_dev_certs(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // `CertificateParams::new` starts with a placeholder CN; every name here is set in full.
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::OrganizationName, "schloss-dev");
    ca.distinguished_name
        .push(DnType::CommonName, "schloss dev CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
    server.distinguished_name = DistinguishedName::new();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse()?));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name = DistinguishedName::new();
    // Most significant RDN first in the certificate, so the RFC 2253 form (which Java and
    // the mapping rules use) reads `CN=dev-client,OU=clients,O=schloss-dev`.
    client
        .distinguished_name
        .push(DnType::OrganizationName, "schloss-dev");
    client
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "clients");
    client
        .distinguished_name
        .push(DnType::CommonName, "dev-client");
    client
        .subject_alt_names
        .push(SanType::URI(DEV_CLIENT_SPIFFE.try_into()?));
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key)?;

    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    write_private(&dir.join("ca.key"), &ca_key.serialize_pem())?;
    std::fs::write(dir.join("server.pem"), server_cert.pem())?;
    write_private(&dir.join("server.key"), &server_key.serialize_pem())?;
    std::fs::write(dir.join("client.pem"), client_cert.pem())?;
    write_private(&dir.join("client.key"), &client_key.serialize_pem())?;
    Ok(())
}
