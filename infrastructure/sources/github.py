"""GitHub: one repository, an organisation's repositories, or a search, through the REST API.

The API base URL comes from the constructor or CODETRAIN_GITHUB_API_URL (default
https://api.github.com), so a stand-in server can answer in tests. The token (GITHUB_TOKEN)
is sent in the Authorization header only: never printed, never recorded, never put in a URL.
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

from domain.entities import Checkout, SkippedSource
from domain.errors import SourceError
from infrastructure.sources.git import checkout_dir, clone

DEFAULT_API = "https://api.github.com"
SEARCH_CAP = 1000  # GitHub's search API returns at most 1,000 results per query, whatever total_count says
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_SKIPPED = {404: "not found (HTTP 404)", 451: "unavailable for legal reasons (HTTP 451)",
            403: "forbidden (HTTP 403)", 410: "gone (HTTP 410)"}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class GitHubClient:
    """A small GitHub REST client that waits out rate limits.

    Args:
        token: Personal access token (default: $GITHUB_TOKEN); None for anonymous calls.
        api_url: API base URL (default: $CODETRAIN_GITHUB_API_URL or https://api.github.com).
        log: Where waiting messages go (stderr by default).
        sleep: Injected for tests that must not wait.
        max_wait: Longest single wait in seconds before giving up with an error.
    """

    def __init__(self, token: str | None = None, api_url: str | None = None,
                 log: Callable[[str], None] = _stderr, sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = 3600.0, retries: int = 6):
        self._token = token if token is not None else os.environ.get("GITHUB_TOKEN") or None
        self.api_url = (api_url or os.environ.get("CODETRAIN_GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        self.log, self.sleep, self.max_wait, self.retries = log, sleep, max_wait, retries

    def __repr__(self) -> str:  # never show the token, not even in a traceback's locals
        return f"GitHubClient(api_url={self.api_url!r}, token={'set' if self._token else 'none'})"

    def _request(self, url: str) -> urllib.request.Request:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "codetrain-collect"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return urllib.request.Request(url, headers=headers)

    def get(self, path: str, params: dict | None = None) -> tuple[int, object, dict]:
        """(status, decoded JSON or None, headers) of GET `path`; waits out rate limits."""
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        for _ in range(self.retries):
            try:
                with urllib.request.urlopen(self._request(url), timeout=60) as response:
                    return response.status, json.loads(response.read() or b"null"), dict(response.headers)
            except urllib.error.HTTPError as error:
                wait = self._rate_limit_wait(error.code, error.headers)
                if wait is None:
                    return error.code, None, dict(error.headers)
                self.sleep(wait)
            except urllib.error.URLError as error:
                raise SourceError(f"GitHub API {self.api_url} unreachable: {error.reason}") from None
        raise SourceError(f"GitHub API: still rate limited after {self.retries} waits")

    def _rate_limit_wait(self, status: int, headers) -> float | None:
        """Seconds to wait before retrying, or None when the error is not a rate limit."""
        if status not in (403, 429):
            return None
        if headers.get("Retry-After"):
            wait = float(headers["Retry-After"])
            message = f"GitHub secondary rate limit: waiting {wait:.0f} s (Retry-After)"
        elif headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset"):
            wait = max(float(headers["X-RateLimit-Reset"]) - time.time(), 0.0) + 0.5
            message = f"GitHub rate limit exhausted: waiting {wait:.0f} s until X-RateLimit-Reset"
        else:
            return None
        if wait > self.max_wait:
            raise SourceError(f"GitHub rate limit: the reset is {wait:.0f} s away; retry later or set GITHUB_TOKEN")
        self.log(message)
        return wait

    def pages(self, path: str, params: dict, limit: int | None = None) -> Iterator[dict]:
        """Items of a paginated listing, following `Link: <...>; rel="next"` headers."""
        url, sent = path, 0
        while url and (limit is None or sent < limit):
            status, body, headers = self.get(url, params)
            if status != 200:
                raise SourceError(f"GitHub API {path}: {_SKIPPED.get(status, f'HTTP {status}')}")
            items = body.get("items", []) if isinstance(body, dict) else body
            for item in items:
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield item
            match = _NEXT.search(headers.get("Link", ""))
            url, params = (match.group(1), None) if match else (None, None)

    def git_env(self, clone_url: str) -> dict:
        """git config (through the environment, not argv) sending the token to github.com only."""
        if not self._token or urllib.parse.urlsplit(clone_url).hostname != "github.com":
            return {}
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.https://github.com/.extraheader",
                "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}


class GitHubFetcher:
    """`github:owner/repo`, `github-org:ORG` and `github-search:QUERY` sources."""

    def __init__(self, client: GitHubClient | None = None, history: int = 0,
                 log: Callable[[str], None] = _stderr):
        self.client = client or GitHubClient(log=log)
        self.depth, self.log = history + 1, log

    def accepts(self, source: str) -> bool:
        return source.startswith(("github:", "github-org:", "github-search:"))

    def fetch(self, source: str, workdir: Path) -> Iterator[Checkout | SkippedSource]:
        kind, _, value = source.partition(":")
        if kind == "github":
            status, repo, _ = self.client.get(f"/repos/{value.strip('/')}")
            if status != 200:
                yield SkippedSource(source, _SKIPPED.get(status, f"HTTP {status}"))
                return
            repos = [repo]
        elif kind == "github-org":
            repos = self.client.pages(f"/orgs/{value}/repos", {"per_page": 100, "type": "public"})
        else:
            repos = self.search(value)
        for repo in repos:
            yield self._clone(repo, workdir)

    def search(self, query: str) -> Iterator[dict]:
        """Repositories matching `query`: at most 1,000, the search API's own cap (said aloud)."""
        status, first, _ = self.client.get("/search/repositories", {"q": query, "per_page": 1})
        total = first.get("total_count", 0) if status == 200 and isinstance(first, dict) else 0
        if total > SEARCH_CAP:
            self.log(f"GitHub search matched {total} repositories; the API returns at most "
                     f"{SEARCH_CAP:,}, so only the first {SEARCH_CAP:,} are collected")
        yield from self.client.pages("/search/repositories", {"q": query, "per_page": 100}, SEARCH_CAP)

    def _clone(self, repo: dict, workdir: Path) -> Checkout | SkippedSource:
        name, dest = repo["full_name"], checkout_dir(workdir)
        try:
            commit, date = clone(repo["clone_url"], dest, self.depth,
                                 env=self.client.git_env(repo["clone_url"]))
        except SourceError as error:
            self.log(f"skipped github:{name}: {error}")
            return SkippedSource(f"github:{name}", str(error))
        return Checkout(repo=f"github.com/{name}", root=dest,
                        commit=commit, origin=f"github:{name}", commit_date=date)
