"""Sphinx configuration of the course site: the README as its home page, then the eight lessons.

Sphinx reads the repository root, limited to README.md and notebooks/*.ipynb, so the README's
relative links to the notebooks resolve to the lesson pages unchanged; this folder holds only the
configuration. The notebooks are rendered with their committed outputs, never executed. Build with
``python course_site/build_site.py`` (README, "The course site").
"""

import shutil
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.errors import ConfigError
from sphinx.transforms import SphinxTransform

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from helpers import colab  # noqa: E402  (the repository's GitHub name, set by helpers.colab)

LESSONS = [f"notebooks/{path.stem}" for path in sorted((ROOT / "notebooks").glob("*.ipynb"))]
MATHJAX = HERE / "node_modules" / "mathjax" / "es5"
# tex-chtml.js, its fonts, and the parts it loads on demand (TeX packages, the menu, accessibility)
MATHJAX_PARTS = ["tex-chtml.js", "output/chtml/fonts", "input/tex/extensions", "ui", "a11y", "sre"]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "/course_site/_static/colab-badge.svg"  # a path from the source folder, the root

project = "From autoencoders to variational autoencoders"
html_title = project
copyright = "the authors of the series"

extensions = ["myst_nb"]
root_doc = "README"
include_patterns = ["README.md", "notebooks/*.ipynb"]

nb_execution_mode = "off"  # the committed outputs are the lesson; the site never trains
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # links to a section (#the-elbo) work as they do on GitHub

html_theme = "sphinx_book_theme"
html_static_path = [str(HERE / "_static")]
html_css_files = ["course.css"]
html_sidebars = {"**": ["navbar-logo.html", "icon-links.html", "search-button-field.html",
                        "sbt-sidebar-nav.html", "page-toc.html"]}
html_favicon = str(HERE / "_static" / "favicon.svg")  # else browsers ask the host for /favicon.ico
html_context = {"default_mode": "light"}  # the figures are drawn on white; readers can switch
html_sourcelink_suffix = ""  # "download notebook" serves the .ipynb itself, not .ipynb.txt
html_theme_options = {
    "repository_url": f"https://github.com/{colab.GITHUB_REPO}",
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    # No right-hand column: its "on this page" list moves under the lessons in the sidebar, and
    # the figures, many 1,000 to 1,400 pixels wide, may use its width (course.css)
    "secondary_sidebar_items": [],
}

# MathJax 3 from npm (package-lock.json), copied into the build: the site loads nothing from a CDN
# (myst-parser writes its one option, processHtmlClass, as mathjax4_config: version 3 reads it too)
mathjax_path = "mathjax/tex-chtml.js"
html_baseurl = colab.site_url()  # each page names its address on GitHub Pages (rel="canonical")


def lessons_toctree(app, docname, source):
    """Give the home page (the README) a hidden table of contents: the sidebar and prev/next."""
    if docname == root_doc:
        entries = "\n".join(LESSONS)
        source[0] += f"\n\n```{{toctree}}\n:hidden:\n:caption: Lessons\n\n{entries}\n```\n"


class LocalColabBadge(SphinxTransform):
    """Serve the "Open in Colab" badge image from the site rather than from Google."""

    default_priority = 100

    def apply(self):
        for image in self.document.findall(nodes.image):
            if image["uri"] == COLAB_BADGE:
                image["uri"] = LOCAL_BADGE


class LessonLinks(SphinxTransform):
    """Beside a lesson's "Open in Colab" badge, a link that downloads the notebook; a badge is
    added under the title where the notebook's first cell has none."""

    default_priority = 110  # after RepositoryFileLinks, which would turn the download into a link

    def apply(self):
        if self.env.docname not in LESSONS:
            return
        notebook = Path(self.env.docname).name + ".ipynb"
        download = addnodes.download_reference(
            "", "", nodes.inline(text="Download the notebook"),
            reftarget=notebook, refdoc=self.env.docname, refexplicit=True)
        badge = next((image for image in self.document.findall(nodes.image)
                      if image["uri"] in (COLAB_BADGE, LOCAL_BADGE)), None)
        if badge is not None:
            paragraph = badge.parent
            while not isinstance(paragraph, nodes.paragraph):
                paragraph = paragraph.parent
            paragraph += [nodes.Text(" · "), download]
            return
        badge = nodes.image(uri=LOCAL_BADGE, alt="Open In Colab")
        link = nodes.reference("", "", badge, refuri=colab.colab_url(notebook))
        paragraph = nodes.paragraph("", "", link, nodes.Text(" · "), download)
        title = next(self.document.findall(nodes.title), None)
        if title is None:
            self.document.insert(0, paragraph)
        else:
            title.parent.insert(title.parent.index(title) + 1, paragraph)


class RepositoryFileLinks(SphinxTransform):
    """Point links to repository files that are not pages of the site (scripts, notes) at GitHub.

    MyST turns such a link into a download (a script) or into a link to a document that is not
    part of the site (a Markdown note), which fails the build; a link to a file that does not
    exist is left alone and still fails it.
    """

    default_priority = 100

    def apply(self):
        here = (ROOT / self.env.docname).parent
        for ref in list(self.document.findall(addnodes.download_reference)):
            self._to_github(ref, (here / ref["reftarget"]).resolve())
        for ref in list(self.document.findall(addnodes.pending_xref)):
            if (ref.get("reftype"), ref.get("refdomain")) == ("myst", "doc") \
                    and ref["reftarget"] not in self.env.found_docs:
                for suffix in self.config.source_suffix:
                    if (ROOT / (ref["reftarget"] + suffix)).is_file():
                        self._to_github(ref, ROOT / (ref["reftarget"] + suffix))

    @staticmethod
    def _to_github(ref, path):
        url = f"https://github.com/{colab.GITHUB_REPO}/blob/main/{path.relative_to(ROOT)}"
        ref.replace_self(nodes.reference("", "", *ref.children, refuri=url))


def finish_site(app, exception):
    """Copy MathJax into the site, and the home page to index.html (what the address serves)."""
    if exception is None and app.builder.format == "html":
        for part in MATHJAX_PARTS:
            target = Path(app.outdir) / "_static" / "mathjax" / part
            if (MATHJAX / part).is_dir():
                shutil.copytree(MATHJAX / part, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(MATHJAX / part, target)
        shutil.copy2(Path(app.outdir) / f"{root_doc}.html", Path(app.outdir) / "index.html")


def check_mathjax(app):
    if not (MATHJAX / MATHJAX_PARTS[0]).is_file():
        raise ConfigError(f"MathJax is missing from {MATHJAX}: run `npm ci --prefix {HERE}`, "
                          f"or build with `python course_site/build_site.py`, which does.")


def setup(app):
    app.connect("builder-inited", check_mathjax)
    app.connect("source-read", lessons_toctree)
    app.connect("build-finished", finish_site)
    app.add_transform(LocalColabBadge)
    app.add_transform(RepositoryFileLinks)
    app.add_transform(LessonLinks)
