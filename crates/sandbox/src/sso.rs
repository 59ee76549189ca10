//! IAM Identity Center as `sso_session` profiles and `aws sso login` use it, unsigned REST-JSON on the one
//! endpoint: the OIDC device flow (`POST /client/register`, `/device_authorization`, `/token`), a sign-in page a
//! browser opens to approve a device (`GET /sso/approve?user_code=…`, no password asked), and the portal's
//! `GET /federation/credentials`, which turns an access token into temporary credentials for any role name and
//! account asked for (there are no assignments to check).
//!
//! Only requests without SigV4 come here, so a signed S3 request for a bucket named `token` still reaches S3.
//! State is in memory: a restart signs everyone out. Not modelled: the authorization-code grant (PKCE), ListAccounts and
//! ListAccountRoles, Logout, scopes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::identity::{Caller, Identities, random_from};

/// How long an OIDC access token lives (IAM Identity Center's default session).
const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a device code waits for approval.
const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(600);
/// How long a registered client's secret is good for (90 days, as IAM Identity Center gives).
const CLIENT_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// Role credentials' lifetime before the sandbox's cap.
const ROLE_CREDENTIALS_LIFETIME: Duration = Duration::from_secs(3600);
const MAX_BODY: usize = 64 * 1024;
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const USER_CODE_LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// The user every SSO session belongs to.
const SSO_USER: &str = "sandbox-sso-user";

pub(crate) struct Sso {
    identities: Arc<Identities>,
    /// The sandbox's URL, for the verification URIs a device flow hands out.
    endpoint: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, Client>,
    /// By device code.
    devices: HashMap<String, Device>,
    /// Access token → expiry.
    access_tokens: HashMap<String, SystemTime>,
    /// Refresh token → the client it was issued to.
    refresh_tokens: HashMap<String, String>,
}

struct Client {
    secret: String,
    expires: SystemTime,
}

struct Device {
    client_id: String,
    user_code: String,
    approved: bool,
    expires: SystemTime,
}

/// An error as the SSO and SSO OIDC SDKs read it: the shape's name in `x-amzn-ErrorType`, the body's fields.
struct SsoError {
    status: StatusCode,
    type_name: &'static str,
    body: Value,
}

impl SsoError {
    /// An OIDC error: `{"error": code, "error_description": …}`.
    fn oauth(status: u16, type_name: &'static str, code: &str, description: &str) -> SsoError {
        SsoError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            type_name,
            body: json!({"error": code, "error_description": description}),
        }
    }

    /// A portal error: `{"message": …}`.
    fn portal(status: u16, type_name: &'static str, message: &str) -> SsoError {
        SsoError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            type_name,
            body: json!({"message": message}),
        }
    }

    fn invalid_client() -> SsoError {
        SsoError::oauth(401, "InvalidClientException", "invalid_client", "Invalid client provided")
    }

    fn invalid_request(what: &str) -> SsoError {
        SsoError::oauth(400, "InvalidRequestException", "invalid_request", what)
    }
}

/// Whether a request is for the SSO portal or OIDC: one of their paths, with no SigV4 signature of any kind.
pub(crate) fn is_sso_request<B>(request: &Request<B>) -> bool {
    let unsigned = !request.headers().contains_key(http::header::AUTHORIZATION)
        && !request.uri().query().is_some_and(|q| q.contains("X-Amz-Signature="));
    let path = request.uri().path();
    let method = request.method();
    unsigned
        && match path {
            "/federation/credentials" | "/sso/approve" => method == Method::GET,
            "/client/register" | "/device_authorization" | "/token" => method == Method::POST,
            _ => false,
        }
}

