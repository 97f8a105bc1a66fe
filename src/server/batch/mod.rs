//! `$batch` (OData protocol 11.7): several requests in one HTTP request.
//!
//! SAP UI5's OData V4 model sends every read through `$batch` by default,
//! and OData client libraries batch on request; a service without it
//! leaves them a 501 for every page. Each request of a batch is answered
//! exactly as it would be on its own (the gateway's own handler runs it,
//! with the batch's credentials), and the answers come in the order sent.
//! Both formats are read and written: multipart/mixed (OData 4.0) and JSON
//! (4.01). The answer takes the format `Accept` names, else the request's;
//! a client whose `OData-MaxVersion` is below 4.01 cannot read the JSON
//! format and gets the multipart one (or a 406 if it accepts only JSON).
//!
//! A request of the batch inherits what it does not state from the batch
//! request (see `inherit.rs`): the versions, the JSON media ranges of
//! `Accept` (so `IEEE754Compatible` and `odata.metadata` reach its
//! answer) and the `include-annotations` and `allow-entityreferences`
//! preferences. Its URL is resolved against the batch's service root, and
//! one outside it (another service of the gateway) is answered with a
//! 404: a batch is its service's. A request that cannot be read (a
//! multipart request line with a space in its URL) gets a 400 of its own.
//!
//! Reads that depend on no other request run side by side, up to
//! `limits.batch_parallelism` at a time, so that a UI5 page's batch of
//! independent reads waits for its slowest request rather than for their
//! sum. A read changes nothing another request sees, so the answers are
//! those of running the requests one after another (as protocol 11.7.4
//! has multipart batches run): each is judged in its turn, and after a
//! failure that stops the batch the answers of reads already running are
//! dropped (their upstream calls cancelled). Everything else (a request
//! with `dependsOn` or `if`, a change set, a write) waits for the requests
//! before it and runs alone.
//!
//! Change sets and atomicity groups hold data modifications, which this
//! gateway does not make: one that does is answered, as a whole, with the
//! same 501 a single write gets, and none of its requests runs.

mod inherit;
mod json;
mod multipart;

use std::collections::HashMap;

use bytes::Bytes;
use futures_util::stream::{FuturesOrdered, StreamExt};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;

use super::body::{self, Body};
use super::gateway::{Gateway, Service, WRITES_NOT_SUPPORTED};
use super::negotiate;
use super::response::error_response;
use crate::error::GatewayError;
use crate::upstream::UpstreamError;

/// One request of a batch, as read from either format.
pub(super) struct Entry {
    /// `Content-ID` (multipart) or `id` (JSON).
    pub id: Option<String>,
    pub method: String,
    pub url: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Ids and atomicity groups that must have succeeded first (JSON).
    pub depends_on: Vec<String>,
    /// Whether the request has an `if` condition (JSON), which this
    /// service does not evaluate.
    pub condition: bool,
    /// Why the request cannot be run, found while reading it (a multipart
    /// request line that is not `method URL HTTP-version`). It is the
    /// request's own 400, as an invalid URL in a JSON batch is, so the
    /// rest of the batch is answered as usual.
    pub refusal: Option<String>,
    /// The request's body: read only for `POST .../$query`, whose body
    /// holds a read's query options.
    pub body: Bytes,
}

impl Entry {
    /// Whether the request reads only: a `GET`, a `HEAD`, or a
    /// `POST .../$query` (a read with its options in the body).
    fn is_read(&self) -> bool {
        let method = self.method.as_str();
        method.eq_ignore_ascii_case("GET")
            || method.eq_ignore_ascii_case("HEAD")
            || (method.eq_ignore_ascii_case("POST") && self.queries_in_body())
    }

    /// Whether the request is a `POST .../$query`.
    fn queries_in_body(&self) -> bool {
        let path = self.url.split('?').next().unwrap_or_default();
        super::query_in_body::resource_of(path).is_some()
    }
}

/// A request or a change set (atomicity group), in the order sent.
pub(super) enum Item {
    Single(Entry),
    ChangeSet {
        /// The atomicity group's name (JSON); change sets have none.
        group: Option<String>,
        entries: Vec<Entry>,
    },
}

