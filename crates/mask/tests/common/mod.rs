//! Shared helpers for the integration tests.
#![allow(dead_code, unreachable_pub)]

use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, MaskError, MaskReport, SessionContext};

pub const KEY: &str =
    "UvImZaYMEtKJGF2VDuiBNgkWb2sRPReNbA/TkB/yOaGglfIPk5VlDPk4C47bIkprJIoekk6P0K4uGpSSozBfGA==";
pub const KEY2: &str =
    "jLYQkA+eNH+uiG3GUHeV7HRcTD/LLrLHPhSTTIZ+4Fe6ckmb+hIeg2sqwVcm7n1rCvarE8OOksrg0VBXsVmYfw==";
pub const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibmFtZSI6IngifQ.K5wdfg83xEkhvT9lZOrffxQqcmaMR-Ij0W7djEe0avxbruJh9TsmFS0mO6g7A3zUli5DSAEla4henJBR8yCw2w";
pub const SIG: &str = "lMx0EdcX8UV5sqoQD7uzT6WT%2Fq7Scki3YuOrWAXwdlo%3D";

pub fn session() -> SessionContext {
    SessionContext::new(b"test session key, 32 bytes long!")
}

pub fn engine(profile: &str) -> MaskEngine {
    MaskEngine::new(&MaskConfig::default(), profile).unwrap()
}

pub fn engine_toml(toml_text: &str, profile: &str) -> MaskEngine {
    let config: MaskConfig = toml::from_str(toml_text).unwrap();
    MaskEngine::new(&config, profile).unwrap()
}

/// Masks `body` pushed in chunks of `chunk` bytes.
pub fn mask_chunked(
    engine: &MaskEngine,
    content_type: &str,
    body: &[u8],
    chunk: usize,
) -> Result<(Vec<u8>, MaskReport), MaskError> {
    let mut s = engine.stream(ContentKind::from_content_type(Some(content_type)), &session())?;
    let mut out = Vec::new();
    for c in body.chunks(chunk.max(1)) {
        s.push(c, &mut out)?;
    }
    s.finish(&mut out)?;
    Ok((out, s.report()))
}

pub fn mask(engine: &MaskEngine, content_type: &str, body: &str) -> (String, MaskReport) {
    let (out, report) = mask_chunked(engine, content_type, body.as_bytes(), usize::MAX).unwrap();
    (String::from_utf8(out).unwrap(), report)
}

pub fn mask_json(body: &str) -> (String, MaskReport) {
    mask(&engine("azure"), "application/json", body)
}
