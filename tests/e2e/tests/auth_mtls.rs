//! Mutual TLS with librdkafka: on an SSL listener with `client_auth = "required"`, client
//! certificates map to principal and tenant through a SPIFFE URI SAN rule and through subject
//! DN rules (checked by where produced data lands on disk, what Metadata shows, and the
//! broker's debug log); clients without a certificate, with an expired one, or with one from
//! another CA are refused. SIGHUP reloads the server certificate for new connections.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth_common;

use auth_common::*;
use rcgen::DnType;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use schloss_e2e::{BrokerOptions, BrokerProcess};
use schloss_testkit::{run_cli, ListenerSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RULES: &str = r"SAN:URI:^spiffe:\/\/([a-z0-9-]+)\/ns\/[^\/]+\/sa\/(.+)$/$2/$1/,RULE:^CN=([^,]+),OU=tenant-([a-z0-9-]+),.*$/$1/$2/,RULE:^CN=([^,]+),.*$/$1/,DEFAULT";

struct Pki {
    dir: tempfile::TempDir,
    ours: Ca,
}

impl Pki {
    /// Dev certificates from `schloss certs dev` (server certificate, dev CA, dev client) plus
    /// a CA of our own; the listener trusts both CAs for client certificates.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        run_cli(dir.path(), &["certs", "dev", "--dir", "certs"]);
        let ours = Ca::new("schloss e2e client CA");
        let dev_ca = std::fs::read_to_string(dir.path().join("certs/ca.pem")).unwrap();
        std::fs::write(
            dir.path().join("client-cas.pem"),
            format!("{dev_ca}\n{}", ours.cert.pem()),
        )
        .unwrap();
        Self { dir, ours }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn broker(&self) -> BrokerProcess {
        self.broker_with_rules(RULES)
    }

    fn broker_with_rules(&self, rules: &str) -> BrokerProcess {
        let extra = format!(
            "[listeners.tls]\ncert = {:?}\nkey = {:?}\nclient_auth = \"required\"\nca = {:?}\nprincipal_mapping_rules = '{rules}'\n",
            self.path("certs/server.pem").display().to_string(),
            self.path("certs/server.key").display().to_string(),
            self.path("client-cas.pem").display().to_string(),
        );
        BrokerProcess::start_with(BrokerOptions {
            listeners: vec![ListenerSpec::new("SSL", "SSL", &extra)],
            env: vec![
                (s("RUST_LOG"), s("info,schloss=debug")),
                (s("NO_COLOR"), s("1")),
            ],
            ..BrokerOptions::default()
        })
    }

    /// librdkafka settings presenting `cert`/`key` (none if `None`).
    fn client(&self, broker: &BrokerProcess, cert: Option<(&Path, &Path)>) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", broker.bootstrap_of("SSL"))
            .set("security.protocol", "SSL")
            .set(
                "ssl.ca.location",
                self.path("certs/ca.pem").display().to_string(),
            )
            .set("reconnect.backoff.ms", "500")
            .set("reconnect.backoff.max.ms", "2000");
        if let Some((cert, key)) = cert {
            cfg.set("ssl.certificate.location", cert.display().to_string())
                .set("ssl.key.location", key.display().to_string());
        }
        cfg
    }

    fn issue(&self, name: &str, dn: &[(DnType, &str)], sans: &[&str]) -> (PathBuf, PathBuf) {
        write_pair(self.dir.path(), name, &self.ours.client(dn, sans, None))
    }
}

