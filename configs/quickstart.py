# The quickstart: what `sagebench run` runs without a CONFIG (this file, shipped with the package as
# sagebench.configs; sagebench.benchmark.runner.QUICKSTART reads it). Small embedded synthetic
# datasets, every registered method that needs nothing external ("auto": classical methods, the
# single-modality references, and deep models whose released weights are available locally), the
# fusion-quality metrics and a CPU-friendly throughput measurement.
_base_ = ["./_base_/quality.py"]

datasets = [
    dict(name="synthetic-night", source="synthetic:night", n=3, seed=0, size=(192, 256)),
    dict(name="synthetic-day", source="synthetic:day", n=3, seed=1, size=(192, 256)),
]
methods = "auto"
tasks = [
    # every metric except the windowed FMI_pixel / FMI_w (seconds per image on a CPU)
    dict(type="quality", metrics=["EN", "SD", "SF", "AG", "MI", "SCD", "CC", "MSE", "PSNR", "VIF", "Qabf",
                                  "Nabf", "SSIM", "MS-SSIM", "Qcb", "Qcv"]),
    dict(type="throughput", resolution="640x480", batch_size=1, precision="fp32", warmup=1, repeats=5),
]
seed = 0
