"""``govindex collect`` through the real command line: with ``--format json`` stdout holds the JSON
document alone (progress goes to stderr)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.webservers import Page, Site, html


def test_collect_format_json_prints_only_json_on_stdout(tmp_path: Path) -> None:
    routes = {"/": Page(html("石家庄市人民政府", "/a.html")), "/a.html": Page(html("政府信息公开目录")),
              "/robots.txt": Page("", 404)}
    with Site("127.0.0.7", routes) as site:
        channels = tmp_path / "channels.csv"
        channels.write_text(f"unit,kind,url,name\n130100,portal,{site.url('/')},石家庄市人民政府\n", encoding="utf-8")
        r = subprocess.run([sys.executable, "-m", "govindex.cli", "collect", "rules/2019", "--channels", str(channels),
                            "--round", "1", "--out", str(tmp_path / "facts"), "--allow-loopback", "--delay", "0",
                            "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)  # the whole of stdout is one JSON document
    assert doc["crawl"]["pages"] == 2 and doc["crawl"]["discarded"] == 0 and doc["extract"]["pages"] == 2
    assert r.stdout.count("\n") == 1 and "pages" in r.stderr  # the progress went to stderr
