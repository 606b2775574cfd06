"""Leaderboards: ranking, highlighting, formats, errors, plots, CLI and the qualitative figure."""

from __future__ import annotations

import copy
import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_leaderboard_data import results_obj, write_results

from sagebench.benchmark import leaderboard as lb
from sagebench.benchmark.cli import main
from sagebench.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def boards():
    return {(b.dataset, b.task): b for b in lb.build_leaderboards(results_obj())}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    write_results(run)
    return run, lb.render_all(run, run / "leaderboard")


# ------------------------------------------------------------------------------------------ ranking


def test_direction_aware_ranks_ties_and_average(boards):
    q = boards[("MSRS", "quality")]
    assert q.metrics == ["EN", "SSIM", "MSE", "VIF"]
    assert q.directions == {"EN": "higher", "SSIM": "higher", "MSE": "lower", "VIF": "higher"}
    # higher is better: seafusion has the largest EN; lower is better: seafusion has the smallest MSE
    assert q.ranks.loc["seafusion", "EN"] == 1 and q.ranks.loc["ir_only", "EN"] == 5
    assert q.ranks.loc["seafusion", "MSE"] == 1 and q.ranks.loc["ir_only", "MSE"] == 5
    assert q.ranks.loc["ifcnn", "SSIM"] == 1 and q.ranks.loc["sage_student", "SSIM"] == 2
    # vis_only has no VIF: no rank there, and its average is over the three metrics it has
    assert pd.isna(q.ranks.loc["vis_only", "VIF"])
    assert q.average_rank["vis_only"] == pytest.approx((4 + 4 + 4) / 3)
    assert q.average_rank["seafusion"] == pytest.approx((1 + 3 + 1 + 1) / 4)
    # sorted by average rank
    assert q.methods == ["seafusion", "sage_student", "ifcnn", "vis_only", "ir_only"]
    assert list(q.average_rank) == sorted(q.average_rank)

    seg = boards[("MSRS", "segmentation")]
    # equal mAcc (63.4) shares rank 1 (competition ranking: next is 3) and both are bold
    assert seg.ranks.loc["sage_student", "mAcc"] == seg.ranks.loc["seafusion", "mAcc"] == 1
    assert seg.ranks.loc["ifcnn", "mAcc"] == 3
    assert seg.highlight.loc["sage_student", "mAcc"] == seg.highlight.loc["seafusion", "mAcc"] == "best"
    assert seg.highlight.loc["ifcnn", "mAcc"] == "second"  # next distinct value


def test_ranks_compare_displayed_values():
    obj = results_obj(failures=False)
    obj["records"] = [r for r in obj["records"] if r["task"] == "segmentation" and r["metric"] == "mIoU"]
    for r in obj["records"]:  # 54.021 and 54.024 print as 54.02: same rank, both bold
        r["value"] = {"sage_student": 54.021, "seafusion": 54.024}.get(r["method"], r["value"])
    b = lb.build_leaderboards(obj)[0]
    assert b.fmt("mIoU", b.values.loc["seafusion", "mIoU"]) == "54.02"
    assert b.ranks.loc["sage_student", "mIoU"] == b.ranks.loc["seafusion", "mIoU"] == 1
    assert b.ranks.loc["ifcnn", "mIoU"] == 3


def test_two_methods_get_no_underline_and_single_gets_no_bold():
    obj = results_obj(failures=False)
    obj["records"] = [r for r in obj["records"] if r["task"] == "quality" and r["method"] in ("ifcnn", "ir_only")]
    b = lb.build_leaderboards(obj)[0]
    assert set(b.highlight.to_numpy().ravel()) == {"best", ""}
    obj["records"] = [r for r in obj["records"] if r["method"] == "ifcnn"]
    b = lb.build_leaderboards(obj)[0]
    assert set(b.highlight.to_numpy().ravel()) == {""}
    obj = results_obj(failures=False)  # all equal: everyone ranks 1, nobody is bold
    obj["records"] = [dict(r, value=5.0) for r in obj["records"] if r["task"] == "quality" and r["metric"] == "EN"]
    b = lb.build_leaderboards(obj)[0]
    assert set(b.ranks["EN"]) == {1} and set(b.highlight["EN"]) == {""}


