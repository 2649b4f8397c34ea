//! The `strict` profile (what guardrails ask for on `listKeys`) masks the key material of
//! a listKeys answer and nothing else: key names, permissions and dates stay readable, so
//! an agent can still tell `key1` from `key2` and see when each was rotated.

mod common;
use common::*;

const KEY: &str = "c3VwZXJzZWNyZXRrZXlzdXBlcnNlY3JldGtleXN1cGVyc2VjcmV0a2V5c3VwZXJzZWNyZXRrZXkxMjM0NTY3OA==";

#[test]
fn strict_masks_list_keys_values_and_keeps_their_names() {
    let body = format!(
        r#"{{"keys":[{{"creationTime":"2026-11-01T10:00:00.0000000Z","keyName":"key1","value":"{KEY}","permissions":"FULL"}},{{"creationTime":"2026-11-02T10:00:00.0000000Z","keyName":"key2","value":"{KEY}","permissions":"FULL"}}]}}"#
    );
    let (masked, report) = mask(&engine("strict"), "application/json", &body);
    assert!(!masked.contains(KEY), "{masked}");
    let v: serde_json::Value = serde_json::from_str(&masked).unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys[0]["keyName"], "key1", "{masked}");
    assert_eq!(keys[1]["keyName"], "key2");
    assert_eq!(keys[0]["permissions"], "FULL");
    assert_eq!(keys[1]["creationTime"], "2026-11-02T10:00:00.0000000Z");
    assert!(keys[0]["value"].as_str().unwrap().contains("REDACTED"), "{masked}");
    assert_eq!(report.total(), 2, "{report:?}");
}

#[test]
fn strict_still_masks_arrays_of_bare_keys_by_content() {
    let body = format!(r#"{{"apiKeys":["{KEY}"],"hostKeys":{{"default":"{KEY}"}},"masterKey":"{KEY}"}}"#);
    let (masked, _) = mask(&engine("strict"), "application/json", &body);
    assert!(!masked.contains(KEY), "{masked}");
}
