"""The web page at ``/``: a browser gets HTML, API clients keep the JSON; assets with strict headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_harness import TestClient, running_app

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with running_app(tmp_path_factory.mktemp("page")) as (client, _):
        yield client


def test_a_browser_gets_the_page_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form id="verify-form"' in response.text and 'src="/ui/app.js"' in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_api_clients_keep_getting_json_at_the_root(client: TestClient, accept: str | None) -> None:
    """The replaced front end's health probe is ``fetch('/')`` with ``response.ok``."""
    response = client.get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.json()["service"] == "factmem"


def test_assets_are_served_with_their_type_and_revalidated_by_etag(client: TestClient) -> None:
    script = client.get("/ui/app.js")
    style = client.get("/ui/style.css")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    again = client.get("/ui/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_an_unknown_asset_is_404(client: TestClient) -> None:
    assert client.get("/ui/../settings.py").status_code == 404
    assert client.get("/ui/nothing.js").status_code == 404


def test_the_page_loads_nothing_from_another_origin() -> None:
    web = Path(__file__).resolve().parents[2] / "backend" / "src" / "web"
    for asset in web.glob("*.*"):
        text = asset.read_text(encoding="utf-8")
        for marker in ("http://", "https://", "//cdn", "@import"):
            hits = [line for line in text.splitlines() if marker in line and "w3.org/2000/svg" not in line]
            assert not hits, f"{asset.name} refers to another origin: {hits}"