def test_number_formatting(boards):
    q, seg, thr = boards[("MSRS", "quality")], boards[("MSRS", "segmentation")], boards[("-", "throughput")]
    assert q.decimals == {"EN": 3, "SSIM": 3, "MSE": 4, "VIF": 3}
    assert seg.decimals == {"mIoU": 2, "mAcc": 2}
    assert thr.decimals["params"] == 3  # zeros (no parameters) do not shrink the scale
    assert thr.fmt("params", 0.0838) == "0.084"
    assert lb._auto_decimals(np.array([1234.0, 2345.0])) == 0
    assert lb._auto_decimals(np.array([123.4])) == 1
    assert lb._auto_decimals(np.array([0.00123])) == 5
    assert lb._auto_decimals(np.array([np.nan])) == 2
    assert lb._auto_decimals(np.array([0.0, 136000.0, 1.0])) == 0  # whole numbers (counts)
    assert lb._auto_decimals(np.array([0.0, 0.0])) == 0
    obj = results_obj(failures=False)
    for r in obj["records"]:
        if r["metric"] == "EN":
            r["meta"] = {"decimals": {"EN": 1}}
    b = lb.build_leaderboards(obj, tasks=["quality"])[0]
    assert b.decimals["EN"] == 1 and b.fmt("EN", 6.6803) == "6.7"


def test_throughput_title_has_no_placeholder_dataset(boards):
    assert boards[("-", "throughput")].title == "throughput"
    assert boards[("MSRS", "quality")].title == "MSRS \u00b7 quality"


def test_filters_and_errors(tmp_path):
    obj = results_obj()
    assert [b.task for b in lb.build_leaderboards(obj, tasks=["segmentation"])] == ["segmentation"]
    assert lb.build_leaderboards(obj, methods=["ifcnn", "ir_only"])[0].methods == ["ifcnn", "ir_only"]
    with pytest.raises(ConfigError, match="no dataset 'FMB'.*present: MSRS"):
        lb.build_leaderboards(obj, datasets=["FMB"])
    dup = copy.deepcopy(obj)
    dup["records"].append(dict(dup["records"][0]))
    with pytest.raises(DataError, match=r"appears 2 times"):
        lb.build_leaderboards(dup)
    conflict = copy.deepcopy(obj)
    conflict["records"][0]["direction"] = "lower"
    with pytest.raises(DataError, match="conflicting directions"):
        lb.build_leaderboards(conflict)
    empty = dict(obj, records=[])
    with pytest.raises(DataError, match="no result records"):
        lb.build_leaderboards(empty)
    with pytest.raises(ConfigError, match="unknown leaderboard format.*pdf"):
        lb.render_all(obj, tmp_path, formats=["pdf"])
    with pytest.raises(DataError, match="results file not found"):
        lb.render_all(tmp_path / "nowhere", tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="bad.json"):
        lb.to_markdown(tmp_path / "bad.json")


# ------------------------------------------------------------------------------------------ formats


def test_markdown(boards):
    md = lb.to_markdown(results_obj())
    assert "### MSRS \u00b7 quality" in md and "### throughput" in md
    assert "| Method | EN \u2191 | SSIM \u2191 | MSE \u2193 | VIF \u2191 | Avg. rank \u2193 |" in md
    assert "| seafusion | **6.680** | 0.730 | **0.0309** | **0.983** | 1.50 |" in md
    assert "| sage_student | <u>6.615</u> | <u>0.748</u> | <u>0.0312</u> | <u>0.972</u> | 2.00 |" in md
    assert "| vis_only | 5.910 | 0.610 | 0.0506 | \u2014 | 4.00 |" in md
    assert "mIoU [%] \u2191" in md and "latency [ms] \u2193" in md
    assert "### Failures" in md and "tardal" in md and "00003.png: file not found" in md
    # every table row has the header's number of cells
    for block in md.split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        assert len({ln.count(" | ") for ln in rows if not ln.startswith("|:")}) <= 1


def test_latex_is_balanced_and_highlighted():
    tex = lb.to_latex(results_obj())
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 3
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 3
    assert r"seafusion & \textbf{6.680} & 0.730 & \textbf{0.0309} & \textbf{0.983} & 1.50 \\" in tex
    assert r"sage\_student & \underline{6.615}" in tex
    assert r"mIoU [\%] $\uparrow$" in tex and r"latency [ms] $\downarrow$" in tex
    body = re.sub(r"\\[{}%_&#$]", "", tex)
    assert body.count("{") == body.count("}")
    for line in tex.splitlines():  # every data row has as many cells as its tabular has columns
        if line.endswith(r"\\") and "&" in line:
            ncols = len(re.findall(r"\\begin\{tabular\}\{(\w+)\}", tex[:tex.index(line)])[-1])
            assert line.count(" & ") == ncols - 1
    assert lb.latex_escape("a_b%c&d#e$f{g}~^\\") == \
        r"a\_b\%c\&d\#e\$f\{g\}\textasciitilde{}\textasciicircum{}\textbackslash{}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (texlive-latex-recommended)")
