//! Captures every log line of the test process (all targets, debug and up), for canary
//! checks: a secret must never appear in one.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

type Buffer = Arc<Mutex<Vec<u8>>>;

static LOGS: OnceLock<Buffer> = OnceLock::new();

#[derive(Clone)]
struct Sink(Buffer);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide capturing subscriber (once) and returns its buffer.
pub fn logs() -> Buffer {
    LOGS.get_or_init(|| {
        let buffer: Buffer = Arc::default();
        let sink = Sink(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .json()
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
    .clone()
}

/// Everything logged so far.
pub fn text(logs: &Buffer) -> String {
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}
