"""The HTML leaderboard in a real browser: headless Chromium (Debian's ``chromium`` package) loads the page
from a synthetic results.json, and the rendered DOM, the sorting script, the embedded figures and a
screenshot are checked. Skipped where Chromium is absent (CI installs it).

Two routes: the command line (``--dump-dom`` after the scripts ran, ``--screenshot``), and the DevTools
protocol over ``--remote-debugging-pipe`` (stdlib only) to click headers and read ``naturalWidth``.
"""

from __future__ import annotations

import html.parser
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_leaderboard_data import write_results

from sagebench.benchmark.leaderboard import render_all


def _find_chromium() -> str | None:
    env = os.environ.get("SAGEBENCH_CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (install Debian's 'chromium' package, as .ci/run does, "
                             "or set SAGEBENCH_CHROMIUM)")

# The machine may have no network: these flags keep Chromium from trying to reach anything.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--window-size=1280,2000"]
METHODS = ["seafusion", "sage_student", "ifcnn", "vis_only", "ir_only"]  # the quality board's order


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("browser_run")
    write_results(run, per_class=True)
    return render_all(run, run / "leaderboard", formats=("html",))["html"]


def _chromium(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=5000", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


class _DOM(html.parser.HTMLParser):
    """Tables (rows of cells with their attributes and text), images and body attributes of a DOM dump."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.images: list[dict] = []
        self.body: dict = {}
        self._cell: dict | None = None
        self._row: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "table" and "lb" in (a.get("class") or "").split():
            self.tables.append({"attrs": a, "head": [], "rows": []})
        elif tag == "img":
            self.images.append(a)
        elif self.tables and tag == "tr":
            self._row = []
        elif self.tables and tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "attrs": a, "text": ""}

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            t = self.tables[-1]
            (t["head"] if self._row and self._row[0]["tag"] == "th" else t["rows"]).append(self._row)
            self._row = None


def _dump(tmp: Path, url: str) -> _DOM:
    dom = _DOM()
    dom.feed(_chromium(tmp, "--dump-dom", url).stdout)
    return dom


def test_dom_tables_figures_and_highlights(page, tmp_path):
    dom = _dump(tmp_path, page.as_uri())
    assert dom.body.get("data-js") == "ready", "the page's script did not run"
    assert [(t["attrs"]["data-dataset"], t["attrs"]["data-task"]) for t in dom.tables] == \
        [("MSRS", "quality"), ("MSRS", "segmentation"), ("-", "throughput")]
    q = dom.tables[0]
    assert q["attrs"].get("data-ready") == "1"
    assert [c["attrs"]["data-key"] for c in q["head"][0]] == ["#", "method", "EN", "SSIM", "MSE", "VIF", "avg-rank"]
    assert [r[1]["text"] for r in q["rows"]] == METHODS
    best = {(r[1]["text"], c["attrs"]["data-key"]) for r in q["rows"] for c in r
            if "best" in (c["attrs"].get("class") or "").split()}
    assert best == {("seafusion", "EN"), ("seafusion", "MSE"), ("seafusion", "VIF"), ("ifcnn", "SSIM")}
    second = {(r[1]["text"], c["attrs"]["data-key"]) for r in q["rows"] for c in r
              if "second" in (c["attrs"].get("class") or "").split()}
    assert second == {("sage_student", m) for m in ("EN", "SSIM", "MSE", "VIF")}
    assert q["rows"][0][2]["text"].startswith("6.680")
    # figures: 3 bar charts + 1 radar, inline PNG that decodes
    assert len(dom.images) == 4
    for img in dom.images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,") and len(src) > 5000
    # the page marks each image with its decoded size on the load event
    assert dom.body.get("data-loaded") == "1", "the load event did not fire within the virtual-time budget"
    decoded = [img.get("data-decoded", "0") for img in dom.images]
    assert all(d != "0" and int(d.split("x")[0]) > 100 for d in decoded), decoded


def test_hash_sorts_every_table_with_that_column(page, tmp_path):
    dom = _dump(tmp_path, page.as_uri() + "#sort=EN:asc")
    q, seg = dom.tables[0], dom.tables[1]
    assert q["attrs"].get("data-sorted-by") == "EN" and q["attrs"].get("data-sort-dir") == "asc"
    en = [float(r[2]["attrs"]["data-value"]) for r in q["rows"]]
    assert en == sorted(en) and [r[1]["text"] for r in q["rows"]][0] == "ir_only"
    assert "data-sorted-by" not in seg["attrs"]  # no EN column there: left alone
    # default direction follows the metric: MSE (lower is better) ascending; missing values last
    dom = _dump(tmp_path, page.as_uri() + "#sort=VIF")
    q = dom.tables[0]
    assert q["attrs"]["data-sort-dir"] == "desc"
    assert [r[1]["text"] for r in q["rows"]] == ["seafusion", "sage_student", "ifcnn", "ir_only", "vis_only"]


def test_screenshot_is_rendered(page, tmp_path):
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("RGB")).astype(int)
    assert arr.shape == (2000, 1280, 3)
    assert arr.std() > 20 and len(np.unique(arr.reshape(-1, 3), axis=0)) > 200, "blank or flat screenshot"

    def near(rgb, tol=40):
        return int((np.abs(arr - np.array(rgb)).sum(-1) < tol).sum())

    assert near((11, 92, 173)) > 100, "no bold 'best' cells in the page colour"  # CSS applied
    assert near((31, 119, 180)) > 2000, "no bar-chart pixels: the embedded figure did not render"
    assert near((232, 113, 10), 10) > 300, "no per-class bars of the best methods: their CSS did not apply"
    assert near((255, 255, 255), 3) > arr.shape[0] * arr.shape[1] // 4  # page background


# ------------------------------------------------------------------------- DevTools protocol (pipe)


class _DevTools:
    """Minimal Chrome DevTools protocol client over ``--remote-debugging-pipe`` (fd 3: commands in,
    fd 4: replies out, NUL-separated JSON)."""

    def __init__(self, tmp: Path, timeout: float = 30) -> None:
        self.timeout = timeout
        cmd_r, self._w = os.pipe()
        self._r, out_w = os.pipe()

        def to_fds_3_and_4():  # runs in the child before exec
            a, b = os.dup2(cmd_r, 103), os.dup2(out_w, 104)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile_cdp'}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=to_fds_3_and_4, close_fds=False)
        os.close(cmd_r)
        os.close(out_w)
        self._buf, self._id, self._events = b"", 0, []

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer over the DevTools pipe")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            self._events.append(m)

    def wait_event(self, name: str) -> dict:
        for i, e in enumerate(self._events):
            if e.get("method") == name:
                return self._events.pop(i)
        while True:
            m = self._read()
            if m.get("method") == name:
                return m
            self._events.append(m)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # already gone
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


def test_devtools_images_decode_and_header_clicks_sort(page, tmp_path):
    cdp = _DevTools(tmp_path)
    try:
        target = next(t for t in cdp.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        sid = cdp.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
        cdp.send("Page.enable", session=sid)
        cdp.send("Page.navigate", {"url": page.as_uri()}, session=sid)
        cdp.wait_event("Page.loadEventFired")

        def js(expr: str):
            res = cdp.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sid)
            assert "exceptionDetails" not in res, res
            return res["result"].get("value")

        sizes = js("Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == 4 and all(w > 100 and h > 100 for w, h in sizes), sizes
        order = ("Array.from(document.querySelector('table.lb').tBodies[0].rows)"
                 ".map(r => r.getAttribute('data-method'))")
        click = ("Array.from(document.querySelector('table.lb').tHead.rows[0].cells)"
                 ".find(c => c.getAttribute('data-key') === '{}').click()")
        assert js(order) == METHODS
        js(click.format("MSE"))  # lower is better: first click sorts ascending
        assert js(order) == ["seafusion", "sage_student", "ifcnn", "vis_only", "ir_only"]
        assert js("document.querySelector('table.lb').getAttribute('data-sort-dir')") == "asc"
        js(click.format("MSE"))  # second click reverses
        assert js(order) == ["ir_only", "vis_only", "ifcnn", "sage_student", "seafusion"]
        js(click.format("method"))
        assert js(order) == sorted(METHODS)
        js(click.format("SSIM"))  # higher is better: descending
        assert js(order) == ["ifcnn", "sage_student", "seafusion", "vis_only", "ir_only"]
        shot = cdp.send("Page.captureScreenshot", {"format": "png"}, session=sid)["data"]
        assert len(shot) > 10000
        # per-class IoU bars under the segmentation board: laid out with lengths proportional to the values
        bars = js("Array.from(document.querySelectorAll('figure.classbars .cb-class')).map(g => ["
                  "g.dataset.class, Array.from(g.querySelectorAll('.cb-row')).map(r => [r.dataset.method, "
                  "Number(r.dataset.value), r.querySelector('.cb-bar').getBoundingClientRect().width, "
                  "r.querySelector('.cb-track').getBoundingClientRect().width, r.classList.contains('best')])])")
        assert [g[0] for g in bars] == ["person", "car", "road"]
        for name, rows in bars:
            assert {r[0] for r in rows} == set(METHODS)
            for method, value, width, track, best in rows:
                assert track > 50 and abs(width - track * value / 100) <= 1.0, (name, method, width, track)
                assert best == (value == max(r[1] for r in rows)), (name, method)
    finally:
        cdp.close()
