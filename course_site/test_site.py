"""The course site: what a reader sees in headless Chromium, and what fails the build.

Run in the site's environment after building it (README, "The course site"):

    python course_site/build_site.py
    python -m pytest -p no:cacheprovider course_site/test_site.py

Needs Debian's ``chromium`` and ``chromium-driver``. The pages are served on 127.0.0.1 and the
browser reaches nothing else. Screenshots of a lesson land in course_site/_build/screenshots/.
"""

import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SITE = HERE / "_build" / "html"
SCREENSHOTS = HERE / "_build" / "screenshots"
LESSONS = [f"notebooks/{path.stem}" for path in sorted((ROOT / "notebooks").glob("*.ipynb"))]
PAGES = ["index", "README", "genindex", "search", *LESSONS]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"

sys.path.insert(0, str(ROOT))
from helpers import colab  # noqa: E402

# What a reader would see, once MathJax has typeset the page and its fonts have loaded
WAIT_FOR_MATH = """
const done = arguments[arguments.length - 1];
const typeset = window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve();
typeset.then(() => document.fonts.ready).then(() => done("ok"), error => done(String(error)));
"""
PAGE_STATE = r"""
const text = document.body.cloneNode(true);
text.querySelectorAll("pre, code, script, style, .math").forEach(node => node.remove());
return {
  missingImages: Array.from(document.images)
    .filter(image => !(image.complete && image.naturalWidth > 0))
    .map(image => image.getAttribute("src")),
  rawMath: Array.from(document.querySelectorAll(".math"))
    .filter(node => !node.querySelector("mjx-container"))
    .map(node => node.textContent.trim().slice(0, 80)),
  rawDollars: (text.textContent.match(/\$[^$]+\$|\\\(|\\\[/g) || []).map(s => s.slice(0, 80)),
  mathErrors: Array.from(document.querySelectorAll("mjx-merror"))
    .map(node => node.getAttribute("data-mjx-error") || node.textContent),
  typeset: document.querySelectorAll("mjx-container").length,
  foreign: performance.getEntriesByType("resource").map(entry => entry.name)
    .filter(name => !name.startsWith(location.origin)),
};
"""


def page_problems(browser, url):
    """What is wrong on the page at ``url`` as a reader sees it: a list of messages, empty if none.

    Console errors (a script that throws, a file that does not load), images that did not load
    (naturalWidth 0), math left untypeset (``$...$`` or ``\\(...\\)`` in the text, or a math
    element MathJax did not render), MathJax's own TeX errors, and files fetched from another site.
    """
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    problems = []
    if (waited := browser.execute_async_script(WAIT_FOR_MATH)) != "ok":
        problems.append(f"MathJax failed: {waited}")
    state = browser.execute_script(PAGE_STATE)
    problems += [f"console error: {entry['message']}" for entry in browser.get_log("browser")
                 if entry["level"] == "SEVERE"]
    problems += [f"image did not load: {src}" for src in state["missingImages"]]
    problems += [f"math not typeset: {tex}" for tex in state["rawMath"]]
    problems += [f"raw math in the text: {tex}" for tex in state["rawDollars"]]
    problems += [f"MathJax error: {message}" for message in state["mathErrors"]]
    problems += [f"fetched from outside the site: {name}" for name in state["foreign"]]
    return problems


@contextlib.contextmanager
def serve(directory):
    """Serve ``directory`` on 127.0.0.1; yields the base URL (ending in '/')."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no site in {SITE}: build it first with `python course_site/build_site.py`")
    with serve(SITE) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    # headless as root, and no calls home: this machine reaches no host but the site's
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1400,1000"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _path(url, base):
    return url.removeprefix(base).split("#")[0]


# --------------------------------------------------------------------------- the built site


def test_the_site_has_these_pages(site):
    built = {str(page.relative_to(SITE).with_suffix("")) for page in SITE.rglob("*.html")
             if page.relative_to(SITE).parts[0] not in ("_static", "_sources", "_downloads")}
    assert built == set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_cleanly_with_its_images_and_math(site, browser, page):
    assert page_problems(browser, f"{site}{page}.html") == []
    if page in LESSONS:  # every lesson has formulas: MathJax's output must be there
        assert browser.execute_script(PAGE_STATE)["typeset"] > 0


def test_next_links_go_through_the_lessons_in_order(site, browser):
    browser.get(f"{site}index.html")
    sidebar = [_path(link.get_attribute("href"), site) for link in
               browser.find_elements(By.CSS_SELECTOR, "nav.bd-docs-nav li.toctree-l1 > a")]
    assert sidebar == [f"{lesson}.html" for lesson in LESSONS]
    visited = []
    while (nexts := browser.find_elements(By.CSS_SELECTOR, "a.right-next")) and len(visited) < 20:
        nexts[0].click()
        WebDriverWait(browser, 30).until(
            lambda b: _path(b.current_url, site) not in ["index.html", *visited])
        visited.append(_path(browser.current_url, site))
        previous = browser.find_element(By.CSS_SELECTOR, "a.left-prev").get_attribute("href")
        assert _path(previous, site) == (visited[-2] if len(visited) > 1 else "README.html")
    assert visited == [f"{lesson}.html" for lesson in LESSONS]


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_has_its_colab_badge_and_downloads_its_notebook(site, browser, lesson):
    notebook = Path(lesson).name + ".ipynb"
    browser.get(f"{site}{lesson}.html")
    badges = browser.find_elements(
        By.CSS_SELECTOR, f'a[href="{colab.colab_url(notebook)}"] img[src$="colab-badge.svg"]')
    assert badges and all(badge.is_displayed() for badge in badges)
    download = browser.find_element(By.CSS_SELECTOR, "a.download[download]")
    assert download.is_displayed() and download.get_attribute("href").endswith("/" + notebook)
    with urllib.request.urlopen(download.get_attribute("href")) as response:
        assert response.read() == (ROOT / f"{lesson}.ipynb").read_bytes()


def test_search_finds_the_lesson_on_the_topic(site, browser):
    browser.get(f"{site}search.html?q=reparameterization")
    results = WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    assert f"{LESSONS[2]}.html" in {_path(a.get_attribute("href"), site) for a in results}


def test_figures_are_shown_at_a_legible_size(site, browser):
    """Every output figure is drawn at 70% of its own width or more on a 1400-pixel-wide window
    (in the text column alone the widest are at 58%, their labels unreadable), and screenshots of
    a lesson are kept for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    squeezed = []
    for lesson in LESSONS:
        browser.get(f"{site}{lesson}.html")
        figures = browser.find_elements(By.CSS_SELECTOR, ".cell_output img")
        assert figures, f"{lesson} shows no figure"
        for figure in figures:
            shown, natural = browser.execute_script(
                "return [arguments[0].clientWidth, arguments[0].naturalWidth]", figure)
            if shown < 0.7 * natural:
                squeezed.append(f"{lesson}: {figure.get_attribute('src')} {shown} of {natural} px")
        if lesson == LESSONS[2]:
            browser.save_screenshot(str(SCREENSHOTS / "lesson-top.png"))
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", figures[0])
            browser.save_screenshot(str(SCREENSHOTS / "lesson-figure.png"))
    assert squeezed == []


