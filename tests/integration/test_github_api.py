"""GitHub sources against a stand-in for api.github.com.

There is no internet here, so the tests start a small HTTP server on 127.0.0.1 that speaks the
REST endpoints collect uses (repos, orgs/{org}/repos, search/repositories), with GitHub's
`Link` pagination, rate-limit headers and error codes. Its `clone_url`s are file:// URLs of
real bare repositories, so the clones are real git clones. CODETRAIN_GITHUB_API_URL points
collect at it.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from infrastructure.sources.github import SEARCH_CAP, GitHubClient, GitHubFetcher
from presentation.cli import cli
from tests.conftest import make_git_repo

pytestmark = pytest.mark.git
TOKEN = "ghp_" + "T0kenThatMustNeverBeShownAnywhere0123"


class StandIn(BaseHTTPRequestHandler):
    """GitHub REST endpoints, with one primary and one secondary rate limit along the way."""

    server_version = "GitHubStandIn/1"

    def log_message(self, *args):  # keep test output clean
        pass

    def reply(self, status: int, body=None, headers: dict | None = None) -> None:
        data = json.dumps(body if body is not None else {"message": "x"}).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's name)
        state = self.server.state
        state["auth"].append(self.headers.get("Authorization"))
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        base = f"http://127.0.0.1:{self.server.server_port}"
        repos = state["repos"]
        if url.path.startswith("/repos/"):
            name = url.path.removeprefix("/repos/")
            if name == "acme/blocked":
                return self.reply(451, {"message": "Repository access blocked"})
            if name not in repos:
                return self.reply(404, {"message": "Not Found"})
            return self.reply(200, repos[name])
        if url.path == "/orgs/acme/repos":
            page = int(query.get("page", 1))
            if page == 2 and not state["primary_done"]:
                state["primary_done"] = True  # quota exhausted: reset two seconds from now
                reset = str(int(time.time()) + 2)
                return self.reply(403, {"message": "API rate limit exceeded"},
                                  {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
            names = [["acme/alpha", "acme/beta"], ["acme/gamma"]][page - 1]
            link = {"Link": f'<{base}/orgs/acme/repos?page=2>; rel="next", <{base}/orgs/acme/repos?page=2>; '
                            'rel="last"'} if page == 1 else {}
            return self.reply(200, [repos[n] for n in names], link)
        if url.path == "/search/repositories":
            if not state["secondary_done"]:
                state["secondary_done"] = True
                return self.reply(403, {"message": "You have exceeded a secondary rate limit"},
                                  {"Retry-After": "1"})
            if query["q"] == "many":  # 2,500 matches, 100 per page, pages without end
                page = int(query.get("page", 1))
                state["search_pages"] += 1
                items = [{"full_name": f"many/r{page}-{i}", "clone_url": "file:///nowhere"} for i in range(100)]
                return self.reply(200, {"total_count": 2500, "items": items},
                                  {"Link": f'<{base}/search/repositories?q=many&page={page + 1}>; rel="next"'})
            return self.reply(200, {"total_count": 1, "items": [repos["acme/delta"]]})
        return self.reply(404)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    base = tmp_path_factory.mktemp("github")
    repos, heads = {}, {}
    for name in ("calc", "alpha", "beta", "gamma", "delta"):
        work = base / "work" / name
        heads[f"acme/{name}"] = make_git_repo(work, {f"{name}.py": f"def {name}_value():\n    return '{name}'\n"})
        bare = base / "bare" / f"{name}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        repos[f"acme/{name}"] = {"full_name": f"acme/{name}", "clone_url": bare.as_uri(),
                                 "default_branch": "main"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    server.state = {"repos": repos, "auth": [], "primary_done": False, "secondary_done": False,
                    "search_pages": 0}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, heads
    server.shutdown()


def test_repo_org_and_search_sources_with_pagination_rate_limits_and_skips(api, tmp_path, monkeypatch):
    server, heads = api
    monkeypatch.setenv("CODETRAIN_GITHUB_API_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    out = tmp_path / "out"
    started = time.time()
    result = CliRunner().invoke(cli, [
        "collect", "github:acme/calc", "github:acme/missing", "github:acme/blocked",
        "--github-org", "acme", "--github-search", "topic:demo", "--output", str(out), "--workers", "1"])
    elapsed = time.time() - started
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())

    collected = {s["repo"]: s for s in manifest["sources"]}
    assert set(collected) == {f"github.com/acme/{n}" for n in ("calc", "alpha", "beta", "gamma", "delta")}
    assert all(collected[f"github.com/{n}"]["commit"] == head for n, head in heads.items())
    assert collected["github.com/acme/gamma"]["origin"] == "github:acme/gamma"  # page 2 of the org
    assert manifest["skipped_sources"] == [
        {"origin": "github:acme/missing", "reason": "not found (HTTP 404)"},
        {"origin": "github:acme/blocked", "reason": "unavailable for legal reasons (HTTP 451)"}]

    output = result.output
    assert "GitHub rate limit exhausted: waiting" in output and "X-RateLimit-Reset" in output
    assert "GitHub secondary rate limit: waiting 1 s (Retry-After)" in output
    assert elapsed >= 1.5  # both waits really happened (reset ~2 s ahead, Retry-After 1 s)
    assert "skipped github:acme/missing: not found (HTTP 404)" in output

    assert server.state["auth"] and set(server.state["auth"]) == {f"Bearer {TOKEN}"}
    assert TOKEN not in output
    for path in out.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_search_stops_at_the_1000_result_cap_and_says_so(api, monkeypatch):
    server, _ = api
    server.state["secondary_done"] = True
    messages = []
    client = GitHubClient(token=None, api_url=f"http://127.0.0.1:{server.server_port}", log=messages.append)
    found = list(GitHubFetcher(client, log=messages.append).search("many"))
    assert len(found) == SEARCH_CAP == 1000
    assert server.state["search_pages"] == 11  # the total_count probe + 10 pages of 100
    assert any("matched 2500" in m and "at most 1,000" in m for m in messages)


def test_the_token_stays_out_of_repr():
    assert TOKEN not in repr(GitHubClient(token=TOKEN, api_url="http://127.0.0.1:9"))
