//! The HTTP layer: the route table (which builds the router and which the
//! OpenAPI test walks), authentication, the body limit, JSON errors, and
//! the handlers, which call [`ControlPlane`] (on a blocking thread when the
//! operation waits for the runtime).

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use ferrocap_dataplane::log::Level;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::{level_json, ControlError, ControlPlane, DumpRequest, DumpSource, Rotation};
use crate::{dumps, metrics, web, BODY_LIMIT, OPENAPI_JSON};

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::BadRequest(_) | ControlError::Expression { .. } => {
                StatusCode::BAD_REQUEST
            }
            ControlError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = match &self {
            ControlError::Expression {
                line,
                char,
                message,
            } => json!({"error": {"message": message, "line": line, "char": char}}),
            other => json!({"error": {"message": other.to_string()}}),
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

type ApiResult = Result<Response, ControlError>;

/// A JSON request body: read within [`BODY_LIMIT`] (413 beyond), parsed
/// whatever the `Content-Type` (so `curl -d` works), unknown fields and
/// malformed JSON are 400.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ControlError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ControlError::TooLarge(format!(
                    "the request body is larger than {BODY_LIMIT} bytes"
                ))
            } else {
                ControlError::BadRequest(format!("cannot read the request body: {}", e.body_text()))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ControlError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

fn path_name(p: Result<Path<String>, PathRejection>) -> Result<String, ControlError> {
    p.map(|Path(n)| n)
        .map_err(|e| ControlError::BadRequest(format!("bad path: {}", e.body_text())))
}

/// Runs a blocking control-plane operation off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ControlError> + Send + 'static,
) -> Result<T, ControlError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ControlError::Internal(format!("operation failed: {e}")))?
}

fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

/// Every route: its path and handlers. The router is built from this
/// table, and the OpenAPI test walks it.
pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<ControlPlane>)> {
    vec![
        ("/", get(index)),
        ("/app.js", get(app_js)),
        ("/style.css", get(style_css)),
        ("/metrics", get(metrics_handler)),
        ("/healthz", get(healthz)),
        ("/readyz", get(readyz)),
        ("/api/v1/openapi.json", get(openapi)),
        ("/api/v1/status", get(status)),
        (
            "/api/v1/packet-logging",
            get(get_packet_logging)
                .put(put_packet_logging)
                .delete(delete_packet_logging),
        ),
        ("/api/v1/packet-logging/tail", get(tail)),
        ("/api/v1/expressions/check", post(check)),
        ("/api/v1/dumps", get(list_dumps).post(create_dump)),
        ("/api/v1/dumps/{name}", axum::routing::delete(delete_dump)),
        ("/api/v1/dumps/{name}/start", post(start_dump)),
        ("/api/v1/dumps/{name}/stop", post(stop_dump)),
        ("/api/v1/dumps/{name}/download", get(download)),
        ("/api/v1/log/level", get(get_level).put(put_level)),
        ("/api/v1/users", put(put_users)),
    ]
}

/// The whole router over `plane`.
pub(crate) fn router(plane: ControlPlane) -> Router {
    let mut r: Router<ControlPlane> = Router::new();
    for (path, m) in routes() {
        r = r.route(path, m);
    }
    r.fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(plane.clone(), auth))
        .with_state(plane)
}

