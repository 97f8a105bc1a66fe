//! A list answer's body, from the chunks on the wire to rows.
//!
//! Chunks are inflated (when ZeyOS gzips) and decoded as they arrive, so
//! that both overlap with the rest of the body still being sent; only the
//! record in progress is kept. Both steps are bounded: at most `limit`
//! bytes as sent and as inflated, so that an endless body or a small "zip
//! bomb" is an invalid answer, not an allocation without bound.

use std::io::Write;

use super::client::ContentEncoding;
use super::rows::RowDecoder;
use super::{Row, UpstreamError};

/// Turns the chunks of one list answer into rows.
pub struct ListBody {
    /// The answer's entity, for error messages.
    entity: String,
    inner: Decoding,
    /// Bytes received as sent.
    received: u64,
    limit: u64,
}

enum Decoding {
    /// The body is JSON as sent.
    Plain(RowDecoder),
    /// The body is gzipped; inflated bytes go on to the row decoder.
    Gzip(Box<flate2::write::GzDecoder<Inflated>>),
}

impl ListBody {
    /// A body sent with `encoding`.
    pub fn new(entity: &str, encoding: ContentEncoding, limit: u64) -> Self {
        let inner = match encoding {
            ContentEncoding::Identity => Decoding::Plain(RowDecoder::new()),
            ContentEncoding::Gzip => {
                Decoding::Gzip(Box::new(flate2::write::GzDecoder::new(Inflated {
                    rows: RowDecoder::new(),
                    length: 0,
                    limit,
                    failure: None,
                })))
            }
        };
        ListBody {
            entity: entity.to_string(),
            inner,
            received: 0,
            limit,
        }
    }

    /// Takes the next chunk as sent.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), UpstreamError> {
        self.received = self.received.saturating_add(chunk.len() as u64);
        if self.received > self.limit {
            return Err(UpstreamError::InvalidResponse(format!(
                "the body is longer than {} bytes",
                self.limit
            )));
        }
        match &mut self.inner {
            Decoding::Plain(rows) => rows.push(chunk).map_err(|e| invalid(&self.entity, e)),
            Decoding::Gzip(gz) => match gz.write_all(chunk) {
                Ok(()) => Ok(()),
                Err(e) => Err(inflate_error(&self.entity, gz.get_mut(), e)),
            },
        }
    }

    /// The rows decoded so far, taken out.
    pub fn take_rows(&mut self) -> Vec<Row> {
        match &mut self.inner {
            Decoding::Plain(rows) => rows.take_rows(),
            Decoding::Gzip(gz) => gz.get_mut().rows.take_rows(),
        }
    }

    /// Ends the body: the rows not taken yet, once the JSON array (and
    /// the gzip stream) is complete.
    pub fn finish(self) -> Result<Vec<Row>, UpstreamError> {
        match self.inner {
            Decoding::Plain(rows) => rows.finish().map_err(|e| invalid(&self.entity, e)),
            Decoding::Gzip(mut gz) => {
                if let Err(e) = gz.try_finish() {
                    return Err(inflate_error(&self.entity, gz.get_mut(), e));
                }
                // `try_finish` has checked the trailer (length and CRC);
                // this only hands back the sink.
                let Ok(inflated) = gz.finish() else {
                    return Err(UpstreamError::InvalidResponse(format!(
                        "list of {}: the gzip body ends early",
                        self.entity
                    )));
                };
                inflated.rows.finish().map_err(|e| invalid(&self.entity, e))
            }
        }
    }
}

/// Where inflated bytes go: counted, then decoded.
struct Inflated {
    rows: RowDecoder,
    length: u64,
    limit: u64,
    /// Why the last write failed, when it was not the gzip stream's fault.
    failure: Option<UpstreamError>,
}

