"""Package discovery over the folders the layout maps into ``qsched`` (see DESIGN.md).

``service/``, ``solvers/`` and ``baselines/`` sit at the top of the repository but install
as ``qsched.service``, ``qsched.solvers`` and ``qsched.baselines``. pyproject.toml cannot
say "find the packages under this folder and rename them", so this file does, and every
subpackage is found rather than listed by hand (a hand list once left one out of the wheel).
Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_packages, setup

#: Installed package -> the folder it comes from.
MAPPED_FOLDERS = {
    "qsched.service": "service",
    "qsched.solvers": "solvers",
    "qsched.baselines": "baselines",
}

packages = find_packages(include=["qsched", "qsched.*"])
for package, folder in MAPPED_FOLDERS.items():
    packages += [package, *(f"{package}.{sub}" for sub in find_packages(folder))]

setup(packages=packages, package_dir={"qsched": "qsched", **MAPPED_FOLDERS})
