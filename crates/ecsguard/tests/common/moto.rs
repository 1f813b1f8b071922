//! A moto server for the live tests: one per test binary, on a free port on
//! 127.0.0.1, stopped when the test process exits. It is moto with the one
//! call moto lacks added (`tests/support/moto_server.py`: Security Hub's
//! BatchUpdateFindings). Set
//! `ECSGUARD_TEST_MOTO_ENDPOINT` to use a server that is already running.
//!
//! Each test works in an account of its own (moto switches account on
//! `AssumeRole`), so tests run in parallel without seeing each other's state.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};

pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(e) = std::env::var("ECSGUARD_TEST_MOTO_ENDPOINT") {
            return e;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // The shell watches this test process and stops moto when it is gone.
        let script = format!(
            "MOTO_IAM_LOAD_MANAGED_POLICIES=true python3 '{server}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill $m",
            parent = std::process::id(),
            server = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/moto_server.py"),
        );
        // The watcher outlives this call on purpose; it ends with the test process.
        #[allow(clippy::zombie_processes)]
        let _watcher = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts (python3 -m moto.server)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ready(port) {
                return format!("http://127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("moto did not start on port {port}");
    })
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.") && &buf[9..12] == b"200")
}

/// Credentials for one account in moto.
#[derive(Clone)]
#[allow(dead_code)] // `id` is for test readability
pub struct Account {
    pub id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl Account {
    /// Environment for a process using this account against moto.
    pub fn env(&self, region: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", endpoint().to_owned()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", self.session_token.clone()),
            ("AWS_REGION", region.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ]
    }

    pub async fn config(&self, region: &str) -> aws_config::SdkConfig {
        let creds = aws_sdk_ecs::config::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            Some(self.session_token.clone()),
            None,
            "moto",
        );
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(Region::new(region.to_owned()))
            .credentials_provider(creds)
            .load()
            .await
    }

    pub async fn ecs(&self, region: &str) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.config(region).await)
    }
}

/// The moto default credentials (account 123456789012).
pub async fn base_config(region: &str) -> aws_config::SdkConfig {
    let creds = aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "moto");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new(region.to_owned()))
        .credentials_provider(creds)
        .load()
        .await
}

/// Switches into account `id` with `AssumeRole`.
pub async fn account(id: &str) -> Account {
    let sts = aws_sdk_sts::Client::new(&base_config("us-east-1").await);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{id}:role/ecsguard-test"))
        .role_session_name("test")
        .send()
        .await
        .expect("AssumeRole in moto");
    let c = out.credentials().expect("credentials");
    Account {
        id: id.to_owned(),
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: c.session_token().to_owned(),
    }
}

/// Registers a task definition revision with one container and `env`, run by
/// `execution_role` when given.
pub async fn register_with_role(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    env: &[(&str, &str)],
    execution_role: Option<&str>,
) -> String {
    let mut container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("app:1")
        .memory(256);
    for (k, v) in env {
        container = container.environment(
            aws_sdk_ecs::types::KeyValuePair::builder()
                .name(*k)
                .value(*v)
                .build(),
        );
    }
    ecs.register_task_definition()
        .family(family)
        .set_execution_role_arn(execution_role.map(str::to_owned))
        .container_definitions(container.build())
        .send()
        .await
        .expect("register")
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_owned()
}

/// Registers a task definition revision with one container and `env`.
pub async fn register(ecs: &aws_sdk_ecs::Client, family: &str, env: &[(&str, &str)]) -> String {
    register_with_role(ecs, family, env, None).await
}

pub async fn deregister(ecs: &aws_sdk_ecs::Client, arn: &str) {
    ecs.deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .expect("deregister");
}
