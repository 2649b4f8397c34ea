//! Fake ARM: authentication and ARM error bodies, api-version, case-insensitive paths,
//! resource groups with LRO delete and paging, storage keys, deployments, role
//! assignments, /batch, cloud metadata and request recording.

use portcullis_sandbox::{FakeArm, FakeEntra, StorageAccount, TokenSpec, ARM_AUDIENCE};
use reqwest::{Client, Method};
use serde_json::{json, Value};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const SUB: &str = "0b1f6471-1bf0-4dda-aec3-111122223333";
const V: &str = "api-version=2021-04-01";

struct World {
    idp: FakeEntra,
    arm: FakeArm,
    token: String,
    http: Client,
}

async fn world(
    customize: impl FnOnce(portcullis_sandbox::FakeArmBuilder) -> portcullis_sandbox::FakeArmBuilder,
) -> anyhow::Result<World> {
    let idp = FakeEntra::builder().tenant(TID).start().await?;
    let arm = customize(FakeArm::builder(&idp).subscription(SUB, "Test")).start().await?;
    let mut spec = TokenSpec::new(TID, ARM_AUDIENCE, "agent-oid");
    spec.object_id = Some("agent-oid".into());
    spec.version = portcullis_sandbox::TokenVersion::V1;
    let token = idp.mint(&spec)?;
    Ok(World { idp, arm, token, http: Client::new() })
}

