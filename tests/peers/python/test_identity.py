"""azure-identity's MSAL-based credentials (ClientSecretCredential, CertificateCredential)
against the fake Entra ID over HTTPS (MSAL accepts only an https authority), with
instance discovery disabled so nothing but the fake is ever asked."""
import base64
import json

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential

from conftest import need

ARM_SCOPE = "https://management.azure.com/.default"


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def common():
    return {"authority": need("PORTCULLIS_AUTHORITY"), "disable_instance_discovery": True}


def test_client_secret_credential_gets_an_arm_token():
    credential = ClientSecretCredential(
        need("PORTCULLIS_TENANT"), need("PORTCULLIS_CLIENT_ID"), need("PORTCULLIS_CLIENT_SECRET"), **common()
    )
    token = credential.get_token(ARM_SCOPE)
    c = claims(token.token)
    assert c["aud"] == "https://management.azure.com/"
    assert c["iss"] == f"https://sts.windows.net/{need('PORTCULLIS_TENANT')}/"
    assert c["appid"] == need("PORTCULLIS_CLIENT_ID")
    assert c["tid"] == need("PORTCULLIS_TENANT")


def test_wrong_secret_is_an_entra_error():
    credential = ClientSecretCredential(
        need("PORTCULLIS_TENANT"), need("PORTCULLIS_CLIENT_ID"), "not-the-secret", **common()
    )
    with pytest.raises(ClientAuthenticationError) as caught:
        credential.get_token(ARM_SCOPE)
    assert "AADSTS7000215" in str(caught.value)


def test_certificate_credential_signs_a_client_assertion():
    credential = CertificateCredential(
        need("PORTCULLIS_TENANT"), need("PORTCULLIS_CERT_CLIENT_ID"), certificate_path=need("PORTCULLIS_CERT_PATH"), **common()
    )
    token = credential.get_token(ARM_SCOPE)
    assert claims(token.token)["appid"] == need("PORTCULLIS_CERT_CLIENT_ID")