def test_latex_compiles(tmp_path):
    (tmp_path / "lb.tex").write_text(lb.to_latex(results_obj(), standalone=True), encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "lb.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "lb.pdf").stat().st_size > 1000


def test_render_all_writes_every_format(rendered):
    run, written = rendered
    out = run / "leaderboard"
    for key in ("csv", "md", "tex", "html", "csv:MSRS/quality", "csv:-/throughput", "plot:bars:MSRS/quality",
                "plot:radar:MSRS"):
        assert written[key].is_file() and written[key].stat().st_size > 0, key
        assert out in written[key].parents
    assert "plot:radar:-" not in written  # two throughput metrics are too few for a radar
    assert not list(out.rglob("*.tmp*"))  # atomic writes leave no temporaries
    long = pd.read_csv(written["csv"])
    assert list(long.columns) == ["dataset", "task", "method", "metric", "value", "unit", "direction", "rank",
                                  "average_rank", "position"]
    assert len(long) == 5 * (4 + 2 + 2)
    row = long[(long.task == "quality") & (long.method == "seafusion") & (long.metric == "MSE")].iloc[0]
    assert row.value == pytest.approx(0.0309) and row["rank"] == 1 and row.direction == "lower" and row.position == 1
    wide = pd.read_csv(written["csv:MSRS/quality"], index_col="method")
    assert list(wide.index) == ["seafusion", "sage_student", "ifcnn", "vis_only", "ir_only"]
    assert wide.loc["ir_only", "rank:VIF"] == 4 and pd.isna(wide.loc["vis_only", "VIF"])
    for key in ("plot:bars:MSRS/quality", "plot:radar:MSRS"):
        with Image.open(written[key]) as im:
            arr = np.asarray(im.convert("RGB"))
        assert arr.shape[0] > 200 and arr.shape[1] > 200 and arr.std() > 20


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_is_standalone(rendered):
    _, written = rendered
    text = written["html"].read_text(encoding="utf-8")
    p = _Collect()
    p.feed(text)
    for tag, attrs in p.tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"^(https?:|//|file:)", value), (tag, key, value[:80])
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
        assert not (tag == "script" and "src" in attrs)
    imgs = [a for t, a in p.tags if t == "img"]
    assert len(imgs) == 4 and all(a["src"].startswith("data:image/png;base64,") and len(a["src"]) > 1000 for a in imgs)
    tables = [a for t, a in p.tags if t == "table" and "lb" in a.get("class", "").split()]
    assert [(a["data-dataset"], a["data-task"]) for a in tables] == [("MSRS", "quality"), ("MSRS", "segmentation"),
                                                                       ("-", "throughput")]
    assert 'class="num best" data-key="EN" data-value="6.6803" data-rank="1"' in text
    assert "<code>0123456789abcdef</code>" in text and "c0ffee42" in text and "NVIDIA H100" in text
    assert "Failures (1)" in text and "tardal" in text
    no_fail = lb.to_html(lb.load(results_obj(failures=False)), lb.build_leaderboards(results_obj(failures=False)))
    assert 'id="no-failures"' in no_fail and "<img" not in no_fail


def test_html_escapes_names():
    obj = results_obj(failures=False)
    for r in obj["records"]:
        if r["method"] == "ifcnn":
            r["method"] = "<script>alert(1)</script>"
    text = lb.to_html(lb.load(obj), lb.build_leaderboards(obj))
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# -------------------------------------------------------------------------------------------- plots


