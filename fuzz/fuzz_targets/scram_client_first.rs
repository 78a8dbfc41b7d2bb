//! Any bytes as a SCRAM client-first-message: a clean error or a well-formed server-first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schloss_auth::{
    CredentialStore, LoginName, ScramCredential, ScramMechanism, ScramServer, UserRecord,
};
use schloss_model::TenantId;
use std::sync::{Arc, LazyLock};

static STORE: LazyLock<Arc<CredentialStore>> = LazyLock::new(|| {
    let mut store = CredentialStore::new().unwrap();
    let login = LoginName::new(TenantId::new("acme").unwrap(), "alice").unwrap();
    let mut user = UserRecord::new(login, &[]).unwrap();
    user.set_scram(ScramCredential::new(ScramMechanism::Sha256, "secret", 4096).unwrap());
    store.insert_user(user).unwrap();
    Arc::new(store)
});

fuzz_target!(|data: &[u8]| {
    let (mechanism, msg) = match data.split_first() {
        Some((b, rest)) if b % 2 == 1 => (ScramMechanism::Sha512, rest),
        _ => (ScramMechanism::Sha256, data),
    };
    if let Ok(sent) = ScramServer::new(mechanism, Arc::clone(&STORE)).step(msg) {
        let first = std::str::from_utf8(sent.server_first_message()).unwrap();
        assert!(first.starts_with("r="));
        assert!(first.contains(",s=") && first.contains(",i="));
    }
});
