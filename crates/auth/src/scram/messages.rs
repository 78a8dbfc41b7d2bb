//! Parsing of the SCRAM client messages (RFC 5802 section 7). Every function returns a
//! [`FailureReason`] on bad input; nothing here panics or allocates more than the input.

use crate::error::FailureReason;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The parts of a client-first-message the server needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFirst<'a> {
    /// `n,,`, `y,,` or with an authzid: `n,a=alice,`. Checked again in client-final.
    pub gs2_header: &'a str,
    /// The user name, with `=2C` and `=3D` decoded.
    pub username: String,
    pub client_nonce: &'a str,
    /// client-first-message-bare, part of the AuthMessage.
    pub bare: &'a str,
}

/// The parts of a client-final-message the server needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFinal<'a> {
    /// Decoded `c=`.
    pub channel_binding: Vec<u8>,
    pub nonce: &'a str,
    /// Decoded `p=`.
    pub proof: Vec<u8>,
    /// client-final-message-without-proof, part of the AuthMessage.
    pub without_proof: &'a str,
}

pub(crate) fn parse_client_first(msg: &str) -> Result<ClientFirst<'_>, FailureReason> {
    use FailureReason::Malformed;
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    let (flag, rest) = msg.split_once(',').ok_or(Malformed("missing GS2 header"))?;
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => return Err(FailureReason::ChannelBindingNotSupported),
        _ => return Err(Malformed("invalid GS2 channel binding flag")),
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or(Malformed("missing GS2 header"))?;
    let authzid = match authzid {
        "" => None,
        a => Some(decode_saslname(
            a.strip_prefix("a=").ok_or(Malformed("invalid authzid"))?,
        )?),
    };
    let header_len = msg.len().saturating_sub(bare.len());
    let gs2_header = msg
        .get(..header_len)
        .ok_or(Malformed("missing GS2 header"))?;

    let mut attrs = bare.split(',');
    let first = attrs.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err(FailureReason::ReservedExtension);
    }
    let username = decode_saslname(first.strip_prefix("n=").ok_or(Malformed("missing `n=`"))?)?;
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(Malformed("missing `r=`"))?;
    if client_nonce.is_empty() || !client_nonce.bytes().all(is_printable) {
        return Err(Malformed("invalid client nonce"));
    }
    for extension in attrs {
        check_extension(extension)?;
    }
    if authzid.as_ref().is_some_and(|a| *a != username) {
        return Err(FailureReason::AuthzidMismatch);
    }
    Ok(ClientFirst {
        gs2_header,
        username,
        client_nonce,
        bare,
    })
}

pub(crate) fn parse_client_final(msg: &str) -> Result<ClientFinal<'_>, FailureReason> {
    use FailureReason::Malformed;
    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    let (without_proof, proof) = msg.rsplit_once(',').ok_or(Malformed("missing `p=`"))?;
    let proof = proof.strip_prefix("p=").ok_or(Malformed("missing `p=`"))?;
    let mut attrs = without_proof.split(',');
    let channel_binding = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or(Malformed("missing `c=`"))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(Malformed("missing `r=`"))?;
    for extension in attrs {
        check_extension(extension)?;
    }
    Ok(ClientFinal {
        channel_binding: decode_base64(channel_binding, "invalid base64 in `c=`")?,
        nonce,
        proof: decode_base64(proof, "invalid base64 in `p=`")?,
        without_proof,
    })
}

/// attr-val = ALPHA "=" value, ALPHA widened to the alphanumeric keys Kafka uses
/// (`tokenauth=true`). Unknown extensions are ignored, as RFC 5802 requires, except
/// `tokenauth`: delegation tokens are not supported and must not pass for a password login.
fn check_extension(extension: &str) -> Result<(), FailureReason> {
    let (key, _value) = extension
        .split_once('=')
        .ok_or(FailureReason::Malformed("invalid extension"))?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FailureReason::Malformed("invalid extension"));
    }
    if key == "m" {
        return Err(FailureReason::ReservedExtension);
    }
    if key.eq_ignore_ascii_case("tokenauth") {
        return Err(FailureReason::DelegationTokenNotSupported);
    }
    Ok(())
}

/// saslname = 1*(value-safe-char / "=2C" / "=3D"); `,` cannot occur (attributes are split
/// on it), any other `=` must start one of the two escapes.
pub(crate) fn decode_saslname(value: &str) -> Result<String, FailureReason> {
    if value.is_empty() {
        return Err(FailureReason::Malformed("empty name"));
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('=') {
        let (head, tail) = rest.split_at(pos);
        out.push_str(head);
        if let Some(after) = tail.strip_prefix("=2C") {
            out.push(',');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("=3D") {
            out.push('=');
            rest = after;
        } else {
            return Err(FailureReason::Malformed("invalid escape in name"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The inverse of [`decode_saslname`].
#[cfg(test)]
pub(crate) fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// printable = %x21-2B / %x2D-7E: printable ASCII except `,`.
fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x2b | 0x2d..=0x7e)
}

fn decode_base64(value: &str, what: &'static str) -> Result<Vec<u8>, FailureReason> {
    if value.is_empty() {
        return Err(FailureReason::Malformed(what));
    }
    STANDARD
        .decode(value.as_bytes())
        .map_err(|_| FailureReason::Malformed(what))
}
