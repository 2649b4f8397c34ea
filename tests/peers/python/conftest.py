"""Shared fixtures for the interop tests. The Rust tests in crates/sandbox/tests start the
fakes and pass their URLs in environment variables; these tests never reach anything but
loopback (no DefaultAzureCredential, no metadata-address fallback)."""
import os
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.resource.resources import ResourceManagementClient


def need(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through `cargo test -p portcullis-sandbox`")
    return value


class AllowPlainHttpBearer(SansIOHTTPPolicy):
    """The fakes serve plain http on loopback; azure-core refuses bearer tokens over http
    unless enforce_https is False in the request context."""

    def on_request(self, request):
        request.context["enforce_https"] = False


class GrantToken:
    """A TokenCredential that hands the SDK the agent's Portcullis grant token."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 300)


def gateway_arm_client(**options):
    """The ARM client of an agent that holds only its grant token, pointed at the gateway
    (PORTCULLIS_ARM_URL); `options` go to the client as well."""
    return ResourceManagementClient(
        GrantToken(need("PORTCULLIS_GRANT_TOKEN")),
        need("PORTCULLIS_SUBSCRIPTION"),
        base_url=need("PORTCULLIS_ARM_URL"),
        per_call_policies=[AllowPlainHttpBearer()],
        retry_total=0,
        **options,
    )