# --------------------------------------------------------------------------- the check can fail


@pytest.fixture
def site_copy(site, tmp_path):
    """A copy of the built site to break."""
    return Path(shutil.copytree(SITE, tmp_path / "html"))


def _problems_on(browser, directory, page):
    with serve(directory) as url:
        return page_problems(browser, f"{url}{page}.html")


def test_check_fails_when_an_image_is_missing(site_copy, browser):
    page = site_copy / f"{LESSONS[0]}.html"
    image = re.search(r'<img [^>]*src="\.\./(_images/[^"]+\.png)"', page.read_text()).group(1)
    (site_copy / image).unlink()
    problems = _problems_on(browser, site_copy, LESSONS[0])
    assert any(p.startswith("image did not load") and image in p for p in problems), problems


@pytest.mark.parametrize("breakage", ["no MathJax", "dollars left in the text"])
def test_check_fails_when_math_is_left_raw(site_copy, browser, breakage):
    page = site_copy / f"{LESSONS[2]}.html"
    html = page.read_text()
    if breakage == "no MathJax":
        broken = re.sub(r'<script [^>]*src="[^"]*mathjax/tex-chtml\.js[^"]*"></script>', "", html)
        expected = "math not typeset"
    else:
        broken = html.replace("</h1>", "</h1><p>The loss is $-\\log p(x)$.</p>", 1)
        expected = "raw math in the text: $-\\log p(x)$"
    assert broken != html
    page.write_text(broken)
    problems = _problems_on(browser, site_copy, LESSONS[2])
    assert any(p.startswith(expected) for p in problems), problems


def test_check_fails_on_a_console_error(site_copy, browser):
    page = site_copy / f"{LESSONS[0]}.html"
    page.write_text(page.read_text().replace("</body>", "<script>noSuchFunction()</script></body>"))
    problems = _problems_on(browser, site_copy, LESSONS[0])
    assert any(p.startswith("console error") and "noSuchFunction" in p for p in problems), problems


# --------------------------------------------------------------------------- the build


@pytest.mark.parametrize("addition, expected", [
    ("", None),
    ("See [the next lesson](notebooks/09_missing.ipynb).", "09_missing"),
    ("![A figure](figures/missing.png)", "missing.png"),
    ("As {ref}`no-such-label` shows.", "no-such-label"),
], ids=["as committed", "broken link", "missing image", "malformed cross-reference"])
def test_build_fails_on_a_warning(tmp_path, addition, expected):
    """The README's build command, run on a copy of the repository with one line added."""
    if not (HERE / "node_modules").is_dir():
        pytest.fail("build the site first (it installs MathJax): python course_site/build_site.py")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    for name in filter(lambda name: (ROOT / name).is_file(), tracked):  # what pages link to
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(HERE, tmp_path / "course_site", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("_build", "node_modules", "__pycache__"))
    (tmp_path / "course_site" / "node_modules").symlink_to(HERE / "node_modules")
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text() + "\n" + addition + "\n")
    built = subprocess.run([sys.executable, str(tmp_path / "course_site" / "build_site.py")],
                           capture_output=True, text=True, timeout=600)
    if expected is None:
        assert built.returncode == 0, built.stderr[-3000:]
    else:
        assert built.returncode != 0
        assert "warning" in built.stderr.lower() and expected in built.stderr, built.stderr[-3000:]


# --------------------------------------------------------------------------- publishing


def _build_command_in_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## The course site\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()
                if "course_site/build_site.py" in line]
    assert len(commands) == 1, commands
    return commands[0]


def test_workflow_publishes_what_the_readme_builds():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in deploy["steps"])
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = [step["run"].strip() for step in steps if "build_site.py" in step.get("run", "")]
    assert runs == [_build_command_in_readme()]
    uploads = [step["with"]["path"] for step in steps
               if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert uploads == [str(SITE.relative_to(ROOT))]
