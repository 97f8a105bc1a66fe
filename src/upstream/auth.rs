//! Who is asking: credentials in, ZeyOS token and principal key out.
//!
//! Excel and Power BI offer Basic authentication for OData feeds; ZeyOS
//! wants a bearer token from its login endpoint. Basic credentials are
//! exchanged once and the token is cached for its lifetime; bearer tokens
//! pass through. Every principal is identified by a keyed hash of its
//! credential, which is what caches and logs may see, never the credential.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::client::{UpstreamClient, UpstreamError};

/// A credential as the client sent it.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Basic`: user name and password for ZeyOS's login.
    Basic {
        /// ZeyOS user name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer`: a ZeyOS token, passed through.
    Bearer(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Why a request's credentials were not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// No `Authorization` header.
    #[error("authentication required")]
    Missing,
    /// A scheme other than Basic or Bearer, or a malformed value.
    #[error("unsupported or malformed Authorization header ({0})")]
    Malformed(&'static str),
}

impl Credential {
    /// Reads an `Authorization` header value.
    pub fn from_header(value: Option<&http::HeaderValue>) -> Result<Credential, CredentialError> {
        let value = value.ok_or(CredentialError::Missing)?;
        let text = value
            .to_str()
            .map_err(|_| CredentialError::Malformed("not ASCII"))?
            .trim();
        let (scheme, rest) = text
            .split_once(' ')
            .ok_or(CredentialError::Malformed("no scheme"))?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| CredentialError::Malformed("Basic value is not base64"))?;
            let decoded =
                String::from_utf8(decoded).map_err(|_| CredentialError::Malformed("not UTF-8"))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or(CredentialError::Malformed("Basic value has no colon"))?;
            // Excel sends an empty password when the user leaves it empty:
            // ask again rather than pass ZeyOS a login it refuses as
            // malformed.
            if user.is_empty() || password.is_empty() {
                return Err(CredentialError::Missing);
            }
            Ok(Credential::Basic {
                user: user.to_string(),
                password: password.to_string(),
            })
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if rest.is_empty() {
                return Err(CredentialError::Malformed("empty bearer token"));
            }
            Ok(Credential::Bearer(rest.to_string()))
        } else {
            Err(CredentialError::Malformed(
                "scheme is neither Basic nor Bearer",
            ))
        }
    }
}

/// An authenticated caller: the token to send upstream and the key that
/// identifies them in caches.
#[derive(Clone)]
pub struct Principal {
    /// Hex HMAC-SHA256 of the credential under a per-process key.
    pub key: Arc<str>,
    /// The ZeyOS bearer token.
    pub token: Arc<str>,
    /// The credential, kept to log in again when a cached token expires.
    credential: Credential,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({})", &self.key[..12.min(self.key.len())])
    }
}

impl Principal {
    /// A short, non-secret label for logs.
    pub fn label(&self) -> &str {
        &self.key[..12.min(self.key.len())]
    }
}

/// Exchanges credentials for principals, caching Basic logins.
pub struct Authenticator {
    client: Arc<UpstreamClient>,
    key: [u8; 32],
    tokens: moka::future::Cache<Arc<str>, Arc<str>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator whose login cache keeps tokens for `token_ttl`.
    pub fn new(client: Arc<UpstreamClient>, token_ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        // Without OS randomness the keys would be predictable; the hash of
        // the process start time is a weak but non-fatal fallback.
        if getrandom::fill(&mut key).is_err() {
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            key.copy_from_slice(&sha2::Sha256::digest_bytes(seed.as_bytes()));
        }
        Authenticator {
            client,
            key,
            tokens: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(token_ttl)
                .build(),
        }
    }

    /// The keyed hash of a credential: stable within this process, useless
    /// to anyone who reads it.
    pub fn principal_key(&self, credential: &Credential) -> Arc<str> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        match credential {
            Credential::Basic { user, password } => {
                mac.update(b"basic\0");
                mac.update(user.as_bytes());
                mac.update(b"\0");
                mac.update(password.as_bytes());
            }
            Credential::Bearer(token) => {
                mac.update(b"bearer\0");
                mac.update(token.as_bytes());
            }
        }
        let digest = mac.finalize().into_bytes();
        hex(&digest).into()
    }

    /// Resolves a credential to a principal, logging in for Basic
    /// credentials and asking ZeyOS once whether it knows a bearer token,
    /// unless the token (or the verdict) is cached. Concurrent first
    /// requests of one user share one login.
    pub async fn authenticate(&self, credential: Credential) -> Result<Principal, UpstreamError> {
        let key = self.principal_key(&credential);
        let token: Arc<str> = match &credential {
            Credential::Bearer(t) => {
                let client = self.client.clone();
                let token: Arc<str> = t.as_str().into();
                let verified = token.clone();
                self.tokens
                    .try_get_with(key.clone(), async move {
                        client.verify_token(&verified).await.map(|()| verified)
                    })
                    .await
                    .map_err(|e| match Arc::try_unwrap(e) {
                        Ok(e) => e,
                        Err(shared) => (*shared).clone(),
                    })?;
                token
            }
            Credential::Basic { user, password } => {
                let client = self.client.clone();
                let (user, password) = (user.clone(), password.clone());
                self.tokens
                    .try_get_with(key.clone(), async move {
                        client
                            .login(&user, &password)
                            .await
                            .map(|l| Arc::<str>::from(l.token))
                    })
                    .await
                    .map_err(|e| match Arc::try_unwrap(e) {
                        Ok(e) => e,
                        Err(shared) => (*shared).clone(),
                    })?
            }
        };
        Ok(Principal {
            key,
            token,
            credential,
        })
    }

    /// Drops a principal's cached token after ZeyOS rejected it, and logs
    /// in again if the credential allows; `None` for bearer tokens.
    pub async fn refresh(&self, principal: &Principal) -> Option<Result<Principal, UpstreamError>> {
        match &principal.credential {
            Credential::Bearer(_) => None,
            Credential::Basic { .. } => {
                self.tokens.invalidate(&principal.key).await;
                Some(self.authenticate(principal.credential.clone()).await)
            }
        }
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

trait DigestBytes {
    fn digest_bytes(data: &[u8]) -> [u8; 32];
}

impl DigestBytes for Sha256 {
    fn digest_bytes(data: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        let mut out = [0u8; 32];
        out.copy_from_slice(&Sha256::digest(data));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: &str) -> http::HeaderValue {
        http::HeaderValue::from_str(v).unwrap()
    }

    #[test]
    fn reads_basic_and_bearer() {
        let c = Credential::from_header(Some(&header("Basic ZGVtbzpkZTptbw=="))).unwrap();
        assert_eq!(
            c,
            Credential::Basic {
                user: "demo".into(),
                password: "de:mo".into()
            }
        );
        let c = Credential::from_header(Some(&header("bearer abc"))).unwrap();
        assert_eq!(c, Credential::Bearer("abc".into()));
        assert_eq!(Credential::from_header(None), Err(CredentialError::Missing));
        assert!(Credential::from_header(Some(&header("Digest x"))).is_err());
        assert!(Credential::from_header(Some(&header("Basic !!!"))).is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = Credential::Basic {
            user: "demo".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{:?}", Credential::Bearer("tok".into())).contains("tok"));
    }
}
