//! JSON masking through the public API: field rules, detectors, escapes, nested JSON,
//! strategies, structure preservation and errors.

mod common;
use common::*;
use portcullis_mask::MaskErrorCode;

#[test]
fn list_keys_answer_is_masked_and_counted() {
    let body = format!(
        r#"{{"keys": [{{"creationTime":"2024-01-01T00:00:00Z","keyName":"key1","value":"{KEY}","permissions":"FULL"}},{{"keyName":"key2","value":"{KEY2}","permissions":"FULL"}}]}}"#
    );
    let (out, report) = mask_json(&body);
    assert!(!out.contains(KEY) && !out.contains(KEY2));
    let expected =
        body.replace(KEY, "[REDACTED:azure_storage_key]").replace(KEY2, "[REDACTED:azure_storage_key]");
    assert_eq!(out, expected);
    assert_eq!(report.count("azure_storage_key"), 2);
    assert_eq!(report.total(), 2);
}

#[test]
fn non_secret_bytes_are_identical() {
    let body = "{\n  \"id\" : \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg\",\r\n\t\"n\": -1.50E+03, \"z\":0, \"b\":[true,false,null, 1e5 ],\n  \"s\": \"caf\\u00e9 \\/ \\\"q\\\"\", \"empty\": {}, \"e2\": [ ]\n}\n";
    let (out, report) = mask_json(body);
    assert_eq!(out, body);
    assert_eq!(report.total(), 0);
}

#[test]
fn field_rules_are_case_insensitive_and_see_escaped_keys() {
    let body = r#"{"PrimaryKey":"a1","SECONDARYKEY":"b2","properties":{"pass\u0077ord":"hunter2","connectionString":"x"}}"#;
    let (out, report) = mask_json(body);
    assert_eq!(
        out,
        r#"{"PrimaryKey":"[REDACTED:azure_key]","SECONDARYKEY":"[REDACTED:azure_key]","properties":{"pass\u0077ord":"[REDACTED:password]","connectionString":"[REDACTED:connection_string]"}}"#
    );
    assert_eq!(report.total(), 4);
}

