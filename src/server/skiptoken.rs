//! Opaque, signed `$skiptoken`s.
//!
//! A token carries where the next page starts (the last row's sort values,
//! not an offset) and is bound by an HMAC to the request it continues: the
//! absolute service URL, the resource path and every other query option,
//! as the parser reads them (so a client that re-encodes the nextLink or
//! reorders its options still continues). Any replica with the same key
//! can continue it; no client can move it to another query, entity set or
//! host.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::GatewayError;
use crate::exec::collection::Continuation;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies skip tokens with one key.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(<key>)")
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    v: u8,
    c: Continuation,
}

impl TokenSigner {
    /// A signer with a configured secret, or a random per-process key.
    pub fn new(secret: Option<&str>) -> Self {
        let key = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                if getrandom::fill(&mut k).is_err() {
                    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
                    k = <Sha256 as sha2::Digest>::digest(seed.as_bytes()).to_vec();
                }
                k
            }
        };
        TokenSigner { key }
    }

    fn mac(&self, binding: &str, payload: &[u8]) -> Vec<u8> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(binding.as_bytes());
        mac.update(b"\n");
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    /// A token for `cont`, valid only for the request identified by
    /// `binding`.
    pub fn sign(&self, binding: &str, cont: &Continuation) -> String {
        let payload = serde_json::to_vec(&Payload {
            v: 1,
            c: cont.clone(),
        })
        .unwrap_or_default();
        let mac = self.mac(binding, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The continuation in a token, if it was made for `binding` with this
    /// key; a 400 otherwise.
    pub fn verify(&self, binding: &str, token: &str) -> Result<Continuation, GatewayError> {
        let invalid = || {
            GatewayError::bad_request(
                "InvalidSkipToken",
                "the $skiptoken is not valid for this request; follow the @odata.nextLink as given",
                Some("$skiptoken"),
            )
        };
        let (payload, mac) = token.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let mut check = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        check.update(binding.as_bytes());
        check.update(b"\n");
        check.update(&payload);
        check.verify_slice(&mac).map_err(|_| invalid())?;
        let p: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if p.v != 1 {
            return Err(invalid());
        }
        Ok(p.c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let s = TokenSigner::new(Some("secret-secret-secret"));
        let c = Continuation {
            segment: 1,
            after: Some(vec![serde_json::json!("O'Neil"), serde_json::json!(42)]),
            emitted: 1000,
            offset: 0,
        };
        let t = s.sign("http://h/odata/Accounts?$top=5", &c);
        assert_eq!(s.verify("http://h/odata/Accounts?$top=5", &t).unwrap(), c);
        assert!(s.verify("http://h/odata/Contacts?$top=5", &t).is_err());
        assert!(s.verify("http://other/odata/Accounts?$top=5", &t).is_err());
        let other = TokenSigner::new(Some("another-secret-key"));
        assert!(other.verify("http://h/odata/Accounts?$top=5", &t).is_err());
        let mut forged = t.clone();
        forged.replace_range(0..2, "xx");
        assert!(s.verify("http://h/odata/Accounts?$top=5", &forged).is_err());
        assert!(s.verify("x", "garbage").is_err());
    }
}