def test_plots(boards):
    from sagebench.benchmark import plots

    q = boards[("MSRS", "quality")]
    fig = plots.bar_chart(q)
    assert sum(ax.has_data() for ax in fig.axes) == 4
    norm = plots.normalise(q.values, q.directions)
    assert norm.loc["seafusion", "MSE"] == 1.0 and norm.loc["ir_only", "MSE"] == 0.0  # lower is better
    assert norm.loc["seafusion", "EN"] == 1.0 and norm.loc["ir_only", "EN"] == 0.0
    assert pd.isna(norm.loc["vis_only", "VIF"])
    const = plots.normalise(pd.DataFrame({"a": [2.0, 2.0]}), {"a": "lower"})
    assert list(const["a"]) == [1.0, 1.0]
    assert plots.radar_chart([boards[("-", "throughput")]]) is None
    radar = plots.radar_chart([q, boards[("MSRS", "segmentation")]])
    labels = [t.get_text() for t in radar.axes[0].get_xticklabels()]
    assert labels == ["EN \u2191", "SSIM \u2191", "MSE \u2193", "mIoU \u2191", "mAcc \u2191"]  # VIF has a gap
    png = plots.figure_png(radar)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------- CLI


def test_cli(tmp_path, capsys):
    run = tmp_path / "run"
    write_results(run)
    assert main(["leaderboard", str(run), "--format", "md", "tex", "--no-plots", "--print", "--task", "quality"]) == 0
    out = capsys.readouterr().out
    assert "**6.680**" in out and "segmentation" not in out.split("### Failures")[0]
    assert sorted(p.name for p in (run / "leaderboard").iterdir()) == ["leaderboard.md", "leaderboard.tex"]
    assert main(["leaderboard", str(run / "results.json"), "--out", str(tmp_path / "o"), "--format", "csv",
                 "--no-plots", "--dataset", "MSRS"]) == 0
    assert (tmp_path / "o" / "tables" / "MSRS__segmentation.csv").is_file()
    assert not (tmp_path / "o" / "tables" / "all__throughput.csv").exists()
    assert main(["leaderboard", str(run), "--task", "detection"]) == 1
    assert "no task 'detection'" in capsys.readouterr().err
    assert main(["leaderboard", str(tmp_path / "missing")]) == 1
    assert main(["leaderboard", str(run), "--figure", "--no-plots"]) == 1
    assert "--images" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ qualitative


def _folder_dataset(root: Path, stems, size=(48, 64), seed=0):
    """A real folder dataset (MSRS layout ir/ vi/) with structured content."""
    rng = np.random.default_rng(seed)
    h, w = size
    (root / "ir").mkdir(parents=True)
    (root / "vi").mkdir()
    for stem in stems:
        ir = np.full((h, w), 40, np.uint8)
        ir[10:22, 12:20] = 220  # a warm object
        vis = (rng.random((h, w, 3)) * 60 + 80).astype(np.uint8)
        Image.fromarray(ir).save(root / "ir" / f"{stem}.png")
        Image.fromarray(vis).save(root / "vi" / f"{stem}.png")
    return root


def test_compose_panel_places_exact_magnified_inset():
    from sagebench.benchmark.figures import compose_panel, inset_geometry

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (60, 100, 3), dtype=np.uint8)
    box = (5, 4, 10, 8)
    zoom, (ix, iy, zw, zh) = inset_geometry(60, 100, box)
    assert zoom == 3 and (zw, zh) == (30, 24) and ix + zw < 100 and iy + zh < 60
    out = compose_panel(img, box)
    expected = np.repeat(np.repeat(img[4:12, 5:15], 3, 0), 3, 1)
    np.testing.assert_array_equal(out[iy:iy + zh, ix:ix + zw], expected)
    assert tuple(out[4, 5]) == (230, 40, 40)  # outline of the source box
    np.testing.assert_array_equal(out[30:50, 30:60], img[30:50, 30:60])  # elsewhere untouched
    gray = compose_panel(img[..., 0], None)
    assert gray.shape == (60, 100, 3) and (gray[..., 0] == gray[..., 2]).all()


def test_auto_inset_finds_the_disagreement():
    from sagebench.benchmark.figures import auto_inset, inset_geometry

    ir = np.full((100, 150), 50, np.uint8)
    a = np.full((100, 150), 100, np.uint8)
    b = a.copy()
    b[20:36, 40:70:2] = 250  # method b has fine structure here, method a has none
    x, y, w, h = auto_inset(ir, [a, b])
    assert (w, h) == (30, 20)
    assert x <= 40 and x + w >= 69 and y <= 20 and y + h >= 35
    _, (ix, iy, _, _) = inset_geometry(100, 150, (0, 0, w, h))
    c = a.copy()
    c[85:95, 130:145:2] = 250  # structure only under the inset corner: the box must avoid it
    x, y, w, h = auto_inset(ir, [a, c])
    assert not (x + w > ix and y + h > iy)


