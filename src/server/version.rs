//! The OData protocol versions a request states: `OData-Version`, the
//! version its URL and payload are written in, and `OData-MaxVersion`, the
//! newest version the client reads (OData 4.01 Protocol, 8.1.5 and 8.2.7).
//!
//! The service reads 4.0 and 4.01 requests and answers in 4.0, adding the
//! 4.01-only CSDL JSON (with `OData-Version: 4.01`) for clients that accept
//! 4.01. A request in another
//! version must fail with a 4xx rather than be read by the wrong rules, and
//! a client whose newest version is older than 4.0 cannot read any answer.

use crate::error::GatewayError;

/// A protocol version, ordered as decimals are: 4.0 < 4.01 < 4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ODataVersion {
    major: u32,
    /// The minor part in hundredths: 4.0 is 0, 4.01 is 1, 4.1 is 10.
    hundredths: u32,
}

impl ODataVersion {
    /// OData 4.0.
    pub const V4_0: ODataVersion = ODataVersion {
        major: 4,
        hundredths: 0,
    };
    /// OData 4.01.
    pub const V4_01: ODataVersion = ODataVersion {
        major: 4,
        hundredths: 1,
    };

    /// Parses `major.minor` with up to two minor digits. The ABNF allows
    /// only `4.0` and `4.01` to 4.09 in `OData-Version`, but a client may
    /// state any version in `OData-MaxVersion`, and an older or newer one
    /// must be told apart from garbage. `None` for anything else.
    pub fn parse(s: &str) -> Option<ODataVersion> {
        let (major, minor) = s.trim().split_once('.')?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) || major.len() > 3 || minor.len() > 2 {
            return None;
        }
        let hundredths: u32 = minor.parse().ok()?;
        Some(ODataVersion {
            major: major.parse().ok()?,
            hundredths: if minor.len() == 1 {
                hundredths * 10
            } else {
                hundredths
            },
        })
    }
}

/// Checks the request's version headers and returns the newest version the
/// client reads (4.01 when it does not say).
pub fn check(
    odata_version: Option<&str>,
    max_version: Option<&str>,
) -> Result<ODataVersion, GatewayError> {
    if let Some(v) = odata_version {
        match ODataVersion::parse(v) {
            Some(ODataVersion::V4_0 | ODataVersion::V4_01) => {}
            _ => {
                return Err(GatewayError::bad_request(
                    "UnsupportedODataVersion",
                    format!(
                        "this service reads requests in OData 4.0 and 4.01; the request says OData-Version: {}",
                        v.trim()
                    ),
                    Some("OData-Version"),
                ))
            }
        }
    }
    let Some(max) = max_version else {
        return Ok(ODataVersion::V4_01);
    };
    let Some(parsed) = ODataVersion::parse(max) else {
        return Err(GatewayError::bad_request(
            "InvalidHeader",
            format!(
                "OData-MaxVersion must be a version such as 4.0 or 4.01, not `{}`",
                max.trim()
            ),
            Some("OData-MaxVersion"),
        ));
    };
    if parsed < ODataVersion::V4_0 {
        return Err(GatewayError::NotAcceptable(format!(
            "this service answers in OData 4.0 or later; the request accepts at most OData-MaxVersion: {}",
            max.trim()
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_decimals() {
        let v = |s| ODataVersion::parse(s).unwrap();
        assert_eq!(v("4.0"), ODataVersion::V4_0);
        assert_eq!(v(" 4.01 "), ODataVersion::V4_01);
        assert!(v("4.0") < v("4.01"));
        assert!(v("4.01") < v("4.1"));
        assert!(v("3.0") < v("4.0"));
        assert!(v("4.1") < v("5.0"));
        for bad in ["4", "4.", ".0", "4.001", "four", "4.0a", "-4.0", ""] {
            assert!(ODataVersion::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn requests_in_other_versions_fail_and_old_clients_get_406() {
        assert_eq!(check(None, None).unwrap(), ODataVersion::V4_01);
        assert_eq!(check(Some("4.0"), Some("4.0")).unwrap(), ODataVersion::V4_0);
        assert_eq!(
            check(Some("4.01"), Some("4.01")).unwrap(),
            ODataVersion::V4_01
        );
        // Newer clients read what this service writes.
        assert_eq!(
            check(None, Some("5.0")).unwrap(),
            ODataVersion::parse("5.0").unwrap()
        );
        for (version, max, status) in [
            (Some("3.0"), None, 400),
            (Some("5.0"), None, 400),
            (Some("x"), None, 400),
            (None, Some("3.0"), 406),
            (None, Some("4"), 400),
        ] {
            assert_eq!(
                check(version, max).unwrap_err().status(),
                status,
                "{version:?} {max:?}"
            );
        }
    }
}
