from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="torchsummary_plus",
    version="0.1.0",
    description="torchsummary's table, byte for byte, followed by the parameter counts it gets wrong",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["torchsummary_plus", "torchsummary_plus.*"]),
    package_data={"torchsummary_plus": ["py.typed"]},
    python_requires=">=3.9",
    install_requires=["torch>=2.1", "tabulate>=0.8"],
    entry_points={"console_scripts": ["torchsummary-plus=torchsummary_plus.cli:main"]},
    license="MIT",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