/// A whole batch request.
pub(super) struct Batch {
    pub items: Vec<Item>,
}

impl Batch {
    fn len(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                Item::Single(_) => 1,
                Item::ChangeSet { entries, .. } => entries.len(),
            })
            .sum()
    }
}

/// The response to one request of a batch.
pub(super) struct Answer {
    pub id: Option<String>,
    pub group: Option<String>,
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Bytes,
}

impl Answer {
    fn succeeded(&self) -> bool {
        self.status.is_success() || self.status == StatusCode::NOT_MODIFIED
    }
}

/// What became of an item.
pub(super) enum Outcome {
    Single(Answer),
    /// A change set whose requests were all answered (reads only).
    ChangeSet(Vec<Answer>),
    /// A change set answered as a whole; the ids of its members.
    ChangeSetFailed {
        answer: Answer,
        members: Vec<Option<String>>,
    },
}

impl Outcome {
    fn failed(&self) -> bool {
        match self {
            Outcome::Single(a) => !a.succeeded(),
            Outcome::ChangeSet(answers) => answers.iter().any(|a| !a.succeeded()),
            Outcome::ChangeSetFailed { .. } => true,
        }
    }
}

/// What the batch has done so far, which later requests depend on.
#[derive(Default)]
struct Progress {
    /// Per request id and atomicity group: whether it succeeded.
    succeeded: HashMap<String, bool>,
    /// Upstream requests made, for the log line.
    calls: u64,
    /// Bytes of answer bodies held.
    held: usize,
}

/// The two batch formats.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Multipart,
    Json,
}

/// Headers of a part that are not passed on: credentials (the batch's
/// are used) and framing, which belongs to the batch.
const DROPPED: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// First segments of a relative URL that are the service's own resources,
/// not references to another request's result (JSON format 19.1).
const SYSTEM_RESOURCES: [&str; 7] = [
    "$batch",
    "$crossjoin",
    "$all",
    "$entity",
    "$root",
    "$id",
    "$metadata",
];

impl Gateway {
    /// Answers `POST <service>/$batch` whose body has been read.
    pub(super) async fn batch(
        &self,
        parts: &http::request::Parts,
        service: &Service,
        body: Bytes,
    ) -> (Result<Response<Body>, GatewayError>, u64) {
        let mut progress = Progress::default();
        let result = self.run_batch(parts, service, body, &mut progress).await;
        (result, progress.calls)
    }

