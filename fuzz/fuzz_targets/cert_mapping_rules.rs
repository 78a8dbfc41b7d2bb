//! Rule parsing and matching: the input is `rules NUL subject` (UTF-8); the subject is tried
//! as a DN and as URI, DNS and email SANs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schloss_auth::{CertIdentity, PrincipalMapper, San};
use schloss_model::TenantId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rules, subject) = text
        .split_once('\0')
        .unwrap_or((text, "CN=alice,OU=ServiceUsers"));
    if rules.len() > 4096 {
        return;
    }
    let default_tenant = TenantId::new("default").ok();
    let Ok(mapper) = PrincipalMapper::parse(rules, default_tenant) else {
        return;
    };
    let identity = CertIdentity {
        subject_dn: subject.to_owned(),
        sans: vec![
            San::Uri(subject.to_owned()),
            San::Dns(subject.to_owned()),
            San::Email(subject.to_owned()),
        ],
    };
    if let Ok(principal) = mapper.map_identity(&identity) {
        assert!(!principal.name.is_empty());
    }
});
