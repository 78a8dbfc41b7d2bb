//! Any bytes as a SASL PLAIN message. Only the parsing step: the argon2 check behind it
//! takes no structured input and would slow the fuzzer a thousandfold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schloss_auth::{CredentialStore, LoginName, PlainHash, PlainServer, UserRecord};
use schloss_model::TenantId;
use std::sync::{Arc, LazyLock};

static STORE: LazyLock<Arc<CredentialStore>> = LazyLock::new(|| {
    let mut store = CredentialStore::new().unwrap();
    store.set_default_tenant(Some(TenantId::new("default").unwrap()));
    let login = LoginName::new(TenantId::new("acme").unwrap(), "alice").unwrap();
    let mut user = UserRecord::new(login, &[]).unwrap();
    user.set_plain(Some(PlainHash::from_password("secret").unwrap()));
    store.insert_user(user).unwrap();
    Arc::new(store)
});

fuzz_target!(|data: &[u8]| {
    if let Ok(pending) = PlainServer::new(Arc::clone(&STORE)).step(data) {
        assert!(!pending.login().is_empty());
        assert!(!format!("{pending:?}").is_empty());
    }
});
