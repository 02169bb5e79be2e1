"""A throw-away DokuWiki site served by ``php -S`` for end-to-end tests.

The Debian ``dokuwiki`` package is used read-only from /usr/share/dokuwiki. Debian's
``inc/preload.php`` only defines DOKU_CONF when it is not defined yet, so a router script
(web requests) and an auto-prepend file (CLI scripts under bin/) define it first and point
DokuWiki at a conf dir of our own; ``savedir`` in that conf moves all data into the temp
folder too. Nothing under /etc or /var/lib is read for state or modified.

Pages are written offline (files, attic, changelogs) so revisions can carry chosen dates in
the past; that is the only way to get them, DokuWiki itself always stamps "now".
See docs/dokuwiki.md for the verified facts this module relies on.

Engines and templates: Debian's package ("Igor") is the default. ``build_engine()`` makes
an engine folder of another kind in a temp dir: the upstream release unpacked from
``../shared/dokuwiki/`` (relative to the project root), or a copy of Debian's engine, each
with the third-party templates of that folder under ``lib/tpl/``. A bed picks its template
with ``template=`` (``$conf['template']``).

No pytest dependency: usable from scripts and fixtures alike.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

ENGINE_DIR = Path("/usr/share/dokuwiki")
# Upstream engine and third-party templates as tarballs (see that folder's README.md).
SHARED_DOKUWIKI = Path(__file__).resolve().parents[1].parent / "shared" / "dokuwiki"
DEBIAN = "debian"
UPSTREAM = "2026-07-14b"  # DokuWiki release "Mort"
ENGINE_TARBALLS = {UPSTREAM: "dokuwiki-2026-07-14b.tar.gz"}
TEMPLATE_TARBALLS = {
    "bootstrap3": "tpl-bootstrap3-2025-06-13.tar.gz",
    "sprintdoc": "tpl-sprintdoc-2026-03-03.tar.gz",
}
DEFAULT_TEMPLATE = "dokuwiki"
BASE_PATH = "/wiki/"
WIKI_TITLE = "Neurosurgery Wiki"
EDITOR_USER = "editor"
EDITOR_PASSWORD = "editor-pass"
# Everyone may read; logged-in users (group "user") may edit, for later HTTP-edit tests.
ACL_LINES = ("*\t@ALL\t1", "*\t@user\t8")
# name -> (password, groups): DokuWiki's own accounts (authplain, conf/users.auth.php).
USERS = {EDITOR_USER: (EDITOR_PASSWORD, "user")}
DATA_SUBDIRS = (
    "pages", "attic", "meta", "media", "media_attic", "media_meta",
    "cache", "index", "locks", "tmp", "log",
)
# IP written into changelog lines we create; DokuWiki shows it as "by 127.0.0.1".
CHANGELOG_IP = "127.0.0.1"
WHOAMI_PATH = "/__wikibed__/whoami"


class WikiBedError(RuntimeError):
    """The bed could not be built or the server could not be started."""


# --------------------------------------------------------------------------- ids


_DEACCENT_SPECIAL = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "o", "œ": "oe"}


def _deaccent(text: str) -> str:
    """Latin accents off like DokuWiki's deaccent=1; other scripts (Greek...) are kept."""
    out = []
    for ch in text:
        if ch in _DEACCENT_SPECIAL:
            out.append(_DEACCENT_SPECIAL[ch])
            continue
        parts = unicodedata.normalize("NFD", ch)
        out.append(parts[0] if len(parts) > 1 and parts[0].isascii() else ch)
    return "".join(out)


def clean_id(raw: str) -> str:
    """Python port of DokuWiki's cleanID() for the default config (sepchar "_", deaccent 1).

    stripspecials is approximated as "anything but letters, digits, ``_ . - :`` becomes
    ``_``", which matches DokuWiki for the ids this project uses.
    """
    text = raw.strip().lower()
    text = text.replace(";", ":").replace("/", "_")
    text = _deaccent(text)
    text = re.sub(r"[^\w.\-:]", "_", text)
    text = re.sub(r"_+", "_", text)
    text = re.sub(r":+", ":", text)
    text = text.strip(":._-")
    text = re.sub(r":[:._\-]+", ":", text)
    text = re.sub(r"[:._\-]+:", ":", text)
    return text


def check_id(page_id: str) -> str:
    """Return page_id if it is a clean DokuWiki id, else raise ValueError."""
    if not page_id or clean_id(page_id) != page_id:
        raise ValueError(f"not a clean DokuWiki id: {page_id!r} (clean: {clean_id(page_id)!r})")
    return page_id


