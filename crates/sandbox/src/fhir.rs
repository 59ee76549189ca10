//! The FHIR R4 REST API of a data store, at `/datastore/{id}/r4/` on the sandbox's one endpoint, over the same
//! `resources` table that import jobs fill and export jobs read: read (`GET /{Type}/{id}`, and
//! `/{Type}/{id}/_history/{vid}` for the current version), create (`POST /{Type}`, server-assigned id), update or
//! create (`PUT /{Type}/{id}`), delete (`DELETE /{Type}/{id}`), and search (`GET
//! /{Type}?identifier=s|v&subject=Patient/1&_count=N`, paged by `next` links that hold their place by id). Every request is SigV4-checked like the JSON services (signing name
//! `healthlake`); bodies are judged by `lakedrop_validate::check_line`, so the REST API accepts exactly what an
//! import would. Answers are `application/fhir+json`, errors `OperationOutcome`s.
//!
//! Deliberately not here: version history (an update replaces the resource; a delete removes it, so a later
//! create starts again at version 1), conditional interactions and `If-Match`, search parameters other than
//! `_id`, `identifier`, `subject` and `patient` with `_count` (others are refused, not ignored, so a client
//! never mistakes an unfiltered result for a filtered one; `page` is the sandbox's own cursor in `next` links),
//! modifiers and chains, `_include`, transactions and batches, `$export`, the
//! capability statement, and SMART on FHIR. Logs carry data store ids, resource types and statuses, never
//! resource ids or contents.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use lakedrop_core::output::operation_outcome;
use lakedrop_validate::{Options, Severity, check_line};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use crate::healthlake::HealthLake;
use crate::identity::Identities;
use crate::protocol::epoch_seconds;
use crate::sigv4::verify;

/// The sandbox's bound on a request body; the real service's limit is not documented here.
const MAX_BODY: usize = 5 * 1024 * 1024;
/// `_count` when the request names none, and the most one page returns.
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 100;
const FHIR_JSON: &str = "application/fhir+json";

/// Whether a request is for the FHIR REST API: a path `/datastore/{id}/r4[/...]` not signed for S3. The check on
/// the signature keeps an S3 bucket that happens to be named `datastore` reachable in path style.
pub(crate) fn is_fhir_request<B>(request: &Request<B>) -> bool {
    let mut segments = request.uri().path().split('/').skip(1);
    let shaped = segments.next() == Some("datastore")
        && segments.next().is_some_and(|id| !id.is_empty())
        && segments.next() == Some("r4");
    let signed_for_s3 = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("/s3/aws4_request"))
        || request.uri().query().is_some_and(|q| q.contains("%2Fs3%2Faws4_request"));
    shaped && !signed_for_s3
}

/// Serves one FHIR REST request: signature, data store, then the interaction.
pub(crate) async fn serve(
    healthlake: &Arc<HealthLake>,
    identities: &Identities,
    request: Request<Incoming>,
) -> Response<Bytes> {
    let now = SystemTime::now();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Answer::outcome(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-costly",
                "The request body is too large or could not be read",
            )
            .into_response();
        }
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if let Err(e) = verify(
        identities,
        "healthlake",
        Some(healthlake.region()),
        parts.method.as_str(),
        path_and_query,
        &parts.headers,
        &body,
        now,
    ) {
        let e = e.json();
        tracing::info!(error = e.type_name, "FHIR request refused");
        return Answer::outcome(e.status, "security", &e.message).into_response();
    }
    let Some(call) = Call::parse(&parts.method, parts.uri.path(), parts.uri.query()) else {
        return Answer::outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            "The sandbox's FHIR API has no such path",
        )
        .into_response();
    };
    let host = parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let base = format!("http://{host}/datastore/{}/r4/", call.datastore_id);
    let self_url = format!("http://{host}{path_and_query}");
    let method = parts.method.clone();
    let hl = healthlake.clone();
    // Each interaction is one or two short statements on the shared connection; off the reactor all the same.
    let answer = tokio::task::spawn_blocking(move || call.run(&hl, &body, &base, &self_url, now))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "FHIR handler failed");
            Answer::outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", "Internal error")
        });
    tracing::debug!(%method, status = answer.status.as_u16(), "FHIR request");
    answer.into_response()
}