impl World {
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_owned()
        } else {
            format!("{}{}", self.arm.url(), path_and_query)
        };
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        Ok((status, headers, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn raw(&self, auth: Option<&str>, path: &str) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.get(format!("{}{}", self.arm.url(), path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await?;
        Ok((resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null)))
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn bad_or_missing_tokens_get_arm_401s() -> anyhow::Result<()> {
    let w = world(|b| b).await?;
    let path = format!("/subscriptions?{V}");
    assert_eq!(w.raw(None, &path).await?.1["error"]["code"], "AuthenticationFailed");
    assert_eq!(code(&w.raw(Some("Basic abc"), &path).await?.1), "AuthenticationFailed");
    assert_eq!(code(&w.raw(Some("Bearer not.a.jwt"), &path).await?.1), "InvalidAuthenticationToken");

    let mint = |f: &dyn Fn(&mut TokenSpec)| -> anyhow::Result<String> {
        let mut s = TokenSpec::new(TID, ARM_AUDIENCE, "x");
        f(&mut s);
        Ok(format!("Bearer {}", w.idp.mint(&s)?))
    };
    let cases: Vec<(String, &str)> = vec![
        (mint(&|s| s.audience = "https://storage.azure.com/".into())?, "InvalidAuthenticationTokenAudience"),
        (mint(&|s| *s = TokenSpec::new(TID, ARM_AUDIENCE, "x").expired(60))?, "ExpiredAuthenticationToken"),
        (
            mint(&|s| s.tenant = "00000000-0000-0000-0000-00000000beef".into())?,
            "InvalidAuthenticationTokenTenant",
        ),
        (mint(&|s| s.issuer = Some("https://evil.example/".into()))?, "InvalidAuthenticationTokenTenant"),
        (mint(&|s| s.sign_with_unknown_key = true)?, "InvalidAuthenticationToken"),
    ];
    for (auth, want) in cases {
        let (status, body) = w.raw(Some(&auth), &path).await?;
        assert_eq!((status, code(&body)), (401, want), "{body}");
    }
    // An unsigned token naming a published kid (alg "none") is refused.
    let valid = w.idp.mint(&TokenSpec::new(TID, ARM_AUDIENCE, "x"))?;
    let kid = jsonwebtoken::decode_header(&valid)?.kid.unwrap_or_default();
    let b64 = |v: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let payload = valid.split('.').nth(1).unwrap_or_default();
    let unsigned = format!("Bearer {}.{payload}.", b64(json!({"alg": "none", "kid": kid})));
    let (status, body) = w.raw(Some(&unsigned), &path).await?;
    assert_eq!((status, code(&body)), (401, "InvalidAuthenticationToken"));
    // The audience without the trailing slash is accepted, as ARM accepts it.
    let ok = mint(&|s| s.audience = "https://management.azure.com".into())?;
    assert_eq!(w.raw(Some(&ok), &path).await?.0, 200);

    // Every attempt was recorded, rejected or not.
    let received = w.arm.received();
    assert_eq!(received.len(), 10);
    assert!(received.iter().take(9).all(|r| r.status == 401));
    Ok(())
}

#[tokio::test]
async fn api_version_is_required_and_metadata_is_public() -> anyhow::Result<()> {
    let w = world(|b| b).await?;
    let (status, _, body) = w.call(Method::GET, "/subscriptions", None).await?;
    assert_eq!((status, code(&body)), (400, "MissingApiVersionParameter"));
    let (status, _, body) = w.call(Method::GET, "/subscriptions?api-version=latest", None).await?;
    assert_eq!((status, code(&body)), (400, "InvalidApiVersionParameter"));

    let (status, meta) = w.raw(None, "/metadata/endpoints?api-version=2022-09-01").await?;
    assert_eq!(status, 200);
    assert_eq!(meta[0]["resourceManager"], format!("{}/", w.arm.url()));
    assert_eq!(meta[0]["suffixes"]["storage"], "core.windows.net");
    assert!(meta[0]["authentication"]["audiences"].as_array().is_some_and(|a| !a.is_empty()));
    let (_, old) = w.raw(None, "/metadata/endpoints?api-version=2019-05-01").await?;
    assert!(old.is_object());
    Ok(())
}

#[tokio::test]
async fn resource_groups_crud_paging_and_lro_delete() -> anyhow::Result<()> {
    let w = world(|b| {
        b.empty().page_size(2).polls_before_done(1).retry_after_secs(0).link_base("https://gateway.test:8443")
    })
    .await?;
    for i in 0..5 {
        let (status, _, body) = w
            .call(
                Method::PUT,
                &format!("/subscriptions/{SUB}/resourcegroups/RG-{i}?{V}"),
                Some(json!({"location": "westeurope"})),
            )
            .await?;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["id"], format!("/subscriptions/{SUB}/resourceGroups/RG-{i}"));
    }
    let (status, _, body) = w
        .call(
            Method::PUT,
            &format!("/subscriptions/{SUB}/resourcegroups/rg-0?{V}"),
            Some(json!({"location": "WestEurope", "tags": {"a": "b"}})),
        )
        .await?;
    assert_eq!(
        (status, body["name"].as_str(), body["tags"]["a"].as_str()),
        (200, Some("RG-0"), Some("b")),
        "update keeps the original casing"
    );
    let (status, _, body) = w
        .call(Method::PUT, &format!("/subscriptions/{SUB}/resourcegroups/rg-x?{V}"), Some(json!({})))
        .await?;
    assert_eq!((status, code(&body)), (400, "LocationRequired"));

    // Paging: absolute nextLink on the configured link base.
    let (_, _, page1) =
        w.call(Method::GET, &format!("/SUBSCRIPTIONS/{SUB}/resourceGroups?{V}"), None).await?;
    assert_eq!(page1["value"].as_array().map(Vec::len), Some(2));
    let next = page1["nextLink"].as_str().unwrap_or_default().to_owned();
    assert!(
        next.starts_with(&format!("https://gateway.test:8443/SUBSCRIPTIONS/{SUB}/resourceGroups?")),
        "{next}"
    );
    let mut names = Vec::new();
    let mut link = Some(format!("/subscriptions/{SUB}/resourcegroups?{V}"));
    while let Some(l) = link {
        let local = l.replace("https://gateway.test:8443", "");
        let (_, _, page) = w.call(Method::GET, &local, None).await?;
        names.extend(
            page["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g["name"].as_str().map(str::to_owned)),
        );
        link = page["nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(names, ["RG-0", "RG-1", "RG-2", "RG-3", "RG-4"]);

    // HEAD, then DELETE as a long-running operation.
    assert_eq!(
        w.call(Method::HEAD, &format!("/subscriptions/{SUB}/resourcegroups/rg-1?{V}"), None).await?.0,
        204
    );
    let (status, headers, _) =
        w.call(Method::DELETE, &format!("/subscriptions/{SUB}/resourcegroups/rg-1?{V}"), None).await?;
    assert_eq!(status, 202);
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(h("location").starts_with("https://gateway.test:8443/subscriptions/"));
    assert_eq!(h("retry-after"), "0");
    let async_op = h("azure-asyncoperation").replace("https://gateway.test:8443", "");
    let (_, _, rg) =
        w.call(Method::GET, &format!("/subscriptions/{SUB}/resourcegroups/rg-1?{V}"), None).await?;
    assert_eq!(rg["properties"]["provisioningState"], "Deleting");
    let (_, _, s1) = w.call(Method::GET, &async_op, None).await?;
    assert_eq!(s1["status"], "InProgress");
    let (_, _, s2) = w.call(Method::GET, &async_op, None).await?;
    assert_eq!(s2["status"], "Succeeded");
    let (status, _, body) =
        w.call(Method::GET, &format!("/subscriptions/{SUB}/resourcegroups/rg-1?{V}"), None).await?;
    assert_eq!((status, code(&body)), (404, "ResourceGroupNotFound"));
    assert_eq!(
        w.call(Method::HEAD, &format!("/subscriptions/{SUB}/resourcegroups/rg-1?{V}"), None).await?.0,
        404
    );
    Ok(())
}

#[tokio::test]
async fn subscriptions_and_storage_keys() -> anyhow::Result<()> {
    let w = world(|b| b.storage_account(StorageAccount::new("rg-data", "stdata01"))).await?;
    assert_eq!(w.arm.subscription_id(), SUB);
    let (_, _, subs) = w.call(Method::GET, &format!("/subscriptions?{V}"), None).await?;
    assert_eq!(subs["value"][0]["subscriptionId"], SUB);
    assert_eq!(subs["value"][0]["tenantId"], TID);
    let (status, _, body) = w
        .call(Method::GET, &format!("/subscriptions/00000000-0000-0000-0000-000000000000?{V}"), None)
        .await?;
    assert_eq!((status, code(&body)), (404, "SubscriptionNotFound"));

    let (_, _, tenants) = w.call(Method::GET, "/tenants?api-version=2022-12-01", None).await?;
    assert_eq!(tenants["value"][0]["tenantId"], TID);
    let (_, _, resources) = w
        .call(Method::GET, &format!("/subscriptions/{SUB}/resourceGroups/rg-data/resources?{V}"), None)
        .await?;
    assert_eq!(resources["value"][0]["type"], "Microsoft.Storage/storageAccounts");
    assert_eq!(resources["value"][0]["name"], "stdata01");
    let acct = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata01"
    );
    let (status, _, keys) = w
        .call(
            Method::POST,
            &format!(
                "{}/LISTKEYS?api-version=2023-05-01",
                acct.to_uppercase().replace(&SUB.to_uppercase(), SUB)
            ),
            None,
        )
        .await?;
    assert_eq!(status, 200, "{keys}");
    let values: Vec<&str> =
        keys["keys"].as_array().into_iter().flatten().filter_map(|k| k["value"].as_str()).collect();
    assert_eq!(values.len(), 2);
    assert!(values.iter().all(|v| v.len() == 88 && v.ends_with("==")), "{values:?}");
    assert_ne!(values[0], values[1]);
    let (status, _, sas) = w.call(Method::POST, &format!("{acct}/listAccountSas?api-version=2023-05-01"), Some(json!({"signedServices": "b", "signedResourceTypes": "sco", "signedPermission": "rl", "signedExpiry": "2030-01-01T00:00:00Z"}))).await?;
    assert_eq!(status, 200);
    assert!(sas["accountSasToken"].as_str().unwrap_or_default().contains("sig="));
    // Creating an account is a long-running operation answered with `Location` only.
    let created = format!("/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stnew01?api-version=2023-05-01");
    let (status, headers, _) = w
        .call(
            Method::PUT,
            &created,
            Some(json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})),
        )
        .await?;
    assert_eq!(status, 202);
    assert!(headers.get("azure-asyncoperation").is_none());
    let location = headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(w.call(Method::GET, &created, None).await?.2["properties"]["provisioningState"], "Creating");
    let (first, _, _) = w.call(Method::GET, &location, None).await?;
    let (second, _, done) = w.call(Method::GET, &location, None).await?;
    assert_eq!((first, second), (202, 200));
    assert_eq!(done["name"], "stnew01");
    assert_eq!(done["properties"]["provisioningState"], "Succeeded");
    let (status, _, body) = w.call(Method::GET, &format!("/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/missing?{V}"), None).await?;
    assert_eq!((status, code(&body)), (404, "ResourceNotFound"));
    let (status, _, body) = w.call(Method::GET, &format!("/subscriptions/{SUB}/resourceGroups/rg-none/providers/Microsoft.Storage/storageAccounts/x?{V}"), None).await?;
    assert_eq!((status, code(&body)), (404, "ResourceGroupNotFound"));
    // The seeded deployment's outputs carry a connection string with key1.
    let (_, _, dep) = w.call(Method::GET, &format!("/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Resources/deployments/storage-setup?{V}"), None).await?;
    let conn = dep["properties"]["outputs"]["storageConnectionString"]["value"].as_str().unwrap_or_default();
    assert!(conn.contains(&format!("AccountKey={}", values[0])), "{conn}");
    Ok(())
}

#[tokio::test]
async fn deployments_complete_mode_and_secret_outputs() -> anyhow::Result<()> {
    let w = world(|b| {
        b.storage_account(StorageAccount::new("rg-app", "stkeep"))
            .storage_account(StorageAccount::new("rg-app", "stdoomed"))
    })
    .await?;
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{ "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "stkeep", "location": "westeurope" },
                      { "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "stnew", "location": "westeurope" }],
        "outputs": {
            "key": { "type": "string", "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'stkeep'), '2023-05-01').keys[0].value]" },
            "hidden": { "type": "securestring", "value": "s3cret" },
            "plain": { "type": "string", "value": "hello" }
        }
    });
    let path = format!(
        "/subscriptions/{SUB}/resourcegroups/rg-app/providers/Microsoft.Resources/deployments/dep1?{V}"
    );
    let (status, _, body) = w
        .call(Method::PUT, &path, Some(json!({"properties": {"mode": "Sideways", "template": template}})))
        .await?;
    assert_eq!((status, code(&body)), (400, "InvalidRequestContent"));
    let (status, headers, accepted) = w
        .call(Method::PUT, &path, Some(json!({"properties": {"mode": "Complete", "template": template}})))
        .await?;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["properties"]["provisioningState"], "Accepted");
    assert!(accepted["properties"].get("outputs").is_none(), "no outputs before the deployment succeeded");
    let status_url =
        headers.get("azure-asyncoperation").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(status_url.starts_with(w.arm.url()), "{status_url}");
    let (_, _, running) = w.call(Method::GET, &path, None).await?;
    assert_eq!(running["properties"]["provisioningState"], "Running");
    let mut polls = 0;
    loop {
        let (_, _, op) = w.call(Method::GET, &status_url, None).await?;
        polls += 1;
        if op["status"] == "Succeeded" {
            break;
        }
        assert_eq!(op["status"], "InProgress");
        assert!(polls < 10, "the deployment never finished");
    }
    let (_, _, body) = w.call(Method::GET, &path, None).await?;
    assert_eq!(body["name"], "dep1");
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(body["properties"]["mode"], "Complete");
    let key = w.arm.storage_keys(SUB, "rg-app", "stkeep").map(|k| k[0].clone());
    assert_eq!(body["properties"]["outputs"]["key"]["value"].as_str(), key.as_deref());
    assert!(body["properties"]["outputs"]["hidden"].get("value").is_none());
    assert_eq!(body["properties"]["outputs"]["plain"]["value"], "hello");
    assert!(
        w.arm.storage_keys(SUB, "rg-app", "stdoomed").is_none(),
        "Complete mode deletes undeclared resources"
    );
    assert!(w.arm.storage_keys(SUB, "rg-app", "stnew").is_some());
    Ok(())
}

#[tokio::test]
async fn role_assignments_and_batch() -> anyhow::Result<()> {
    let w = world(|b| b.resource_group("rg-ra", "westeurope")).await?;
    let name = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    let role = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c");
    let scope = format!("/subscriptions/{SUB}/resourceGroups/rg-ra");
    let ra =
        format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01");
    let body = json!({"properties": {"roleDefinitionId": role, "principalId": "p-1"}});
    let (status, _, created) = w.call(Method::PUT, &ra, Some(body.clone())).await?;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["properties"]["scope"], scope);
    assert_eq!(created["properties"]["createdBy"], "agent-oid");
    let dup = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/9f2504e0-4f89-41d3-9a0c-0305e82c3301?api-version=2022-04-01");
    let (status, _, b) = w.call(Method::PUT, &dup, Some(body)).await?;
    assert_eq!((status, code(&b)), (409, "RoleAssignmentExists"));
    let bad = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/not-a-guid?api-version=2022-04-01"
    );
    assert_eq!(code(&w.call(Method::PUT, &bad, Some(json!({}))).await?.2), "InvalidRoleAssignmentId");
    let (_, _, list) = w
        .call(
            Method::GET,
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"),
            None,
        )
        .await?;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(1));
    // At subscription scope the listing includes assignments below it, unless atScope().
    let sub_list = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
    );
    assert_eq!(w.call(Method::GET, &sub_list, None).await?.2["value"].as_array().map(Vec::len), Some(1));
    let at_scope = format!("{sub_list}&$filter=atScope()");
    assert_eq!(w.call(Method::GET, &at_scope, None).await?.2["value"].as_array().map(Vec::len), Some(0));

    let batch = json!({"requests": [
        {"httpMethod": "GET", "name": "a", "url": format!("https://management.azure.com/subscriptions/{SUB}/resourceGroups/rg-ra?{V}")},
        {"httpMethod": "DELETE", "name": "b", "url": ra},
        {"httpMethod": "GET", "name": "c", "url": format!("subscriptions/{SUB}/resourceGroups/nope?{V}")},
    ]});
    let (status, _, out) = w.call(Method::POST, "/batch?api-version=2020-06-01", Some(batch)).await?;
    assert_eq!(status, 200, "{out}");
    let codes: Vec<u64> = out["responses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["httpStatusCode"].as_u64())
        .collect();
    assert_eq!(codes, [200, 200, 404]);
    assert_eq!(out["responses"][2]["content"]["error"]["code"], "ResourceGroupNotFound");
    assert_eq!(w.call(Method::GET, &ra, None).await?.0, 404, "the batched DELETE took effect");
    let batched: Vec<String> =
        w.arm.received().into_iter().filter(|r| r.via_batch).map(|r| r.method).collect();
    assert_eq!(batched, ["GET", "DELETE", "GET"]);
    Ok(())
}

