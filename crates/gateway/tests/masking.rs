//! Step 9's masking through the real gateway: storage keys in a `listKeys` answer (plain
//! and gzip-compressed) and in a response header are masked before the agent sees them;
//! the audit record counts what was masked and never holds the key; content that cannot
//! be inspected on a masking connection is not passed on.

mod common;

use common::{gateway, Upstream, ACCOUNT_KEY};
use serde_json::Value;

const LIST_KEYS: &str =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/listKeys?api-version=2023-05-01";

fn config(up: &Upstream) -> String {
    format!("[[connections]]\nname = \"arm\"\nkind = \"azure-arm\"\nupstream = \"{}\"\n", up.url())
}

#[tokio::test]
async fn storage_keys_are_masked_in_every_encoding() {
    let up = Upstream::start().await;
    let h = gateway(&up, &config(&up)).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    for gzip in [false, true] {
        let url = h.url(&format!("/arm{LIST_KEYS}{}", if gzip { "&gzip=1" } else { "" }));
        let resp = client.post(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("content-encoding").is_none(), "masked output is sent decoded");
        let header = resp.headers().get("x-ms-connection-string").unwrap().to_str().unwrap().to_owned();
        assert!(!header.contains(ACCOUNT_KEY), "{header}");
        assert!(header.contains("AccountName=acct"), "only the secret part is masked: {header}");
        assert_eq!(
            resp.headers().get("x-ms-request-id").unwrap(),
            "0d1a7b7e-8f3e-4c55-9a40-5f0a3c1b2d4e",
            "GUIDs are not secrets"
        );
        let text = resp.text().await.unwrap();
        assert!(!text.contains(ACCOUNT_KEY), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        // listKeys gets the `strict` profile (rule azure.list-keys): the shape stays, values go.
        assert_eq!(body["keys"].as_array().map(Vec::len), Some(2), "{text}");
        assert!(body["keys"][0]["value"].as_str().unwrap().starts_with("[REDACTED"), "{text}");
    }

    // The audit log counts what was masked and holds no key. Response events are
    // committed as each body ends, just after the agent has it: wait (bounded) for both.
    let pool = h.gateway.store().pool().clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let responses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'response'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if responses >= 2 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT body FROM audit_events").fetch_all(&pool).await.unwrap();
    assert!(rows.iter().all(|r| !r.contains(ACCOUNT_KEY)), "a key reached the audit log");
    let counted: u64 = rows
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .filter_map(|v| find_counts(&v))
        .sum();
    assert!(counted >= 4, "two keys in each of two answers were counted: {counted}");
    h.gateway.shutdown().await;
}

/// Sums the numbers in the first `mask_counts` object found anywhere in `v`.
fn find_counts(v: &Value) -> Option<u64> {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(c)) = map.get("mask_counts") {
                return Some(c.values().filter_map(Value::as_u64).sum());
            }
            map.values().find_map(find_counts)
        }
        Value::Array(items) => items.iter().find_map(find_counts),
        _ => None,
    }
}

#[tokio::test]
async fn uninspectable_content_is_not_passed_on() {
    let up = Upstream::start().await;
    let h = gateway(&up, &config(&up)).await;
    let resp = reqwest::get(h.url("/arm/subscriptions/0000/octets?api-version=1")).await.unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "response_unmaskable");
    // A connection with masking off passes it.
    let text = reqwest::get(h.url("/up/octets")).await.unwrap().text().await.unwrap();
    assert!(text.contains(ACCOUNT_KEY));
    h.gateway.shutdown().await;
}
