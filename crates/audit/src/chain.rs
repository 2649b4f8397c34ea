//! The hash chain: canonical serialization and the per-event hash.
//!
//! An event's hash is SHA-256 over a fixed header (scheme, stream, seq, id, time, previous
//! hash) followed by the event's canonical JSON exactly as stored. Canonical JSON has
//! object keys sorted and no insignificant whitespace, so the same event always hashes the
//! same, whatever serde's field order. The first event of a stream links to [`GENESIS`].

use serde_json::Value;

use crate::{AuditError, AuditEvent, AuditReason};

/// The `prev_hash` of a stream's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Serializes `value` with sorted object keys and no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    // Only complete UTF-8 strings and ASCII punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        other => write_scalar(other, out),
    }
}

fn write_scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing a string, number, bool or null into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The stored form of an event: its canonical JSON.
pub(crate) fn encode(event: &AuditEvent) -> Result<String, AuditError> {
    let value = serde_json::to_value(event)
        .map_err(|e| AuditError::new(AuditReason::Encoding, format!("serializing an audit event: {e}")))?;
    Ok(canonical_json(&value))
}

/// Parses a stored body back.
pub(crate) fn decode(body: &str) -> Result<AuditEvent, AuditError> {
    serde_json::from_str(body)
        .map_err(|e| AuditError::new(AuditReason::Encoding, format!("parsing a stored audit event: {e}")))
}

/// The fields an event's hash covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link<'a> {
    pub(crate) stream: &'a str,
    pub(crate) seq: i64,
    pub(crate) id: &'a str,
    pub(crate) at_us: i64,
    pub(crate) prev_hash: &'a str,
    pub(crate) body: &'a str,
}

impl Link<'_> {
    /// Hex SHA-256 of this event.
    /// (The writer computes one per event, in sequence, so this avoids allocating for the
    /// header and hex-encodes into one buffer.)
    pub(crate) fn hash(&self) -> String {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(b"portcullis-audit-v1\n");
        ctx.update(self.stream.as_bytes());
        update_number_line(&mut ctx, self.seq);
        ctx.update(self.id.as_bytes());
        update_number_line(&mut ctx, self.at_us);
        ctx.update(self.prev_hash.as_bytes());
        ctx.update(b"\n");
        ctx.update(self.body.as_bytes());
        hex_string(ctx.finish().as_ref())
    }
}

/// The hash of one event from its stored fields (what [`crate::verify`] recomputes); public
/// so that other tools can re-verify an export.
pub fn event_hash(stream: &str, seq: i64, id: &str, at_us: i64, prev_hash: &str, body: &str) -> String {
    Link { stream, seq, id, at_us, prev_hash, body }.hash()
}

/// The message a checkpoint signs.
pub(crate) fn checkpoint_message(stream: &str, seq: i64, hash: &str, at_us: i64) -> Vec<u8> {
    format!("portcullis-audit-checkpoint-v1\n{stream}\n{seq}\n{hash}\n{at_us}").into_bytes()
}

/// Feeds `\n{n}\n` to `ctx` without allocating.
fn update_number_line(ctx: &mut aws_lc_rs::digest::Context, n: i64) {
    use std::io::Write;
    // An i64 and two newlines fit in 24 bytes, so writing into the slice cannot fail.
    const LEN: usize = 24;
    let mut buf = [0u8; LEN];
    let mut cursor = &mut buf[..];
    let _ = write!(cursor, "\n{n}\n");
    let written = LEN - cursor.len();
    ctx.update(&buf[..written]);
}

/// Lower-case hex of a digest.
fn hex_string(digest: &[u8]) -> String {
    let mut out = vec![0u8; digest.len() * 2];
    // The output is exactly twice the input's length, so this cannot fail.
    let _ = hex::encode_to_slice(digest, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Hex SHA-256 of a blob.
pub(crate) fn blob_hash(bytes: &[u8]) -> String {
    hex_string(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":1,"x":"\n"}],"c":null}}"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"c":null,"z":[{"x":"\n","y":1}]},"b":1}"#);
    }

    #[test]
    fn the_hash_covers_the_documented_header_and_body() {
        let link = Link { stream: "g", seq: -7, id: "i", at_us: i64::MIN, prev_hash: GENESIS, body: "{}" };
        let header = format!("portcullis-audit-v1\ng\n-7\ni\n{}\n{GENESIS}\n{{}}", i64::MIN);
        let expected = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, header.as_bytes()));
        assert_eq!(link.hash(), expected);
    }

    #[test]
    fn every_covered_field_changes_the_hash() {
        let base = Link { stream: "g", seq: 1, id: "i", at_us: 5, prev_hash: GENESIS, body: "{}" };
        let h = base.hash();
        assert_ne!(h, Link { seq: 2, ..base }.hash());
        assert_ne!(h, Link { stream: "h", ..base }.hash());
        assert_ne!(h, Link { id: "j", ..base }.hash());
        assert_ne!(h, Link { at_us: 6, ..base }.hash());
        assert_ne!(h, Link { prev_hash: "00", ..base }.hash());
        assert_ne!(h, Link { body: "{ }", ..base }.hash());
    }
}
