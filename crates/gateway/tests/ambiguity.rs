//! Every ambiguous request is answered 400 (or 414/431) and nothing reaches the target.

mod common;

use common::{gateway, raw, status_of, Upstream};

#[tokio::test]
async fn ambiguous_requests_are_refused_and_never_forwarded() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let addr = h.gateway.data_addr();
    let cases: &[(&str, &str, &str)] = &[
        ("encoded slash", "GET /up/a%2Fb HTTP/1.1\r\nHost: gw\r\n\r\n", "encoded_separator"),
        ("encoded backslash", "GET /up/a%5Cb HTTP/1.1\r\nHost: gw\r\n\r\n", "encoded_separator"),
        ("raw backslash", "GET /up/a\\b HTTP/1.1\r\nHost: gw\r\n\r\n", ""),
        ("dot segment", "GET /up/../admin HTTP/1.1\r\nHost: gw\r\n\r\n", "dot_segment"),
        ("encoded dot segment", "GET /up/%2e%2e/admin HTTP/1.1\r\nHost: gw\r\n\r\n", "dot_segment"),
        ("double encoding", "GET /up/a%252Fb HTTP/1.1\r\nHost: gw\r\n\r\n", "double_encoding"),
        ("encoded NUL", "GET /up/a%00 HTTP/1.1\r\nHost: gw\r\n\r\n", "control_character"),
        (
            "encoded CRLF in query",
            "GET /up/a?x=%0d%0aSet-Cookie:1 HTTP/1.1\r\nHost: gw\r\n\r\n",
            "control_character",
        ),
        (
            "absolute form to another host",
            "GET http://evil.example/up/a HTTP/1.1\r\nHost: gw\r\n\r\n",
            "foreign_authority",
        ),
        (
            "method override",
            "POST /up/a HTTP/1.1\r\nHost: gw\r\nX-HTTP-Method-Override: DELETE\r\nContent-Length: 0\r\n\r\n",
            "method_override",
        ),
        (
            "X-HTTP-Method",
            "POST /up/a HTTP/1.1\r\nHost: gw\r\nX-HTTP-Method: DELETE\r\nContent-Length: 0\r\n\r\n",
            "method_override",
        ),
        (
            // Identical duplicates are folded into one by the HTTP/1.1 parser (RFC 9112
            // section 6.3 allows it); differing ones are the smuggling vector.
            "conflicting content-length",
            "POST /up/a HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
            "",
        ),
        ("duplicate host", "GET /up/a HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n", ""),
        (
            "duplicate api-version",
            "GET /up/a?api-version=1&API-VERSION=2 HTTP/1.1\r\nHost: gw\r\n\r\n",
            "duplicate_parameter",
        ),
        ("empty segment", "GET /up//a HTTP/1.1\r\nHost: gw\r\n\r\n", "empty_segment"),
    ];
    for (name, request, code) in cases {
        let resp = raw(addr, request.as_bytes()).await;
        assert_eq!(status_of(&resp), 400, "{name}: {resp}");
        if !code.is_empty() {
            assert!(resp.contains(&format!("\"code\":\"{code}\"")), "{name}: {resp}");
        }
    }
    assert!(up.received().is_empty(), "nothing reached the target: {:?}", up.received());
    h.gateway.shutdown().await;
}

/// Transfer-Encoding with Content-Length: the HTTP/1.1 parser drops Content-Length and
/// frames by Transfer-Encoding alone, then closes the connection (RFC 9112 section 6.1),
/// so no request can be smuggled behind it. The target sees one framing only, and the
/// bytes after the chunked body are never read as another request.
#[tokio::test]
async fn transfer_encoding_with_content_length_cannot_smuggle() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let smuggle =
        "POST /up/a HTTP/1.1\r\nHost: gw\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n\
                   0\r\n\r\nGET /up/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n";
    let resp = raw(h.gateway.data_addr(), smuggle.as_bytes()).await;
    assert!(resp.to_ascii_lowercase().contains("connection: close"), "{resp}");
    let seen = up.received();
    assert!(seen.iter().all(|s| !s.target.contains("smuggled")), "{seen:?}");
    assert!(seen.iter().all(|s| s.headers.get("content-length").is_none_or(|v| v == "0")), "{seen:?}");
    h.gateway.shutdown().await;
}
