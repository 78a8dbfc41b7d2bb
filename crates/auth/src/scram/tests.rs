use super::messages::encode_saslname;
use super::*;
use crate::credential::ScramMechanism::{Sha256, Sha512};
use crate::store::{LoginName, UserRecord};
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use schloss_model::{Mechanism, TenantId};
use sha2::{Digest, Sha256 as S256, Sha512 as S512};

const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// A store with `default/user` (password "pencil", the RFC 7677 salt, SHA-256 only) and
/// `acme/alice` (password "secret", both SCRAM mechanisms), default tenant `default`.
fn store() -> Arc<CredentialStore> {
    let mut store = CredentialStore::new().unwrap();
    store.set_default_tenant(Some(tenant("default")));
    let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let mut user =
        UserRecord::new(LoginName::new(tenant("default"), "user").unwrap(), &[]).unwrap();
    user.set_scram(ScramCredential::with_salt(Sha256, "pencil", &salt, 4096).unwrap());
    store.insert_user(user).unwrap();
    let mut alice = UserRecord::new(
        LoginName::new(tenant("acme"), "alice").unwrap(),
        &["operator"],
    )
    .unwrap();
    alice.set_scram(ScramCredential::new(Sha256, "secret", 4096).unwrap());
    alice.set_scram(ScramCredential::new(Sha512, "secret", 8192).unwrap());
    store.insert_user(alice).unwrap();
    Arc::new(store)
}

#[test]
fn rfc7677_sha256_vector_round_trips() {
    let server = ScramServer::new(Sha256, store()).with_server_nonce(RFC_SERVER_NONCE);
    let sent = server.step(RFC_CLIENT_FIRST.as_bytes()).unwrap();
    assert_eq!(sent.server_first_message(), RFC_SERVER_FIRST.as_bytes());
    let (server_final, auth) = sent.step(RFC_CLIENT_FINAL.as_bytes()).unwrap();
    assert_eq!(server_final, RFC_SERVER_FINAL.as_bytes());
    assert_eq!(auth.principal().name, "user");
    assert_eq!(auth.tenant().as_str(), "default");
    assert_eq!(auth.mechanism(), Mechanism::ScramSha256);
}

/// A SCRAM client written from RFC 5802 directly on hmac/sha2/pbkdf2, independent of the
/// crate's own primitives.
struct TestClient {
    hmac: fn(&[u8], &[u8]) -> Vec<u8>,
    hash: fn(&[u8]) -> Vec<u8>,
    hi: fn(&[u8], &[u8], u32) -> Vec<u8>,
}

const SHA512_CLIENT: TestClient = TestClient {
    hmac: |k, d| {
        let mut m = Hmac::<S512>::new_from_slice(k).unwrap();
        m.update(d);
        m.finalize().into_bytes().to_vec()
    },
    hash: |d| S512::digest(d).to_vec(),
    hi: |p, s, i| pbkdf2::pbkdf2_hmac_array::<S512, 64>(p, s, i).to_vec(),
};

const SHA256_CLIENT: TestClient = TestClient {
    hmac: |k, d| {
        let mut m = Hmac::<S256>::new_from_slice(k).unwrap();
        m.update(d);
        m.finalize().into_bytes().to_vec()
    },
    hash: |d| S256::digest(d).to_vec(),
    hi: |p, s, i| pbkdf2::pbkdf2_hmac_array::<S256, 32>(p, s, i).to_vec(),
};