impl Sso {
    pub fn new(identities: Arc<Identities>, endpoint: &str) -> Sso {
        Sso { identities, endpoint: endpoint.into(), state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mints an access token valid for `lifetime` from `now`, as if a device flow had ended (for tests that write
    /// an SSO token cache file); a zero lifetime gives one that is already expired.
    pub fn issue_token(&self, lifetime: Duration, now: SystemTime) -> String {
        let token = format!("aoa{}", random_from(ALNUM, 60));
        self.state().access_tokens.insert(token.clone(), now + lifetime);
        token
    }

    pub async fn serve(&self, request: Request<Incoming>) -> Response<Bytes> {
        let now = SystemTime::now();
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_string();
        let query: HashMap<String, String> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
        match path.as_str() {
            "/sso/approve" => return self.approve(query.get("user_code").map(String::as_str), now),
            "/federation/credentials" => {
                let token = parts.headers.get("x-amz-sso_bearer_token").and_then(|v| v.to_str().ok());
                return json_answer(self.role_credentials(token, &query, now));
            }
            _ => {}
        }
        let input: Value = match Limited::new(body, MAX_BODY).collect().await.map(|c| c.to_bytes()) {
            Ok(bytes) if bytes.is_empty() => json!({}),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(value) => value,
                Err(_) => return json_answer(Err(SsoError::invalid_request("The request body is not JSON"))),
            },
            Err(_) => return json_answer(Err(SsoError::invalid_request("The request body is too large"))),
        };
        json_answer(match path.as_str() {
            "/client/register" => self.register_client(&input, now),
            "/device_authorization" => self.start_device_authorization(&input, now),
            _ => self.create_token(&input, now),
        })
    }

    fn register_client(&self, input: &Value, now: SystemTime) -> Result<Value, SsoError> {
        required(input, "clientName")?;
        required(input, "clientType")?;
        let client_id = random_from(ALNUM, 22);
        let secret = random_from(ALNUM, 80);
        let expires = now + CLIENT_LIFETIME;
        self.state().clients.insert(client_id.clone(), Client { secret: secret.clone(), expires });
        Ok(json!({
            "clientId": client_id,
            "clientSecret": secret,
            "clientIdIssuedAt": epoch(now),
            "clientSecretExpiresAt": epoch(expires),
        }))
    }

    fn start_device_authorization(&self, input: &Value, now: SystemTime) -> Result<Value, SsoError> {
        let client_id = self.authenticate_client(input, now)?;
        required(input, "startUrl")?;
        let device_code = random_from(ALNUM, 64);
        let user_code =
            format!("{}-{}", random_from(USER_CODE_LETTERS, 4), random_from(USER_CODE_LETTERS, 4));
        let device = Device {
            client_id,
            user_code: user_code.clone(),
            approved: false,
            expires: now + DEVICE_CODE_LIFETIME,
        };
        self.state().devices.insert(device_code.clone(), device);
        let uri = format!("{}/sso/approve", self.endpoint);
        Ok(json!({
            "deviceCode": device_code,
            "userCode": user_code,
            "verificationUri": uri,
            "verificationUriComplete": format!("{uri}?user_code={user_code}"),
            "expiresIn": DEVICE_CODE_LIFETIME.as_secs(),
            "interval": 1,
        }))
    }

    fn create_token(&self, input: &Value, now: SystemTime) -> Result<Value, SsoError> {
        let client_id = self.authenticate_client(input, now)?;
        let invalid_grant =
            || SsoError::oauth(400, "InvalidGrantException", "invalid_grant", "Invalid grant provided");
        let mut state = self.state();
        match required(input, "grantType")? {
            "urn:ietf:params:oauth:grant-type:device_code" => {
                let code = required(input, "deviceCode")?;
                let device =
                    state.devices.get(code).filter(|d| d.client_id == client_id).ok_or_else(invalid_grant)?;
                if device.expires <= now {
                    return Err(SsoError::oauth(
                        400,
                        "ExpiredTokenException",
                        "expired_token",
                        "Device code has expired",
                    ));
                }
                if !device.approved {
                    return Err(SsoError::oauth(
                        400,
                        "AuthorizationPendingException",
                        "authorization_pending",
                        "Authorization is still pending",
                    ));
                }
                state.devices.remove(code);
            }
            "refresh_token" => {
                let refresh = required(input, "refreshToken")?;
                if state.refresh_tokens.get(refresh) != Some(&client_id) {
                    return Err(invalid_grant());
                }
                state.refresh_tokens.remove(refresh);
            }
            _ => {
                return Err(SsoError::oauth(
                    400,
                    "UnsupportedGrantTypeException",
                    "unsupported_grant_type",
                    "Unsupported grant type",
                ));
            }
        }
        let access_token = format!("aoa{}", random_from(ALNUM, 60));
        let refresh_token = format!("aor{}", random_from(ALNUM, 60));
        state.access_tokens.retain(|_, expires| *expires > now);
        state.access_tokens.insert(access_token.clone(), now + ACCESS_TOKEN_LIFETIME);
        state.refresh_tokens.insert(refresh_token.clone(), client_id);
        Ok(json!({
            "accessToken": access_token,
            "tokenType": "Bearer",
            "expiresIn": ACCESS_TOKEN_LIFETIME.as_secs(),
            "refreshToken": refresh_token,
        }))
    }

    /// The client id, if the id and secret are a registered client's and the secret has not expired.
    fn authenticate_client(&self, input: &Value, now: SystemTime) -> Result<String, SsoError> {
        let id = required(input, "clientId")?;
        let secret = required(input, "clientSecret")?;
        let state = self.state();
        match state.clients.get(id) {
            Some(client) if client.secret == secret && client.expires > now => Ok(id.to_string()),
            _ => Err(SsoError::invalid_client()),
        }
    }

    /// The browser's half of the device flow: opening the verification URL signs the device in.
    fn approve(&self, user_code: Option<&str>, now: SystemTime) -> Response<Bytes> {
        let mut state = self.state();
        let device = user_code.and_then(|code| {
            state.devices.values_mut().find(|d| d.user_code.eq_ignore_ascii_case(code) && d.expires > now)
        });
        let (status, text) = match device {
            Some(device) => {
                device.approved = true;
                (StatusCode::OK, "Signed in; you can close this window.")
            }
            None => (StatusCode::NOT_FOUND, "No sign-in is waiting for that code; it may have expired."),
        };
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Lakedrop sandbox sign-in</title></head><body><p>{text}</p></body></html>"
        );
        let mut response = Response::new(Bytes::from(page));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        response
    }

    fn role_credentials(
        &self,
        token: Option<&str>,
        query: &HashMap<String, String>,
        now: SystemTime,
    ) -> Result<Value, SsoError> {
        let missing = |name: &str| {
            SsoError::portal(400, "InvalidRequestException", &format!("Missing required parameter {name}"))
        };
        let role = query.get("role_name").filter(|r| !r.is_empty()).ok_or_else(|| missing("role_name"))?;
        let account =
            query.get("account_id").filter(|a| !a.is_empty()).ok_or_else(|| missing("account_id"))?;
        let live = token.is_some_and(|t| self.state().access_tokens.get(t).is_some_and(|e| *e > now));
        if !live {
            return Err(SsoError::portal(401, "UnauthorizedException", "Session token not found or invalid"));
        }
        // IAM Identity Center names the role it provisions after the permission set, with a suffix of its own.
        let suffix = &hex::encode(sha2::Sha256::digest(role.as_bytes()))[..16];
        let role_id = format!("AROA{}", &hex::encode_upper(sha2::Sha256::digest(account.as_bytes()))[..17]);
        let caller = Caller {
            arn: format!("arn:aws:sts::{account}:assumed-role/AWSReservedSSO_{role}_{suffix}/{SSO_USER}"),
            user_id: format!("{role_id}:{SSO_USER}"),
            account: account.clone(),
            mfa: false,
            temporary: true,
        };
        let issued = self.identities.issue(caller, ROLE_CREDENTIALS_LIFETIME, now);
        let expiration = issued.expires.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Ok(json!({"roleCredentials": {
            "accessKeyId": issued.access_key,
            "secretAccessKey": issued.secret,
            "sessionToken": issued.token,
            "expiration": u64::try_from(expiration).unwrap_or(u64::MAX),
        }}))
    }
}

fn required<'a>(input: &'a Value, name: &str) -> Result<&'a str, SsoError> {
    input
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| SsoError::invalid_request(&format!("{name} is required")))
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn json_answer(result: Result<Value, SsoError>) -> Response<Bytes> {
    let (status, body, type_name) = match result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(e) => (e.status, e.body, Some(e.type_name)),
    };
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(type_name) = type_name {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(type_name));
    }
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}
