"""Packaging hook: a wheel carries the templates and site sources as package data.

In a checkout, ``templates/`` and ``site_src/`` stay at the top level (the project's layout);
``build_py`` copies them to ``mangarec/_data/`` inside the wheel, where ``mangarec.paths``
finds them, so ``pip install .`` builds the bundled site from any directory. Editable installs
read the checkout's folders directly.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("templates", "site_src")


class BuildPyWithSite(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in DATA:
            src = Path(name)
            for f in sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                dest = Path(self.build_lib) / "mangarec" / "_data" / f
                self.mkpath(str(dest.parent))
                self.copy_file(str(f), str(dest))


setup(cmdclass={"build_py": BuildPyWithSite})
