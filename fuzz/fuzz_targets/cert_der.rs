//! Any bytes as the DER of a client certificate, mapped through a fixed rule list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schloss_auth::{CertIdentity, PrincipalMapper};
use schloss_model::TenantId;
use std::sync::LazyLock;

static MAPPER: LazyLock<PrincipalMapper> = LazyLock::new(|| {
    let rules = r"SAN:URI:^spiffe:\/\/([a-z0-9-]+)\/ns\/[^\/]+\/sa\/(.+)$/$2/$1/,
        RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L,
        DEFAULT";
    PrincipalMapper::parse(rules, TenantId::new("default").ok()).unwrap()
});

fuzz_target!(|data: &[u8]| {
    let _ = CertIdentity::from_der(data);
    let _ = MAPPER.map_certificate(data);
});