/// A stored resource as a read returns it: the body with `meta.versionId` and `meta.lastUpdated` set. `None` if
/// the body is not a JSON object (nothing the sandbox stores, since every body passed `check_line`).
pub(crate) fn with_meta(body: &str, version: i64, last_updated: f64) -> Option<Value> {
    let mut resource: Value = serde_json::from_str(body).ok()?;
    let object = resource.as_object_mut()?;
    let meta = object.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta["versionId"] = json!(version.to_string());
    meta["lastUpdated"] = json!(instant(last_updated));
    Some(resource)
}

/// A FHIR `instant` (UTC, milliseconds) from epoch seconds.
fn instant(epoch: f64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos((epoch * 1e9) as i128)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

enum Interaction {
    Read { id: String, version: Option<String> },
    Create,
    Update { id: String },
    Delete { id: String },
    Search { query: Option<String> },
}

struct Call {
    datastore_id: String,
    resource_type: String,
    interaction: Interaction,
}

impl Call {
    /// Maps method and path (after `/datastore/{id}/r4/`) to an interaction; `None` for anything else.
    fn parse(method: &Method, path: &str, query: Option<&str>) -> Option<Call> {
        let rest = path.strip_prefix("/datastore/")?;
        let (datastore_id, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("r4")?.trim_matches('/');
        let segments: Vec<&str> = rest.split('/').collect();
        let resource_type = (*segments.first()?).to_string();
        if !is_type_name(&resource_type) {
            return None;
        }
        let interaction = match (method, &segments[1..]) {
            (&Method::GET, []) => Interaction::Search { query: query.map(str::to_string) },
            (&Method::POST, []) => Interaction::Create,
            (&Method::GET, [id]) => Interaction::Read { id: id.to_string(), version: None },
            (&Method::GET, [id, "_history", v]) => {
                Interaction::Read { id: id.to_string(), version: Some(v.to_string()) }
            }
            (&Method::PUT, [id]) => Interaction::Update { id: id.to_string() },
            (&Method::DELETE, [id]) => Interaction::Delete { id: id.to_string() },
            _ => return None,
        };
        Some(Call { datastore_id: datastore_id.to_string(), resource_type, interaction })
    }

    fn run(
        self,
        healthlake: &HealthLake,
        body: &[u8],
        base: &str,
        self_url: &str,
        now: SystemTime,
    ) -> Answer {
        match self.try_run(healthlake, body, base, self_url, now) {
            Ok(answer) | Err(answer) => answer,
        }
    }

    fn try_run(
        self,
        healthlake: &HealthLake,
        body: &[u8],
        base: &str,
        self_url: &str,
        now: SystemTime,
    ) -> Result<Answer, Answer> {
        healthlake.settle_datastores(now).map_err(|e| Answer::internal(e.message))?;
        let datastore = healthlake.datastore(&self.datastore_id).map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                Answer::outcome(StatusCode::NOT_FOUND, "not-found", &e.message)
            } else {
                Answer::internal(e.message)
            }
        })?;
        // Only an ACTIVE store serves FHIR; one still CREATING or being deleted has no endpoint yet or any more.
        if datastore.status != "ACTIVE" {
            return Err(Answer::outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("Data store {} is {}", datastore.id, datastore.status),
            ));
        }
        let store = Resources { healthlake, datastore_id: &datastore.id, resource_type: &self.resource_type };
        match self.interaction {
            Interaction::Read { id, version } => store.read(&id, version.as_deref()),
            Interaction::Create => store.create(body, base, now),
            Interaction::Update { id } => store.update(&id, body, base, now),
            Interaction::Delete { id } => store.delete(&id),
            Interaction::Search { query } => store.search(query.as_deref(), base, self_url),
        }
    }
}

/// One data store's resources of one type.
struct Resources<'a> {
    healthlake: &'a HealthLake,
    datastore_id: &'a str,
    resource_type: &'a str,
}