def encode_path(item_id: str) -> str:
    """Relative file path of an id, per segment urlencoded like DokuWiki's fnencode=url."""
    return "/".join(urllib.parse.quote(seg, safe="-_.") for seg in item_id.split(":"))


def namespace_of(item_id: str) -> str:
    return item_id.rpartition(":")[0]


# --------------------------------------------------------------------------- http


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never use a proxy


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - stdlib signature
        return None


_OPENER_NOREDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def http_get(
    url: str, *, headers: dict[str, str] | None = None, timeout: float = 30,
    follow_redirects: bool = True,
) -> Response:
    """GET without proxies; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    opener = _OPENER if follow_redirects else _OPENER_NOREDIRECT
    try:
        with opener.open(request, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Response(err.code, dict(err.headers.items()), err.read())


# --------------------------------------------------------------------------- php snippets


def _php_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _php_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _php_str(value)
    raise TypeError(f"unsupported conf value {value!r}")


# Router for php -S: serves the read-only engine under BASE_PATH with our DOKU_CONF.
# It mirrors /usr/share/dokuwiki/index.php (DokuWiki's own cli-server router) but adds the
# base path, a whoami endpoint (php -S shares ports via SO_REUSEPORT, so we must check that
# the server answering is ours) and static files served by hand (the docroot has no /wiki/).
_ROUTER_TEMPLATE = r"""<?php
define('DOKU_CONF', __CONF__);
$engine = __ENGINE__;
$base = __BASE__;  // e.g. '/wiki'
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === __WHOAMI__) {
    header('Content-Type: text/plain');
    echo __TOKEN__;
    return true;
}
// A web server password in front of everything (HTTP basic auth), when the bed has one.
$gate = __GATE__;
if ($gate !== null && (($_SERVER['PHP_AUTH_USER'] ?? null) !== $gate[0]
        || ($_SERVER['PHP_AUTH_PW'] ?? null) !== $gate[1])) {
    header('WWW-Authenticate: Basic realm="wiki"');
    http_response_code(401);
    echo 'Authorization required';
    return true;
}
if ($path === '/robots.txt' && is_file(__ROOT__ . '/robots.txt')) {
    header('Content-Type: text/plain');
    readfile(__ROOT__ . '/robots.txt');
    return true;
}
if ($path === '/' || $path === $base) {
    header('Location: ' . $base . '/doku.php', true, 302);
    return true;
}
if (strpos($path, $base . '/') !== 0) {
    http_response_code(404);
    echo 'Not found';
    return true;
}
$rel = substr($path, strlen($base));
if ($rel === '/') $rel = '/doku.php';
$pathInfo = null;
if (preg_match('#^(/[^/]+\.php)(/.*)$#', $rel, $m)) {
    // doku.php/<id>: the URL form of userewrite=2
    $rel = $m[1];
    $pathInfo = $m[2];
}
if (strpos($rel, '..') !== false
    || preg_match('/\/([._]ht|README$|VERSION$|COPYING$)/', $rel)
    || preg_match('/^\/(data|conf|bin|inc|vendor)\//', $rel)) {
    http_response_code(403);
    echo 'Access denied';
    return true;
}
$file = $engine . $rel;
if (!is_file($file)) {
    http_response_code(404);
    echo 'Not found';
    return true;
}
if (substr($rel, -4) === '.php') {
    // DokuWiki derives its base URL from SCRIPT_NAME.
    $_SERVER['SCRIPT_NAME'] = $base . $rel;
    $_SERVER['PHP_SELF'] = $base . $rel;
    $_SERVER['SCRIPT_FILENAME'] = $file;
    if ($pathInfo === null) {
        unset($_SERVER['PATH_INFO']);
    } else {
        $_SERVER['PATH_INFO'] = $pathInfo;
    }
    chdir(dirname($file));
    require $file;
    return true;
}
$types = array('css' => 'text/css', 'js' => 'application/javascript', 'png' => 'image/png',
    'gif' => 'image/gif', 'jpg' => 'image/jpeg', 'svg' => 'image/svg+xml',
    'woff' => 'font/woff', 'woff2' => 'font/woff2', 'ttf' => 'font/ttf',
    'ico' => 'image/vnd.microsoft.icon', 'txt' => 'text/plain', 'html' => 'text/html');
