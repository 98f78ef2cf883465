import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
# The version lives in one file; read as text so that building never imports the package (or torch).
VERSION = re.search(
    r'^__version__ = "([^"]+)"$',
    (HERE / "torchsummary_plus" / "_version.py").read_text(encoding="utf-8"),
    re.MULTILINE,
).group(1)

setup(
    name="torchsummary_plus",
    version=VERSION,
    description="torchsummary's table, byte for byte, followed by the parameter counts it gets wrong",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["torchsummary_plus", "torchsummary_plus.*"]),
    package_data={"torchsummary_plus": ["py.typed"]},
    python_requires=">=3.10",
    install_requires=["torch>=2.1", "tabulate>=0.10"],
    entry_points={"console_scripts": ["torchsummary-plus=torchsummary_plus.cli:main"]},
    license="MIT",
    license_files=["LICENSE"],
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "Intended Audience :: Education",
        "Intended Audience :: Science/Research",
        "License :: OSI Approved :: MIT License",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Software Development :: Libraries :: Python Modules",
        "Typing :: Typed",
    ],
)
