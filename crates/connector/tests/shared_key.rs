//! Azure Storage SharedKey signing, verified by Azurite (Microsoft's emulator checks
//! every signature): the agent sends no key, or a wrong signature of its own, and the
//! connector's signature is what Azurite accepts. Needs `tests/peers/install.sh`; fails
//! (never skips) when Azurite is missing.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use portcullis_connector::{Connector, ConnectorBody, ConnectorConfig};
use portcullis_sandbox::peers::{Azurite, AZURITE_ACCOUNT, AZURITE_KEY};

fn body(bytes: &'static [u8]) -> ConnectorBody {
    Full::new(Bytes::from_static(bytes)).map_err(|never| match never {}).boxed_unsync()
}

fn connector(dir: &tempfile::TempDir, azurite: &Azurite, key: &str) -> anyhow::Result<Connector> {
    std::fs::write(dir.path().join("key"), key)?;
    let text = format!(
        "[[connections]]\nname = \"blob\"\nupstream = \"{}\"\n\
         credential = {{ kind = \"storage-shared-key\", account = \"{AZURITE_ACCOUNT}\", key_file = \"key\" }}\n",
        azurite.account_url()
    );
    Ok(Connector::from_config(&ConnectorConfig::from_toml(&text, &dir.path().join("c.toml"))?)?)
}

async fn send(c: &Connector, req: Request<ConnectorBody>) -> anyhow::Result<(u16, String)> {
    let resp = c.send("blob", req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_accepts_the_connectors_signature_and_refuses_a_wrong_key() -> anyhow::Result<()> {
    let azurite = Azurite::start().await?;
    let dir = tempfile::tempdir()?;
    let c = connector(&dir, &azurite, AZURITE_KEY)?;

    let create = Request::put("/inventory?restype=container")
        .header("authorization", "SharedKey devstoreaccount1:agent-forged-signature")
        .header("x-ms-date", "Thu, 01 Jan 1970 00:00:00 GMT")
        .header("content-length", "0")
        .body(body(b""))?;
    let (status, text) = send(&c, create).await?;
    assert_eq!(status, 201, "{text}");

    let put = Request::put("/inventory/hosts%20list.txt")
        .header("x-ms-blob-type", "BlockBlob")
        .header("x-ms-version", "2021-08-06")
        .header("content-type", "text/plain")
        .header("content-length", "11")
        .body(body(b"hello world"))?;
    let (status, text) = send(&c, put).await?;
    assert_eq!(status, 201, "{text}");

    let list = Request::get("/inventory?restype=container&comp=list").body(body(b""))?;
    let (status, text) = send(&c, list).await?;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hosts list.txt"), "{text}");

    let get = Request::get("/inventory/hosts%20list.txt").header("range", "bytes=0-4").body(body(b""))?;
    let (status, text) = send(&c, get).await?;
    assert_eq!((status, text.as_str()), (206, "hello"));

    // A connector holding the wrong key is refused by Azurite: the signature is real.
    let wrong = connector(&tempfile::tempdir()?, &azurite, "d3Jvbmcga2V5IHdyb25nIGtleQ==")?;
    let list = Request::get("/inventory?restype=container&comp=list").body(body(b""))?;
    let (status, text) = send(&wrong, list).await?;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("AuthorizationFailure") || text.contains("AuthenticationFailed"), "{text}");
    Ok(())
}
