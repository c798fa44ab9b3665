"""Build the course site into course_site/_build/html, with Sphinx's warnings as errors.

    python course_site/build_site.py

Needs the packages of requirements-site.txt and, the first time, npm: MathJax comes from the npm
registry at the version in package-lock.json (``npm ci``) and is served from the site itself. A
broken link, a missing image or a malformed cross-reference fails the build (exit status 1). Every
build starts afresh, so a warning in a page that did not change is not skipped.
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sphinx.cmd.build import build_main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "_build" / "html"


def mathjax_is_installed():
    """Whether node_modules holds the MathJax release that package-lock.json pins."""
    lock = json.loads((HERE / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/mathjax"]
    installed = HERE / "node_modules" / "mathjax" / "package.json"
    return installed.is_file() and json.loads(installed.read_text())["version"] == pinned["version"]


def main():
    start = time.perf_counter()
    if not mathjax_is_installed():
        if shutil.which("npm") is None:
            sys.exit("course_site/build_site.py: MathJax is installed with npm, which is not on "
                     "PATH: install Node.js, which brings npm (on Debian: apt-get install npm).")
        subprocess.run(["npm", "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"], check=True)
    shutil.rmtree(HERE / "_build", ignore_errors=True)  # no page left over from an earlier build
    status = build_main(["--fresh-env", "--quiet", "-W", "--keep-going", "-b", "html",
                         "-c", str(HERE), str(ROOT), str(OUT)])
    if status == 0:
        print(f"Built the site in {time.perf_counter() - start:.1f} s: {OUT / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