def test_qualitative_grid(tmp_path):
    from sagebench.benchmark.figures import load_panels, qualitative_grid
    from sagebench.datasets import open_dataset

    data = _folder_dataset(tmp_path / "data", ["00000", "00003"])
    fused = {}
    for i, method in enumerate(["m1", "m2"]):
        d = tmp_path / "fused" / method
        d.mkdir(parents=True)
        for stem in ["00000", "00003"]:
            Image.fromarray(np.full((48, 64, 3), 60 * (i + 1), np.uint8)).save(d / f"{stem}.png")
        fused[method] = d
    ds = open_dataset(data)
    rows = load_panels(ds, fused, ["00003"])
    assert [label for label, _ in rows[0][1]] == ["IR", "Visible", "m1", "m2"]
    assert rows[0][1][0][1][15, 15] == 220
    out = qualitative_grid(str(data), fused, ["00000", "00003"], tmp_path / "q.png", inset=(10, 8, 16, 12), dpi=60)
    with Image.open(out) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape[1] > arr.shape[0] > 100 and arr.std() > 10
    assert (np.abs(arr.astype(int) - (230, 40, 40)).sum(-1) < 60).sum() > 50  # inset outlines drawn
    assert qualitative_grid(ds, fused, ["00000"], tmp_path / "q.pdf", inset="auto").stat().st_size > 1000
    with pytest.raises(ConfigError, match="does not fit"):
        qualitative_grid(ds, fused, ["00000"], tmp_path / "x.png", inset=(60, 40, 16, 12))
    with pytest.raises(ConfigError, match="no image '00009'"):
        qualitative_grid(ds, fused, ["00009"], tmp_path / "x.png")
    (fused["m2"] / "00003.png").unlink()
    with pytest.raises(DataError, match=r"m2/00003.png: file not found"):
        qualitative_grid(ds, fused, ["00003"], tmp_path / "x.png")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(fused["m2"] / "00003.png")
    with pytest.raises(DataError, match=r"00003.png: fused image is 20x20"):
        qualitative_grid(ds, fused, ["00003"], tmp_path / "x.png")


def test_cli_figure_uses_run_fused_folders(tmp_path, capsys):
    data = _folder_dataset(tmp_path / "MSRS", ["00000", "00001"])
    run = tmp_path / "run"
    obj = results_obj(failures=False)
    (run / "results.json").parent.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(obj))
    for method in ["sage_student", "seafusion", "ifcnn", "ir_only", "vis_only"]:
        d = run / "fused" / "MSRS" / method
        d.mkdir(parents=True)
        for stem in ["00000", "00001"]:
            Image.fromarray(np.full((48, 64), 128, np.uint8)).save(d / f"{stem}.png")
    rc = main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--images", "00001",
               "--data", str(data), "--figure-methods", "sage_student", "ifcnn", "--inset", "none"])
    assert rc == 0, capsys.readouterr().err
    assert (run / "leaderboard" / "qualitative.png").is_file()
    rc = main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--images", "00001",
               "--data", str(data), "--figure-methods", "tardal"])
    assert rc == 1 and "fused-image folder(s) not found: tardal" in capsys.readouterr().err
    assert main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--images", "00001",
                 "--data", str(data), "--inset", "1", "2"]) == 1


def test_per_image_spread_and_shared_settings():
    obj = results_obj(failures=False)
    for r in obj["records"]:
        if r["task"] == "throughput":
            r["meta"] = {"resolution": "640x480", "precision": "fp32", "per_class": [1, 2],
                         "device": "cuda" if r["method"] != "ifcnn" else "cpu"}
    boards = {b.task: b for b in lb.build_leaderboards(obj)}
    q = boards["quality"]
    # the sample std (n - 1), as the quality task's meta["std"] and summarize() report it
    expected = np.std([6.6803 * (1 + 0.01 * i) for i in range(3)], ddof=1)
    assert q.spread.loc["seafusion", "EN"] == pytest.approx(expected)
    assert q.n_images.loc["seafusion", "EN"] == 3 and pd.isna(q.n_images.loc["vis_only", "VIF"])
    assert list(q.spread.index) == q.methods
    assert boards["segmentation"].spread is None
    # shared scalar settings only: device differs, per_class is not a scalar, fused_dir differs per method
    assert boards["throughput"].settings == {"resolution": "640x480", "precision": "fp32"}
    assert q.settings == {}
    text = lb.to_html(lb.load(obj), list(boards.values()))
    assert 'title="rank 1; 3 images, std 0.067"' in text
    assert "Settings: resolution <code>640x480</code>, precision <code>fp32</code>" in text