    async fn run_batch(
        &self,
        parts: &http::request::Parts,
        service: &Service,
        body: Bytes,
        progress: &mut Progress,
    ) -> Result<Response<Body>, GatewayError> {
        let max_version = super::version::check(
            header_str(parts, "odata-version"),
            header_str(parts, "odata-maxversion"),
        )?;
        // Missing or wrong credentials fail the batch itself, with the
        // challenge that makes clients ask for them.
        self.principal(parts).await?;
        let content_type = header_str(parts, "content-type").unwrap_or_default();
        let (format, batch) = match multipart::media_type(content_type).as_str() {
            "multipart/mixed" => {
                let Some(boundary) = multipart::parameter(content_type, "boundary") else {
                    return Err(GatewayError::bad_request(
                        "InvalidBatch",
                        "a multipart batch needs the boundary parameter in its Content-Type",
                        Some("Content-Type"),
                    ));
                };
                (Format::Multipart, multipart::read(&body, &boundary)?)
            }
            "application/json" => (Format::Json, json::read(&body)?),
            _ => {
                return Err(GatewayError::UnsupportedMediaType(format!(
                    "a batch is sent as multipart/mixed (with a boundary) or application/json, not `{content_type}`"
                )))
            }
        };
        let max = self.config.limits.max_batch_requests as usize;
        if batch.len() > max {
            return Err(GatewayError::PayloadTooLarge(format!(
                "this batch holds {} requests; this service answers at most {max} per batch",
                batch.len()
            )));
        }
        let answer_format = response_format(
            header_str(parts, "accept"),
            format,
            max_version >= super::version::ODataVersion::V4_01,
        )?;
        let continue_on_error = continue_on_error(parts);
        // Multipart batches stop at the first failure unless asked not to;
        // JSON batches run every request whose dependencies succeeded.
        let stop_on_error = format == Format::Multipart && continue_on_error != Some(true);

        let root = service.model.root.as_str();
        let window = self.config.limits.batch_parallelism.max(1) as usize;
        let mut outcomes = Vec::with_capacity(batch.items.len());
        // Reads that depend on no other request run up to `window` at a
        // time; their answers are taken in the order sent, and each is
        // judged (budget, failure) when its turn comes, so the outcomes
        // are those of running the batch one request after another.
        let mut running = FuturesOrdered::new();
        let mut stopped = false;
        'items: for item in &batch.items {
            let concurrent = match item {
                Item::Single(entry) if runs_alongside(entry) => Some(entry),
                _ => None,
            };
            while !running.is_empty() && (concurrent.is_none() || running.len() >= window) {
                let Some((entry, answer, calls)) = running.next().await else {
                    break;
                };
                let outcome = self.settle(entry, answer, calls, progress);
                if push_outcome(&mut outcomes, outcome, stop_on_error) {
                    stopped = true;
                    break 'items;
                }
            }
            if let Some(entry) = concurrent {
                let refused = self.over_budget(entry, progress);
                running.push_back(self.run_entry(parts, root, entry, refused));
                continue;
            }
            let outcome = match item {
                Item::Single(entry) => {
                    Outcome::Single(self.answer(parts, root, entry, progress).await)
                }
                Item::ChangeSet { group, entries } => {
                    self.change_set(parts, root, group, entries, progress).await
                }
            };
            record(item, &outcome, progress);
            if push_outcome(&mut outcomes, outcome, stop_on_error) {
                stopped = true;
                break 'items;
            }
        }
        // Stopped at a failure, requests still running are dropped (their
        // upstream calls cancelled) with their answers.
        if !stopped {
            while let Some((entry, answer, calls)) = running.next().await {
                let outcome = self.settle(entry, answer, calls, progress);
                if push_outcome(&mut outcomes, outcome, stop_on_error) {
                    break;
                }
            }
        }
        drop(running);