impl Resources<'_> {
    fn read(&self, id: &str, version: Option<&str>) -> Result<Answer, Answer> {
        let row: Option<(i64, f64, String)> = self
            .healthlake
            .db()
            .conn()
            .query_row(
                "SELECT version, last_updated, body FROM resources
                 WHERE datastore_id = ?1 AND resource_type = ?2 AND id = ?3",
                params![self.datastore_id, self.resource_type, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(Answer::internal)?;
        let rt = self.resource_type;
        let Some((current, last_updated, body)) = row else {
            return Err(Answer::outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("{rt}/{id} is not known"),
            ));
        };
        // Only the current version is kept, so a version read of any other is "not found".
        if version.is_some_and(|v| v != current.to_string()) {
            return Err(Answer::outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("{rt}/{id} has no such version; the sandbox keeps only the current one"),
            ));
        }
        Answer::resource(StatusCode::OK, &body, current, last_updated)
    }

    fn create(&self, body: &[u8], base: &str, now: SystemTime) -> Result<Answer, Answer> {
        // The server assigns the id (any id in the body is replaced, as FHIR's create prescribes), so the body is
        // re-serialized before it is judged: `check_line` requires an id.
        let body = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(mut object)) => {
                object.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
                serde_json::to_vec(&object).map_err(|e| Answer::internal(e.to_string()))?
            }
            _ => body.to_vec(),
        };
        let (id, text) = self.judge(&body, None)?;
        let t = epoch_seconds(now);
        self.healthlake
            .db()
            .conn()
            .execute(
                "INSERT INTO resources (datastore_id, resource_type, id, version, last_updated, body)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)",
                params![self.datastore_id, self.resource_type, id, t, text],
            )
            .map_err(Answer::internal)?;
        tracing::debug!(datastore_id = self.datastore_id, resource_type = self.resource_type, "FHIR create");
        Answer::resource(StatusCode::CREATED, text, 1, t).map(|a| a.located(base, self.resource_type, &id, 1))
    }

    fn update(&self, id: &str, body: &[u8], base: &str, now: SystemTime) -> Result<Answer, Answer> {
        let (_, text) = self.judge(body, Some(id))?;
        let t = epoch_seconds(now);
        // One statement, so the version is read and bumped atomically and the lock is held for just this.
        let version: i64 = self
            .healthlake
            .db()
            .conn()
            .query_row(
                "INSERT INTO resources (datastore_id, resource_type, id, version, last_updated, body)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)
                 ON CONFLICT (datastore_id, resource_type, id)
                 DO UPDATE SET version = version + 1, last_updated = excluded.last_updated, body = excluded.body
                 RETURNING version",
                params![self.datastore_id, self.resource_type, id, t, text],
                |r| r.get(0),
            )
            .map_err(Answer::internal)?;
        tracing::debug!(datastore_id = self.datastore_id, resource_type = self.resource_type, "FHIR update");
        if version == 1 {
            Answer::resource(StatusCode::CREATED, text, 1, t)
                .map(|a| a.located(base, self.resource_type, id, 1))
        } else {
            Answer::resource(StatusCode::OK, text, version, t)
        }
    }

    fn delete(&self, id: &str) -> Result<Answer, Answer> {
        // Deleting what is not there succeeds too: FHIR allows 204 for an absent resource, and it makes a retried
        // delete harmless.
        self.healthlake
            .db()
            .conn()
            .execute(
                "DELETE FROM resources WHERE datastore_id = ?1 AND resource_type = ?2 AND id = ?3",
                params![self.datastore_id, self.resource_type, id],
            )
            .map_err(Answer::internal)?;
        tracing::debug!(datastore_id = self.datastore_id, resource_type = self.resource_type, "FHIR delete");
        Ok(Answer { status: StatusCode::NO_CONTENT, body: None, location: None, version: None })
    }

    fn search(&self, query: Option<&str>, base: &str, self_url: &str) -> Result<Answer, Answer> {
        let mut filters: Vec<Filter> = Vec::new();
        let mut ids: Option<Vec<String>> = None;
        let mut count = DEFAULT_COUNT;
        let mut after: Option<String> = None;
        let mut kept: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            match name.as_str() {
                "_id" => ids
                    .get_or_insert_default()
                    .extend(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)),
                "_count" => {
                    count = value.parse::<usize>().map(|n| n.min(MAX_COUNT)).map_err(|_| {
                        Answer::outcome(StatusCode::BAD_REQUEST, "invalid", "_count must be a whole number")
                    })?;
                }
                "page" => {
                    after = Some(value);
                    continue;
                }
                "identifier" => filters.push(Filter::identifier(&value)),
                "subject" => filters.push(Filter::reference(&["subject"], None, &value)),
                "patient" => {
                    filters.push(Filter::reference(&["subject", "patient"], Some("Patient"), &value))
                }
                other => {
                    return Err(Answer::outcome(
                        StatusCode::BAD_REQUEST,
                        "not-supported",
                        &format!("The sandbox supports only {SEARCH_PARAMETERS} in searches, not {other}"),
                    ));
                }
            }
            kept.push((name, value));
        }
        if let Some(ids) = ids {
            filters.push(Filter::Ids(ids));
        }
        let (total, rows, more) =
            self.matches(&filters, after.as_deref(), count).map_err(Answer::internal)?;
        let mut links = vec![json!({"relation": "self", "url": self_url})];
        if more && let Some(last) = rows.last() {
            let mut next = form_urlencoded::Serializer::new(String::new());
            next.extend_pairs(kept.iter()).append_pair("page", &last.id);
            links.push(
                json!({"relation": "next", "url": format!("{base}{}?{}", self.resource_type, next.finish())}),
            );
        }
        let entries: Vec<Value> = rows
            .into_iter()
            .filter_map(|row| {
                let resource = with_meta(&row.body, row.version, row.last_updated)?;
                Some(json!({"fullUrl": format!("{base}{}/{}", self.resource_type, row.id), "resource": resource,
                            "search": {"mode": "match"}}))
            })
            .collect();
        let bundle = json!({
            "resourceType": "Bundle", "id": uuid::Uuid::new_v4().to_string(), "type": "searchset",
            "total": total, "link": links, "entry": entries,
        });
        tracing::debug!(
            datastore_id = self.datastore_id,
            resource_type = self.resource_type,
            total,
            "FHIR search"
        );
        Ok(Answer { status: StatusCode::OK, body: Some(bundle), location: None, version: None })
    }

    /// The number of matches, the first `count` of them after the id `after` (ordered by id, so a page boundary
    /// stays put while resources are added), and whether more follow.
    fn matches(
        &self,
        filters: &[Filter],
        after: Option<&str>,
        count: usize,
    ) -> rusqlite::Result<(usize, Vec<Row>, bool)> {
        let conn = self.healthlake.db().conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, version, last_updated, body FROM resources
             WHERE datastore_id = ?1 AND resource_type = ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![self.datastore_id, self.resource_type])?;
        let (mut total, mut page, mut more) = (0usize, Vec::new(), false);
        while let Some(r) = rows.next()? {
            let row = Row { id: r.get(0)?, version: r.get(1)?, last_updated: r.get(2)?, body: r.get(3)? };
            if !filters.is_empty() {
                let Ok(resource) = serde_json::from_str::<Value>(&row.body) else { continue };
                if !filters.iter().all(|f| f.matches(&row.id, &resource)) {
                    continue;
                }
            }
            total += 1;
            if after.is_some_and(|after| row.id.as_str() <= after) {
                continue;
            }
            if page.len() < count {
                page.push(row);
            } else {
                more = true;
            }
        }
        Ok((total, page, more))
    }

    /// Judges a body as an import would, and checks it names this type (and `id`, when given). Returns the id
    /// and the body as text.
    fn judge<'b>(&self, body: &'b [u8], id: Option<&str>) -> Result<(String, &'b str), Answer> {
        // Structure-only, Lakedrop's default level: Synthea's US Core `meta.profile` claims would fail `strict`.
        let verdict = check_line(1, body, &Options::default());
        if verdict.rejected {
            let issues: Vec<Value> = verdict
                .issues
                .iter()
                .map(|i| {
                    let severity = if i.severity == Severity::Error { "error" } else { "warning" };
                    let mut issue =
                        json!({"severity": severity, "code": "processing", "diagnostics": i.message});
                    if let Some(path) = &i.path {
                        issue["location"] = json!([path]);
                    }
                    issue
                })
                .collect();
            return Err(Answer {
                status: StatusCode::BAD_REQUEST,
                body: Some(json!({"resourceType": "OperationOutcome", "issue": issues})),
                location: None,
                version: None,
            });
        }
        let invalid = |message: String| Answer::outcome(StatusCode::BAD_REQUEST, "invalid", &message);
        let (Some(rt), Some(body_id)) = (verdict.resource_type, verdict.id) else {
            return Err(invalid("The body must be a resource with a resourceType and an id".into()));
        };
        if rt != self.resource_type {
            return Err(invalid(format!("The body is a {rt}, but the URL names {}", self.resource_type)));
        }
        if id.is_some_and(|id| id != body_id) {
            return Err(invalid("The id in the body must equal the id in the URL".into()));
        }
        let text = std::str::from_utf8(body).map_err(|_| invalid("The body is not UTF-8".into()))?;
        Ok((body_id, text))
    }
}