impl TestClient {
    /// Returns client-final-message and the ServerSignature the server must send.
    fn client_final(
        &self,
        password: &str,
        gs2_header: &str,
        client_first_bare: &str,
        server_first: &str,
    ) -> (String, String) {
        let mut nonce = "";
        let mut salt = Vec::new();
        let mut iterations = 0;
        for attr in server_first.split(',') {
            match attr.split_at(2) {
                ("r=", v) => nonce = v,
                ("s=", v) => salt = STANDARD.decode(v).unwrap(),
                ("i=", v) => iterations = v.parse().unwrap(),
                _ => panic!("unexpected attribute {attr}"),
            }
        }
        assert!(iterations >= 4096);
        let salted = (self.hi)(password.as_bytes(), &salt, iterations);
        let client_key = (self.hmac)(&salted, b"Client Key");
        let stored_key = (self.hash)(&client_key);
        let without_proof = format!("c={},r={nonce}", STANDARD.encode(gs2_header));
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = (self.hmac)(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = (self.hmac)(&salted, b"Server Key");
        let server_signature = (self.hmac)(&server_key, auth_message.as_bytes());
        (
            format!("{without_proof},p={}", STANDARD.encode(proof)),
            format!("v={}", STANDARD.encode(server_signature)),
        )
    }
}

/// Runs a whole exchange; returns the server's final result.
fn exchange(
    client: &TestClient,
    mechanism: ScramMechanism,
    store: Arc<CredentialStore>,
    login: &str,
    password: &str,
) -> (Result<(Vec<u8>, Authenticated), AuthError>, String) {
    let bare = format!("n={},r=fyko+d2lbbFgONRv9qkxdawL", encode_saslname(login));
    let sent = ScramServer::new(mechanism, store)
        .step(format!("n,,{bare}").as_bytes())
        .unwrap();
    let server_first = String::from_utf8(sent.server_first_message().to_vec()).unwrap();
    let (client_final, expected_v) = client.client_final(password, "n,,", &bare, &server_first);
    (sent.step(client_final.as_bytes()), expected_v)
}

#[test]
fn sha512_round_trip_with_an_independent_client() {
    let (result, expected_v) = exchange(&SHA512_CLIENT, Sha512, store(), "acme/alice", "secret");
    let (server_final, auth) = result.unwrap();
    assert_eq!(String::from_utf8(server_final).unwrap(), expected_v);
    assert_eq!(auth.principal().name, "alice");
    assert_eq!(auth.tenant().as_str(), "acme");
    assert_eq!(auth.mechanism(), Mechanism::ScramSha512);
    assert!(auth.is_operator());
}

#[test]
fn sha256_round_trip_with_an_independent_client() {
    let (result, expected_v) = exchange(&SHA256_CLIENT, Sha256, store(), "acme/alice", "secret");
    assert_eq!(String::from_utf8(result.unwrap().0).unwrap(), expected_v);
}

#[test]
fn wrong_password_fails_at_the_proof_with_a_generic_message() {
    let (result, _) = exchange(&SHA512_CLIENT, Sha512, store(), "acme/alice", "wrong");
    let err = result.unwrap_err();
    assert_eq!(err.reason(), &FailureReason::BadCredentials);
    assert_eq!(err.attempted_login(), Some("acme/alice"));
    assert_eq!(
        err.to_string(),
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
    );
}

#[test]
fn unknown_user_looks_like_a_wrong_password_until_the_final_step() {
    let store = store();
    let first = |login: &str| {
        let sent = ScramServer::new(Sha256, Arc::clone(&store))
            .step(format!("n,,n={login},r=abc").as_bytes())
            .unwrap();
        String::from_utf8(sent.server_first_message().to_vec()).unwrap()
    };
    let salt_and_iterations = |server_first: &str| {
        let mut parts = server_first.split(',').skip(1);
        let salt = STANDARD
            .decode(parts.next().unwrap().strip_prefix("s=").unwrap())
            .unwrap();
        (salt.len(), parts.next().unwrap().to_owned())
    };
    let known = first("acme/alice");
    let unknown = first("acme/mallory");
    assert_eq!(salt_and_iterations(&known), salt_and_iterations(&unknown));
    // The same unknown name always gets the same salt; another one gets another.
    assert_eq!(
        unknown.split(',').nth(1),
        first("acme/mallory").split(',').nth(1)
    );
    assert_ne!(
        unknown.split(',').nth(1),
        first("acme/eve").split(',').nth(1)
    );

    let (wrong, _) = exchange(
        &SHA256_CLIENT,
        Sha256,
        Arc::clone(&store),
        "acme/alice",
        "x",
    );
    let (unknown, _) = exchange(
        &SHA256_CLIENT,
        Sha256,
        Arc::clone(&store),
        "acme/mallory",
        "x",
    );
    let (wrong, unknown) = (wrong.unwrap_err(), unknown.unwrap_err());
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(unknown.reason(), &FailureReason::UnknownUser);
    let (no_tenant, _) = exchange(&SHA256_CLIENT, Sha256, store, "a/b/c", "x");
    assert_eq!(
        no_tenant.unwrap_err().reason(),
        &FailureReason::InvalidLogin
    );
}

#[test]
fn user_without_a_credential_for_the_mechanism_fails_like_a_wrong_password() {
    let (result, _) = exchange(&SHA512_CLIENT, Sha512, store(), "user", "pencil");
    assert_eq!(
        result.unwrap_err().reason(),
        &FailureReason::NoCredentialForMechanism
    );
}

#[test]
fn y_flag_and_matching_authzid_are_accepted() {
    let bare = "n=acme/alice,r=nonce";
    for header in ["y,,", "n,a=acme/alice,"] {
        let sent = ScramServer::new(Sha512, store())
            .step(format!("{header}{bare}").as_bytes())
            .unwrap();
        let server_first = String::from_utf8(sent.server_first_message().to_vec()).unwrap();
        let (client_final, _) = SHA512_CLIENT.client_final("secret", header, bare, &server_first);
        assert!(sent.step(client_final.as_bytes()).is_ok(), "{header}");
    }
}

#[test]
fn unknown_extensions_are_ignored_and_escaped_names_decoded() {
    assert!(ScramServer::new(Sha256, store())
        .step(b"n,,n=acme/alice,r=abc,foo=bar")
        .is_ok());
    let sent = ScramServer::new(Sha256, store())
        .step(b"n,,n=a=2Cb=3Dc,r=abc")
        .unwrap();
    assert_eq!(sent.login(), "a,b=c");
}

fn first_error(msg: &[u8]) -> FailureReason {
    match ScramServer::new(Sha256, store()).step(msg) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(msg)),
        Err(e) => e.reason().clone(),
    }
}