        let (content_type, bytes) = match answer_format {
            Format::Json => ("application/json".to_string(), json::write(&outcomes)),
            Format::Multipart => {
                let boundary = boundary_for(&outcomes);
                (
                    format!("multipart/mixed; boundary={boundary}"),
                    multipart::write(&outcomes, &boundary),
                )
            }
        };
        let mut response = Response::new(body::full(bytes));
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if answer_format == Format::Json {
            // The JSON batch format is OData 4.01's; the answers inside
            // state their own version.
            response.headers_mut().insert(
                HeaderName::from_static("odata-version"),
                HeaderValue::from_static("4.01"),
            );
        }
        // Honoured: both values in a multipart batch; in a JSON batch, which
        // runs every request either way, only `true`.
        match (continue_on_error, format) {
            (Some(true), _) => {
                response.headers_mut().insert(
                    HeaderName::from_static("preference-applied"),
                    HeaderValue::from_static("odata.continue-on-error"),
                );
            }
            (Some(false), Format::Multipart) => {
                response.headers_mut().insert(
                    HeaderName::from_static("preference-applied"),
                    HeaderValue::from_static("odata.continue-on-error=false"),
                );
            }
            _ => {}
        }
        Ok(response)
    }

    /// A change set: refused as a whole when it holds a data modification
    /// (501) or, being a multipart change set, only reads (400, change
    /// sets are for modifications); otherwise (a JSON atomicity group of
    /// reads) each of its requests answered.
    async fn change_set(
        &self,
        parts: &http::request::Parts,
        root: &str,
        group: &Option<String>,
        entries: &[Entry],
        progress: &mut Progress,
    ) -> Outcome {
        let reads_only = entries.iter().all(Entry::is_read);
        let refusal = if !reads_only {
            Some(GatewayError::not_implemented(
                WRITES_NOT_SUPPORTED,
                None::<String>,
            ))
        } else if group.is_none() && !entries.is_empty() {
            Some(GatewayError::bad_request(
                "InvalidBatch",
                "a change set holds data modifications; send reads outside change sets",
                Some("$batch"),
            ))
        } else {
            None
        };
        if let Some(e) = refusal {
            let mut answer = error_answer(None, &e);
            answer.group = group.clone();
            return Outcome::ChangeSetFailed {
                answer,
                members: entries.iter().map(|e| e.id.clone()).collect(),
            };
        }
        let mut answers = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut answer = self.answer(parts, root, entry, progress).await;
            answer.group = group.clone();
            answers.push(answer);
        }
        Outcome::ChangeSet(answers)
    }

    /// Runs one request of the batch, unless what it depends on failed or
    /// the batch's answers are over budget.
    async fn answer(
        &self,
        outer: &http::request::Parts,
        root: &str,
        entry: &Entry,
        progress: &mut Progress,
    ) -> Answer {
        if entry.condition {
            return error_answer(
                entry.id.clone(),
                &GatewayError::not_implemented(
                    "conditions (`if`) on batch requests are not supported by this service; use dependsOn",
                    Some("if"),
                ),
            );
        }
        if let Some(failed) = entry
            .depends_on
            .iter()
            .find(|d| progress.succeeded.get(*d) != Some(&true))
        {
            return error_answer(
                entry.id.clone(),
                &GatewayError::FailedDependency(format!(
                    "not run: request or atomicity group `{failed}`, which it depends on, failed"
                )),
            );
        }
        if let Some(refused) = self.over_budget(entry, progress) {
            return refused;
        }
        let (_, answer, calls) = self.run_entry(outer, root, entry, None).await;
        progress.calls += calls;
        progress.held += answer.body.len();
        answer
    }

    /// A request run alongside others, judged in its turn as
    /// [`Gateway::answer`] judges one run in order: refused if the answers
    /// before it are over budget by now (its own answer dropped), and
    /// recorded for the requests that depend on it.
    fn settle(
        &self,
        entry: &Entry,
        answer: Answer,
        calls: u64,
        progress: &mut Progress,
    ) -> Outcome {
        progress.calls += calls;
        let answer = match self.over_budget(entry, progress) {
            Some(refused) => refused,
            None => {
                progress.held += answer.body.len();
                answer
            }
        };
        record_answer(entry, &answer, progress);
        Outcome::Single(answer)
    }

    /// The 413 for a request whose turn comes after the batch's answers
    /// have reached `limits.max_batch_answer_bytes`.
    fn over_budget(&self, entry: &Entry, progress: &Progress) -> Option<Answer> {
        let budget = self.config.limits.max_batch_answer_bytes;
        (progress.held >= budget).then(|| {
            error_answer(
                entry.id.clone(),
                &GatewayError::PayloadTooLarge(format!(
                    "not run: the answers to this batch's earlier requests already hold {} bytes, \
                     as many as one batch answer holds ({budget}); send it in another batch",
                    progress.held
                )),
            )
        })
    }

    /// Runs one request of the batch through the gateway's own handler
    /// (or answers it with `refused`), with the upstream calls it made.
    async fn run_entry<'e>(
        &self,
        outer: &http::request::Parts,
        root: &str,
        entry: &'e Entry,
        refused: Option<Answer>,
    ) -> (&'e Entry, Answer, u64) {
        if let Some(answer) = refused {
            return (entry, answer, 0);
        }
        let request = match inner_request(outer, root, entry) {
            Ok(r) => r,
            Err(e) => return (entry, error_answer(entry.id.clone(), &e), 0),
        };
        // `POST .../$query` is answered as the read it stands for, as it
        // is outside a batch.
        let request = match super::query_in_body::resource_of(request.uri.path()) {
            Some(resource) if request.method == Method::POST => {
                match super::query_in_body::as_get(&request, resource, &entry.body) {
                    Ok(get) => get,
                    Err(e) => return (entry, error_answer(entry.id.clone(), &e), 0),
                }
            }
            _ => request,
        };
        let start = std::time::Instant::now();
        let (response, stats) = self.handle_parts(&request).await;
        // The same line a request outside a batch gets (src/server/serve.rs),
        // marked as part of one.
        tracing::info!(
            method = %request.method,
            path = %request.uri.path(),
            status = response.status().as_u16(),
            upstream_calls = stats.upstream_calls,
            ms = format!("{:.1}", super::response::elapsed_ms(start)),
            "request in batch"
        );
        let (head, body) = response.into_parts();
        let answer = match body.collect().await {
            Ok(collected) => Answer {
                id: entry.id.clone(),
                group: None,
                status: head.status,
                headers: answer_headers(&head.headers),
                body: collected.to_bytes(),
            },
            // The answer failed after its head was made (ZeyOS broke off
            // mid-page): the request failed, not the batch.
            Err(e) => error_answer(
                entry.id.clone(),
                &GatewayError::Upstream(UpstreamError::InvalidResponse(e.to_string())),
            ),
        };
        (entry, answer, stats.upstream_calls)
    }
}

