//! XML, text, form, headers, content encodings and unknown content.

mod common;
use std::io::Write;

use common::*;
use portcullis_mask::{ContentKind, MaskErrorCode};

#[test]
fn azure_storage_xml_listing_is_masked_by_element_and_content() {
    let sas_url = format!(
        "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&amp;sr=b&amp;sig={SIG}&amp;se=2030-01-01"
    );
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EnumerationResults ServiceEndpoint=\"https://acct.blob.core.windows.net/\">\
<Blobs><Blob><Name>report.csv</Name><Url>{sas_url}</Url><Properties><Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>\
<Owner>alice@contoso.com</Owner></Properties><Metadata><x:Password xmlns:x=\"urn:x\">hunter2</x:Password></Metadata></Blob></Blobs>\
<!-- debug {KEY} --><Data><![CDATA[token {JWT}]]></Data><NextMarker /></EnumerationResults>"
    );
    let (whole, report) = mask(&engine("azure"), "application/xml", &body);
    let want = body
        .replace(SIG, "[REDACTED:azure_sas_token]")
        .replace("alice@contoso.com", "[REDACTED:email]")
        .replace(">hunter2<", ">[REDACTED:password]<")
        .replace(KEY, "[REDACTED:azure_storage_key]")
        .replace(JWT, "[REDACTED:jwt]");
    assert_eq!(whole, want);
    assert_eq!(report.total(), 5);
    for chunk in [1, 2, 3, 7, 64] {
        let (out, _) = mask_chunked(&engine("azure"), "application/xml", body.as_bytes(), chunk).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole, "chunk {chunk}");
    }
}

#[test]
fn xml_entities_are_decoded_before_detection() {
    let body = "<a><b>mail alice&#64;contoso.com &amp; more</b></a>";
    let (out, report) = mask(&engine("azure"), "text/xml; charset=utf-8", body);
    assert_eq!(out, "<a><b>mail [REDACTED:email] &amp; more</b></a>");
    assert_eq!(report.count("email"), 1);
}

#[test]
fn text_secrets_across_chunk_boundaries() {
    let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oG9fHk8ZGH9SoAoGCCqGSM49\n-----END EC PRIVATE KEY-----";
    let mut body = String::new();
    for i in 0..3000 {
        body.push_str(&format!("line {i} nothing to see 10.0.0.{}\n", i % 250));
    }
    body.push_str(pem);
    body.push_str("\nthen a card 4111-1111-1111-1111 and ");
    body.push_str(JWT);
    body.push('\n');
    let (whole, report) = mask(&engine("azure"), "text/plain", &body);
    assert_eq!(report.count("pem_private_key"), 1);
    assert_eq!(report.count("credit_card"), 1);
    assert_eq!(report.count("jwt"), 1);
    assert!(whole.contains("10.0.0.7\n"), "ipv4 is off in azure");
    for chunk in [1, 13, 4096, 65536, 70001] {
        let (out, _) = mask_chunked(&engine("azure"), "text/plain", body.as_bytes(), chunk).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole, "chunk {chunk}");
    }
}

#[test]
fn form_bodies() {
    let body =
        format!("grant_type=client_credentials&client_secret=abc%2Bdef&note=call+425-555-0100&x={KEY}");
    let (out, report) = mask(&engine("azure"), "application/x-www-form-urlencoded", &body);
    assert_eq!(
        out,
        "grant_type=client_credentials&client_secret=%5BREDACTED%3Aentra_client_secret%5D&note=call+%5BREDACTED%3Aphone%5D&x=%5BREDACTED%3Aazure_storage_key%5D"
    );
    assert_eq!(report.total(), 3);
}

#[test]
fn headers_are_masked_by_the_same_rules() {
    let e = engine("azure");
    let mut s = e.stream(ContentKind::Json, &session()).unwrap();
    assert_eq!(
        s.mask_header_value("x-ms-request-id", "6b1e4c0e-5f1c-4a8b-9a52-1234567890ab"),
        "6b1e4c0e-5f1c-4a8b-9a52-1234567890ab"
    );
    assert_eq!(
        s.mask_header_value("Location", &format!("https://a/b?sig={SIG}")),
        "https://a/b?sig=[REDACTED:azure_sas_token]"
    );
    assert_eq!(s.mask_header_value("X-Password", "x"), "x");
    assert_eq!(s.mask_header_value("Password", "x"), "[REDACTED:password]");
    assert_eq!(s.report().total(), 2);
    assert_eq!(
        e.mask_header_value("authorization", &format!("Bearer {JWT}"), &session()),
        "Bearer [REDACTED:jwt]"
    );
}

fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "raw-deflate" => {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(data).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn compressed_bodies_are_decoded_masked_and_passed_as_identity() {
    let body = format!(r#"{{"keys":[{{"value":"{KEY}"}}],"pad":"{}"}}"#, "x".repeat(20000));
    let (want, _) = mask_json(&body);
    for enc in ["gzip", "deflate", "raw-deflate", "br", "zstd"] {
        let compressed = compress(enc, body.as_bytes());
        let header = if enc == "raw-deflate" { "deflate" } else { enc };
        let mut s = engine("azure").stream_encoded(ContentKind::Json, Some(header), &session()).unwrap();
        assert!(s.output_is_decoded());
        let mut out = Vec::new();
        for c in compressed.chunks(100) {
            s.push(c, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), want, "{enc}");
        assert_eq!(s.report().count("azure_storage_key"), 1);
    }
}

#[test]
fn compression_bombs_hit_the_decoded_limit() {
    let e = engine_toml("[profiles.b]\nmax_decoded_bytes = 1048576\n", "b");
    for enc in ["gzip", "br", "zstd"] {
        // 64 MiB of spaces inside a JSON array compresses to a few KiB.
        let mut body = b"[".to_vec();
        body.extend(std::iter::repeat_n(b' ', 64 << 20));
        body.push(b']');
        let bomb = compress(enc, &body);
        assert!(bomb.len() < 200_000, "{enc}: {}", bomb.len());
        let mut s = e.stream_encoded(ContentKind::Json, Some(enc), &session()).unwrap();
        let mut out = Vec::new();
        let err = bomb
            .chunks(8192)
            .try_for_each(|c| s.push(c, &mut out))
            .and_then(|()| s.finish(&mut out))
            .unwrap_err();
        assert_eq!(err.code(), MaskErrorCode::DecodedTooLarge, "{enc}");
        assert!(out.len() <= 1 << 20, "{enc}: output stopped at the limit");
    }
}

#[test]
fn corrupt_compressed_body_is_an_error() {
    let mut s = engine("azure").stream_encoded(ContentKind::Json, Some("gzip"), &session()).unwrap();
    let mut out = Vec::new();
    let r = s.push(b"definitely not gzip", &mut out).and_then(|()| s.finish(&mut out));
    assert_eq!(r.unwrap_err().code(), MaskErrorCode::Decode);
}

#[test]
fn unknown_content_is_refused_or_passed_by_profile() {
    let ct = ContentKind::from_content_type(Some("application/octet-stream"));
    let mut s = engine("azure").stream(ct.clone(), &session()).unwrap();
    let mut out = Vec::new();
    s.push(b"", &mut out).unwrap();
    let err = s.push(b"\x00\x01", &mut out).unwrap_err();
    assert_eq!(err.code(), MaskErrorCode::UnsupportedContent);
    assert!(err.to_string().contains("application/octet-stream"));
    assert_eq!(s.push(b"x", &mut out).unwrap_err().code(), MaskErrorCode::Failed);
    // An empty body of unknown type is fine.
    let mut s = engine("azure").stream(ct.clone(), &session()).unwrap();
    s.finish(&mut out).unwrap();

    let pass = engine_toml("[profiles.p]\nextends = \"azure\"\non_unknown = \"pass\"\n", "p");
    let mut s = pass.stream_encoded(ct, Some("gzip"), &session()).unwrap();
    assert!(s.is_passthrough() && !s.output_is_decoded());
    s.push(b"\x1f\x8b raw", &mut out).unwrap();
    s.finish(&mut out).unwrap();
    assert_eq!(out, b"\x1f\x8b raw");

    let err = engine("azure").stream_encoded(ContentKind::Json, Some("compress"), &session()).unwrap_err();
    assert_eq!(err.code(), MaskErrorCode::UnsupportedEncoding);
}

#[test]
fn content_types_are_classified() {
    let k = |ct| ContentKind::from_content_type(Some(ct));
    assert_eq!(k("application/json; charset=utf-8"), ContentKind::Json);
    assert_eq!(k("application/problem+json"), ContentKind::Json);
    assert_eq!(k("application/x-ndjson"), ContentKind::Ndjson);
    assert_eq!(k("application/atom+xml"), ContentKind::Xml);
    assert_eq!(k("TEXT/HTML"), ContentKind::Text);
    assert_eq!(k("application/x-www-form-urlencoded"), ContentKind::Form);
    assert_eq!(k("image/png"), ContentKind::Other("image/png".into()));
    assert_eq!(ContentKind::from_content_type(None), ContentKind::Other("(none)".into()));
}
