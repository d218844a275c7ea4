//! Captures every log line the code under test writes, as JSON like production but at debug level for
//! wxauth and the local server (more lines than production writes, so more chances to catch a leak), so
//! that tests can assert that no secret ever reaches a log.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

static LINES: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

fn buffer() -> &'static Mutex<Vec<u8>> {
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

#[derive(Clone, Copy)]
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        buffer()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        Capture
    }
}

/// Installs the capturing subscriber for the whole test process (JSON lines, debug level for wxauth and
/// wxauth_local, warn for every other crate).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::new("warn,wxauth=debug,wxauth_local=debug");
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(Capture)
            .try_init();
    });
}

/// Everything logged so far by this test process.
pub fn text() -> String {
    String::from_utf8_lossy(&buffer().lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// Fails if any of `secrets` appears in the captured logs.
pub fn assert_clean(secrets: &[&str]) {
    let logs = text();
    for s in secrets {
        assert!(s.len() >= 8, "secret {s:?} too short to check meaningfully");
        assert!(!logs.contains(s), "a secret reached the logs: {s:?}");
    }
}