/// Whether a request of the batch may run alongside others: a read (which
/// changes nothing another request sees) that waits on no other request
/// and carries no condition.
fn runs_alongside(entry: &Entry) -> bool {
    entry.is_read() && entry.depends_on.is_empty() && !entry.condition
}

/// Records what later requests may depend on: whether each request id and
/// atomicity group of `item` succeeded.
fn record(item: &Item, outcome: &Outcome, progress: &mut Progress) {
    match item {
        Item::Single(entry) => {
            if let Outcome::Single(answer) = outcome {
                record_answer(entry, answer, progress);
            }
        }
        Item::ChangeSet { group, entries } => {
            let ok = !outcome.failed();
            for id in entries.iter().filter_map(|e| e.id.clone()) {
                progress.succeeded.entry(id).or_insert(ok);
            }
            if let Some(g) = group {
                progress.succeeded.insert(g.clone(), ok);
            }
        }
    }
}

/// Records whether a single request succeeded, under its id.
fn record_answer(entry: &Entry, answer: &Answer, progress: &mut Progress) {
    if let Some(id) = &entry.id {
        progress.succeeded.insert(id.clone(), answer.succeeded());
    }
}

/// Adds an item's outcome to the answer; whether the batch stops there.
fn push_outcome(outcomes: &mut Vec<Outcome>, outcome: Outcome, stop_on_error: bool) -> bool {
    let failed = outcome.failed();
    outcomes.push(outcome);
    failed && stop_on_error
}

/// The request a batch entry stands for: its URL resolved against the
/// service root, its headers plus those it inherits from the batch. A URL
/// whose path lies outside the service root is another service's, and a
/// 404 here: the batch was sent to this service.
fn inner_request(
    outer: &http::request::Parts,
    root: &str,
    entry: &Entry,
) -> Result<http::request::Parts, GatewayError> {
    let invalid =
        |message: String| GatewayError::bad_request("InvalidBatch", message, Some("$batch"));
    if let Some(refusal) = &entry.refusal {
        return Err(invalid(refusal.clone()));
    }
    let method = Method::from_bytes(entry.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| invalid(format!("`{}` is not an HTTP method", entry.method)))?;
    let url = entry.url.as_str();
    let target = if url.starts_with("http://") || url.starts_with("https://") {
        let uri: http::Uri = url.parse().map_err(|_| invalid(not_a_url(url)))?;
        uri.path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
    } else if url.starts_with('/') {
        url.to_string()
    } else {
        let first = url.split(['/', '?', '(']).next().unwrap_or_default();
        if first.starts_with('$') && !SYSTEM_RESOURCES.contains(&first) {
            return Err(GatewayError::not_implemented(
                format!("`{first}` refers to the result of another request of the batch, which this service does not support; send the URL itself"),
                Some(first.to_string()),
            ));
        }
        format!("{root}{url}")
    };
    let resource = target.split('?').next().unwrap_or_default();
    // A batch is its service's: another service's requests go to that
    // service's `$batch`, as they would be answered with its model.
    if !resource.starts_with(root) && resource != root.trim_end_matches('/') {
        return Err(GatewayError::not_found(
            format!(
                "`{url}` is not a resource of this batch's service, whose root is {root}; \
                 send it in a batch to its own service"
            ),
            Some(resource.to_string()),
        ));
    }
    if resource
        .strip_prefix(root)
        .is_some_and(super::gateway::is_batch)
    {
        return Err(invalid(
            "a request in a batch cannot itself be a batch".to_string(),
        ));
    }
    let uri: http::Uri = target.parse().map_err(|_| invalid(not_a_url(url)))?;
    let (mut request, ()) = http::Request::new(()).into_parts();
    request.method = method;
    request.uri = uri;
    if let Some(local) = outer.extensions.get::<super::serve::LocalAddr>() {
        request.extensions.insert(*local);
    }
    let headers = &mut request.headers;
    for (name, value) in &entry.headers {
        if DROPPED.contains(&name.as_str()) {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
        headers.append(name, value);
    }
    inherit::inherit(&outer.headers, headers);
    if let Some(v) = outer.headers.get(header::AUTHORIZATION) {
        headers.insert(header::AUTHORIZATION, v.clone());
    }
    Ok(request)
}

/// Why a URL does not parse, naming the usual cause.
fn not_a_url(url: &str) -> String {
    if url.contains(char::is_whitespace) {
        format!("`{url}` is not a valid URL: a URL holds no spaces; percent-encode them as %20")
    } else {
        format!("`{url}` is not a valid URL")
    }
}

/// The answer for an error, as its response would be outside a batch.
fn error_answer(id: Option<String>, e: &GatewayError) -> Answer {
    let response = error_response(e);
    let body = e.to_json().to_string();
    Answer {
        id,
        group: None,
        status: response.status(),
        headers: answer_headers(response.headers()),
        body: Bytes::from(body),
    }
}

/// A response's headers as a batch answer carries them: without framing,
/// which the batch format does (each part states its own length).
fn answer_headers(headers: &http::HeaderMap) -> Vec<(HeaderName, String)> {
    headers
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_LENGTH && *name != header::TRANSFER_ENCODING)
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.clone(), v.to_string())))
        .collect()
}

