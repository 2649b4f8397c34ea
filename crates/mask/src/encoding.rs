//! `Content-Encoding` decoding in front of the maskers. Choice: a compressed body is decoded,
//! masked and passed on as identity (the gateway removes `Content-Encoding` and
//! `Content-Length`). Re-compressing would cost CPU on every response for little gain on the
//! agent's side of the link. Decoded bytes are counted: past `max_decoded_bytes` the stream
//! fails (compression bombs), and input is fed in small slices so that one push never
//! inflates more than a bounded amount at a time.

use std::io::Write;

use crate::MaskError;

/// Compressed input is fed to the decoder this many bytes at a time.
pub(crate) const SLICE: usize = 4096;

/// Collects decoded bytes and enforces the decoded-size limit.
pub(crate) struct Sink {
    pub(crate) buf: Vec<u8>,
    total: u64,
    limit: u64,
    exceeded: bool,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.total += data.len() as u64;
        if self.total > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("decoded size limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Inner {
    /// `deflate` before its first byte: zlib-wrapped (RFC 1950) or raw (as some servers send).
    DeflateUnknown,
    Gzip(flate2::write::MultiGzDecoder<Sink>),
    Zlib(flate2::write::ZlibDecoder<Sink>),
    Raw(flate2::write::DeflateDecoder<Sink>),
    Brotli(Box<brotli::DecompressorWriter<Sink>>),
    Zstd(zstd::stream::write::Decoder<'static, Sink>),
}

/// A push decoder for one `Content-Encoding`.
pub(crate) struct Decoder {
    inner: Inner,
    name: &'static str,
    limit: u64,
}

/// Parses a `Content-Encoding` value: `None` for identity, or the decoder name.
pub(crate) fn parse(value: &str) -> Result<Option<&'static str>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(None),
        "gzip" | "x-gzip" => Ok(Some("gzip")),
        "deflate" => Ok(Some("deflate")),
        "br" => Ok(Some("br")),
        "zstd" => Ok(Some("zstd")),
        other => Err(other.chars().take(40).collect()),
    }
}

impl Decoder {
    pub(crate) fn new(name: &'static str, limit: u64) -> Result<Self, MaskError> {
        let sink = Sink { buf: Vec::new(), total: 0, limit, exceeded: false };
        let inner = match name {
            "gzip" => Inner::Gzip(flate2::write::MultiGzDecoder::new(sink)),
            "deflate" => Inner::DeflateUnknown,
            "br" => Inner::Brotli(Box::new(brotli::DecompressorWriter::new(sink, 4096))),
            "zstd" => Inner::Zstd(
                zstd::stream::write::Decoder::new(sink)
                    .map_err(|_| MaskError::Decode { encoding: "zstd" })?,
            ),
            other => return Err(MaskError::UnsupportedEncoding(other.to_string())),
        };
        Ok(Self { inner, name, limit })
    }

    fn sink(&mut self) -> Option<&mut Sink> {
        match &mut self.inner {
            Inner::DeflateUnknown => None,
            Inner::Gzip(d) => Some(d.get_mut()),
            Inner::Zlib(d) => Some(d.get_mut()),
            Inner::Raw(d) => Some(d.get_mut()),
            Inner::Brotli(d) => Some(d.get_mut()),
            Inner::Zstd(d) => Some(d.get_mut()),
        }
    }

    fn error(&mut self) -> MaskError {
        let limit = self.limit;
        match self.sink() {
            Some(s) if s.exceeded => MaskError::DecodedTooLarge { limit },
            _ => MaskError::Decode { encoding: self.name },
        }
    }

    /// Decodes one slice (at most [`SLICE`] bytes); decoded bytes land in the sink.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), MaskError> {
        if let (Inner::DeflateUnknown, Some(&first)) = (&self.inner, data.first()) {
            let sink = Sink { buf: Vec::new(), total: 0, limit: self.limit, exceeded: false };
            self.inner = if first & 0x0f == 8 && first >> 4 <= 7 {
                Inner::Zlib(flate2::write::ZlibDecoder::new(sink))
            } else {
                Inner::Raw(flate2::write::DeflateDecoder::new(sink))
            };
        }
        let r = match &mut self.inner {
            Inner::DeflateUnknown => Ok(()),
            Inner::Gzip(d) => d.write_all(data),
            Inner::Zlib(d) => d.write_all(data),
            Inner::Raw(d) => d.write_all(data),
            Inner::Brotli(d) => d.write_all(data),
            Inner::Zstd(d) => d.write_all(data),
        };
        r.map_err(|_| self.error())
    }

    /// Ends the compressed stream; the last decoded bytes land in the sink.
    pub(crate) fn finish(&mut self) -> Result<(), MaskError> {
        let r = match &mut self.inner {
            Inner::DeflateUnknown => Ok(()),
            Inner::Gzip(d) => d.try_finish(),
            Inner::Zlib(d) => d.try_finish(),
            Inner::Raw(d) => d.try_finish(),
            Inner::Brotli(d) => d.flush().and_then(|()| d.close()),
            Inner::Zstd(d) => d.flush(),
        };
        r.map_err(|_| self.error())
    }

    /// Takes the decoded bytes produced so far.
    pub(crate) fn take(&mut self, into: &mut Vec<u8>) {
        if let Some(s) = self.sink() {
            std::mem::swap(&mut s.buf, into);
        }
    }
}