/// The search parameters the sandbox understands, as its refusal of others lists them.
const SEARCH_PARAMETERS: &str = "_id, identifier, subject, patient, _count and page";

/// One search parameter's test.
enum Filter {
    Ids(Vec<String>),
    /// `identifier=[system|]value`: `system` is `Some("")` for `|value` (an identifier without a system).
    Identifier {
        system: Option<String>,
        value: String,
    },
    /// A reference parameter over these elements, to `Type/id` (or, given a bare id, any type's `id`).
    Reference {
        elements: &'static [&'static str],
        target: String,
    },
}

impl Filter {
    fn identifier(value: &str) -> Filter {
        match value.split_once('|') {
            Some((system, value)) => Filter::Identifier { system: Some(system.into()), value: value.into() },
            None => Filter::Identifier { system: None, value: value.into() },
        }
    }

    fn reference(elements: &'static [&'static str], implied_type: Option<&str>, value: &str) -> Filter {
        // A full URL names the same resource as its last two segments.
        let segments: Vec<&str> = value.trim_end_matches('/').rsplit('/').take(2).collect();
        let target = match (segments.as_slice(), implied_type) {
            ([id, rt], _) => format!("{rt}/{id}"),
            ([id], Some(rt)) => format!("{rt}/{id}"),
            _ => value.to_string(),
        };
        Filter::Reference { elements, target }
    }

    fn matches(&self, id: &str, resource: &Value) -> bool {
        match self {
            Filter::Ids(ids) => ids.iter().any(|i| i == id),
            Filter::Identifier { system, value } => resource["identifier"].as_array().is_some_and(|list| {
                list.iter().any(|i| {
                    i["value"].as_str() == Some(value.as_str())
                        && match system.as_deref() {
                            None => true,
                            Some("") => i.get("system").is_none(),
                            Some(s) => i["system"].as_str() == Some(s),
                        }
                })
            }),
            Filter::Reference { elements, target } => elements.iter().any(|e| {
                resource[*e]["reference"].as_str().is_some_and(|r| {
                    r == target
                        || r.ends_with(&format!("/{target}"))
                        || (!target.contains('/') && r.rsplit('/').next() == Some(target.as_str()))
                })
            }),
        }
    }
}

