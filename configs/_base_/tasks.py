# Tasks benchmark configs pick from (names starting with "_" are helpers, not config keys).
# The classic 16-metric quality suite (metrics=None in a quality task gives the 30-metric default suite).
_QUALITY_SUITE = dict(type="quality", metrics=["EN", "SD", "SF", "AG", "MI", "SCD", "CC", "MSE", "PSNR", "VIF",
                                               "Qabf", "Nabf", "SSIM", "MS-SSIM", "Qcb", "Qcv"])
# A CPU-friendly speed measurement of every method at 640x480.
_THROUGHPUT_VGA = dict(type="throughput", resolution="640x480", batch_size=1, precision="fp32", warmup=1, repeats=5)
