"""
Builds the platform wheel: the package carries libasd.so (x86-64-v4 and -v3 builds) and ONNX Runtime, so the wheel
is tagged py3-none-linux_x86_64 (any Python 3, no Python ABI, this platform) rather than pure.
    Asd.Interop/publish.sh && python3 -m build --wheel --no-isolation Asd.Interop/python
Everything else is in pyproject.toml.
"""

import os

from setuptools import setup
from setuptools.dist import Distribution
from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = ["asd/lib/linux-x64-v4/libasd.so", "asd/lib/linux-x64-v3/libasd.so", "asd/lib/libonnxruntime.so"]


class NativeDistribution(Distribution):
    """Installs into platlib (the native libraries are platform code), as a package with extension modules does."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """Not pure (native libraries inside), but independent of the Python version: py3-none-<platform>."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform

    def run(self):
        missing = [p for p in NATIVE if not os.path.isfile(os.path.join(HERE, p))]
        if missing:
            raise SystemExit("asd wheel: the native libraries are missing (" + ", ".join(missing) +
                             "); run Asd.Interop/publish.sh first.")
        super().run()


setup(distclass=NativeDistribution, cmdclass={"bdist_wheel": PlatformWheel})
