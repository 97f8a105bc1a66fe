//! Response bodies: whole buffers, or a stream fed while rows arrive.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

/// The error type of response bodies (a stream cut off by a failure). A
/// concrete type, because boxed trait objects trip the compression layer's
/// error conversion.
pub type BodyError = std::io::Error;

/// Every response body of the gateway.
pub type Body = http_body_util::combinators::BoxBody<Bytes, BodyError>;

/// A body with these bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body of these chunks, one after the other, with its exact length
/// (so it is sent with `Content-Length`, as [`full`] is). For a page kept
/// in the chunks it was written in, instead of copied into one buffer.
pub fn chunks(chunks: Vec<Bytes>) -> Body {
    let remaining = chunks.iter().map(|c| c.len() as u64).sum();
    Chunks {
        chunks: chunks.into_iter(),
        remaining,
    }
    .boxed()
}

struct Chunks {
    chunks: std::vec::IntoIter<Bytes>,
    remaining: u64,
}

impl HttpBody for Chunks {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let next = self.chunks.by_ref().find(|c| !c.is_empty());
        if let Some(chunk) = &next {
            self.remaining -= chunk.len() as u64;
        }
        Poll::Ready(next.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A body fed through a channel: the handler keeps writing while hyper
/// sends. The channel's capacity bounds how far the writer runs ahead.
pub fn channel(capacity: usize) -> (mpsc::Sender<Result<Bytes, BodyError>>, Body) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, ChannelBody { rx }.boxed())
}

struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, BodyError>>,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_are_one_body_of_known_length() {
        let parts = vec![
            Bytes::from_static(b"{\"value\""),
            Bytes::new(),
            Bytes::from_static(b":[]}"),
        ];
        let body = chunks(parts);
        assert_eq!(body.size_hint().exact(), Some(12));
        let bytes = body.collect().await.map(|c| c.to_bytes());
        assert_eq!(bytes.ok().as_deref(), Some(&b"{\"value\":[]}"[..]));
        let empty = chunks(Vec::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }
}
