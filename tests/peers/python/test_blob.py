"""azure-storage-blob against Azurite with the well-known development account key:
Azurite verifies SharedKey signatures for real."""
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobServiceClient

from conftest import need

ACCOUNT = "devstoreaccount1"


def service(key):
    return BlobServiceClient(
        account_url=need("PORTCULLIS_AZURITE_ACCOUNT_URL"),
        credential={"account_name": ACCOUNT, "account_key": key},
    )


def test_container_upload_list_download():
    client = service(need("PORTCULLIS_AZURITE_KEY"))
    container = client.create_container("interop")
    payload = b"portcullis interop \x00\x01 bytes"
    container.upload_blob("dir/hello.bin", payload)
    container.upload_blob("dir/second.txt", b"second")
    names = sorted(b.name for b in container.list_blobs())
    assert names == ["dir/hello.bin", "dir/second.txt"]
    assert container.download_blob("dir/hello.bin").readall() == payload


def test_wrong_key_is_refused():
    wrong = "A" * 86 + "=="
    with pytest.raises((ClientAuthenticationError, HttpResponseError)) as caught:
        service(wrong).create_container("denied")
    assert caught.value.status_code == 403
