"""Shared fixtures for the interop tests. The Rust tests in crates/sandbox/tests start the
fakes and pass their URLs in environment variables; these tests never reach anything but
loopback (no DefaultAzureCredential, no metadata-address fallback)."""
import os

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy


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
