//! A local SMTP server for the mail tests: `smtp_sink.py` beside this file (aiosmtpd, from
//! the Makefile's venv: `make deps`), writing each message it accepts to a directory.
//! Killed when dropped.

use std::path::PathBuf;
use std::time::Duration;

use docflow::testkit::{Process, free_port, wait_for_port};

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    _process: Process,
}

fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var_os("DOCFLOW_VENV").map_or_else(|| root.join(".venv"), PathBuf::from);
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing: run `make deps` (aiosmtpd is one of PYTHON_TOOLS)", python.display());
    python
}

impl SmtpSink {
    /// Accepts every message; the first `fail_first` are refused with a transient 451.
    pub async fn start(fail_first: u32) -> SmtpSink {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/it/support/smtp_sink.py");
        let args =
            [script.display().to_string(), dir.path().display().to_string(), port.to_string(), fail_first.to_string()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = Process::spawn("smtp-sink", python(), &args, &[]);
        wait_for_port(port, Duration::from_secs(20)).await.expect("the SMTP sink listens");
        SmtpSink { port, dir, _process: process }
    }

    /// Every message received so far, whole (headers and body).
    pub fn messages(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        out.sort();
        out
    }
}
