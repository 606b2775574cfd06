"""Package layout: the design card keeps ``fusion_models/``, ``tasks/`` and ``benchmark/`` at the top of
the repository; they install as the sub-packages ``sagebench.fusion_models``, ``sagebench.tasks`` and
``sagebench.benchmark`` so that nothing generic (``tasks``, ``benchmark``) lands in site-packages."""

from setuptools import find_packages, setup

ROOTS = {
    "sagebench": "sagebench",
    "sagebench.fusion_models": "fusion_models",
    "sagebench.tasks": "tasks",
    "sagebench.benchmark": "benchmark",
}
#: the benchmark configs ship as package data (the built-in quickstart *is* configs/quickstart.py)
CONFIGS = {"sagebench.configs": "configs"}

packages = list(CONFIGS)
for pkg, folder in ROOTS.items():
    packages.append(pkg)
    packages += [f"{pkg}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=ROOTS | CONFIGS, include_package_data=True,
      package_data={"sagebench": ["py.typed", "datasets/splits/*.json", "datasets/splits/MANIFEST.tsv"],
                    "sagebench.benchmark": ["templates/*"],
                    "sagebench.configs": ["*.py", "*/*.py", "*/*/*.py"]})
