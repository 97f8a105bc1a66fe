//! Reads of collections and their counts: planning, the streamed JSON
//! page with its `nextLink`, and `/$count`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::body::{self, Body};
use super::conditional;
use super::negotiate::{JsonFormat, MetadataLevel};
use super::request::RequestCtx;
use super::response::{
    json_response, precondition_answer, query_without_skiptoken, select_suffix, PageHead,
    ETAG_BUFFER_LIMIT,
};
use crate::bind::query::{BoundRequest, CollectionRef, Resource};
use crate::error::GatewayError;
use crate::exec::collection::{self, start_page, Continuation};
use crate::exec::expand::expand_rows;
use crate::serialize::entity::EntityWriter;
use crate::serialize::value::{write_count, write_key, write_str};
use crate::upstream::client::Row;
use crate::upstream::Principal;

impl RequestCtx<'_> {
    pub(super) async fn count(
        &self,
        c: &CollectionRef,
        bound: &BoundRequest,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let scope = self.scope(&ctx, c).await?;
        let mut shape = self.with_semijoins(&ctx, c.set, &bound.shape).await?;
        shape.top = None;
        shape.skip = None;
        shape.orderby.clear();
        shape.expand.clear();
        shape.select = Some(Vec::new());
        shape.count = true;
        let plan = Arc::new(self.planner().collection(c.set, scope, &shape));
        let n = if plan.residual.is_none() {
            collection::upstream_count(&ctx, &plan).await?
        } else {
            let start = start_page(ctx, plan, None, 0).await?;
            start.count.unwrap_or(0)
        };
        Ok(json_response(
            StatusCode::OK,
            n.to_string(),
            "text/plain;charset=utf-8",
        ))
    }

    pub(super) async fn collection(
        &self,
        c: &CollectionRef,
        bound: &BoundRequest,
        format: JsonFormat,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let scope = self.scope(&ctx, c).await?;
        let shape = self.with_semijoins(&ctx, c.set, &bound.shape).await?;
        let plan = Arc::new(self.planner().collection(c.set, scope, &shape));
        if self
            .header(header::HeaderName::from_static("x-explain"))
            .is_some_and(|v| v != "0")
        {
            return Ok(json_response(
                StatusCode::OK,
                plan.to_json().to_string(),
                "application/json",
            ));
        }
        let cont: Option<Continuation> = match &bound.skiptoken {
            Some(t) => Some(self.gateway.tokens.verify(&self.binding(), t)?),
            None => None,
        };
        let (page_size, applied) = self.page_size();
        let start = start_page(ctx.clone(), plan.clone(), cont, page_size).await?;

        let set = c.set;
        let model = self.service.model.clone();
        let service_root = self.service_root.clone();
        let references = matches!(bound.resource, Resource::CollectionReferences(_));
        let context = if references {
            format!("{service_root}$metadata#Collection($ref)")
        } else {
            format!(
                "{}$metadata#{}{}",
                service_root,
                model.set(set).name,
                select_suffix(&model, set, &bound.shape)
            )
        };
        let next_base = format!("{}{}", service_root, self.rel);
        let query_rest = query_without_skiptoken(self.raw_query);
        let binding = self.binding();
        let tokens = self.gateway.tokens.clone();
        let settings = self.expand_settings();
        // Without expansions, rows are written as they arrive (what has
        // arrived at once, up to a batch); with them, in batches whose
        // children are fetched together.
        let batch = if shape.expand.is_empty() {
            500
        } else {
            settings.batch_size.max(1)
        };

        let joined = plan.joined.clone();
        let metrics = self.gateway.requests.clone();
        let path = self.parts.uri.path().to_string();
        let (tx, body) = body::channel(4);
        // Pages up to ETAG_BUFFER_LIMIT are written whole before the
        // response starts, so that they get an entity tag over their bytes
        // (and errors get their status); larger pages stream without one.
        // The writer runs in this task until it says which; only a
        // streaming page moves on to a task of its own.
        let (head_tx, mut head_rx) = tokio::sync::oneshot::channel::<PageHead>();
        let mut head_tx = Some(head_tx);
        let mut rows = start.rows;
        let count = start.count;
        let mut page_writer = Box::pin(async move {
            let writer = EntityWriter::for_shape(&model, set, &shape, format, &service_root);
            let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
            out.push(b'{');
            let mut need_comma = false;
            if format.metadata != MetadataLevel::None {
                write_key(&mut out, "@odata.context");
                write_str(&mut out, &context);
                need_comma = true;
            }
            if let Some(n) = count {
                if need_comma {
                    out.push(b',');
                }
                write_key(&mut out, "@odata.count");
                write_count(
                    &mut out,
                    i64::try_from(n).unwrap_or(i64::MAX),
                    format.ieee754_compatible,
                );
                need_comma = true;
            }
            if need_comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"value\":[");
            let mut first = true;
            // The page's chunks written but not sent yet, and their size.
            let mut held: Vec<Bytes> = Vec::new();
            let mut held_len = 0;
            // The page's entity tag, hashed chunk by chunk as they are held.
            let mut tag = conditional::BodyTag::new();
            // The rows of a page that may still end whole, freed only once
            // its response is on its way (see below).
            let mut spent: Vec<Vec<Row>> = Vec::new();
            let result: Result<(), GatewayError> = async {
                loop {
                    let mut batch_rows = Vec::with_capacity(batch);
                    while batch_rows.len() < batch {
                        if shape.expand.is_empty() && !batch_rows.is_empty() && !rows.has_arrived()
                        {
                            break;
                        }
                        match rows.next().await? {
                            Some(r) => batch_rows.push(r),
                            None => break,
                        }
                    }
                    if batch_rows.is_empty() {
                        break;
                    }
                    if !shape.expand.is_empty() {
                        expand_rows(&ctx, settings, &shape.expand, &mut batch_rows, &joined)
                            .await?;
                    }
                    for r in &batch_rows {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        if references {
                            writer.write_reference(&mut out, r);
                        } else {
                            writer.write(&mut out, r);
                        }
                        if out.len() < 32 * 1024 {
                            continue;
                        }
                        // A chunk is done: kept while the page may still
                        // end whole, sent once it streams. Either way the
                        // buffer starts afresh rather than growing (and
                        // copying what it holds); checked after each row,
                        // as a batch of wide rows is a megabyte.
                        held_len += out.len();
                        if head_tx.is_some() {
                            tag.update(&out);
                        }
                        held.push(Bytes::from(std::mem::take(&mut out)));
                        out.reserve(64 * 1024);
                        let streaming = match head_tx.take() {
                            None => true,
                            Some(h) if held_len >= ETAG_BUFFER_LIMIT => {
                                let _ = h.send(PageHead::Streaming);
                                true
                            }
                            Some(h) => {
                                head_tx = Some(h);
                                false
                            }
                        };
                        if streaming {
                            spent.clear();
                            for chunk in held.drain(..) {
                                if tx.send(Ok(chunk)).await.is_err() {
                                    return Ok(());
                                }
                            }
                        }
                    }
                    if head_tx.is_some() {
                        spent.push(batch_rows);
                    }
                }
                out.push(b']');
                if let Some(next) = rows.continuation().await? {
                    let token = tokens.sign(&binding, &next);
                    let sep = if query_rest.is_empty() { "" } else { "&" };
                    let link = format!("{next_base}?{query_rest}{sep}$skiptoken={token}");
                    out.push(b',');
                    write_key(&mut out, "@odata.nextLink");
                    write_str(&mut out, &link);
                }
                out.push(b'}');
                Ok(())
            }
            .await;
            match (result, head_tx.take()) {
                (Ok(()), Some(h)) => {
                    tag.update(&out);
                    held.push(Bytes::from(out));
                    let _ = h.send(PageHead::Complete(held, tag.finish()));
                    // Freeing a page's rows costs a sixth of writing them
                    // (`row_path` bench); a task of its own does it after
                    // this one has handed the response to the connection.
                    if !spent.is_empty() {
                        tokio::spawn(async move { drop(spent) });
                    }
                }
                (Ok(()), None) => {
                    let _ = tx.send(Ok(Bytes::from(out))).await;
                }
                (Err(e), Some(h)) => {
                    let _ = h.send(PageHead::Failed(e));
                }
                (Err(e), None) => {
                    // Its head (200) has been logged and counted already.
                    metrics.record_cut();
                    tracing::warn!(%path, error = %e, "response cut off after it had started");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                }
            }
        });
        // The writer may announce streaming and still finish in the same
        // poll (the rest of the page fits the channel), so whether it is
        // done is tracked apart from what it announced: a finished future
        // must not be polled again.
        let (head, writer_done) = tokio::select! {
            biased;
            head = &mut head_rx => (head, false),
            () = &mut page_writer => (head_rx.await, true),
        };
        if !writer_done && matches!(head, Ok(PageHead::Streaming)) {
            tokio::spawn(page_writer);
        }
        let mut r = match head {
            Ok(PageHead::Complete(page, etag)) => {
                if let Some(answer) = precondition_answer(&self.parts.headers, &etag)? {
                    return Ok(answer);
                }
                let mut r = Response::new(body::chunks(page));
                if let Ok(v) = HeaderValue::from_str(&etag) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                r
            }
            Ok(PageHead::Streaming) => {
                if conditional::match_fails(&self.parts.headers, None) {
                    return Err(GatewayError::PreconditionFailed(
                        "If-Match names an entity tag, but this page is too large to carry one"
                            .into(),
                    ));
                }
                Response::new(body)
            }
            Ok(PageHead::Failed(e)) => return Err(e),
            Err(_) => return Err(GatewayError::Internal("the page writer stopped".into())),
        };
        if let Ok(v) = HeaderValue::from_str(&format.content_type()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if let Some(n) = applied {
            if let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}")) {
                r.headers_mut()
                    .insert(header::HeaderName::from_static("preference-applied"), v);
            }
        }
        Ok(r)
    }
}