#[test]
fn duplicate_keys_are_each_masked() {
    let (out, report) = mask_json(r#"{"password":"one","password":"two"}"#);
    assert_eq!(out, r#"{"password":"[REDACTED:password]","password":"[REDACTED:password]"}"#);
    assert_eq!(report.count("password"), 2);
}

#[test]
fn rules_mask_whole_subtrees_and_numbers() {
    let (out, _) = mask_json(r#"{"password":{"a":"x","b":[123, true, null]},"other":5}"#);
    assert_eq!(
        out,
        r#"{"password":{"a":"[REDACTED:password]","b":["[REDACTED:password]", true, null]},"other":5}"#
    );
}

#[test]
fn escaped_secrets_are_decoded_before_detection() {
    // The key with `/` written as `\/` and its first letter as a \u escape.
    let escaped = format!("\\u0055{}", &KEY[1..]).replace('/', "\\/");
    let body = format!(r#"{{"note":"key is {escaped} ok"}}"#);
    let (out, report) = mask_json(&body);
    assert_eq!(out, r#"{"note":"key is [REDACTED:azure_storage_key] ok"}"#);
    assert_eq!(report.count("azure_storage_key"), 1);
}

#[test]
fn json_inside_a_string_is_masked_as_json() {
    let inner = format!(r#"{{"clientSecret":"s3cr3t","token":"{JWT}","n":1}}"#);
    let mut encoded = String::new();
    for c in inner.chars() {
        if c == '"' {
            encoded.push('\\');
        }
        encoded.push(c);
    }
    let body = format!(r#"{{"properties":{{"parameters":"{encoded}"}}}}"#);
    let (out, report) = mask_json(&body);
    assert!(!out.contains("s3cr3t") && !out.contains(JWT));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nested: serde_json::Value =
        serde_json::from_str(v["properties"]["parameters"].as_str().unwrap()).unwrap();
    assert_eq!(nested["clientSecret"], "[REDACTED:entra_client_secret]");
    assert_eq!(nested["token"], "[REDACTED:jwt]");
    assert_eq!(nested["n"], 1);
    assert_eq!(report.total(), 2);
}

#[test]
fn secrets_split_across_every_chunk_boundary_are_caught() {
    let body = format!(r#"{{"a":"Bearer {JWT}","keys":[{{"value":"{KEY}"}}],"u":"x\u00e9y"}}"#);
    let (whole, _) = mask_json(&body);
    for chunk in 1..40 {
        let (out, report) =
            mask_chunked(&engine("azure"), "application/json", body.as_bytes(), chunk).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole, "chunk size {chunk}");
        assert_eq!(report.total(), 2);
    }
}

#[test]
fn drop_removes_members_and_keeps_the_document_valid() {
    let engine = engine_toml(
        r#"
        [profiles.d]
        fields = [{ path = "**.secret", strategy = "drop" }, { path = "list[*]", strategy = "drop" }]
        "#,
        "d",
    );
    let cases = [
        (r#"{"secret":1,"a":2}"#, r#"{"a":2}"#),
        (r#"{"a":1,"secret":"x"}"#, r#"{"a":1}"#),
        (r#"{"a":1, "secret":{"deep":[1,2]}, "b":2}"#, r#"{"a":1, "b":2}"#),
        (r#"{"secret":1,"secret":2}"#, r#"{}"#),
        (r#"{"list":[1,"two",{"x":3}],"k":[1,2]}"#, r#"{"list":[],"k":[1,2]}"#),
    ];
    for (input, want) in cases {
        let (out, _) = mask(&engine, "application/json", input);
        assert_eq!(out, want, "input {input}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }
}

#[test]
fn drop_by_detector_removes_array_elements_and_members() {
    let engine = engine_toml("[profiles.d]\ndetectors = { email = \"drop\" }\n", "d");
    let (out, report) = mask(
        &engine,
        "application/json",
        r#"{"owners":["a@contoso.com", "ops team", "b@contoso.com"],"mail":"c@contoso.com","n":1}"#,
    );
    assert_eq!(out, r#"{"owners":[ "ops team"],"n":1}"#);
    assert_eq!(report.count("email"), 3);
}

#[test]
fn strategies_partial_and_hash() {
    let engine =
        engine_toml("[profiles.p]\ndetectors = { credit_card = \"partial\", email = \"hash\" }\n", "p");
    let body = r#"["4111 1111 1111 1111","a@contoso.com","b@contoso.com","a@contoso.com"]"#;
    let (out, _) = mask(&engine, "application/json", body);
    let v: Vec<String> = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0], "[REDACTED:credit_card:last4=1111]");
    assert!(v[1].starts_with("[HASH:email:") && v[1].len() == "[HASH:email:]".len() + 12);
    assert_ne!(v[1], v[2]);
    assert_eq!(v[1], v[3], "stable within a session");
    let other = portcullis_mask::SessionContext::new(b"another session key.............");
    let (o2, _) = engine.mask_bytes(portcullis_mask::ContentKind::Json, body.as_bytes(), &other).unwrap();
    let v2: Vec<String> = serde_json::from_str(std::str::from_utf8(&o2).unwrap()).unwrap();
    assert_ne!(v[1], v2[1], "different across sessions");
}

#[test]
fn malformed_and_truncated_json_fail_closed() {
    let e = engine("azure");
    for bad in [r#"{"a":}"#, r#"{"a" 1}"#, r#"[1,]"#, r#"{"a":tru}"#, r#"{"a":1}x"#, r#"{"a":"\q"}"#, r#"]"#]
    {
        let err = mask_chunked(&e, "application/json", bad.as_bytes(), 3).unwrap_err();
        assert_eq!(err.code(), MaskErrorCode::Malformed, "{bad}");
    }
    for cut in [r#"{"a":"#, r#"{"a":"unfinished"#, "[1,2"] {
        let err = mask_chunked(&e, "application/json", cut.as_bytes(), 2).unwrap_err();
        assert_eq!(err.code(), MaskErrorCode::Truncated, "{cut}");
    }
    assert!(mask_chunked(&e, "application/json", b"", 1).unwrap().0.is_empty());
    let bom = b"\xEF\xBB\xBF{\"a\":1}";
    assert_eq!(mask_chunked(&e, "application/json", bom, 1).unwrap().0, bom);
    assert_eq!(mask_chunked(&e, "application/json", b" 42 ", 1).unwrap().0, b" 42 ");
}

#[test]
fn error_messages_never_contain_body_bytes() {
    let body = format!(r#"{{"password":"{KEY}", oops}}"#);
    let err = mask_chunked(&engine("azure"), "application/json", body.as_bytes(), 7).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(KEY) && !text.contains("oops"), "{text}");
}

#[test]
fn ndjson_lines_are_masked_independently() {
    let body = format!("{{\"password\":\"a\"}}\n{{\"note\":\"{JWT}\"}}\n\n{{\"x\":1}}\n");
    let (out, report) = mask(&engine("azure"), "application/x-ndjson", &body);
    assert_eq!(out, "{\"password\":\"[REDACTED:password]\"}\n{\"note\":\"[REDACTED:jwt]\"}\n\n{\"x\":1}\n");
    assert_eq!(report.total(), 2);
}