def test_cli_figure_reopens_the_runs_dataset_from_provenance(tmp_path, capsys):
    """Without --data, the dataset is reopened as the run's stored config describes it (here synthetic)."""
    obj = results_obj(failures=False)
    obj["records"] = [dict(r, dataset="syn") for r in obj["records"] if r["task"] == "quality"]
    obj["per_image"] = []
    obj["provenance"]["config"] = {"datasets": [{"name": "syn", "source": "synthetic:night", "n": 2, "seed": 0,
                                                 "size": [48, 64]}]}
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(obj))
    from sagebench.datasets import open_dataset

    ds = open_dataset("synthetic:night", n=2, seed=0, size=(48, 64))
    for method in ("sage_student", "ifcnn"):
        d = run / "fused" / "syn" / method
        d.mkdir(parents=True)
        for stem in ds.names:
            Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(d / f"{stem}.png")
    rc = main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--images", ds.names[1],
               "--figure-methods", "sage_student", "ifcnn", "--figure-out", str(tmp_path / "f.png")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "f.png").stat().st_size > 1000
    obj["provenance"]["config"] = {}
    (run / "results.json").write_text(json.dumps(obj))
    rc = main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--images", ds.names[1],
               "--figure-methods", "sage_student"])
    assert rc == 1 and "pass --data SOURCE" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ paper-ready tables


def _paper_obj():
    """The synthetic results as a run of the quality task under the cddfuse profile records them (VIF not
    native), with the single-modality rows recorded by the runner."""
    obj = results_obj(failures=False)
    for r in obj["records"]:
        if r["task"] == "quality":
            r["meta"] = {"profile": "cddfuse", "native": {"EN": True, "SSIM": True, "MSE": True, "VIF": False}}
        if r["method"] == "vis_only" and r["metric"] == "SSIM":
            r["value"] = 0.95  # a reference that beats every method on one metric
    obj["provenance"]["references"] = {"ir_only": "ir", "vis_only": "vis"}
    return obj


def test_references_are_marked_and_not_ranked_by_default():
    q = {b.task: b for b in lb.build_leaderboards(_paper_obj())}["quality"]
    assert q.references == {"ir_only": "ir", "vis_only": "vis"}
    # ranks among the three methods only; the references come last, unranked and never highlighted
    assert q.methods[-2:] == ["ir_only", "vis_only"] and q.methods[:3] == ["seafusion", "sage_student", "ifcnn"]
    assert q.ranks.loc["ir_only"].isna().all() and pd.isna(q.average_rank["vis_only"])
    assert (q.highlight.loc[["ir_only", "vis_only"]] == "").all().all()
    assert q.ranks.loc["ifcnn", "SSIM"] == 1 and q.highlight.loc["ifcnn", "SSIM"] == "best"  # vis_only is higher
    assert q.highlight.loc["sage_student", "SSIM"] == "second" and q.ranks.loc["seafusion", "SSIM"] == 3
    md = lb.board_to_markdown(q)
    assert "| ir_only \u2020 |" in md and "| vis_only \u2020 |" in md
    assert "\u2020 single-modality reference (infrared input only / visible input only), not ranked." in md
    tex = lb.board_to_latex(q)
    assert r"ir\_only$^{\dagger}$" in tex and tex.count(r"\midrule") == 2  # a rule above the reference rows
    page = lb.to_html(lb.load(_paper_obj()), [q])
    assert '<tr data-method="ir_only" class="reference">' in page and 'class="mark"' in page
    # asked for, they are ranked like any method (the ranks of the hand-built table without provenance)
    ranked = {b.task: b for b in lb.build_leaderboards(_paper_obj(), rank_references=True)}["quality"]
    assert ranked.ranks.loc["ir_only", "EN"] == 5 and ranked.ranks.loc["vis_only", "SSIM"] == 1
    assert ranked.ranks.loc["ifcnn", "SSIM"] == 2 and ranked.highlight.loc["vis_only", "SSIM"] == "best"
    assert "ranked with the methods" in lb.board_to_markdown(ranked)
    # without provenance nothing is a reference; references={} turns the run's record off
    assert lb.build_leaderboards(_paper_obj(), references={})[0].references == {}


