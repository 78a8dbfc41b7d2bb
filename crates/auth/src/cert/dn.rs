//! What a leaf certificate says about its holder: the subject DN rendered as Java's
//! `X500Principal.getName()` (RFC 2253) does, and the URI, DNS and email SANs.
//!
//! The certificate is only parsed here, never verified: the TLS layer has already verified
//! the chain before it hands over the leaf.

use crate::error::FailureReason;
use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// A subject alternative name of a kind the mapping rules can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum San {
    Uri(String),
    Dns(String),
    Email(String),
}

/// The identity claims of a leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertIdentity {
    /// The subject DN in RFC 2253 format, most specific RDN first, as Java prints it:
    /// `CN=alice,OU=ServiceUsers,O=Acme,C=DE`.
    pub subject_dn: String,
    /// URI, DNS and email SANs in certificate order.
    pub sans: Vec<San>,
}

impl CertIdentity {
    /// Reads subject and SANs from the DER of a certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, FailureReason> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|_| FailureReason::CertificateUnparsable)?;
        let subject_dn = rfc2253(cert.subject());
        let mut sans = Vec::new();
        let extension = cert
            .subject_alternative_name()
            .map_err(|_| FailureReason::CertificateUnparsable)?;
        if let Some(extension) = extension {
            for name in &extension.value.general_names {
                match name {
                    GeneralName::URI(s) => sans.push(San::Uri((*s).to_owned())),
                    GeneralName::DNSName(s) => sans.push(San::Dns((*s).to_owned())),
                    GeneralName::RFC822Name(s) => sans.push(San::Email((*s).to_owned())),
                    _ => {}
                }
            }
        }
        Ok(Self { subject_dn, sans })
    }
}

/// Java's `X500Name.getRFC2253Name()`: RDNs in reverse order of the encoding, joined by `,`;
/// the attributes of a multi-valued RDN joined by `+`.
pub(crate) fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(attribute_to_rfc2253)
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The attribute types Java names with a keyword in RFC 2253 output; others are printed as
/// their dotted OID with the value as `#` and the hex of its DER encoding.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn attribute_to_rfc2253(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    let value = attr.attr_value();
    match (keyword(&oid), string_value(value)) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape_value(&text)),
        (keyword, _) => format!("{}=#{}", keyword.unwrap_or(&oid), der_hex(value)),
    }
}

/// The value of the string types Java prints as text (`isDerString`).
fn string_value(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::T61String
        | Tag::GeneralString => Some(String::from_utf8_lossy(data).into_owned()),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|pair| match pair {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => 0xfffd,
                })
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

fn der_hex(value: &Any<'_>) -> String {
    let der = value.to_der_vec().unwrap_or_default();
    der.iter().map(|b| format!("{b:02x}")).collect()
}

/// Java's RFC 2253 value escaping (`AVA.toRFC2253String`): a backslash before each of
/// `,=+<>#;"\`, NUL as `\00`, and a backslash before leading and trailing spaces.
pub(crate) fn escape_value(value: &str) -> String {
    const ESCAPEES: &str = ",=+<>#;\"\\";
    let mut escaped: Vec<char> = Vec::with_capacity(value.len());
    for c in value.chars() {
        if ESCAPEES.contains(c) {
            escaped.push('\\');
            escaped.push(c);
        } else if c == '\0' {
            escaped.extend(['\\', '0', '0']);
        } else {
            escaped.push(c);
        }
    }
    let is_space = |c: &char| *c == ' ' || *c == '\r';
    let lead = escaped.iter().take_while(|c| is_space(c)).count();
    let trail_start = escaped.len() - escaped.iter().rev().take_while(|c| is_space(c)).count();
    let mut out = String::with_capacity(escaped.len() + 2);
    for (i, c) in escaped.into_iter().enumerate() {
        if i < lead || i >= trail_start {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
