"""Property-based fuzzing of the EMS API against its own OpenAPI document (schemathesis).

A real HTTPS server with the fake facade; every generated request must get a
documented status (never 500) and a body that conforms to the schema.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
requests = pytest.importorskip("requests")

from hypothesis import HealthCheck, settings  # noqa: E402

from evsite.web.api import API_VERSION  # noqa: E402
from evsite.web.openapi import openapi_document  # noqa: E402
from evsite.web.sessions import token_hash  # noqa: E402
from evsite.web.tokens import TOKEN_PREFIX  # noqa: E402
from tests.unit.web.support import make_site  # noqa: E402

schema = schemathesis.openapi.from_dict(openapi_document(API_VERSION))
# Known before collection (schemathesis applies auth while building cases); the fixture
# stores its hash as a read-write token.
TOKEN = TOKEN_PREFIX + secrets.token_urlsafe(32)


@schema.auth()
class BearerToken:
    """Let schemathesis apply the token, so its negative cases may leave it out on purpose."""

    def get(self, case: Any, context: Any) -> str:
        return TOKEN

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@dataclass
class Target:
    """Where and how to call the API."""

    base_url: str
    session: Any
    headers: dict[str, str]
    cafile: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One server for the whole module, with a read-write token."""
    site = make_site(tmp_path_factory.mktemp("fuzz"), stations=5, sessions=60)
    with site.db.transaction() as conn:
        conn.execute(
            "INSERT INTO web_api_tokens(name, token_hash, scope, created_by, created_at)"
            " VALUES ('fuzz', ?, 'read-write', 'test', 0)",
            (token_hash(TOKEN),),
        )
    site.web.start()
    session = requests.Session()
    session.verify = str(site.web.context.certificate.cert_path)
    try:
        yield Target(
            f"https://127.0.0.1:{site.web.https.port}/api/v1",
            session,
            {"Authorization": f"Bearer {TOKEN}"},
            session.verify,
        )
    finally:
        session.close()
        site.web.stop()
        site.db.close()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_document(case: Any, target: Target) -> None:
    case.call_and_validate(
        base_url=target.base_url,
        session=target.session,
        headers=target.headers,
        verify=target.cafile,
    )


def test_document_itself_is_served(target: Target) -> None:
    reply = target.session.get(target.base_url + "/openapi.json", verify=target.cafile)
    assert reply.status_code == 200 and reply.json()["openapi"].startswith("3.0")
