"""A small stand-in for the Hugging Face Hub on 127.0.0.1, serving model repos from a folder.

It answers the endpoints ``huggingface_hub`` calls to download a snapshot and to create a repo and commit
to it; point ``HF_ENDPOINT`` at ``LocalHub.url``. Storage: ``ROOT/NAMESPACE/NAME/commits/SHA/<files>`` holds
each commit's full file tree, ``ROOT/NAMESPACE/NAME/refs/BRANCH`` the commit a branch points at.
Write requests need an ``Authorization`` header (any token), as on the Hub.

    with LocalHub(tmp_path / "hub") as hub:
        sha = hub.publish("org/model", model_dir)      # a commit on main, written directly
        env["HF_ENDPOINT"] = hub.url
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

REPO = r"(?P<repo>[^/]+/[^/]+)"
ROUTES = [  # (method, path pattern, handler name); HEAD is answered like GET without a body
    ("GET", rf"^/api/models/{REPO}/revision/(?P<rev>[^/]+)$", "repo_info"),
    ("GET", rf"^/api/models/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$", "tree"),
    ("GET", rf"^/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
    ("GET", r"^/api/whoami-v2$", "whoami"),
    ("POST", r"^/api/repos/create$", "create_repo"),
    ("POST", r"^/api/validate-yaml$", "validate_yaml"),
    ("POST", rf"^/api/models/{REPO}/preupload/(?P<rev>[^/]+)$", "preupload"),
    ("POST", rf"^/api/models/{REPO}/commit/(?P<rev>[^/]+)$", "commit"),
]
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class HubAnswer(Exception):
    """An error answer: HTTP status, the Hub's X-Error-Code (or None) and a message."""

    def __init__(self, status: int, code: str | None, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LocalHub:
    """The server, started on a free port of 127.0.0.1 by ``start`` (or ``with``), stopped by ``stop``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for the tests
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- storage --------------------------------------------------------------------------------------
    def repo_dir(self, repo_id: str) -> Path:
        return self.root / repo_id

    def commit_dir(self, repo_id: str, revision: str) -> Path:
        """The file tree of ``revision`` (a branch or a commit sha). Raises HubAnswer (404) when unknown."""
        repo = self.repo_dir(repo_id)
        if not (repo / "refs").is_dir():
            raise HubAnswer(404, "RepoNotFound", f"Repository Not Found for url: {repo_id}.")
        ref = repo / "refs" / revision
        sha = ref.read_text().strip() if ref.is_file() else revision
        if not COMMIT.match(sha) or not (repo / "commits" / sha).is_dir():
            raise HubAnswer(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return repo / "commits" / sha

    def files(self, repo_id: str, revision: str) -> dict[str, Path]:
        """{path in repo: file} of a revision."""
        tree = self.commit_dir(repo_id, revision)
        return {p.relative_to(tree).as_posix(): p for p in sorted(tree.rglob("*")) if p.is_file()}

    def create(self, repo_id: str) -> bool:
        """Create an empty repo (no commit yet); False when it exists."""
        refs = self.repo_dir(repo_id) / "refs"
        if refs.is_dir():
            return False
        refs.mkdir(parents=True)
        return True

    def write_commit(self, repo_id: str, branch: str, changes: dict[str, bytes | None]) -> str:
        """A new commit on ``branch``: the parent's files with ``changes`` (path -> bytes, None deletes)."""
        with self._lock:
            repo = self.repo_dir(repo_id)
            ref = repo / "refs" / branch
            parent = ref.read_text().strip() if ref.is_file() else None
            content = dict(self.files(repo_id, parent)) if parent else {}
            content = {k: v.read_bytes() for k, v in content.items()}
            for path, data in changes.items():
                if data is None:
                    content.pop(path, None)
                else:
                    content[path] = data
            digest = hashlib.sha1(json.dumps([parent, sorted((k, sha256(v)) for k, v in content.items())]).encode())
            sha = digest.hexdigest()
            tree = repo / "commits" / sha
            if not tree.is_dir():
                for path, data in content.items():
                    (tree / path).parent.mkdir(parents=True, exist_ok=True)
                    (tree / path).write_bytes(data)
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(sha)
            return sha

    def publish(self, repo_id: str, folder: str | Path, branch: str = "main") -> str:
        """Create ``repo_id`` if needed and commit the top-level files of ``folder`` to it; returns the sha."""
        self.create(repo_id)
        return self.write_commit(repo_id, branch, {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()})

    # -- server ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalHub":
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- endpoints: each returns (status, headers, body bytes) or raises HubAnswer ----------------------
    def repo_info(self, repo: str, rev: str, **_):
        tree = self.commit_dir(repo, unquote(rev))
        names = sorted(self.files(repo, tree.name))
        return _json({"id": repo, "modelId": repo, "sha": tree.name, "private": False,
                      "siblings": [{"rfilename": n} for n in names]})

    def tree(self, repo: str, rev: str, path: str | None = None, **_):
        entries = []
        for name, file in self.files(repo, unquote(rev)).items():
            if path is None or name.startswith(unquote(path).rstrip("/") + "/"):
                data = file.read_bytes()
                blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                entries.append({"type": "file", "path": name, "size": len(data), "oid": blob})
        return _json(entries)

    def resolve(self, repo: str, rev: str, path: str, **_):
        tree = self.commit_dir(repo, unquote(rev))
        file = tree / unquote(path)
        if not file.is_file():
            raise HubAnswer(404, "EntryNotFound", f"{path} does not exist on revision {rev}")
        data = file.read_bytes()
        return 200, {"X-Repo-Commit": tree.name, "ETag": f'"{sha256(data)}"',
                     "Content-Type": "application/octet-stream"}, data

    def whoami(self, **_):
        return _json({"type": "user", "name": "tester", "auth": {"accessToken": {"role": "write"}}})

    def create_repo(self, body: bytes, **_):
        spec = json.loads(body)
        repo = f"{spec['organization'] or 'tester'}/{spec['name']}"
        if not self.create(repo):
            raise HubAnswer(409, None, "You already created this model repo")
        return _json({"url": f"{self.url}/{repo}", "name": repo, "id": repo})

    def validate_yaml(self, body: bytes, **_):
        content = json.loads(body)["content"]
        match = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        try:
            yaml.safe_load(match.group(1) if match else "")
        except yaml.YAMLError as exc:
            return _json({"errors": [{"message": str(exc)}], "warnings": []}, 400)
        return _json({"errors": [], "warnings": []})

    def preupload(self, repo: str, body: bytes, **_):
        if not (self.repo_dir(repo) / "refs").is_dir():
            raise HubAnswer(404, "RepoNotFound", f"Repository Not Found for url: {repo}.")
        files = json.loads(body)["files"]
        return _json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})

    def commit(self, repo: str, rev: str, body: bytes, **_):
        if not (self.repo_dir(repo) / "refs").is_dir():
            raise HubAnswer(404, "RepoNotFound", f"Repository Not Found for url: {repo}.")
        changes: dict[str, bytes | None] = {}
        for line in body.decode().splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                changes[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] in ("deletedFile", "deletedFolder"):
                changes[item["value"]["path"]] = None
            elif item["key"] != "header":
                raise HubAnswer(400, None, f"this stand-in does not accept {item['key']!r} commit items")
        sha = self.write_commit(repo, unquote(rev), changes)
        return _json({"commitUrl": f"{self.url}/{repo}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None})


def _json(obj, status: int = 200):
    return status, {"Content-Type": "application/json"}, json.dumps(obj).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: LocalHub

    def log_message(self, *args) -> None:  # quiet; the tests read hub.requests
        pass

    def _answer(self, method: str) -> None:
        path = urlsplit(self.path).path
        self.hub.requests.append((self.command, path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
        try:
            for verb, pattern, name in ROUTES:
                match = re.match(pattern, path)
                if verb == method and match:
                    if method == "POST" and not self.headers.get("Authorization"):
                        raise HubAnswer(401, None, "Invalid credentials in Authorization header")
                    status, headers, data = getattr(self.hub, name)(body=body, **match.groupdict())
                    break
            else:
                raise HubAnswer(404, None, f"no stand-in route for {method} {path}")
        except HubAnswer as answer:
            status, data = answer.status, json.dumps({"error": answer.message}).encode()
            headers = {"Content-Type": "application/json", "X-Error-Message": answer.message}
            if answer.code:
                headers["X-Error-Code"] = answer.code
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

