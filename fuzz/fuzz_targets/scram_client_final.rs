//! Drives a SCRAM server past a fixed client-first, then feeds any bytes as the
//! client-final-message. `{nonce}` in the input is replaced by the real combined nonce so
//! the fuzzer reaches the proof check. The first byte picks a known or an unknown user.
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
    let (user, msg) = match data.split_first() {
        Some((b, rest)) if b % 2 == 1 => ("acme/mallory", rest),
        _ => ("acme/alice", data),
    };
    let client_first = format!("n,,n={user},r=fuzzclientnonce");
    let sent = ScramServer::new(ScramMechanism::Sha256, Arc::clone(&STORE))
        .step(client_first.as_bytes())
        .unwrap();
    let server_first = std::str::from_utf8(sent.server_first_message()).unwrap();
    let nonce = server_first
        .split(',')
        .next()
        .and_then(|r| r.strip_prefix("r="))
        .unwrap()
        .to_owned();
    let msg = match std::str::from_utf8(msg) {
        Ok(text) => text.replace("{nonce}", &nonce).into_bytes(),
        Err(_) => msg.to_vec(),
    };
    // Without the password no input can produce a valid proof.
    assert!(sent.step(&msg).is_err());
});
