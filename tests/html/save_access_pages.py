"""Save the access samples of tests/html (``access_*.html``): DokuWiki's answers to a page
the visitor may not read, and to its login view before and after a login, per engine and
template.

    .venv/bin/python tests/html/save_access_pages.py

Needs ../shared/dokuwiki/ (see tests/wikibed.py). Each answer is saved as served, except
that the server's port is written as 8802.
"""

from __future__ import annotations

import http.cookiejar
import sys
import tempfile
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from wikibed import (  # noqa: E402
    ACL_LINES,
    DEBIAN,
    DEFAULT_TEMPLATE,
    EDITOR_PASSWORD,
    EDITOR_USER,
    UPSTREAM,
    DokuWikiBed,
    build_engine,
)

from crawler.access import login_form  # noqa: E402 - after the path is set

PORT = 8802
SETS = [
    ("igor", DEBIAN, DEFAULT_TEMPLATE),
    ("mort_dokuwiki", UPSTREAM, DEFAULT_TEMPLATE),
    ("mort_bootstrap3", UPSTREAM, "bootstrap3"),
    ("mort_sprintdoc", UPSTREAM, "sprintdoc"),
]
ACL = (*ACL_LINES, "vascular:*\t@ALL\t0", "vascular:*\t@user\t1", "secret\t@ALL\t0")
PAGES = {
    "start": "====== Start ======\n[[vascular:aneurysm]] [[secret]]\n",
    "vascular:aneurysm": "====== Aneurysm ======\ntext\n",
    "secret": "====== Secret ======\ntext\n",
}


def fetch(opener: urllib.request.OpenerDirector, url: str, data: bytes | None = None) -> bytes:
    try:
        with opener.open(url, data=data, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as error:  # a refused login answers 403
        return error.read()


def save_set(name: str, bed: DokuWikiBed) -> None:
    cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), cookies)

    def save(kind: str, body: bytes) -> None:
        body = body.replace(f"127.0.0.1:{bed.port}".encode(), f"127.0.0.1:{PORT}".encode())
        (HERE / f"access_{kind}_{name}.html").write_bytes(body)
        print(f"access_{kind}_{name}.html", len(body))

    save("denied", fetch(opener, bed.page_url("secret")))
    login_view = bed.page_url("start", do="login")
    page = fetch(opener, login_view)
    save("login", page)
    # The form's own fields (its hidden token, page and action), user and password.
    action, fields = login_form(page, login_view)
    fields = [(k, v) for k, v in fields if k not in ("u", "p")]
    fields += [("u", EDITOR_USER), ("p", EDITOR_PASSWORD)]
    fetch(opener, action, urllib.parse.urlencode(fields).encode())
    save("loggedin", fetch(opener, bed.page_url("start", do="login")))
    save("denied_user", fetch(opener, bed.page_url("secret")))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine, template in SETS:
            engine_dir = build_engine(Path(tmp) / "engines", engine,
                                      () if engine == DEBIAN else ("bootstrap3", "sprintdoc"))
            bed = DokuWikiBed(Path(tmp) / name, engine=engine_dir, template=template, acl=ACL)
            for page_id, text in PAGES.items():
                bed.write_page(page_id, text, when=datetime(2024, 1, 1))
            bed.reindex()
            bed.start()
            try:
                save_set(name, bed)
            finally:
                bed.stop()


if __name__ == "__main__":
    main()
