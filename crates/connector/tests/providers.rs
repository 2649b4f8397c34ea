//! Every Entra-based provider against the sandbox's fake Entra ID, with the fake ARM
//! (which validates bearer tokens for real) as the upstream: the agent's own credential
//! never reaches the target, the connector's does.

use std::time::{SystemTime, UNIX_EPOCH};

use http::Request;
use http_body_util::{BodyExt, Empty};
use portcullis_connector::{Connector, ConnectorBody, ConnectorConfig, ConnectorError, GRANT_EXPIRES_HEADER};
use portcullis_sandbox::{Agent, ClientCertificate, FakeArm, FakeEntra, ARM_AUDIENCE};
use serde_json::Value;

const ARM_SCOPE: &str = "https://management.azure.com/.default";

struct World {
    idp: FakeEntra,
    arm: FakeArm,
    dir: tempfile::TempDir,
}

async fn world(agent: Agent) -> anyhow::Result<World> {
    let idp = FakeEntra::builder().agent(agent).start().await?;
    let arm = FakeArm::builder(&idp).resource_group("rg-connector", "westeurope").start().await?;
    Ok(World { idp, arm, dir: tempfile::tempdir()? })
}

impl World {
    fn connector(&self, credential: &str) -> anyhow::Result<Connector> {
        let text = format!(
            "[[connections]]\nname = \"arm\"\nupstream = \"{}\"\ncredential = {credential}\n",
            self.arm.url()
        );
        let config = ConnectorConfig::from_toml(&text, &self.dir.path().join("connector.toml"))?;
        Ok(Connector::from_config(&config)?)
    }

    fn write(&self, name: &str, content: &str) -> anyhow::Result<String> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content)?;
        Ok(path.display().to_string())
    }

    /// Lists resource groups through the connector as an agent that sends its own token.
    async fn list(&self, connector: &Connector) -> Result<(u16, Value), ConnectorError> {
        let path =
            format!("/subscriptions/{}/resourcegroups?api-version=2021-04-01", self.arm.subscription_id());
        let req = Request::get(path)
            .header("authorization", "Bearer agent-own-token")
            .header("cookie", "session=agent")
            .body(empty())
            .map_err(|e| ConnectorError::BadRequest(e.to_string()))?;
        let resp = connector.send("arm", req).await?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// The tokens the fake ARM received, in order.
    fn received_tokens(&self) -> Vec<String> {
        self.arm.received().iter().filter_map(|r| r.header("authorization").map(str::to_owned)).collect()
    }
}

fn empty() -> ConnectorBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn names(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn client_secret_token_reaches_arm_and_the_agents_does_not() -> anyhow::Result<()> {
    let agent = Agent::new("connector-app");
    let secret = agent.secret.clone().unwrap_or_default();
    let w = world(agent.clone()).await?;
    let file = w.write("secret.txt", &format!("{secret}\n"))?;
    let connector = w.connector(&format!(
        r#"{{ kind = "entra-client-secret", tenant = "{}", client_id = "{}", secret_file = "{file}", scope = "{ARM_SCOPE}", authority = "{}" }}"#,
        w.idp.tenant(),
        agent.client_id,
        w.idp.url()
    ))?;
    let (status, body) = w.list(&connector).await?;
    assert_eq!(status, 200, "{body}");
    assert!(names(&body).contains(&"rg-connector".to_owned()), "{body}");
    let (status, _) = w.list(&connector).await?;
    assert_eq!(status, 200);

    let received = w.arm.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert!(r.header("cookie").is_none());
        assert_ne!(r.header("authorization"), Some("Bearer agent-own-token"));
    }
    let tokens = w.received_tokens();
    assert!(tokens[0].starts_with("Bearer ey"), "{tokens:?}");
    assert_eq!(tokens[0], tokens[1], "the second request reuses the cached token");
    assert!(!tokens[0].contains(&secret));
    Ok(())
}

