//! The fault-injecting proxy (`tests/support/fault_proxy.py`) between the
//! binary and moto: started per test on a free port, stopped when dropped.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::moto;

pub struct Proxy {
    child: Child,
    pub url: String,
    log: PathBuf,
}

impl Proxy {
    /// A proxy in front of moto with `args` (see the script's `--help`),
    /// logging every request to a file in `dir`.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fault_proxy.py");
        let log = dir.join(format!("proxy-{}.jsonl", std::process::id()));
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--upstream", moto::endpoint(), "--log"])
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the fault proxy");
        let stdout = child.stdout.take().expect("proxy stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the proxy prints its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("the proxy did not start: {line:?}"))
            .to_owned();
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Every request the proxy saw: (action, account, fault).
    pub fn requests(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                (
                    v["action"].as_str().unwrap_or_default().to_owned(),
                    v["account"].as_str().map(str::to_owned),
                    v["fault"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    /// How many requests got each kind of fault.
    pub fn faults(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for (_, _, fault) in self.requests() {
            if let Some(f) = fault {
                *out.entry(f).or_insert(0) += 1;
            }
        }
        out
    }

    /// `env` with the endpoint pointed at this proxy.
    pub fn env(&self, mut env: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        for (k, v) in &mut env {
            if *k == "AWS_ENDPOINT_URL" {
                v.clone_from(&self.url);
            }
        }
        env
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