async fn no_route(method: Method, uri: axum::http::Uri) -> ControlError {
    ControlError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: axum::http::Uri) -> ControlError {
    ControlError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// Equal in time whatever the position of the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Mutating requests need the token when one is set. Checking an
/// expression is a POST that changes nothing, so it needs none.
async fn auth(State(plane): State<ControlPlane>, req: Request, next: Next) -> Response {
    let read_only = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.uri().path() == "/api/v1/expressions/check";
    if let (false, Some(token)) = (read_only, &plane.shared.opts.token) {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme is case-insensitive (RFC 9110, 11.1).
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let why = match given {
            None => Some("missing bearer token"),
            Some(t) if !same(t.as_bytes(), token.as_bytes()) => Some("wrong bearer token"),
            Some(_) => None,
        };
        if let Some(why) = why {
            let peer = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "?".to_owned(), |c| c.0.to_string());
            plane.log_refused(req.method().as_str(), req.uri().path(), &peer, why);
            return ControlError::Unauthorized(format!(
                "{why}: send Authorization: Bearer TOKEN ([control] token)"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", web::INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", web::APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", web::STYLE_CSS)
}

async fn openapi() -> Response {
    asset("application/json", OPENAPI_JSON)
}

async fn metrics_handler(State(plane): State<ControlPlane>) -> ApiResult {
    let text = blocking(move || Ok(metrics::render(&plane))).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

async fn healthz() -> ApiResult {
    ok(json!({"status": "ok"}))
}

async fn readyz(State(plane): State<ControlPlane>) -> Response {
    if plane.is_ready() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready"})),
        )
            .into_response()
    }
}

async fn status(State(plane): State<ControlPlane>) -> ApiResult {
    ok(blocking(move || Ok(plane.status())).await?)
}

async fn get_packet_logging(State(plane): State<ControlPlane>) -> ApiResult {
    ok(json!({"expression": plane.packet_logging()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpressionBody {
    expression: String,
}

async fn put_packet_logging(
    State(plane): State<ControlPlane>,
    JsonBody(body): JsonBody<ExpressionBody>,
) -> ApiResult {
    let p = plane.clone();
    let v = blocking(move || p.set_packet_logging(&body.expression)).await?;
    plane.log_change("packet logging set", v["expression"].as_str().unwrap_or(""));
    ok(v)
}

async fn delete_packet_logging(State(plane): State<ControlPlane>) -> ApiResult {
    let p = plane.clone();
    blocking(move || p.clear_packet_logging()).await?;
    plane.log_change("packet logging", "cancelled");
    ok(json!({"expression": null}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TailQuery {
    lines: Option<usize>,
}

async fn tail(
    State(plane): State<ControlPlane>,
    q: Result<Query<TailQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) =
        q.map_err(|e| ControlError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let n = q.lines.unwrap_or(50).min(1000);
    let lines = blocking(move || plane.tail(n)).await?;
    ok(json!({ "lines": lines }))
}

async fn check(
    State(plane): State<ControlPlane>,
    JsonBody(body): JsonBody<ExpressionBody>,
) -> ApiResult {
    ok(plane.check_expression(&body.expression)?)
}

async fn list_dumps(State(plane): State<ControlPlane>) -> ApiResult {
    ok(blocking(move || Ok(plane.dumps())).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateDump {
    name: String,
    expression: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    snaplen: Option<u32>,
    #[serde(default)]
    rotation: Option<Rotation>,
    #[serde(default)]
    start: Option<bool>,
}

async fn create_dump(
    State(plane): State<ControlPlane>,
    JsonBody(body): JsonBody<CreateDump>,
) -> ApiResult {
    let req = DumpRequest {
        name: body.name,
        expression: body.expression,
        format: body.format,
        snaplen: body.snaplen,
        rotation: body.rotation,
        start: body.start,
        path: None,
    };
    let name = req.name.clone();
    let p = plane.clone();
    let v = blocking(move || p.create_dump(req, DumpSource::Api)).await?;
    plane.log_change("dump created", &name);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn start_dump(
    State(plane): State<ControlPlane>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path_name(name)?;
    let (p, n) = (plane.clone(), name.clone());
    let v = blocking(move || p.start_dump(&n)).await?;
    plane.log_change("dump started", &name);
    ok(v)
}

async fn stop_dump(
    State(plane): State<ControlPlane>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path_name(name)?;
    let (p, n) = (plane.clone(), name.clone());
    let v = blocking(move || p.stop_dump(&n)).await?;
    plane.log_change("dump stopped", &name);
    ok(v)
}

async fn delete_dump(
    State(plane): State<ControlPlane>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path_name(name)?;
    let (p, n) = (plane.clone(), name.clone());
    let v = blocking(move || p.delete_dump(&n)).await?;
    plane.log_change("dump deleted", &name);
    ok(v)
}

async fn download(
    State(plane): State<ControlPlane>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path_name(name)?;
    let n = name.clone();
    let (file, len, format) = blocking(move || {
        let d = plane.dump_def(&n)?;
        let files = d.spec.files();
        let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
        let tmp = tempfile::tempfile()
            .map_err(|e| ControlError::Internal(format!("cannot create a temporary file: {e}")))?;
        let out = tmp
            .try_clone()
            .map_err(|e| ControlError::Internal(format!("temporary file: {e}")))?;
        dumps::merge(&paths, d.spec.format, out)
            .map_err(|e| ControlError::Internal(format!("cannot merge the dump's files: {e}")))?;
        let len = tmp.metadata().map(|m| m.len()).unwrap_or(0);
        Ok((tmp, len, d.spec.format))
    })
    .await?;
    use std::io::Seek;
    let mut file = file;
    file.rewind()
        .map_err(|e| ControlError::Internal(format!("temporary file: {e}")))?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let (ctype, ext) = match format {
        ferrocap_dataplane::pcap::DumpFormat::Pcap => ("application/vnd.tcpdump.pcap", "pcap"),
        ferrocap_dataplane::pcap::DumpFormat::Pcapng => ("application/x-pcapng", "pcapng"),
    };
    // The name passed validate_dump_name: safe inside the quotes.
    let disposition = format!("attachment; filename=\"{name}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn get_level(State(plane): State<ControlPlane>) -> ApiResult {
    let l = plane
        .log_level()
        .ok_or_else(|| ControlError::Conflict("the logging facility is off".into()))?;
    ok(level_json(l))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LevelValue {
    Number(i64),
    Name(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelBody {
    level: LevelValue,
}

async fn put_level(
    State(plane): State<ControlPlane>,
    JsonBody(body): JsonBody<LevelBody>,
) -> ApiResult {
    let level = match body.level {
        LevelValue::Number(n) => u8::try_from(n).ok().and_then(Level::new),
        LevelValue::Name(s) => s.parse::<Level>().ok(),
    }
    .ok_or_else(|| {
        ControlError::BadRequest(
            "level must be a number 3..9 or one of error, warning, normal, debug, trace, full"
                .into(),
        )
    })?;
    let l = plane.set_log_level(level)?;
    ok(level_json(l))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersBody {
    users: BTreeMap<String, Vec<String>>,
}

async fn put_users(
    State(plane): State<ControlPlane>,
    JsonBody(body): JsonBody<UsersBody>,
) -> ApiResult {
    let p = plane.clone();
    let (users, recompiled) = blocking(move || p.replace_users(body.users)).await?;
    plane.log_change(
        "users replaced",
        &format!("{users} users, {recompiled} expressions recompiled"),
    );
    ok(json!({"users": users, "recompiled": recompiled}))
}