impl Write for Inflated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.length = self.length.saturating_add(buf.len() as u64);
        if self.length > self.limit {
            self.failure = Some(UpstreamError::InvalidResponse(format!(
                "gzip body inflates beyond {} bytes",
                self.limit
            )));
            return Err(std::io::Error::other("inflated too far"));
        }
        if let Err(e) = self.rows.push(buf) {
            self.failure = Some(UpstreamError::InvalidResponse(e.to_string()));
            return Err(std::io::Error::other("undecodable"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn invalid(entity: &str, e: serde_json::Error) -> UpstreamError {
    UpstreamError::InvalidResponse(format!("list of {entity}: {e}"))
}

/// The error for a failed write into the gzip decoder: the decoder's own
/// complaint if it had one, else the stream's.
fn inflate_error(entity: &str, sink: &mut Inflated, e: std::io::Error) -> UpstreamError {
    match sink.failure.take() {
        Some(UpstreamError::InvalidResponse(m)) => {
            UpstreamError::InvalidResponse(format!("list of {entity}: {m}"))
        }
        Some(other) => other,
        None => UpstreamError::InvalidResponse(format!("list of {entity}: gzip body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContentEncoding::{Gzip, Identity};

    use crate::upstream::gzip_for_tests as gzip;

    fn page() -> Vec<u8> {
        let rows: Vec<String> = (0..2_000)
            .map(|i| format!(r#"{{"ID":{i},"name":"K\u00f6ln","n":{i}.5}}"#))
            .collect();
        format!("[{}]", rows.join(",")).into_bytes()
    }

    fn decode(
        encoding: ContentEncoding,
        body: &[u8],
        chunk: usize,
        limit: u64,
    ) -> Result<Vec<Row>, UpstreamError> {
        let mut b = ListBody::new("accounts", encoding, limit);
        for c in body.chunks(chunk) {
            b.push(c)?;
        }
        b.finish()
    }

    fn is_invalid(r: Result<Vec<Row>, UpstreamError>) -> bool {
        matches!(r, Err(UpstreamError::InvalidResponse(_)))
    }

    #[test]
    fn plain_and_gzipped_bodies_decode_alike_in_any_chunks() {
        let plain = page();
        let expected = super::super::rows::parse_rows(&plain).unwrap();
        let gz = gzip(&plain);
        for chunk in [1, 100, 4096, 1 << 20] {
            assert_eq!(decode(Identity, &plain, chunk, 1 << 30).unwrap(), expected);
            assert_eq!(decode(Gzip, &gz, chunk, 1 << 30).unwrap(), expected);
        }
    }

    #[test]
    fn rows_come_out_before_the_body_ends() {
        let plain = page();
        let gz = gzip(&plain);
        for (encoding, body) in [(Identity, &plain), (Gzip, &gz)] {
            let mut b = ListBody::new("accounts", encoding, 1 << 30);
            let half = body.len() / 2;
            for c in body[..half].chunks(1000) {
                b.push(c).unwrap();
            }
            let early = b.take_rows().len();
            assert!(early > 100, "{encoding:?}: {early} rows from half the body");
            for c in body[half..].chunks(1000) {
                b.push(c).unwrap();
            }
            assert_eq!(early + b.finish().unwrap().len(), 2_000);
        }
    }

    #[test]
    fn broken_cut_off_and_oversized_bodies_are_invalid() {
        let plain = page();
        let gz = gzip(&plain);
        assert!(is_invalid(decode(Gzip, b"not gzip at all", 4, 100)));
        // Cut off anywhere, including inside the gzip trailer.
        for cut in [10, gz.len() / 2, gz.len() - 5, gz.len() - 1] {
            assert!(
                is_invalid(decode(Gzip, &gz[..cut], 512, 1 << 30)),
                "gzip cut at {cut} of {}",
                gz.len()
            );
        }
        assert!(is_invalid(decode(
            Identity,
            &plain[..plain.len() - 1],
            512,
            1 << 30
        )));
        // Over the limit as sent, and (a "zip bomb") as inflated.
        let len = plain.len() as u64;
        assert!(decode(Identity, &plain, 512, len).is_ok());
        assert!(is_invalid(decode(Identity, &plain, 512, len - 1)));
        assert!(decode(Gzip, &gz, 512, len).is_ok());
        assert!(is_invalid(decode(Gzip, &gz, 512, len - 1)));
        // JSON that is broken inside a gzip stream.
        let broken = gzip(br#"[{"a":1},{"b":]"#);
        assert!(is_invalid(decode(Gzip, &broken, 3, 1 << 30)));
    }
}
