//! One upstream list request running in its own task, its rows received
//! in batches as they arrive.
//!
//! A collection read asks for its next chunk while it writes the current
//! one. Received whole, a chunk of a thousand wide rows would be written
//! only after its last byte is in; fed batch by batch, the writer works on
//! the first rows while ZeyOS is still sending the rest, and a page costs
//! little more than its transfer.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::collection::ExecContext;
use crate::error::GatewayError;
use crate::upstream::{ListRequest, Row};

/// The rows of one list request, in order, as they arrive.
pub struct RowFeed {
    batches: mpsc::UnboundedReceiver<Result<Vec<Row>, GatewayError>>,
    task: Option<JoinHandle<()>>,
}

impl RowFeed {
    /// Starts the request. Through the cache, the page arrives as one
    /// batch (the cache stores and shares whole pages); without it, in the
    /// batches ZeyOS's body is decoded in. The channel holds at most the
    /// one page, the same as a page received whole.
    pub fn start(ctx: &ExecContext, req: ListRequest) -> Self {
        let (tx, batches) = mpsc::unbounded_channel();
        let ctx = ctx.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = ctx.check_joins(&req).await {
                let _ = tx.send(Err(e));
                return;
            }
            if ctx.cache.is_some() {
                let _ = tx.send(ctx.list(req).await);
                return;
            }
            ctx.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let token = ctx.principal.token.clone();
            let result = ctx
                .upstream
                .list_batches(&token, &req, |rows| {
                    // A receiver gone means the read was abandoned.
                    let _ = tx.send(Ok(rows));
                })
                .await;
            if let Err(e) = result {
                let _ = tx.send(Err(e.into()));
            }
        });
        RowFeed {
            batches,
            task: Some(task),
        }
    }

    /// Whether [`RowFeed::next`] has an answer without waiting for ZeyOS:
    /// a batch has arrived, or the request has ended.
    pub fn ready(&self) -> bool {
        !self.batches.is_empty() || self.batches.is_closed()
    }

    /// The next batch, or `None` once the page is complete.
    pub async fn next(&mut self) -> Result<Option<Vec<Row>>, GatewayError> {
        if let Some(batch) = self.batches.recv().await {
            return batch.map(Some);
        }
        // The sender is gone: the task ended. A task that panicked or was
        // cancelled ended without sending its error, and its page is not
        // complete.
        match self.task.take() {
            Some(task) => task
                .await
                .map(|()| None)
                .map_err(|e| GatewayError::Internal(format!("upstream task failed: {e}"))),
            None => Ok(None),
        }
    }
}

impl Drop for RowFeed {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