#[tokio::test]
async fn a_wrong_secret_is_a_credential_error_that_names_no_secret() -> anyhow::Result<()> {
    let agent = Agent::new("connector-app");
    let w = world(agent.clone()).await?;
    std::env::set_var("PC_TEST_WRONG_SECRET", "not-the-secret-0123456789");
    let connector = w.connector(&format!(
        r#"{{ kind = "entra-client-secret", tenant = "{}", client_id = "{}", secret_env = "PC_TEST_WRONG_SECRET", scope = "{ARM_SCOPE}", authority = "{}" }}"#,
        w.idp.tenant(),
        agent.client_id,
        w.idp.url()
    ))?;
    let err = w.list(&connector).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("invalid_client"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(w.arm.received().is_empty(), "nothing reaches the target without a credential");
    Ok(())
}

#[tokio::test]
async fn certificate_assertion_and_workload_identity_files_get_tokens() -> anyhow::Result<()> {
    let cert = ClientCertificate::generate("connector-app")?;
    let agent = Agent::new("connector-app").secret(None).certificate(cert.clone());
    let w = world(agent.clone()).await?;
    let combined = w.write("app.pem", &cert.combined_pem())?;
    let connector = w.connector(&format!(
        r#"{{ kind = "entra-certificate", tenant = "{}", client_id = "{}", certificate_file = "{combined}", scope = "{ARM_SCOPE}", authority = "{}" }}"#,
        w.idp.tenant(),
        agent.client_id,
        w.idp.url()
    ))?;
    let (status, body) = w.list(&connector).await?;
    assert_eq!(status, 200, "{body}");

    // Workload identity: the platform writes a federated token to a file; the fake
    // Entra trusts it as a client assertion of the app's certificate.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some(cert.x5t.clone());
    let claims = serde_json::json!({
        "aud": w.idp.token_url(), "iss": agent.client_id, "sub": agent.client_id,
        "jti": "federated-1", "nbf": now() - 10, "exp": now() + 600,
    });
    let federated = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(cert.key_pem.as_bytes())?,
    )?;
    let file = w.write("federated-token", &federated)?;
    let connector = w.connector(&format!(
        r#"{{ kind = "workload-identity", tenant = "{}", client_id = "{}", token_file = "{file}", scope = "{ARM_SCOPE}", authority = "{}" }}"#,
        w.idp.tenant(),
        agent.client_id,
        w.idp.url()
    ))?;
    let (status, body) = w.list(&connector).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.arm.received().len(), 2);
    Ok(())
}

#[tokio::test]
async fn managed_identity_app_service_and_imds_endpoints_on_loopback() -> anyhow::Result<()> {
    let w = world(Agent::new("unused")).await?;
    let header = w.write("identity-header", w.idp.identity_header())?;
    let app_service = w.connector(&format!(
        r#"{{ kind = "managed-identity", protocol = "app-service", endpoint = "{}", identity_header_file = "{header}", scope = "{ARM_SCOPE}" }}"#,
        w.idp.identity_endpoint()
    ))?;
    let (status, body) = w.list(&app_service).await?;
    assert_eq!(status, 200, "{body}");
    let imds = w.connector(&format!(
        r#"{{ kind = "managed-identity", protocol = "imds", endpoint = "{}", scope = "{ARM_SCOPE}" }}"#,
        w.idp.imds_token_url()
    ))?;
    let (status, body) = w.list(&imds).await?;
    assert_eq!(status, 200, "{body}");
    let wrong = w.write("wrong-header", "not-the-identity-header")?;
    let refused = w.connector(&format!(
        r#"{{ kind = "managed-identity", protocol = "app-service", endpoint = "{}", identity_header_file = "{wrong}", scope = "{ARM_SCOPE}" }}"#,
        w.idp.identity_endpoint()
    ))?;
    assert!(matches!(w.list(&refused).await, Err(ConnectorError::Credential { .. })));
    assert_eq!(w.arm.received().len(), 2);
    Ok(())
}

#[tokio::test]
async fn static_bearer_and_header_credentials_replace_the_agents() -> anyhow::Result<()> {
    let agent = Agent::new("static-app");
    let w = world(agent.clone()).await?;
    let token = w.idp.mint(&w.idp.agent_token("static-app", ARM_AUDIENCE)?)?;
    let file = w.write("token", &token)?;
    let bearer = w.connector(&format!(r#"{{ kind = "bearer", secret_file = "{file}" }}"#))?;
    assert_eq!(w.list(&bearer).await?.0, 200);
    let header = w.connector(&format!(
        r#"{{ kind = "header", name = "Authorization", prefix = "Bearer ", secret_file = "{file}" }}"#
    ))?;
    assert_eq!(w.list(&header).await?.0, 200);
    assert_eq!(w.received_tokens(), vec![format!("Bearer {token}"), format!("Bearer {token}")]);
    Ok(())
}

#[tokio::test]
async fn ended_grants_absolute_targets_and_unknown_connections_are_refused() -> anyhow::Result<()> {
    let w = world(Agent::new("static-app")).await?;
    let token = w.idp.mint(&w.idp.agent_token("static-app", ARM_AUDIENCE)?)?;
    let file = w.write("token", &token)?;
    let c = w.connector(&format!(r#"{{ kind = "bearer", secret_file = "{file}" }}"#))?;
    let ended = Request::get("/subscriptions?api-version=2021-04-01")
        .header(GRANT_EXPIRES_HEADER, (now() - 1).to_string())
        .body(empty())?;
    assert!(matches!(c.send("arm", ended).await, Err(ConnectorError::GrantExpired)));
    let absolute = Request::get("http://elsewhere.invalid/x").body(empty())?;
    assert!(matches!(c.send("arm", absolute).await, Err(ConnectorError::BadRequest(_))));
    let other = Request::get("/").body(empty())?;
    assert!(matches!(c.send("nope", other).await, Err(ConnectorError::UnknownConnection(_))));
    let live = Request::get("/subscriptions?api-version=2021-04-01")
        .header(GRANT_EXPIRES_HEADER, (now() + 600).to_string())
        .body(empty())?;
    assert_eq!(c.send("arm", live).await?.status(), 200);
    let received = w.arm.received();
    assert_eq!(received.len(), 1, "only the live request reached the target");
    assert!(received[0].header(GRANT_EXPIRES_HEADER).is_none());
    Ok(())
}