fn header_str<'p>(parts: &'p http::request::Parts, name: &str) -> Option<&'p str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The format of the answer: the one `Accept` names if it names only one
/// of the two, otherwise the request's (protocol 11.7.1).
///
/// The JSON format is OData 4.01's, and a service answers in the greatest
/// version the client's `OData-MaxVersion` allows (protocol 8.2.7): a 4.0
/// client (`json_readable` false) is answered in the multipart format
/// even for a JSON batch, or with a 406 if its `Accept` rules that out,
/// as `$metadata` in CSDL JSON is.
fn response_format(
    accept: Option<&str>,
    request: Format,
    json_readable: bool,
) -> Result<Format, GatewayError> {
    let request = if json_readable {
        request
    } else {
        Format::Multipart
    };
    let Some(accept) = accept else {
        return Ok(request);
    };
    let json = negotiate::accepts(accept, "application", "json");
    match (
        negotiate::accepts(accept, "multipart", "mixed"),
        json && json_readable,
    ) {
        (true, true) => Ok(request),
        (true, false) => Ok(Format::Multipart),
        (false, true) => Ok(Format::Json),
        (false, false) if json => Err(GatewayError::NotAcceptable(
            "the JSON batch format is OData 4.01's and the request accepts an older \
             OData-MaxVersion; accept multipart/mixed for the OData 4.0 format"
                .into(),
        )),
        (false, false) => Err(GatewayError::NotAcceptable(
            "a batch is answered as multipart/mixed or application/json".into(),
        )),
    }
}

/// The `continue-on-error` preference of the batch, if stated.
fn continue_on_error(parts: &http::request::Parts) -> Option<bool> {
    parts
        .headers
        .get_all(HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| odata_syntax::parse_prefer(v).ok())
        .flatten()
        .find_map(|p| match p {
            odata_syntax::Preference::ContinueOnError(v) => Some(v.unwrap_or(true)),
            _ => None,
        })
}