$ext = strtolower(pathinfo($file, PATHINFO_EXTENSION));
// Validators and 304 answers as Apache and nginx give them for static files.
$mtime = filemtime($file);
$lastmod = gmdate('D, d M Y H:i:s', $mtime) . ' GMT';
$etag = '"' . dechex(filesize($file)) . '-' . dechex($mtime) . '"';
header('Last-Modified: ' . $lastmod);
header('ETag: ' . $etag);
$inm = isset($_SERVER['HTTP_IF_NONE_MATCH']) ? $_SERVER['HTTP_IF_NONE_MATCH'] : null;
$ims = isset($_SERVER['HTTP_IF_MODIFIED_SINCE']) ? $_SERVER['HTTP_IF_MODIFIED_SINCE'] : null;
if (($inm !== null && trim($inm) === $etag)
    || ($inm === null && $ims !== null && strtotime($ims) >= $mtime)) {
    http_response_code(304);
    return true;
}
header('Content-Type: ' . (isset($types[$ext]) ? $types[$ext] : 'application/octet-stream'));
readfile($file);
return true;
"""

_PLUGINS_PHP = "<?php\n$plugins['testing'] = 0;\n"
_PLUGINS_REQUIRED_PHP = """<?php
$plugins['acl']               = 1;
$plugins['authplain']         = 1;
$plugins['extension']         = 1;
$plugins['config']            = 1;
$plugins['usermanager']       = 1;
$plugins['template:dokuwiki'] = 1;
"""


def requirements_problem(engine: Path = ENGINE_DIR, php: str = "php") -> str | None:
    """Why a bed cannot run here (missing php or DokuWiki), or None when all is there."""
    if shutil.which(php) is None:
        return f"'{php}' not found on PATH: install php-cli (apt-get install php-cli php-xml)"
    if not (engine / "doku.php").is_file():
        return f"DokuWiki engine not found at {engine}: apt-get install dokuwiki"
    return None


def engine_problem(
    engine: str = DEBIAN, template: str = DEFAULT_TEMPLATE, shared: Path | None = None
) -> str | None:
    """Why ``build_engine(engine, template)`` cannot work here, or None when it can."""
    shared = SHARED_DOKUWIKI if shared is None else shared
    problem = requirements_problem()
    if problem:
        return problem
    needed = []
    if engine != DEBIAN:
        if engine not in ENGINE_TARBALLS:
            return f"unknown DokuWiki engine {engine!r} (known: {DEBIAN}, {UPSTREAM})"
        needed.append(ENGINE_TARBALLS[engine])
    if template != DEFAULT_TEMPLATE:
        if template not in TEMPLATE_TARBALLS:
            return f"unknown template {template!r} (known: {', '.join(TEMPLATE_TARBALLS)})"
        needed.append(TEMPLATE_TARBALLS[template])
    missing = [name for name in needed if not (shared / name).is_file()]
    if missing:
        return f"{', '.join(missing)} not found in {shared}"
    return None


def build_engine(
    workdir: Path, engine: str = DEBIAN, templates: tuple[str, ...] = (),
    shared: Path | None = None, *, copy: bool = False,
) -> Path:
    """An engine folder of *engine* with *templates* added, built once under *workdir*.

    Debian's engine with no extra template is /usr/share/dokuwiki itself (read-only),
    unless *copy*. Otherwise the engine is unpacked (upstream) or copied with symlinks
    resolved (Debian, whose lib/tpl points into /var/lib), so templates can be added
    without writing outside *workdir*. The same arguments again reuse the folder.
    """
    shared = SHARED_DOKUWIKI if shared is None else shared
    for template in templates or (DEFAULT_TEMPLATE,):
        problem = engine_problem(engine, template, shared)
        if problem:
            raise WikiBedError(problem)
    if engine == DEBIAN and not templates and not copy:
        return ENGINE_DIR
    target = Path(workdir) / f"{engine}-{'-'.join(sorted(templates)) or DEFAULT_TEMPLATE}"
    done = target / ".wikibed-complete"
    if done.exists():
        return target / "dokuwiki"
    scratch = Path(workdir) / (target.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    if engine == DEBIAN:
        subprocess.run(["cp", "-rL", str(ENGINE_DIR), str(scratch / "dokuwiki")], check=True)
    else:
        _untar(shared / ENGINE_TARBALLS[engine], scratch)
    tpl_dir = scratch / "dokuwiki" / "lib" / "tpl"
    for template in templates:
        _untar(shared / TEMPLATE_TARBALLS[template], tpl_dir)
        if not (tpl_dir / template / "main.php").is_file():
            raise WikiBedError(f"{TEMPLATE_TARBALLS[template]} did not unpack to {template}/")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    done.touch()
    return target / "dokuwiki"


def _untar(tarball: Path, into: Path) -> None:
    # tar itself: Python's tarfile would need a filter choice for these trusted archives.
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(into)], check=True)


def engine_version(engine: Path) -> str:
    """The release line of an engine folder's VERSION file, e.g. ``2026-07-14b "Mort"``."""
    return (Path(engine) / "VERSION").read_text(encoding="utf-8").strip()