def test_profile_and_non_native_metrics_are_stated():
    q = {b.task: b for b in lb.build_leaderboards(_paper_obj())}["quality"]
    assert q.profile == "cddfuse" and not q.is_native("VIF") and q.is_native("EN")
    md = lb.board_to_markdown(q)
    assert "VIF\\* \u2191" in md and "EN \u2191" in md
    assert "Metric profile: cddfuse. \\* not computed by the cddfuse profile's reference code (VIF)" in md
    tex = lb.board_to_latex(q)
    assert r"VIF$^{*}$ $\uparrow$" in tex and "Metric profile: cddfuse." in tex
    page = lb.to_html(lb.load(_paper_obj()), [q])
    assert 'data-profile="cddfuse"' in page and 'title="not native to profile cddfuse"' in page
    # a board without a profile (segmentation) states none
    seg = {b.task: b for b in lb.build_leaderboards(_paper_obj())}["segmentation"]
    assert seg.profile is None and "profile" not in lb.board_to_markdown(seg)


def test_row_order_avg_rank_column_and_std():
    obj = _paper_obj()
    config = {b.task: b for b in lb.build_leaderboards(obj, order="config")}["quality"]
    assert config.methods == ["sage_student", "seafusion", "ifcnn", "ir_only", "vis_only"]  # as recorded
    by_ssim = {b.task: b for b in lb.build_leaderboards(obj, order="SSIM")}["quality"]
    assert by_ssim.methods == ["ifcnn", "sage_student", "seafusion", "ir_only", "vis_only"]  # references last
    ranked = {b.task: b for b in lb.build_leaderboards(obj, order="SSIM", rank_references=True)}["quality"]
    assert ranked.methods == ["vis_only", "ifcnn", "sage_student", "seafusion", "ir_only"]
    by_mse = {b.task: b for b in lb.build_leaderboards(obj, order="MSE")}["quality"]  # lower is better
    assert by_mse.methods[:3] == ["seafusion", "sage_student", "ifcnn"]
    # a metric other boards lack orders the boards that have it; one no board has is an error
    assert {b.task: b for b in lb.build_leaderboards(obj, order="SSIM")}["segmentation"].order == "rank"
    with pytest.raises(ConfigError, match="cannot order rows by 'Qabf'"):
        lb.build_leaderboards(obj, order="Qabf")
    q = lb.build_leaderboards(obj, avg_rank=False, std=True)[0]
    md, tex = lb.board_to_markdown(q), lb.board_to_latex(q)
    assert "Avg. rank" not in md and "Avg.\\ rank" not in tex and r"\begin{tabular}{lrrrr}" in tex
    sd = np.std([6.6803 * (1 + 0.01 * i) for i in range(3)], ddof=1)
    assert f"**6.680 \u00b1 {sd:.3f}**" in md and f"6.680 $\\pm$ {sd:.3f}" in tex
    assert "mean \u00b1 sample standard deviation over images" in md
    assert "avg-rank" not in lb.to_html(lb.load(obj), [q])


def test_cli_table_style(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(_paper_obj()))
    assert main(["leaderboard", str(run), "--format", "md", "tex", "--no-plots", "--order", "config",
                 "--no-avg-rank", "--std", "--task", "quality"]) == 0
    md = (run / "leaderboard" / "leaderboard.md").read_text()
    rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ") and "Method" not in line]
    assert rows == ["sage_student", "seafusion", "ifcnn", "ir_only \u2020", "vis_only \u2020"]
    assert "Avg. rank" not in md and "\u00b1" in md
    assert main(["leaderboard", str(run), "--format", "md", "--no-plots", "--order", "nope"]) == 1
    assert "cannot order rows by 'nope'" in capsys.readouterr().err


def test_run_records_single_modality_references(tmp_path):
    from sagebench.benchmark.runner import RunOptions, run_benchmark

    cfg = dict(datasets=[dict(name="night", source="synthetic:night", n=2, seed=0, size=(48, 64))],
               methods=[dict(name="avg", type="average"), dict(name="IR", type="ir_only"),
                        dict(name="VIS", type="vis_only")],
               tasks=[dict(type="quality", metrics=["EN", "SD"])])
    run_benchmark(cfg, RunOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
                                  leaderboard=False))
    rs = lb.load(tmp_path / "out")
    assert rs.provenance["references"] == {"IR": "ir", "VIS": "vis"}
    b = lb.build_leaderboards(rs)[0]
    assert b.profile == "default" and b.methods[0] == "avg" and b.ranks.loc["avg"].eq(1).all()


