# The fixed CI benchmark: its results are committed as results/ci_baseline.json and every CI run is
# gated against them (`sagebench regress`). Small on purpose (about a minute on 2 CPU cores):
# the embedded synthetic scenes plus a few real pairs from ../shared/data, deterministic methods
# (single-modality references, classical methods, the SAGE student with its released weights) and
# fusion-quality metrics. Run it the way .ci/run does:
#
#   sagebench run configs/ci_benchmark.py --data-root ../shared/data --weights-dir ../shared/weights \
#       -o work_dirs/ci_benchmark --no-progress
#   sagebench regress --baseline results/ci_baseline.json --current work_dirs/ci_benchmark/results.json
#
# Without ../shared the real-data datasets are skipped with a message (optional=True); the gate then
# reports their records as missing unless given --allow-missing.
_base_ = ["./_base_/quality.py", "./_base_/datasets.py", "./_base_/methods.py"]

# TNO21 is the slice of the reference leaderboard (configs/reference/published_tno21.py) the gate covers:
# two of H. Li's 21-pair TNO images, with the LRRNet port beside the authors' published LRRNet outputs.
_REF = "${SAGEBENCH_DATA}/../reference"
datasets = [dict(_base_._SYNTHETIC_NIGHT, size=(120, 160)), dict(_base_._SYNTHETIC_DAY, size=(120, 160)),
            dict(_base_._M3FD, limit=2), dict(_base_._MSRS, limit=3),
            dict(name="TNO21", source=_REF + "/inputs/tno21", ir_name="IR{stem}", vis_name="VIS{stem}", limit=2,
                 optional=True)]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS,
           _base_._LAPLACIAN, _base_._SAGE_STUDENT,
           dict(_base_._LRRNET, datasets=["TNO21"]),
           dict(name="LRRNet (published)", type="precomputed", root=_REF + "/lrrnet/tno21",
                pattern="result_lrrnet_IR{stem}.png", datasets=["TNO21"])]
tasks = [
    dict(type="quality", metrics=["EN", "SD", "SF", "AG", "MI", "SCD", "CC", "PSNR", "Qabf", "SSIM"]),
]