def _free_port() -> int:
    # Plain bind (no SO_REUSEPORT): fails if anyone listens, even a php -S with reuseport.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _utc(when: datetime) -> datetime:
    # Naive datetimes are taken as UTC: the corpus and the server both use UTC.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# --------------------------------------------------------------------------- the bed


class DokuWikiBed:
    """A DokuWiki site in its own folder, optionally served by php -S on 127.0.0.1."""

    # How often php -S looks at a script's mtime. The cli-server caches compiled scripts
    # (opcache.enable applies to it) and by default looks every 2 s, so a configuration
    # written between two crawls would be ignored for up to 2 s: 0 looks on every request
    # (a stat per script, paid by the wiki on every page).
    script_check_seconds = 0

    def __init__(
        self,
        root: Path,
        *,
        sitemap: bool = True,
        conf: dict[str, object] | None = None,
        robots_txt: str | None = None,
        acl: Sequence[str] = ACL_LINES,
        users: Mapping[str, tuple[str, str]] = USERS,
        http_auth: tuple[str, str] | None = None,
        engine: Path = ENGINE_DIR,
        template: str = DEFAULT_TEMPLATE,
        php: str = "php",
    ) -> None:
        """``acl``: lines of conf/acl.auth.php; ``users``: name -> (password, groups);
        ``http_auth``: (user, password) a web server password in front of the wiki asks
        for (HTTP basic auth, answered 401 otherwise)."""
        problem = requirements_problem(engine, php)
        if problem:
            raise WikiBedError(problem)
        self.root = Path(root).resolve()
        self.engine = Path(engine)
        self.template = template
        if not (self.engine / "lib" / "tpl" / template / "main.php").is_file():
            raise WikiBedError(f"template {template!r} not found in {self.engine}/lib/tpl")
        self.php = php
        self.conf_dir = self.root / "conf"
        self.data_dir = self.root / "data"
        self.router = self.root / "router.php"
        self.prepend = self.conf_dir / "_prepend.php"
        self.server_log = self.root / "php-server.log"
        self._token = secrets.token_hex(12)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None
        self._port: int | None = None
        self._last_conf_touch = 0.0
        self._layout(sitemap, conf or {}, users, http_auth)
        self.set_acl(acl)
        if robots_txt is not None:
            # served at http://127.0.0.1:PORT/robots.txt
            (self.root / "robots.txt").write_text(robots_txt, encoding="utf-8")

    # ---- layout

    def _layout(
        self,
        sitemap: bool,
        extra: dict[str, object],
        users: Mapping[str, tuple[str, str]],
        http_auth: tuple[str, str] | None,
    ) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.conf_dir.mkdir(exist_ok=True)
        for sub in DATA_SUBDIRS:
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        if not (self.engine / "inc" / "preload.php").is_file():
            # An engine without Debian's preload reads its defaults from DOKU_CONF only.
            for item in (self.engine / "conf").iterdir():
                name = item.name
                if item.is_file() and not name.startswith("plugins") and not name.endswith(
                    (".dist", ".example")
                ):
                    shutil.copyfile(item, self.conf_dir / name)
        settings: dict[str, object] = {
            "title": WIKI_TITLE,
            "template": self.template,
            "lang": "en",
            "license": "cc-by-sa",
            "savedir": str(self.data_dir),
            "useacl": 1,
            "superuser": "@admin",
            # The task runner trims the global changelog to recent_days (default 7): keep all.
            "recent_days": 36500,
            "sitemap": 1 if sitemap else 0,
        }
        settings.update(extra)
        self._conf = settings
        self._write_conf()
        # authplain accepts a bare md5 hex digest; good enough for a throw-away wiki.
        accounts = ["# users.auth.php"] + [
            f"{name}:{hashlib.md5(password.encode()).hexdigest()}:Wiki {name.title()}:"
            f"{name}@example.org:{groups}"
            for name, (password, groups) in users.items()
        ]
        (self.conf_dir / "users.auth.php").write_text("\n".join(accounts) + "\n", encoding="utf-8")
        (self.conf_dir / "plugins.php").write_text(_PLUGINS_PHP, encoding="utf-8")
        (self.conf_dir / "plugins.required.php").write_text(_PLUGINS_REQUIRED_PHP, encoding="utf-8")
        conf_literal = _php_str(str(self.conf_dir) + "/")
        self.prepend.write_text(
            f"<?php\nif (!defined('DOKU_CONF')) define('DOKU_CONF', {conf_literal});\n",
            encoding="utf-8",
        )
        router = (
            _ROUTER_TEMPLATE.replace("__CONF__", conf_literal)
            .replace("__ENGINE__", _php_str(str(self.engine)))
            .replace("__BASE__", _php_str(BASE_PATH.rstrip("/")))
            .replace("__WHOAMI__", _php_str(WHOAMI_PATH))
            .replace("__TOKEN__", _php_str(self._token))
            .replace("__ROOT__", _php_str(str(self.root)))
            .replace("__GATE__", "null" if http_auth is None else
                     f"array({_php_str(http_auth[0])}, {_php_str(http_auth[1])})")
        )
        self.router.write_text(router, encoding="utf-8")

    def set_acl(self, lines: Sequence[str]) -> None:
        """Write conf/acl.auth.php (one rule a line: ``scope\\tsubject\\tlevel``).

        DokuWiki reads the ACL on every request; the sitemap and the cached feeds, built
        for what anonymous visitors may read, are dropped so they follow the new rules.
        """
        acl = "# acl.auth.php\n" + "\n".join(lines) + "\n"
        (self.conf_dir / "acl.auth.php").write_text(acl, encoding="utf-8")
        (self.data_dir / "cache" / "sitemap.xml.gz").unlink(missing_ok=True)
        self._touch_conf()

    def _write_conf(self) -> None:
        lines = ["<?php", "// written by tests/wikibed.py"]
        lines += [f"$conf[{_php_str(k)}] = {_php_value(v)};" for k, v in self._conf.items()]
        (self.conf_dir / "local.php").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def set_template(self, template: str) -> None:
        """Switch the site to another template of its engine, as an admin would (the
        rendered-page cache goes stale with the configuration, so pages re-render)."""
        if not (self.engine / "lib" / "tpl" / template / "main.php").is_file():
            raise WikiBedError(f"template {template!r} not found in {self.engine}/lib/tpl")
        self.template = template
        self._conf["template"] = template
        self._write_conf()
        self._touch_conf()  # see _invalidate

    # ---- paths

    def page_path(self, page_id: str) -> Path:
        return self.data_dir / "pages" / f"{encode_path(page_id)}.txt"

    def attic_path(self, page_id: str, ts: int) -> Path:
        return self.data_dir / "attic" / f"{encode_path(page_id)}.{ts}.txt.gz"

    def meta_path(self, page_id: str, ext: str) -> Path:
        return self.data_dir / "meta" / f"{encode_path(page_id)}.{ext}"

    def media_path(self, media_id: str) -> Path:
        return self.data_dir / "media" / encode_path(media_id)

    @property
    def global_changelog(self) -> Path:
        return self.data_dir / "meta" / "_dokuwiki.changes"

    # ---- server

    @property
    def port(self) -> int:
        if self._port is None:
            raise WikiBedError("server not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    def page_url(self, page_id: str, **params: str) -> str:
        query = urllib.parse.urlencode({"id": page_id, **params})
        return f"{self.base_url}doku.php?{query}"

    @property
    def caches_fresh_from(self) -> float:
        """Clock time from which a page or feed that DokuWiki caches stays cached.

        Every offline edit dates conf/local.php one second ahead (``_invalidate``; the bed
        writes it when set up too), and
        DokuWiki takes a cache as stale while its whole-second mtime is not past every
        file it depends on (``<=``): whatever it caches before the second after that
        stamp is built again on the next request.
        """
        written = (self.conf_dir / "local.php").stat().st_mtime  # as set up, or edited
        return math.floor(max(self._last_conf_touch, written)) + 1.0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20, workers: int = 1) -> str:
        """Start php -S on a free port; return the base URL.

        ``workers`` > 1 sets PHP_CLI_SERVER_WORKERS (benchmarks only: concurrent renders of
        one page can race on its cache file, see the notes); tests keep the default 1.
        """
        if self.running:
            return self.base_url
        errors = []
        for _attempt in range(5):
            port = _free_port()
            self._spawn(port, workers)
            error = self._wait_ready(port, timeout)
            if error is None:
                self._port = port
                return self.base_url
            errors.append(f"port {port}: {error}")
            self._kill()
        log = self.server_log.read_text(errors="replace") if self.server_log.exists() else ""
        log = log[-2000:]
        raise WikiBedError("php -S did not come up: " + "; ".join(errors) + f"\nlog tail:\n{log}")

    def _spawn(self, port: int, workers: int = 1) -> None:
        env = dict(os.environ)
        env.pop("PHP_CLI_SERVER_WORKERS", None)  # one worker: no cache-file races (see notes)
        if workers > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(workers)
        self._log_file = open(self.server_log, "ab")  # noqa: SIM115 - closed in _kill
        self._proc = subprocess.Popen(
            [
                self.php, "-S", f"127.0.0.1:{port}", "-t", str(self.engine),
                "-d", "date.timezone=UTC", "-d", "display_errors=0",
                "-d", f"opcache.revalidate_freq={self.script_check_seconds}",
                str(self.router),
            ],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so stop() can kill it whole
        )

    def _wait_ready(self, port: int, timeout: float) -> str | None:
        url = f"http://127.0.0.1:{port}{WHOAMI_PATH}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return f"php exited with code {self._proc.returncode}"
            try:
                resp = http_get(url, timeout=2)
            except OSError:
                time.sleep(0.05)
                continue
            # Several answers: with SO_REUSEPORT a foreign server could get some of them.
            answers = [resp] + [http_get(url, timeout=2) for _ in range(3)]
            if all(a.status == 200 and a.body.decode() == self._token for a in answers):
                return None
            return "another server answers on this port"
        return "timed out waiting for the server"

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        """Kill the server's process group. Safe to call twice."""
        self._kill()
        self._port = None

    def __enter__(self) -> DokuWikiBed:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- offline edits

    def _read_page(self, page_id: str) -> bytes | None:
        path = self.page_path(page_id)
        return path.read_bytes() if path.exists() else None

    def _last_revision(self, page_id: str) -> int | None:
        changes = self.meta_path(page_id, "changes")
        if not changes.exists():
            return None
        lines = [ln for ln in changes.read_text(encoding="utf-8").splitlines() if ln.strip()]
        return int(lines[-1].split("\t", 1)[0]) if lines else None

    def _log_change(self, page_id: str, ts: int, kind: str, user: str, summary: str,
                    size_change: int) -> None:
        summary = re.sub(r"[\t\r\n]+", " ", summary).strip()
        fields = [str(ts), CHANGELOG_IP, kind, page_id, user, summary, "", str(size_change)]
        line = "\t".join(fields)
        _insert_sorted(self.meta_path(page_id, "changes"), line)
        # Recent changes and feed.php read the global log backwards: keep it chronological.
        _insert_sorted(self.global_changelog, line)

    def _check_when(self, page_id: str, ts: int) -> None:
        last = self._last_revision(page_id)
        if last is not None and ts <= last:
            raise ValueError(
                f"{page_id}: revision at {ts} is not after the last revision {last}; "
                "write revisions oldest first"
            )

    def _invalidate(self, page_id: str, *, caches: bool = True) -> None:
        for ext in ("meta", "indexed"):
            self.meta_path(page_id, ext).unlink(missing_ok=True)
        if caches:
            self.refresh_caches()

    def expire_feed_caches(self) -> None:
        """Drop the cached feeds alone, as their ``rss_update`` age passing would: the
        configuration, and so the stylesheet's seed, stay as they are."""
        for cached in (self.data_dir / "cache").rglob("*.feed"):
            cached.unlink()

    def refresh_caches(self) -> None:
        """Make DokuWiki drop its cached pages, feeds and sitemap, as a config change does."""
        (self.data_dir / "cache" / "sitemap.xml.gz").unlink(missing_ok=True)
        # purgefile makes cached pages re-check which links exist.
        (self.data_dir / "cache" / "purgefile").write_text(str(int(time.time())))
        # Rendered pages stay cached while the page file is older than the cache, and our
        # files carry past dates. Touching local.php invalidates every cache; set it one
        # second in the future because DokuWiki compares whole seconds and a page rendered
        # in this very second would otherwise still count as fresh.
        # (never further: a stamp far ahead would disable every cache, feeds included)
        self._touch_conf()

    def _touch_conf(self) -> None:
        stamp = max(time.time() + 1, self._last_conf_touch)
        self._last_conf_touch = stamp
        os.utime(self.conf_dir / "local.php", (stamp, stamp))

    def write_page(
        self,
        page_id: str,
        text: str,
        *,
        when: datetime,
        summary: str = "",
        user: str = "",
        minor: bool = False,
        refresh_caches: bool = True,
    ) -> None:
        """Save a revision of page_id dated `when`, as DokuWiki would have (create or edit).

        With ``refresh_caches=False`` the wiki's feed and sitemap caches stay warm, as they
        do on a live wiki for a while after an edit (the page itself renders anew).
        """
        check_id(page_id)
        data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
        old = self._read_page(page_id)
        kind = "C" if old is None else ("e" if minor else "E")
        self._save(page_id, data, when=when, kind=kind, summary=summary, user=user,
                   refresh_caches=refresh_caches)

    def revert_page(
        self, page_id: str, revision: datetime, *, when: datetime, user: str = ""
    ) -> None:
        """Restore the revision dated `revision` at `when`, as DokuWiki's revert does: its
        text from the attic, an R changelog line, DokuWiki's own summary."""
        check_id(page_id)
        old_ts = int(_utc(revision).timestamp())
        data = gzip.decompress(self.attic_path(page_id, old_ts).read_bytes())
        # inc/Action/Revert.php: sprintf($lang['restored'], dformat($REV)), default dformat
        summary = f"old revision restored ({_utc(revision):%Y/%m/%d %H:%M})"
        self._save(page_id, data, when=when, kind="R", summary=summary, user=user)

    def external_edit(self, page_id: str, text: str, *, when: datetime) -> None:
        """Change the page file behind DokuWiki's back, dated `when`: no changelog line and
        no attic copy; DokuWiki shows it as an "external edit" (docs/dokuwiki.md §5)."""
        ts = int(_utc(when).timestamp())
        page = self.page_path(check_id(page_id))
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_bytes(text.replace("\r\n", "\n").encode("utf-8"))
        os.utime(page, (ts, ts))
        self._invalidate(page_id)

    def prune_attic(self, page_id: str, revision: datetime) -> None:
        """Remove one old revision's text, as an admin pruning the attic would; the
        changelog keeps listing it."""
        self.attic_path(page_id, int(_utc(revision).timestamp())).unlink()
        self._invalidate(page_id)

    def _save(
        self,
        page_id: str,
        data: bytes,
        *,
        when: datetime,
        kind: str,
        summary: str,
        user: str,
        refresh_caches: bool = True,
    ) -> None:
        ts = int(_utc(when).timestamp())
        self._check_when(page_id, ts)
        old = self._read_page(page_id)
        size_change = len(data) - (len(old) if old is not None else 0)
        attic = self.attic_path(page_id, ts)
        attic.parent.mkdir(parents=True, exist_ok=True)
        attic.write_bytes(gzip.compress(data, mtime=ts))
        os.utime(attic, (ts, ts))
        self._log_change(page_id, ts, kind, user, summary, size_change)
        page = self.page_path(page_id)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_bytes(data)
        # "Last modified" is the page file's mtime.
        os.utime(page, (ts, ts))
        self._invalidate(page_id, caches=refresh_caches)

    def delete_page(
        self, page_id: str, *, when: datetime, summary: str = "removed", user: str = ""
    ) -> None:
        """Delete page_id at `when`: attic copy, a D changelog line, page file gone."""
        check_id(page_id)
        old = self._read_page(page_id)
        if old is None:
            raise FileNotFoundError(f"page {page_id!r} does not exist")
        ts = int(_utc(when).timestamp())
        self._check_when(page_id, ts)
        attic = self.attic_path(page_id, ts)
        attic.parent.mkdir(parents=True, exist_ok=True)
        attic.write_bytes(gzip.compress(old, mtime=ts))
        self._log_change(page_id, ts, "D", user, summary, -len(old))
        page = self.page_path(page_id)
        page.unlink()
        _sweep_empty_dirs(page.parent, self.data_dir / "pages")
        self._invalidate(page_id)

    def write_media(
        self,
        media_id: str,
        data: bytes,
        *,
        when: datetime | None = None,
        changelog: bool = False,
        summary: str = "",
        user: str = "",
        refresh_caches: bool = True,
    ) -> Path:
        """Put a media file (e.g. ``imaging:ct_scan.png``) in place, dated ``when``.

        With ``changelog`` it is saved as DokuWiki saves an upload (``mediarevisions``):
        the file replaced goes to ``media_attic`` under its date, and a line goes to the
        file's ``media_meta/<id>.changes`` and to ``meta/_media.changes``, which the
        media feed (``feed.php?view=media``) and recent changes read; the wiki's caches
        are then refreshed (which, like any configuration change, gives the stylesheet
        a new URL and resized images a new date) unless ``refresh_caches`` is False, as
        for an upload on a live wiki.
        """
        check_id(media_id)
        path = self.media_path(media_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_bytes() if path.exists() else None
        if changelog:
            if when is None:
                raise ValueError("a media changelog line needs its date: give when=")
            ts = int(_utc(when).timestamp())
            if old is not None:
                old_ts = int(path.stat().st_mtime)
                attic = self.data_dir / "media_attic" / _attic_name(media_id, old_ts)
                attic.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, attic)
            kind = "C" if old is None else "E"
            size_change = len(data) - (len(old) if old is not None else 0)
            summary = re.sub(r"[\t\r\n]+", " ", summary).strip() or (
                "created" if old is None else "replaced"
            )
            line = "\t".join(
                [str(ts), CHANGELOG_IP, kind, media_id, user, summary, "", str(size_change)]
            )
            _insert_sorted(
                self.data_dir / "media_meta" / f"{encode_path(media_id)}.changes", line
            )
            _insert_sorted(self.data_dir / "meta" / "_media.changes", line)
        path.write_bytes(data)
        if when is not None:
            ts_float = _utc(when).timestamp()
            os.utime(path, (ts_float, ts_float))
        if changelog and refresh_caches:
            self.refresh_caches()  # the feed is cached per parameters
        return path

    def run_cli(self, script: str, *args: str, timeout: float = 600) -> str:
        """Run a DokuWiki CLI script from bin/ against this site; return its output."""
        cmd = [
            self.php, "-d", "date.timezone=UTC", "-d", "display_errors=stderr",
            "-d", f"auto_prepend_file={self.prepend}",
            str(self.engine / "bin" / script), *args,
        ]
        result = subprocess.run(
            cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise WikiBedError(
                f"{script} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result.stdout

    def reindex(self) -> None:
        """Rebuild the search index (which the sitemap is built from) and drop the sitemap."""
        self.run_cli("indexer.php", "-c", "-q")
        (self.data_dir / "cache" / "sitemap.xml.gz").unlink(missing_ok=True)

    def load_corpus(self, corpus_dir: Path) -> list[str]:
        """Write every page (all revisions, chosen dates) and media of a corpus; reindex.

        Returns the page ids written.
        """
        manifest = load_manifest_toml(corpus_dir)
        for media in manifest.get("media", []):
            data = (corpus_dir / media["file"]).read_bytes()
            self.write_media(
                media["id"], data, when=media.get("date"),
                changelog=media.get("changelog", False), summary=media.get("summary", ""),
            )
        ids = []
        for page in manifest["page"]:
            revisions = sorted(page["revisions"], key=lambda r: r["date"])
            for rev in revisions:
                source = corpus_dir / rev.get("file", page["file"])
                self.write_page(
                    page["id"],
                    source.read_text(encoding="utf-8"),
                    when=rev["date"],
                    summary=rev.get("summary", ""),
                    user=rev.get("user", ""),
                )
            ids.append(page["id"])
        self.reindex()
        return ids


def _attic_name(media_id: str, ts: int) -> str:
    """``ns/name.<ts>.ext`` as DokuWiki's mediaFN($id, $rev) names an old media file."""
    path = encode_path(media_id)
    stem, dot, ext = path.rpartition(".")
    return f"{stem}.{ts}.{ext}" if dot else f"{path}.{ts}"


def load_manifest_toml(corpus_dir: Path) -> dict:
    with open(Path(corpus_dir) / "manifest.toml", "rb") as fh:
        return tomllib.load(fh)


def _insert_sorted(path: Path, line: str) -> None:
    """Add a changelog line keeping the file in time order (stable for equal dates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    lines = [ln for ln in lines if ln.strip()]
    ts = int(line.split("\t", 1)[0])
    pos = len(lines)
    while pos > 0 and int(lines[pos - 1].split("\t", 1)[0]) > ts:
        pos -= 1
    lines.insert(pos, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sweep_empty_dirs(directory: Path, stop: Path) -> None:
    # DokuWiki removes namespace dirs that became empty (io_sweepNS).
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
