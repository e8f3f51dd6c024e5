"""/docs is an API reference that needs nothing outside this server."""

from __future__ import annotations

from html.parser import HTMLParser

from support.server import RunningServer


class Assets(HTMLParser):
    """The URLs a page loads by itself (scripts, stylesheets, icons, images), and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("script", "img", "iframe") and found.get("src"):
            self.loaded.append(found["src"] or "")
        elif tag == "link" and found.get("href"):
            self.loaded.append(found["href"] or "")
        elif tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")


def test_the_reference_lists_every_endpoint_and_loads_only_local_assets(server: RunningServer) -> None:
    with server.client() as client:
        page = client.get("/docs")
        spec = client.get("/openapi.json").json()
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        parser = Assets()
        parser.feed(page.text)
        assert parser.loaded, "the page loads its stylesheet"
        for url in parser.loaded:
            assert url.startswith("/"), f"{url} is not served by Threadline"
            assert not url.startswith("//"), f"{url} is not served by Threadline"
            assert client.get(url).status_code == 200, url
    for path, methods in spec["paths"].items():
        for method in methods:
            assert f"{method.upper()}</span> <code>{path}</code>" in page.text
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in page.text
    internal = [link for link in parser.links if link.startswith("#")]
    anchors = {link[1:] for link in internal}
    assert all(f'id="{anchor}"' in page.text for anchor in anchors)