/// A boundary for the answer that none of its bodies contains.
fn boundary_for(outcomes: &[Outcome]) -> String {
    loop {
        let mut random = [0u8; 16];
        // Without randomness, a counter-free fallback that is still
        // checked against the bodies below.
        if getrandom::fill(&mut random).is_err() {
            random = *b"batchresponse000";
        }
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let boundary = format!("batchresponse_{hex}");
        if multipart::fits(outcomes, &boundary) {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_format_follows_accept_then_the_request() {
        use Format::*;
        for (accept, request, want) in [
            (None, Json, Some(Json)),
            (Some("multipart/mixed"), Json, Some(Multipart)),
            (
                Some("application/json;q=0.9, multipart/mixed;q=0"),
                Multipart,
                Some(Json),
            ),
            (Some("*/*"), Multipart, Some(Multipart)),
            (Some("application/*"), Multipart, Some(Json)),
            (Some("text/html"), Json, None),
        ] {
            assert_eq!(
                response_format(accept, request, true).ok(),
                want,
                "{accept:?}"
            );
        }
    }

    #[test]
    fn clients_of_odata_4_0_get_the_multipart_format_or_406() {
        use Format::*;
        for (accept, request, want) in [
            (None, Json, Some(Multipart)),
            (None, Multipart, Some(Multipart)),
            (Some("*/*"), Json, Some(Multipart)),
            (
                Some("multipart/mixed, application/json"),
                Json,
                Some(Multipart),
            ),
            (Some("application/json"), Json, None),
            (Some("application/json"), Multipart, None),
        ] {
            assert_eq!(
                response_format(accept, request, false).ok(),
                want,
                "{accept:?}"
            );
        }
    }

    #[test]
    fn urls_resolve_against_the_service_root() {
        let (outer, _) = http::Request::builder()
            .header("authorization", "Basic eDp5")
            .header("host", "gw:8080")
            .header("odata-maxversion", "4.01")
            .body(())
            .map(|r| r.into_parts())
            .unwrap_or_else(|e| panic!("{e}"));
        let entry = |url: &str, headers: Vec<(String, String)>| Entry {
            id: None,
            method: "get".into(),
            url: url.into(),
            headers,
            depends_on: Vec::new(),
            condition: false,
            refusal: None,
            body: Bytes::new(),
        };
        for (url, want) in [
            ("Accounts?$top=2", "/odata/Accounts?$top=2"),
            ("/odata/Accounts(1)", "/odata/Accounts(1)"),
            ("http://elsewhere/odata/$metadata", "/odata/$metadata"),
            ("$metadata", "/odata/$metadata"),
        ] {
            let r = inner_request(&outer.clone(), "/odata/", &entry(url, Vec::new()))
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(r.uri.to_string(), want);
            assert_eq!(r.method, Method::GET);
        }
        let own = vec![
            ("authorization".to_string(), "Bearer other".to_string()),
            ("odata-maxversion".to_string(), "4.0".to_string()),
        ];
        let r = inner_request(&outer, "/odata/", &entry("Accounts", own))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.headers["authorization"], "Basic eDp5");
        assert_eq!(r.headers["odata-maxversion"], "4.0");
        assert_eq!(r.headers["host"], "gw:8080");
        for url in [
            "$1/Orders",
            "$batch",
            "/odata/%24batch",
            "Accounts with space",
        ] {
            assert!(
                inner_request(&outer, "/odata/", &entry(url, Vec::new())).is_err(),
                "{url}"
            );
        }
        let refused = Entry {
            refusal: Some("the request line is not one".into()),
            ..entry("Accounts", Vec::new())
        };
        match inner_request(&outer, "/odata/", &refused) {
            Err(e) => assert_eq!(e.status(), StatusCode::BAD_REQUEST),
            Ok(r) => panic!("run as {}", r.uri),
        }
    }

    #[test]
    fn urls_of_other_services_are_not_found() {
        let (outer, _) = http::Request::new(()).into_parts();
        for url in [
            "/v1/Companies?$top=1",
            "http://gw/v1/Companies",
            "/odataX/Accounts",
            "/",
        ] {
            let entry = Entry {
                id: None,
                method: "GET".into(),
                url: url.into(),
                headers: Vec::new(),
                depends_on: Vec::new(),
                condition: false,
                refusal: None,
                body: Bytes::new(),
            };
            match inner_request(&outer, "/odata/", &entry) {
                Err(e) => {
                    assert_eq!(e.status(), StatusCode::NOT_FOUND, "{url}");
                    assert!(e.to_string().contains("/odata/"), "{url}: {e}");
                }
                Ok(r) => panic!("{url} run as {}", r.uri),
            }
        }
    }
}