/// The broker maps a certificate to this principal and tenant (its debug log line).
fn assert_mapped(broker: &BrokerProcess, principal: &str, tenant: &str) {
    let needle = format!("principal={principal} tenant={tenant}");
    let log = broker.log();
    assert!(
        log.lines()
            .any(|l| l.contains("client certificate mapped") && l.contains(&needle)),
        "no `client certificate mapped ... {needle}` in the broker log:\n{}",
        log.lines()
            .filter(|l| l.contains("certificate"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn client_certificates_map_to_principal_and_tenant() {
    let pki = Pki::new();
    let broker = pki.broker();

    // The dev client certificate carries spiffe://default/ns/dev/sa/dev-client.
    let dev = pki.client(
        &broker,
        Some((&pki.path("certs/client.pem"), &pki.path("certs/client.key"))),
    );
    let dev_topic = unique("dev-client");
    round_trip(&dev, &dev_topic, 5);
    assert_mapped(&broker, "dev-client", "default");

    // SPIFFE SAN rule: principal and tenant from the URI, whatever the DN says.
    let (c, k) = pki.issue(
        "spiffe-acme",
        &[
            (DnType::OrganizationName, "example"),
            (DnType::CommonName, "ignored-cn"),
        ],
        &["spiffe://acme/ns/prod/sa/orders-svc"],
    );
    let acme = pki.client(&broker, Some((&c, &k)));
    let acme_topic = unique("orders");
    round_trip(&acme, &acme_topic, 5);
    assert_mapped(&broker, "orders-svc", "acme");

    // DN rule with a tenant template.
    let (c, k) = pki.issue(
        "dn-globex",
        &[
            (DnType::OrganizationName, "example"),
            (DnType::OrganizationalUnitName, "tenant-globex"),
            (DnType::CommonName, "billing"),
        ],
        &[],
    );
    let globex = pki.client(&broker, Some((&c, &k)));
    let globex_topic = unique("invoices");
    round_trip(&globex, &globex_topic, 5);
    assert_mapped(&broker, "billing", "globex");

    // Kafka's own DN rule: principal from the CN, the listener's tenant.
    let (c, k) = pki.issue(
        "dn-default",
        &[
            (DnType::OrganizationName, "example"),
            (DnType::OrganizationalUnitName, "ops"),
            (DnType::CommonName, "reporter"),
        ],
        &[],
    );
    let reporter = pki.client(&broker, Some((&c, &k)));
    let reporter_topic = unique("reports");
    round_trip(&reporter, &reporter_topic, 5);
    assert_mapped(&broker, "reporter", "default");

    // A chain through an intermediate CA (leaf + intermediate presented, root trusted), as
    // SPIRE and most enterprise PKIs issue them.
    let intermediate = pki.ours.intermediate("schloss e2e issuing CA");
    let (leaf, key) = intermediate.client(
        &[
            (DnType::OrganizationName, "example"),
            (DnType::CommonName, "chained"),
        ],
        &["spiffe://initech/ns/prod/sa/chained-svc"],
        None,
    );
    let chained = write_pair(
        pki.dir.path(),
        "chained",
        &(format!("{leaf}{}", intermediate.cert.pem()), key),
    );
    let chained_topic = unique("chained");
    round_trip(
        &pki.client(&broker, Some((&chained.0, &chained.1))),
        &chained_topic,
        2,
    );
    assert_mapped(&broker, "chained-svc", "initech");

    // Another key type: ECDSA P-384. (Not Ed25519 here: ring writes PKCS#8 v2 keys, which
    // the system OpenSSL 3.0 that librdkafka links cannot load.)
    let pair = pki.ours.client_with_key(
        &[
            (DnType::OrganizationName, "example"),
            (DnType::CommonName, "p384-svc"),
        ],
        &[],
        &rcgen::PKCS_ECDSA_P384_SHA384,
    );
    let (c, k) = write_pair(pki.dir.path(), "p384", &pair);
    round_trip(&pki.client(&broker, Some((&c, &k))), &unique("p384"), 1);
    assert_mapped(&broker, "p384-svc", "default");

    // No SAN and a DN that does not start with CN (RFC 2253 order, as Java prints it:
    // `O=example,CN=legacy` for a subject encoded CN first): the DEFAULT rule, whole DN.
    let (c, k) = pki.issue(
        "dn-reversed",
        &[
            (DnType::CommonName, "legacy"),
            (DnType::OrganizationName, "example"),
        ],
        &[],
    );
    let legacy_topic = unique("legacy");
    round_trip(&pki.client(&broker, Some((&c, &k))), &legacy_topic, 2);
    assert_mapped(&broker, "O=example,CN=legacy", "default");

    let dirs = partition_dirs(&broker);
    for expected in [
        format!("default.{dev_topic}-0"),
        format!("acme.{acme_topic}-0"),
        format!("globex.{globex_topic}-0"),
        format!("initech.{chained_topic}-0"),
        format!("default.{reporter_topic}-0"),
    ] {
        assert!(dirs.contains(&expected), "{expected} not in {dirs:?}");
    }

    // Tenants see only their own topics.
    let seen_acme = visible_topics(&acme);
    let seen_globex = visible_topics(&globex);
    let seen_default = visible_topics(&reporter);
    assert!(seen_acme.contains(&acme_topic), "{seen_acme:?}");
    assert!(seen_globex.contains(&globex_topic), "{seen_globex:?}");
    assert!(seen_default.contains(&dev_topic) && seen_default.contains(&reporter_topic));
    for (who, seen, foreign) in [
        ("acme", &seen_acme, [&globex_topic, &dev_topic]),
        ("globex", &seen_globex, [&acme_topic, &reporter_topic]),
        ("default", &seen_default, [&acme_topic, &globex_topic]),
    ] {
        for t in foreign {
            assert!(
                !seen.iter().any(|s| s.contains(t.as_str())),
                "{who} sees {t}: {seen:?}"
            );
        }
    }
}

/// certs/README.md documents the dev client's subject as `CN=dev-client,OU=clients,
/// O=schloss-dev`, i.e. in RFC 2253 (Java/Kafka) form with CN first, so Kafka's usual
/// `RULE:^CN=([^,]+),.*$/$1/` maps it to `dev-client` without the SPIFFE rule.
#[test]
fn dev_client_certificate_subject_reads_cn_first() {
    let pki = Pki::new();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(pki.path("certs/client.pem"))
        .output()
        .expect("openssl x509");
    let subject = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let broker = pki.broker_with_rules(r"RULE:^CN=([^,]+),.*$/$1/");
    let dev = pki.client(
        &broker,
        Some((&pki.path("certs/client.pem"), &pki.path("certs/client.key"))),
    );
    let ctx = Capture::default();
    let client: BaseProducer<Capture> = dev.create_with_context(ctx.clone()).unwrap();
    let served = client
        .client()
        .fetch_metadata(None, Duration::from_secs(3))
        .is_ok();
    assert!(
        served,
        "the dev client certificate did not match `RULE:^CN=([^,]+),.*$`: its subject is \
         `{subject}` (RFC 2253), not `CN=dev-client,OU=clients,O=schloss-dev` as certs/README.md says"
    );
    assert_mapped(&broker, "dev-client", "default");
}

/// Connects with `cfg` and expects no metadata: the TLS handshake must be refused.
fn expect_refused(broker: &BrokerProcess, cfg: &ClientConfig, what: &str, reason: &str) {
    let before = broker.log().matches("tls handshake failed").count();
    let ctx = Capture::default();
    let client: BaseProducer<Capture> = cfg.create_with_context(ctx.clone()).unwrap();
    let md = client.client().fetch_metadata(None, Duration::from_secs(4));
    assert!(md.is_err(), "{what}: the broker served metadata");
    client.poll(Duration::from_millis(100));
    assert!(
        !ctx.errors.all().is_empty(),
        "{what}: librdkafka reported no error"
    );
    drop(client);
    wait_for(
        Duration::from_secs(10),
        &format!("the broker to log the refused handshake ({what})"),
        || broker.log().matches("tls handshake failed").count() > before,
    );
    let log = broker.log();
    let refusal = log
        .lines()
        .filter(|l| l.contains("tls handshake failed"))
        .nth(before)
        .unwrap_or_default();
    assert!(refusal.contains(reason), "{what}: {refusal}");
}

#[test]
fn missing_expired_and_foreign_certificates_are_refused() {
    let pki = Pki::new();
    let broker = pki.broker();

    expect_refused(
        &broker,
        &pki.client(&broker, None),
        "no client certificate",
        "no certificates",
    );

    let expired = write_pair(
        pki.dir.path(),
        "expired",
        &pki.ours.client(
            &[
                (DnType::OrganizationName, "example"),
                (DnType::CommonName, "old"),
            ],
            &["spiffe://default/ns/x/sa/old"],
            Some((2020, 2021)),
        ),
    );
    expect_refused(
        &broker,
        &pki.client(&broker, Some((&expired.0, &expired.1))),
        "expired certificate",
        "expired",
    );

    // Same subject as the trusted CA (so clients, which only present certificates whose
    // issuer the server names as acceptable, do present it), different key.
    let rogue = Ca::new("schloss e2e client CA");
    let foreign = write_pair(
        pki.dir.path(),
        "foreign",
        &rogue.client(
            &[
                (DnType::OrganizationName, "example"),
                (DnType::CommonName, "intruder"),
            ],
            &["spiffe://default/ns/x/sa/intruder"],
            None,
        ),
    );
    expect_refused(
        &broker,
        &pki.client(&broker, Some((&foreign.0, &foreign.1))),
        "certificate of another CA",
        "invalid peer certificate",
    );
    let log = broker.log();
    assert!(
        !log.contains("principal=old") && !log.contains("principal=intruder"),
        "refused certificates must never be mapped"
    );

    // A valid client still gets in afterwards.
    let (c, k) = pki.issue(
        "valid",
        &[
            (DnType::OrganizationName, "example"),
            (DnType::CommonName, "valid"),
        ],
        &[],
    );
    round_trip(
        &pki.client(&broker, Some((&c, &k))),
        &unique("after-refusals"),
        3,
    );
}

/// Subject CN of the certificate the listener presents to a new connection (openssl
/// s_client, verifying against `ca`).
fn served_cn(addr: &str, ca: &Path) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", addr, "-CAfile"])
        .arg(ca)
        .args(["-verify_return_error", "-nameopt", "RFC2253"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("Verify return code: 0 (ok)"),
        "server certificate does not verify: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .and_then(|s| s.split(',').find_map(|p| p.trim().strip_prefix("CN=")))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no subject in {text}"))
}

#[test]
fn sighup_reloads_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("reload CA");
    std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
    write_pair(dir.path(), "server", &ca.server("first-server"));
    let extra = format!(
        "{}\n[listeners.tls]\ncert = {:?}\nkey = {:?}\n",
        SASL_PLAINTEXT_EXTRA,
        dir.path().join("server.pem").display().to_string(),
        dir.path().join("server.key").display().to_string(),
    );
    let mut options = sasl_options(10_000, 0);
    options.listeners = vec![ListenerSpec::new("SASL_SSL", "SASL_SSL", &extra)];
    let broker = BrokerProcess::start_with(options);
    let addr = broker.bootstrap_of("SASL_SSL");
    let ca_path = dir.path().join("ca.pem");
    assert_eq!(served_cn(&addr, &ca_path), "first-server");

    // A producer connected before the reload.
    let mut cfg = client_config(
        &broker,
        "SASL_SSL",
        Some(("SCRAM-SHA-256", ALICE, ALICE_PASSWORD)),
    );
    cfg.set("ssl.ca.location", ca_path.display().to_string())
        .set("message.timeout.ms", "20000");
    let ctx = Capture::default();
    let producer: BaseProducer<Capture> = cfg.create_with_context(ctx.clone()).unwrap();
    let topic = unique("reload");
    let send = |i: usize| {
        let v = format!("v{i}");
        producer
            .send(BaseRecord::<str, str>::to(&topic).partition(0).payload(&v))
            .unwrap_or_else(|(e, _)| panic!("send: {e}"));
        producer.flush(Duration::from_secs(20)).expect("flush");
    };
    send(0);

    write_pair(dir.path(), "server", &ca.server("second-server"));
    broker.sighup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_cn(&addr, &ca_path) != "second-server" {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    send(1);
    assert!(
        broker.log().contains("tls certificates reloaded"),
        "the reload is logged"
    );

    // A reload that fails keeps the certificate in use.
    std::fs::write(dir.path().join("server.pem"), "not a certificate").unwrap();
    broker.sighup();
    wait_for(
        Duration::from_secs(10),
        "the failed reload to be logged",
        || broker.log().contains("tls reload failed"),
    );
    assert_eq!(served_cn(&addr, &ca_path), "second-server");
    send(2);
    assert_eq!(
        consume_values(&cfg, &topic, 3),
        vec!["v0", "v1", "v2"],
        "every record produced across the reloads"
    );
    assert!(
        ctx.errors.all().is_empty(),
        "the producer's connection saw errors across the reloads: {:?}",
        ctx.errors.all()
    );
}
