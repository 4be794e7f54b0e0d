"""The console's serving, without a browser: where it lives, its headers, and that every asset
comes from the package (no CDN, nothing fetched from elsewhere)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.console import STATIC_DIR
from suanli.service.platform import Platform


def test_root_and_console_redirect_and_assets_are_served_with_a_same_origin_policy(platform: Platform) -> None:
    http = TestClient(create_app(platform))
    for path in ("/", "/console"):
        r = http.get(path, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/console/"
    page = http.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for src in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        if src.startswith(("data:", "/openapi.json")):
            continue
        asset = http.get(f"/console/{src}")
        assert asset.status_code == 200, src
    js = http.get("/console/app.js")
    assert "javascript" in js.headers["content-type"]
    missing = http.get("/console/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    # the API is untouched by the mount
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/v1/me").status_code == 401


def test_console_assets_reference_nothing_outside_the_package() -> None:
    files = sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"index.html", "app.js", "api.js", "ui.js", "console.css"}
    # the vendored chart library (vendor/echarts) names XML namespaces and its licence by URL; nothing else
    allowed = {"http://www.w3.org/1999/xlink", "http://www.w3.org/2000/svg", "http://www.w3.org/2000/xmlns/",
               "http://www.w3.org/XML/1998/namespace", "http://www.apache.org/licenses/LICENSE-2.0",
               "https://github.com/ecomfe/zrender/blob/master/LICENSE"}
    assert (STATIC_DIR / "vendor/echarts/LICENSE").is_file() and (STATIC_DIR / "vendor/echarts/NOTICE").is_file()
    for f in files:
        text = f.read_text(encoding="utf-8")
        if "vendor" in f.relative_to(STATIC_DIR).parts:
            if f.suffix == ".js":
                urls = set(re.findall(r"https?://[A-Za-z0-9./_-]*", text))
                assert urls <= allowed, f"{f.name} references {urls - allowed}"
            continue
        assert not re.search(r"https?://", text), f"{f.name} references a remote URL"
        for imported in re.findall(r'from "\./([^"]+)"', text):
            assert (STATIC_DIR / imported).is_file(), f"{f.name} imports missing {imported}"
