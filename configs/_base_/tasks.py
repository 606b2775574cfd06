# Tasks benchmark configs pick from (names starting with "_" are helpers, not config keys).
# The quality suite: every metric except the windowed FMI_pixel / FMI_w (seconds per image on a CPU).
_QUALITY_SUITE = dict(type="quality", metrics=["EN", "SD", "SF", "AG", "MI", "SCD", "CC", "MSE", "PSNR", "VIF",
                                               "Qabf", "Nabf", "SSIM", "MS-SSIM", "Qcb", "Qcv"])
# A CPU-friendly speed measurement of every method at 640x480.
_THROUGHPUT_VGA = dict(type="throughput", resolution="640x480", batch_size=1, precision="fp32", warmup=1, repeats=5)
