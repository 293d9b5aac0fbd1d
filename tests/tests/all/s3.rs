//! The same exactly-once equivalence against S3: a local S3-compatible server
//! (moto, from the Python package registry) started on 127.0.0.1 by the test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::write_pipeline;

use crate::checkpoints::{counting_pipeline, job_dir, kill_and_resume, reference_output};

/// A moto S3 server for the duration of a test.
pub(crate) struct Moto {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv holding moto, created on first use under the target directory.
fn moto_venv() -> PathBuf {
    let target = std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_path_buf();
    let venv = target.join("moto-venv");
    let server = venv.join("bin/moto_server");
    if !server.exists() {
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "cannot create a Python venv for the S3 test server (python3 -m venv)");
        let ok =
            Command::new(venv.join("bin/pip")).args(["install", "-q", "moto[s3]==5.2.5", "flask", "flask-cors"]).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "cannot install moto (the S3 test server) with pip");
    }
    venv
}

pub(crate) fn start_moto(bucket: &str) -> Moto {
    let venv = moto_venv();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let req = format!("PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).unwrap();
            let mut resp = String::new();
            let _ = s.read_to_string(&mut resp);
            assert!(resp.starts_with("HTTP/1.1 200"), "cannot create bucket: {resp}");
            return moto;
        }
        assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn s3_storage(port: u16, bucket: &str, prefix: &str) -> String {
    format!(
        "s3://{bucket}/{prefix}\n  options:\n    endpoint: http://127.0.0.1:{port}\n    allow-http: \"true\"\n    region: us-east-1\n    access-key-id: test\n    secret-access-key: test"
    )
}

#[test]
fn killed_and_resumed_runs_on_s3_equal_an_uninterrupted_run() {
    let moto = start_moto("cairn");
    let times = 100;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &counting_pipeline("wc", &s3_storage(moto.port, "cairn", "jobs"), "150ms", 600, ""));
    let got = kill_and_resume(&p, dir.path(), 2);
    assert_eq!(got, expected);
    // Nothing was written locally: the checkpoints live in the bucket.
    assert!(!Path::new(&dir.path().join("storage")).exists());
}