def test_config_leaderboard_entry_styles_the_run_tables(tmp_path, capsys):
    from sagebench.benchmark.runner import RunOptions, run_benchmark

    cfg = dict(datasets=[dict(name="night", source="synthetic:night", n=2, seed=0, size=(48, 64))],
               methods=[dict(name="VIS", type="vis_only"), dict(name="avg", type="average"),
                        dict(name="max", type="max_abs")],
               tasks=[dict(type="quality", metrics=["EN", "SD"])],
               leaderboard=dict(order="config", avg_rank=False))
    run_benchmark(cfg, RunOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False))
    md = (tmp_path / "out" / "leaderboard" / "leaderboard.md").read_text()
    rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ") and "Method" not in line]
    assert rows == ["VIS \u2020", "avg", "max"] and "Avg. rank" not in md
    # the leaderboard command keeps the run's style unless told otherwise
    assert main(["leaderboard", str(tmp_path / "out"), "--format", "md", "--no-plots", "--order", "rank"]) == 0
    md = (tmp_path / "out" / "leaderboard" / "leaderboard.md").read_text()
    rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ") and "Method" not in line]
    assert rows[-1] == "VIS \u2020" and "Avg. rank" not in md
    with pytest.raises(ConfigError, match="leaderboard: unknown key 'avg'"):
        run_benchmark({**cfg, "leaderboard": {"avg": False}}, RunOptions(out_dir=tmp_path / "o2", progress=False))
    with pytest.raises(ConfigError, match="leaderboard.std must be True or False"):
        run_benchmark({**cfg, "leaderboard": {"std": "yes"}}, RunOptions(out_dir=tmp_path / "o3", progress=False))


def test_run_draws_png_plots_only_when_asked_and_html_bars_always(tmp_path):
    from sagebench.benchmark.runner import RunOptions, run_benchmark

    cfg = dict(datasets=[dict(name="night", source="synthetic:night", n=2, seed=0, size=(48, 64))],
               methods=[dict(name="avg", type="average"), dict(name="max", type="max_abs")],
               tasks=[dict(type="quality", metrics=["EN", "MSE"])])
    report = run_benchmark(cfg, RunOptions(out_dir=tmp_path / "a", cache_dir=tmp_path / "c", progress=False))
    assert not [k for k in report.leaderboard_files if k.startswith("plot:")]
    assert not (tmp_path / "a" / "leaderboard" / "plots").exists()
    page = (tmp_path / "a" / "leaderboard" / "leaderboard.html").read_text()
    rs = lb.load(tmp_path / "a")
    b = lb.build_leaderboards(rs)[0]
    # in-cell bars: the best value of a column spans the cell, the worst none; MSE is lower-is-better
    best_mse, worst_mse = b.values["MSE"].idxmin(), b.values["MSE"].idxmax()
    assert lb._bar_share(b, "MSE", float(b.values.at[best_mse, "MSE"])) == 1.0
    assert lb._bar_share(b, "MSE", float(b.values.at[worst_mse, "MSE"])) == 0.0
    assert 'data-bar="1.000" style="--bar: 100.0%"' in page
    report = run_benchmark({**cfg, "leaderboard": {"plots": True}},
                           RunOptions(out_dir=tmp_path / "b", cache_dir=tmp_path / "c", progress=False))
    assert (tmp_path / "b" / "leaderboard" / "plots" / "bars_night__quality.png").is_file()
    report = run_benchmark(cfg, RunOptions(out_dir=tmp_path / "d", cache_dir=tmp_path / "c", progress=False,
                                           plots=True))
    assert any(k.startswith("plot:bars") for k in report.leaderboard_files)
    # --no-plots over a config that asks for them (the option wins; no duplicate keyword)
    report = run_benchmark({**cfg, "leaderboard": {"plots": True}},
                           RunOptions(out_dir=tmp_path / "e", cache_dir=tmp_path / "c", progress=False, plots=False))
    assert report.leaderboard_files and not any(k.startswith("plot:") for k in report.leaderboard_files)
