//! A small ECS endpoint that pages, and fails where told to: moto ignores
//! `maxResults` and `nextToken` and cannot deny access, so pagination and
//! failures are tested here.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// One task-definition revision the stub serves.
#[derive(Clone)]
pub struct Revision {
    pub family: String,
    pub revision: u32,
    pub active: bool,
    pub env: Vec<(String, String)>,
}

impl Revision {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/{}:{}",
            self.family, self.revision
        )
    }
}

#[derive(Default)]
pub struct Behaviour {
    /// Regions whose every call is denied.
    pub denied_regions: Vec<String>,
    /// ARNs whose describe always fails with a server error.
    pub failing_arns: Vec<String>,
}

pub struct Stub {
    pub endpoint: String,
    /// Calls served, by operation.
    pub calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Stub {
    pub fn calls(&self, op: &str) -> usize {
        self.calls
            .lock()
            .map(|c| c.get(op).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

const PAGE: usize = 100;

pub fn start(revisions: Vec<Revision>, behaviour: Behaviour) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let calls = Arc::new(Mutex::new(BTreeMap::new()));
    let state = Arc::new((revisions, behaviour, calls.clone(), AtomicUsize::new(0)));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let state = state.clone();
            std::thread::spawn(move || serve(conn, &state));
        }
    });
    Stub { endpoint, calls }
}

type State = (
    Vec<Revision>,
    Behaviour,
    Arc<Mutex<BTreeMap<String, usize>>>,
    AtomicUsize,
);

fn serve(conn: TcpStream, state: &State) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, content_type, payload) = respond(&headers, &body, state);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-requestid: stub\r\n\r\n{payload}",
            payload.len()
        );
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn region_of(headers: &BTreeMap<String, String>) -> String {
    // `Credential=AKID/20261129/eu-west-1/ecs/aws4_request`
    headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("")
        .to_owned()
}

fn page<T: Clone>(items: &[T], token: Option<&str>) -> (Vec<T>, Option<String>) {
    let start: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
    let end = (start + PAGE).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    (items[start.min(end)..end].to_vec(), next)
}

fn respond(
    headers: &BTreeMap<String, String>,
    body: &[u8],
    state: &State,
) -> (&'static str, &'static str, String) {
    let (revisions, behaviour, calls, _) = state;
    let text = String::from_utf8_lossy(body);
    if text.contains("Action=GetCallerIdentity") {
        count(calls, "GetCallerIdentity");
        return (
            "200 OK",
            "text/xml",
            "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/x</Arn><UserId>x</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>".into(),
        );
    }
    let op = headers
        .get("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    count(calls, &op);
    let json = "application/x-amz-json-1.1";
    if behaviour.denied_regions.contains(&region_of(headers)) {
        return (
            "400 Bad Request",
            json,
            r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform this action"}"#.into(),
        );
    }
    let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let token = req["nextToken"].as_str();
    match op.as_str() {
        "ListTaskDefinitionFamilies" => {
            let mut families: Vec<String> = revisions
                .iter()
                .filter(|r| r.active)
                .map(|r| r.family.clone())
                .collect();
            families.sort();
            families.dedup();
            let (items, next) = page(&families, token);
            (
                "200 OK",
                json,
                serde_json::json!({"families": items, "nextToken": next}).to_string(),
            )
        }
        "ListTaskDefinitions" => {
            let want_active = req["status"].as_str() != Some("INACTIVE");
            let prefix = req["familyPrefix"].as_str().unwrap_or("");
            let arns: Vec<String> = revisions
                .iter()
                .filter(|r| r.active == want_active && r.family.starts_with(prefix))
                .map(Revision::arn)
                .collect();
            let (items, next) = page(&arns, token);
            (
                "200 OK",
                json,
                serde_json::json!({"taskDefinitionArns": items, "nextToken": next}).to_string(),
            )
        }
        "DescribeTaskDefinition" => {
            let wanted = req["taskDefinition"].as_str().unwrap_or("");
            if behaviour.failing_arns.iter().any(|a| a == wanted) {
                return (
                    "500 Internal Server Error",
                    json,
                    r#"{"__type":"ServerException","message":"internal failure"}"#.into(),
                );
            }
            let found = revisions
                .iter()
                .filter(|r| r.arn() == wanted || (r.family == wanted && r.active))
                .max_by_key(|r| r.revision);
            match found {
                Some(r) => {
                    let env: Vec<serde_json::Value> = r
                        .env
                        .iter()
                        .map(|(k, v)| serde_json::json!({"name": k, "value": v}))
                        .collect();
                    let td = serde_json::json!({"taskDefinition": {
                        "taskDefinitionArn": r.arn(), "family": r.family, "revision": r.revision,
                        "status": if r.active { "ACTIVE" } else { "INACTIVE" },
                        "containerDefinitions": [{"name": "app", "image": "app:1", "environment": env}]
                    }});
                    ("200 OK", json, td.to_string())
                }
                None => (
                    "400 Bad Request",
                    json,
                    r#"{"__type":"ClientException","message":"Unable to describe task definition."}"#.into(),
                ),
            }
        }
        _ => (
            "400 Bad Request",
            json,
            r#"{"__type":"UnknownOperationException"}"#.into(),
        ),
    }
}

fn count(calls: &Mutex<BTreeMap<String, usize>>, op: &str) {
    if let Ok(mut c) = calls.lock() {
        *c.entry(op.to_owned()).or_default() += 1;
    }
}