#[tokio::test]
async fn received_records_body_hash_and_nothing_else_arrives() -> anyhow::Result<()> {
    let w = world(|b| b).await?;
    assert!(w.arm.received().is_empty(), "nothing reached the target yet");
    let body = json!({"location": "westeurope"});
    w.call(Method::PUT, &format!("/subscriptions/{SUB}/resourcegroups/rg-rec?{V}"), Some(body.clone()))
        .await?;
    let got = w.arm.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.status),
        ("PUT", format!("/subscriptions/{SUB}/resourcegroups/rg-rec").as_str(), 201)
    );
    assert_eq!(r.query.as_deref(), Some(V));
    assert_eq!(r.body_len, body.to_string().len());
    assert_eq!(r.body_sha256.len(), 64);
    assert_eq!(r.header("authorization"), Some(format!("Bearer {}", w.token).as_str()));
    w.arm.clear_received();
    assert!(w.arm.received().is_empty());
    Ok(())
}

#[tokio::test]
async fn rbac_enforcement_answers_authorization_failed() -> anyhow::Result<()> {
    use portcullis_sandbox::BuiltInRole;
    let rg_scope = format!("/subscriptions/{SUB}/resourceGroups/rg-data");
    let w = world(|b| {
        b.storage_account(StorageAccount::new("rg-data", "stdata01"))
            .resource_group("rg-other", "westeurope")
            .enforce_rbac()
            .role_assignment(&rg_scope, BuiltInRole::Reader, "reader-oid")
            .role_assignment(format!("/subscriptions/{SUB}"), BuiltInRole::Owner, "agent-oid")
    })
    .await?;
    let as_oid = |oid: &str| -> anyhow::Result<String> {
        let mut s = TokenSpec::new(TID, ARM_AUDIENCE, oid);
        s.object_id = Some(oid.into());
        Ok(format!("Bearer {}", w.idp.mint(&s)?))
    };
    let reader = as_oid("reader-oid")?;
    let acct = format!("{rg_scope}/providers/Microsoft.Storage/storageAccounts/stdata01");
    assert_eq!(w.raw(Some(&reader), &format!("{acct}?{V}")).await?.0, 200);
    let (status, body) =
        w.raw(Some(&reader), &format!("/subscriptions/{SUB}/resourceGroups/rg-other?{V}")).await?;
    assert_eq!((status, code(&body)), (403, "AuthorizationFailed"));

    let list_keys = |auth: String| {
        let url = format!("{}{acct}/listKeys?api-version=2023-05-01", w.arm.url());
        let http = w.http.clone();
        async move {
            let r = http.post(url).header("authorization", auth).send().await?;
            Ok::<_, anyhow::Error>((r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null)))
        }
    };
    let (status, body) = list_keys(reader.clone()).await?;
    assert_eq!((status, code(&body)), (403, "AuthorizationFailed"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Microsoft.Storage/storageAccounts/listKeys/action"));
    assert_eq!(list_keys(as_oid("stranger-oid")?).await?.0, 403);

    // The owner (the world's default token) grants Contributor; the reader can now list keys.
    let ra = format!("{rg_scope}/providers/Microsoft.Authorization/roleAssignments/5d1e6f3a-0d3b-4f0e-9c1b-2a3b4c5d6e7f?api-version=2022-04-01");
    let role = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{}",
        BuiltInRole::Contributor.guid()
    );
    let (status, _, _) = w
        .call(
            Method::PUT,
            &ra,
            Some(json!({"properties": {"roleDefinitionId": role, "principalId": "reader-oid"}})),
        )
        .await?;
    assert_eq!(status, 201);
    assert_eq!(list_keys(reader).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn default_seed_gives_the_demo_something_to_list() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().tenant(TID).start().await?;
    let arm = FakeArm::builder(&idp).start().await?;
    let sub = arm.subscription_id().to_owned();
    assert!(!sub.is_empty());
    assert_eq!(arm.resource_group_names(&sub), ["rg-demo", "rg-prod"]);
    let mut spec = TokenSpec::new(TID, ARM_AUDIENCE, "demo");
    spec.object_id = Some("demo".into());
    let token = idp.mint(&spec)?;
    let http = Client::new();
    let url = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01",
        arm.url()
    );
    let accounts: Value = http.get(url).bearer_auth(&token).send().await?.json().await?;
    let names: Vec<&str> =
        accounts["value"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["stportcullisdemo", "stportcullisprod"]);
    let dep = format!("{}/subscriptions/{sub}/resourceGroups/rg-demo/providers/Microsoft.Resources/deployments/storage-setup?api-version=2021-04-01", arm.url());
    let dep: Value = http.get(dep).bearer_auth(&token).send().await?.json().await?;
    let conn = dep["properties"]["outputs"]["storageConnectionString"]["value"].as_str().unwrap_or_default();
    assert!(
        conn.starts_with("DefaultEndpointsProtocol=https;AccountName=stportcullisdemo;AccountKey="),
        "{conn}"
    );
    Ok(())
}

#[tokio::test]
async fn tls_mode_serves_https_trusted_only_through_its_ca() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().tenant(TID).start().await?;
    let arm = FakeArm::builder(&idp).subscription(SUB, "Test").page_size(1).tls().start().await?;
    assert!(arm.url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(arm.ca_pem().unwrap_or_default().as_bytes())?;
    let trusting = Client::builder().add_root_certificate(ca).build()?;
    let token = idp.mint(&TokenSpec::new(TID, ARM_AUDIENCE, "x"))?;
    let url = format!("{}/subscriptions/{SUB}/resourcegroups?{V}", arm.url());
    let page: Value = trusting.get(&url).bearer_auth(&token).send().await?.json().await?;
    assert!(page["nextLink"].as_str().unwrap_or_default().starts_with("https://127.0.0.1:"), "{page}");
    assert!(
        Client::new().get(&url).bearer_auth(&token).send().await.is_err(),
        "an untrusted CA must fail the handshake"
    );
    Ok(())
}
