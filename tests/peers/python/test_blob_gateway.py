"""azure-storage-blob through the gateway, holding NO key: the gateway sends each request
through the tunnel to a connector, which signs it with the account key (SharedKey), and
Azurite checks that signature for real. The Rust side is crates/gateway/tests/tunnel.rs."""
from azure.storage.blob import BlobServiceClient

from conftest import need


def test_blob_round_trip_without_a_key():
    # No credential at all: the SDK sends no Authorization header; the connector signs.
    client = BlobServiceClient(account_url=need("PORTCULLIS_BLOB_URL"))
    container = client.create_container("through-the-gateway")
    payload = b"signed by the connector \x00\x01"
    container.upload_blob("evidence/one.bin", payload)
    container.upload_blob("evidence/two.txt", b"two")
    names = sorted(b.name for b in container.list_blobs())
    assert names == ["evidence/one.bin", "evidence/two.txt"]
    assert container.download_blob("evidence/one.bin").readall() == payload
    props = container.get_blob_client("evidence/two.txt").get_blob_properties()
    assert props.size == 3