/// A stored resource, as a search reads it.
struct Row {
    id: String,
    version: i64,
    last_updated: f64,
    body: String,
}

/// A FHIR resource type name as HealthLake accepts one: letters only, starting upper-case.
fn is_type_name(s: &str) -> bool {
    s.len() <= 256
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphabetic())
}

/// A response before it is serialized.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
    location: Option<String>,
    /// For the `ETag` header.
    version: Option<i64>,
}

impl Answer {
    fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Answer {
        Answer {
            status,
            body: Some(operation_outcome("error", code, diagnostics, None)),
            location: None,
            version: None,
        }
    }

    fn internal(e: impl std::fmt::Display) -> Answer {
        tracing::error!(error = %e, "FHIR request failed in the sandbox");
        Answer::outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", "Internal error; see the sandbox log")
    }

    fn resource(status: StatusCode, body: &str, version: i64, last_updated: f64) -> Result<Answer, Answer> {
        let resource = with_meta(body, version, last_updated)
            .ok_or_else(|| Answer::internal("a stored resource is not a JSON object"))?;
        Ok(Answer { status, body: Some(resource), location: None, version: Some(version) })
    }

    /// Adds the `Location` FHIR gives a created resource: `[base]/[type]/[id]/_history/[vid]`.
    fn located(mut self, base: &str, resource_type: &str, id: &str, version: i64) -> Answer {
        self.location = Some(format!("{base}{resource_type}/{id}/_history/{version}"));
        self
    }

    fn into_response(self) -> Response<Bytes> {
        let bytes = self.body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let has_body = !bytes.is_empty();
        let mut response = Response::new(bytes);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if has_body {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(http::header::LOCATION, location);
        }
        if let Some(etag) = self.version.and_then(|v| HeaderValue::from_str(&format!("W/\"{v}\"")).ok()) {
            headers.insert(http::header::ETAG, etag);
        }
        response
    }
}