#[test]
fn malformed_client_first_messages_fail_cleanly() {
    use FailureReason::*;
    let malformed = [
        &b""[..],
        b"n",
        b"n,",
        b"x,,n=user,r=abc",
        b"n,,",
        b"n,,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=us=er,r=abc",
        b"n,,n=us=2,r=abc",
        b"n,,n=user",
        b"n,,n=user,r=",
        b"n,,n=user,r=a\x01c",
        b"n,,n=user,r=abc,,x",
        b"n,,n=user,r=abc,=x",
        b"n,,n=user,r=abc,novalue",
        b"n,b=user,n=user,r=abc",
        b"n,a=,n=user,r=abc",
        b",,n=user,r=abc",
    ];
    for msg in malformed {
        assert!(
            matches!(first_error(msg), Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(msg)
        );
    }
    assert_eq!(
        first_error(b"p=tls-unique,,n=user,r=abc"),
        ChannelBindingNotSupported
    );
    assert_eq!(first_error(b"n,,m=ext,n=user,r=abc"), ReservedExtension);
    assert_eq!(first_error(b"n,a=other,n=user,r=abc"), AuthzidMismatch);
    assert_eq!(
        first_error(b"n,,n=user,r=abc,tokenauth=true"),
        DelegationTokenNotSupported
    );
    assert_eq!(first_error(b"n,,n=us\xffer,r=abc"), NotUtf8);
    let long = format!("n,,n=user,r={}", "a".repeat(MAX_MESSAGE_LEN));
    assert!(matches!(
        first_error(long.as_bytes()),
        MessageTooLong { .. }
    ));
}

fn final_error(msg: &str) -> FailureReason {
    let sent = ScramServer::new(Sha256, store())
        .with_server_nonce("SRV")
        .step(b"n,,n=user,r=CLI")
        .unwrap();
    match sent.step(msg.as_bytes()) {
        Ok(_) => panic!("accepted {msg:?}"),
        Err(e) => e.reason().clone(),
    }
}

#[test]
fn malformed_client_final_messages_fail_cleanly() {
    use FailureReason::*;
    let proof = STANDARD.encode([0u8; 32]);
    let malformed = [
        String::new(),
        "c=biws,r=CLISRV".to_owned(),
        format!("r=CLISRV,p={proof}"),
        format!("c=biws,p={proof}"),
        "c=biws,r=CLISRV,p=".to_owned(),
        "c=biws,r=CLISRV,p=!!!notbase64".to_owned(),
        format!("c=biws,r=CLISRV,p={}", STANDARD.encode([0u8; 31])),
        format!("c=,r=CLISRV,p={proof}"),
        format!("c=b!ws,r=CLISRV,p={proof}"),
        format!("c=biws,r=CLISRV,,p={proof}"),
        format!("c=biws,r=CLISRV,p={proof},x=1"),
    ];
    for msg in &malformed {
        assert!(matches!(final_error(msg), Malformed(_)), "{msg:?}");
    }
    assert_eq!(
        final_error(&format!("c=eSws,r=CLISRV,p={proof}")),
        ChannelBindingMismatch
    );
    assert_eq!(
        final_error(&format!("c=biws,r=CLIXXX,p={proof}")),
        NonceMismatch
    );
    assert_eq!(
        final_error(&format!("c=biws,r=CLI,p={proof}")),
        NonceMismatch
    );
    assert_eq!(
        final_error(&format!("c=biws,r=CLISRV,p={proof}")),
        BadCredentials
    );
    // librdkafka < 2.6.1 repeats the client nonce in front: accepted (then the proof decides),
    // as Apache Kafka does; any other prefix is not.
    assert_eq!(
        final_error(&format!("c=biws,r=CLICLISRV,p={proof}")),
        BadCredentials
    );
    assert_eq!(
        final_error(&format!("c=biws,r=XXXCLISRV,p={proof}")),
        NonceMismatch
    );
    assert_eq!(
        final_error(&format!("c=biws,r=CLISRVCLI,p={proof}")),
        NonceMismatch
    );
    assert_eq!(
        final_error(&format!("c=biws,r=CLISRV,tokenauth=true,p={proof}")),
        DelegationTokenNotSupported
    );
    let long = format!("c=biws,r=CLISRV,p={}", "A".repeat(MAX_MESSAGE_LEN));
    assert!(matches!(final_error(&long), MessageTooLong { .. }));
    let sent = ScramServer::new(Sha256, store())
        .step(b"n,,n=user,r=CLI")
        .unwrap();
    assert_eq!(sent.step(b"c=biws\xff").unwrap_err().reason(), &NotUtf8);
}

#[test]
fn server_nonce_is_random_and_long() {
    let nonce = |_| {
        let sent = ScramServer::new(Sha256, store())
            .step(b"n,,n=user,r=CLI")
            .unwrap();
        let first = String::from_utf8(sent.server_first_message().to_vec()).unwrap();
        let r = first
            .split(',')
            .next()
            .unwrap()
            .strip_prefix("r=CLI")
            .unwrap()
            .to_owned();
        assert!(STANDARD.decode(&r).unwrap().len() >= 18);
        r
    };
    assert_ne!(nonce(0), nonce(1));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let credential = ScramCredential::new(Sha256, "pencil", 4096).unwrap();
    let debug = format!("{credential:?}");
    assert!(debug.contains("[redacted]"));
    assert!(!debug.contains(&format!("{:?}", credential.stored_key().expose())));
}

#[test]
fn salted_password_from_the_api_gives_the_same_keys_as_the_password() {
    let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let from_password = ScramCredential::with_salt(Sha256, "pencil", &salt, 4096).unwrap();
    let salted = pbkdf2::pbkdf2_hmac_array::<S256, 32>(b"pencil", &salt, 4096);
    let from_salted = ScramCredential::from_salted_password(Sha256, &salt, 4096, &salted).unwrap();
    assert_eq!(
        from_password.stored_key().expose(),
        from_salted.stored_key().expose()
    );
    assert_eq!(
        from_password.server_key().expose(),
        from_salted.server_key().expose()
    );
    assert!(ScramCredential::from_salted_password(Sha256, &salt, 4095, &salted).is_err());
    assert!(ScramCredential::from_salted_password(Sha512, &salt, 4096, &salted).is_err());
    assert!(ScramCredential::from_salted_password(Sha256, &[], 4096, &salted).is_err());
}
