//! A typed HTTP client of the access API, for the CLI (`portcullis access …`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{AccessRequest, DecisionBody, Grant, GrantToken, NewRequest, RequestFilter};
use crate::review::{Review, ReviewFilter};

/// What went wrong calling the API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway answered with an error body.
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code, e.g. `self_approval`.
        code: String,
        /// The gateway's message.
        message: String,
    },
    /// The gateway could not be reached or answered something unreadable.
    #[error("calling the gateway: {0}")]
    Transport(String),
}

/// The access API client.
#[derive(Debug, Clone)]
pub struct AccessClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

impl AccessClient {
    /// A client for the control API at `base_url` (e.g. `https://gw:8443`) with a bearer token.
    pub fn new(base_url: &str, token: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(AccessClient { base: base_url.trim_end_matches('/').to_string(), token: token.to_string(), http })
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let resp =
            req.bearer_auth(&self.token).send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Transport(format!("unreadable answer: {e}")));
        }
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let field = |k: &str| body["error"][k].as_str().unwrap_or_default().to_string();
        Err(ClientError::Api { status: status.as_u16(), code: field("code"), message: field("message") })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    fn url_with(&self, path: &str, pairs: &[(&str, String)]) -> Result<url::Url, ClientError> {
        let mut url =
            url::Url::parse(&self.url(path)).map_err(|e| ClientError::Transport(format!("bad URL: {e}")))?;
        if !pairs.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// Creates an access request.
    pub async fn create(&self, new: &NewRequest) -> Result<AccessRequest, ClientError> {
        self.post("access-requests", new).await
    }

    /// Lists requests.
    pub async fn list(&self, filter: &RequestFilter) -> Result<Vec<AccessRequest>, ClientError> {
        let mut pairs = Vec::new();
        if let Some(st) = filter.state {
            pairs.push(("state", st.as_str().to_string()));
        }
        if let Some(c) = &filter.connection {
            pairs.push(("connection", c.clone()));
        }
        if let Some(p) = &filter.principal {
            pairs.push(("principal", p.clone()));
        }
        let url = self.url_with("access-requests", &pairs)?;
        let items: Items<AccessRequest> = self.send(self.http.get(url)).await?;
        Ok(items.items)
    }

    /// Gets one request; with `wait`, long-polls until it is decided (or changes from `version`).
    pub async fn get(
        &self,
        id: &str,
        wait: Option<Duration>,
        version: Option<i64>,
    ) -> Result<AccessRequest, ClientError> {
        let mut pairs = Vec::new();
        if let Some(w) = wait {
            pairs.push(("wait", format!("{}ms", w.as_millis())));
        }
        if let Some(v) = version {
            pairs.push(("version", v.to_string()));
        }
        let url = self.url_with(&format!("access-requests/{id}"), &pairs)?;
        self.send(self.http.get(url)).await
    }

    /// Approves a request.
    pub async fn approve(&self, id: &str, body: &DecisionBody) -> Result<AccessRequest, ClientError> {
        self.post(&format!("access-requests/{id}/approve"), body).await
    }

    /// Denies a request (a comment is required).
    pub async fn deny(&self, id: &str, body: &DecisionBody) -> Result<AccessRequest, ClientError> {
        self.post(&format!("access-requests/{id}/deny"), body).await
    }

    /// Cancels one's own request.
    pub async fn cancel(&self, id: &str) -> Result<AccessRequest, ClientError> {
        self.post(&format!("access-requests/{id}/cancel"), &DecisionBody::default()).await
    }

    /// Lists grants.
    pub async fn grants(&self, state: Option<&str>) -> Result<Vec<Grant>, ClientError> {
        let pairs: Vec<(&str, String)> = state.map(|s| ("state", s.to_string())).into_iter().collect();
        let url = self.url_with("grants", &pairs)?;
        Ok(self.send::<Items<Grant>>(self.http.get(url)).await?.items)
    }

    /// Revokes a grant.
    pub async fn revoke(&self, grant_id: &str, body: &DecisionBody) -> Result<Grant, ClientError> {
        self.post(&format!("grants/{grant_id}/revoke"), body).await
    }

    /// Gets (or refreshes) the grant token.
    pub async fn token(&self, grant_id: &str) -> Result<GrantToken, ClientError> {
        self.post(&format!("grants/{grant_id}/token"), &serde_json::json!({})).await
    }

    /// Lists reviews (the caller sees its own and those it may decide).
    pub async fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<Review>, ClientError> {
        let mut pairs = Vec::new();
        if let Some(st) = filter.state {
            pairs.push(("state", st.as_str().to_string()));
        }
        if let Some(c) = &filter.connection {
            pairs.push(("connection", c.clone()));
        }
        if let Some(p) = &filter.principal {
            pairs.push(("principal", p.clone()));
        }
        let url = self.url_with("reviews", &pairs)?;
        Ok(self.send::<Items<Review>>(self.http.get(url)).await?.items)
    }

    /// Gets one review; with `wait`, long-polls until it is decided.
    pub async fn review(&self, id: &str, wait: Option<Duration>) -> Result<Review, ClientError> {
        let pairs: Vec<(&str, String)> =
            wait.map(|w| ("wait", format!("{}ms", w.as_millis()))).into_iter().collect();
        let url = self.url_with(&format!("reviews/{id}"), &pairs)?;
        self.send(self.http.get(url)).await
    }

    /// Approves a review: the agent's identical retry passes once.
    pub async fn approve_review(&self, id: &str, body: &DecisionBody) -> Result<Review, ClientError> {
        self.post(&format!("reviews/{id}/approve"), body).await
    }

    /// Denies a review (a comment is required).
    pub async fn deny_review(&self, id: &str, body: &DecisionBody) -> Result<Review, ClientError> {
        self.post(&format!("reviews/{id}/deny"), body).await
    }
}
