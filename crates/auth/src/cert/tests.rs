use super::*;
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, SanType};

fn dn(subject: &str) -> CertIdentity {
    CertIdentity {
        subject_dn: subject.to_owned(),
        sans: Vec::new(),
    }
}

fn default_tenant() -> Option<TenantId> {
    Some(TenantId::new("default").unwrap())
}

fn name(rules: &str, subject: &str) -> Result<String, FailureReason> {
    let mapper = PrincipalMapper::parse(rules, default_tenant()).unwrap();
    mapper.map_identity(&dn(subject)).map(|p| p.name)
}

const KAFKA_DOC_RULES: &str = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,
    RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,
    RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,
    DEFAULT";

#[test]
fn kafka_documented_examples_map_as_in_kafka() {
    let service = "CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown";
    let admin = "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown";
    assert_eq!(name(KAFKA_DOC_RULES, service).unwrap(), "serviceuser");
    assert_eq!(name(KAFKA_DOC_RULES, admin).unwrap(), "adminuser@admin");
    let upper = "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U";
    assert_eq!(name(upper, admin).unwrap(), "ADMINUSER@ADMIN");
    assert_eq!(name(KAFKA_DOC_RULES, "OU=nocn").unwrap(), "OU=nocn");
}

#[test]
fn kafka_mapper_test_cases_map_as_in_kafka() {
    let rules = r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT";
    assert_eq!(
        name(rules, r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz").unwrap(),
        r"Tkac\, Adam"
    );
    let rules = "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U";
    assert_eq!(name(rules, "cn=a,ou=b,dc=c,dc=d").unwrap(), "A@B");
    // A reference to a group the pattern lacks is literal text, as in Kafka.
    assert_eq!(name("RULE:^CN=(.*)$/$1@$4/", "CN=x").unwrap(), "x@$4");
    assert_eq!(
        name(r"RULE:^CN=(.*?),OU=(.*)$/$1\/$2/", "CN=x,OU=y").unwrap(),
        "x/y"
    );
    assert_eq!(
        name("RULE:^CN=(?P<user>.*)$/${user}!/", "CN=x").unwrap(),
        "x!"
    );
    assert_eq!(name(r"RULE:^CN=(.*)$/\$1/", "CN=x").unwrap(), "$1");
}

#[test]
fn no_matching_rule_fails_closed() {
    let rules = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/";
    assert_eq!(
        name(rules, "CN=alice,OU=Other"),
        Err(FailureReason::NoMatchingRule(
            "CN=alice,OU=Other".to_owned()
        ))
    );
    // The pattern must match the whole DN, not a part of it.
    assert!(name("RULE:CN=alice/x/", "CN=alice,OU=x").is_err());
    assert_eq!(
        name("RULE:^CN=(.*)$//", "CN=x"),
        Err(FailureReason::MappedPrincipalEmpty)
    );
}

#[test]
fn rules_can_name_the_tenant_and_an_invalid_one_fails() {
    let mapper =
        PrincipalMapper::parse("RULE:^CN=(.*?),O=(.*)$/$1/$2/L,DEFAULT", None).unwrap_err();
    assert!(mapper.message.contains("default tenant"), "{mapper}");
    let mapper = PrincipalMapper::parse("RULE:^CN=(.*?),O=(.*)$/$1/$2/L", None).unwrap();
    let principal = mapper.map_identity(&dn("CN=Alice,O=acme")).unwrap();
    assert_eq!(principal.name, "alice");
    assert_eq!(principal.tenant.as_str(), "acme");
    assert_eq!(principal.mechanism, Mechanism::MutualTls);
    let mapper = PrincipalMapper::parse("RULE:^CN=(.*?),O=(.*)$/$1/$2/,DEFAULT", default_tenant());
    assert_eq!(
        mapper.unwrap().map_identity(&dn("CN=a,O=Not.A.Tenant")),
        Err(FailureReason::MappedTenantInvalid(
            "Not.A.Tenant".to_owned()
        ))
    );
}

#[test]
fn invalid_rule_lists_are_rejected() {
    let cases = [
        "",
        "   ",
        "RULE:abc",
        "RULE:a/b",
        "RULE:a/b/X",
        "RULE:a/b/c/X",
        "FOO",
        "DEFAULT,",
        "DEFAULT DEFAULT",
        "RULE:(/x/",
        "RULE:a/$1/",
        "RULE:(a)/$/",
        "RULE:(a)/${nope}/",
        r"RULE:(a)/x\/",
        "SAN:IP:a/b/",
        "RULE:(?x)a#/b/",
    ];
    for rules in cases {
        assert!(
            PrincipalMapper::parse(rules, default_tenant()).is_err(),
            "{rules:?}"
        );
    }
}

fn certificate(dn: DistinguishedName, sans: Vec<SanType>) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = dn;
    params.subject_alt_names = sans;
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn spiffe_uri_san_maps_to_principal_and_tenant() {
    let der = certificate(
        DistinguishedName::new(),
        vec![
            SanType::DnsName("orders.acme.svc".try_into().unwrap()),
            SanType::URI("spiffe://acme/ns/prod/sa/orders-svc".try_into().unwrap()),
        ],
    );
    // Slashes inside a pattern are escaped, as in Kafka's rules.
    let rules = r"SAN:URI:^spiffe:\/\/([a-z0-9-]+)\/ns\/[^\/]+\/sa\/(.+)$/$2/$1/";
    let mapper = PrincipalMapper::parse(rules, None).unwrap();
    let auth = mapper.map_certificate(&der).unwrap();
    assert_eq!(auth.principal().name, "orders-svc");
    assert_eq!(auth.tenant().as_str(), "acme");
    assert_eq!(auth.mechanism(), Mechanism::MutualTls);

    let dns = PrincipalMapper::parse(r"SAN:DNS:^([^.]+)\.([^.]+)\.svc$/$1/$2/", None).unwrap();
    assert_eq!(
        dns.map_certificate(&der).unwrap().principal().name,
        "orders"
    );
    let none = PrincipalMapper::parse("SAN:EMAIL:(.*)/$1/x/", None).unwrap();
    let err = none.map_certificate(&der).unwrap_err();
    assert!(matches!(err.reason(), FailureReason::NoMatchingRule(_)));
    assert_eq!(err.to_string(), "Authentication failed");
    assert_eq!(
        mapper
            .map_certificate(b"not a certificate")
            .unwrap_err()
            .reason(),
        &FailureReason::CertificateUnparsable
    );
}

#[test]
fn subject_dn_is_rendered_like_java_rfc2253() {
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CountryName, "DE");
    subject.push(DnType::OrganizationName, "Acme");
    subject.push(DnType::OrganizationalUnitName, "ServiceUsers");
    subject.push(DnType::CommonName, "Tkac, Adam");
    subject.push(
        DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]),
        DnValue::Ia5String("a@b.c".try_into().unwrap()),
    );
    let der = certificate(
        subject,
        vec![SanType::Rfc822Name("a@b.c".try_into().unwrap())],
    );
    let identity = CertIdentity::from_der(&der).unwrap();
    assert_eq!(
        identity.subject_dn,
        r"1.2.840.113549.1.9.1=#16056140622e63,CN=Tkac\, Adam,OU=ServiceUsers,O=Acme,C=DE"
    );
    assert_eq!(identity.sans, vec![San::Email("a@b.c".to_owned())]);
    let mapper = PrincipalMapper::parse(KAFKA_DOC_RULES, default_tenant()).unwrap();
    assert_eq!(
        mapper.map_certificate(&der).unwrap().principal().name,
        "tkac"
    );
}

#[test]
fn values_are_escaped_like_java() {
    assert_eq!(
        dn::escape_value(" a,b+c=d#e\"f\\g<h>i;j "),
        r#"\ a\,b\+c\=d\#e\"f\\g\<h\>i\;j\ "#
    );
    assert_eq!(dn::escape_value("a\0b"), r"a\00b");
    assert_eq!(dn::escape_value("  "), r"\ \ ");
    assert_eq!(dn::escape_value("ü"), "ü");
}
