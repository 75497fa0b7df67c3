"""Browser test of the BUILT book: every page of _toc.yml in headless Chromium.

Run it after building the book (it is excluded from plain `pytest` by its marker):

    jupyter-book build .
    pytest -m browser tests/test_html_book.py

Needs Playwright for Python (`pip install playwright`, in requirements.txt; never run
`playwright install`: it downloads a browser) and Debian's Chromium
(`apt-get install chromium`, /usr/bin/chromium; another binary can be given with
AEBOOK_CHROMIUM). Skipped, with the reason, when the book is not built or either is
missing (failed instead when AEBOOK_BROWSER_REQUIRED is set, as in CI). For each page of the table of contents it checks that:

- the page loads every resource from the build (file://) and nothing fails: requests
  to any other URL are aborted and reported, as are failed requests and uncaught
  JavaScript errors;
- every image in the page has loaded and is drawn (naturalWidth > 0 and a non-empty
  box); a notebook page shows cell outputs (a build with `execute_notebooks: off`
  would have none);
- on a page with math, MathJax has typeset every formula (each `.math` element holds
  an `mjx-container`) and no raw TeX delimiters are left in the prose;
- no cell output is an error: no `.output.traceback`, no stderr with a traceback or an
  exception name, no docutils error (`.system-message`, `.problematic`);

and that the search page finds "bottleneck". A full-page screenshot of each page goes
to _build/screenshots/<page>.png.
"""

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# Raw TeX left in the prose: display/inline delimiters, environments, and $...$ with a
# TeX command or a single letter inside (a price like "$5" does not match).
RAW_TEX = re.compile(
    r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\$(?:[A-Za-z]|[^$\n]*\\[A-Za-z]+[^$\n]*)\$"
)
ERROR_IN_STDERR = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*Error\b")

pytestmark = pytest.mark.browser


def toc_pages():
    """Docnames of _toc.yml, root first, in the order of the table of contents."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(ROOT / "_toc.yml")
    return list(site_map)


def page_file(docname):
    return HTML / f"{docname}.html"


def screenshot_path(name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def unavailable(reason):
    """Skip, or fail where the test is required (CI sets AEBOOK_BROWSER_REQUIRED=1)."""
    if os.environ.get("AEBOOK_BROWSER_REQUIRED"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").is_file():
        unavailable(f"build the book first: {HTML / 'index.html'} is missing "
                    "(jupyter-book build .)")
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("Playwright is not installed (pip install playwright)")
    chromium = os.environ.get("AEBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        unavailable("no Chromium: apt-get install -y chromium (or set AEBOOK_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class PageLog:
    """Everything a page asked for that it should not have, or that went wrong."""

    def __init__(self, page):
        self.external, self.failed, self.js_errors = [], [], []
        page.route("**/*", self._route)
        page.on("requestfailed", self._failed)
        page.on("pageerror", lambda exc: self.js_errors.append(str(exc)))

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self.external.append(url)
            route.abort("blockedbyclient")

    def _failed(self, request):
        if request.url not in self.external:
            self.failed.append((request.url, request.failure))

    def assert_clean(self, what, tolerate=lambda url: False):
        assert not self.external, f"{what}: requests outside the build: {self.external}"
        failed = [f"{url}: {why}" for url, why in self.failed if not tolerate(url)]
        assert not failed, f"{what}: failed requests: {failed}"
        assert not self.js_errors, f"{what}: JavaScript errors: {self.js_errors}"


def open_page(browser, url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog(page)
    page.goto(url, wait_until="load")
    return context, page, log


WAIT_FOR_MATHJAX = """async () => {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; return true; }
    return false;
}"""

PAGE_FACTS = """() => {
    const article = document.querySelector("article") || document.body;
    const imgs = Array.from(article.querySelectorAll("img")).map(img => {
        const r = img.getBoundingClientRect();
        return {src: (img.getAttribute("src") || "").slice(0, 80), complete: img.complete,
                natural: img.naturalWidth, width: r.width, height: r.height,
                in_output: !!img.closest(".cell_output")};
    });
    const maths = Array.from(article.querySelectorAll(".math"));
    const prose = article.cloneNode(true);
    prose.querySelectorAll("pre, code, script, style, mjx-container, .math, .cell_output, "
                           + ".cell_input, .highlight").forEach(el => el.remove());
    const outputs = Array.from(article.querySelectorAll(".cell_output"));
    return {
        imgs,
        n_math: maths.length,
        n_math_untypeset: maths.filter(el => !el.querySelector("mjx-container")).length,
        n_mjx: article.querySelectorAll("mjx-container").length,
        prose: prose.innerText,
        n_code_cells: article.querySelectorAll(".cell").length,
        n_outputs: outputs.length,
        tracebacks: Array.from(article.querySelectorAll(".output.traceback"))
            .map(el => el.innerText.slice(0, 300)),
        stderr: Array.from(article.querySelectorAll(".output.stderr"))
            .map(el => el.innerText),
        docutils_errors: Array.from(article.querySelectorAll(".system-message, .problematic"))
            .map(el => el.innerText.slice(0, 300)),
    };
}"""


@pytest.mark.parametrize("docname", toc_pages())
def test_page(browser, docname):
    path = page_file(docname)
    assert path.is_file(), f"{docname} is in _toc.yml but {path} was not built"
    context, page, log = open_page(browser, path.as_uri())
    try:
        has_mathjax = page.evaluate(WAIT_FOR_MATHJAX)
        page.wait_for_function(
            "() => Array.from(document.images).every(img => img.complete)", timeout=30_000
        )
        facts = page.evaluate(PAGE_FACTS)
        page.screenshot(path=str(screenshot_path(Path(docname).name)), full_page=True)
    finally:
        context.close()

    log.assert_clean(docname)

    for img in facts["imgs"]:
        assert img["complete"] and img["natural"] > 0, f"{docname}: image not loaded: {img}"
        assert img["width"] > 0 and img["height"] > 0, f"{docname}: image not drawn: {img}"

    is_notebook = (ROOT / f"{docname}.ipynb").is_file()
    if is_notebook and facts["n_code_cells"]:
        assert facts["n_outputs"] > 0, (
            f"{docname}: a notebook page with {facts['n_code_cells']} code cells shows no "
            "output (was the book built with execute_notebooks: off?)"
        )

    if facts["n_math"]:
        assert has_mathjax, f"{docname}: {facts['n_math']} formulas but MathJax did not run"
        assert facts["n_math_untypeset"] == 0, (
            f"{docname}: {facts['n_math_untypeset']} of {facts['n_math']} formulas not typeset"
        )
        assert facts["n_mjx"] >= facts["n_math"]
    raw = sorted({m.group(0)[:60] for m in RAW_TEX.finditer(facts["prose"])})
    assert not raw, f"{docname}: raw TeX left in the text: {raw}"

    assert not facts["tracebacks"], f"{docname}: error outputs: {facts['tracebacks']}"
    bad_stderr = [s[:300] for s in facts["stderr"] if ERROR_IN_STDERR.search(s)]
    assert not bad_stderr, f"{docname}: stderr with an error: {bad_stderr}"
    assert not facts["docutils_errors"], f"{docname}: {facts['docutils_errors']}"


def test_search_finds_bottleneck(browser):
    path = HTML / "search.html"
    assert path.is_file(), f"{path} was not built"
    context, page, log = open_page(browser, path.as_uri() + "?q=bottleneck")
    try:
        page.wait_for_function(
            "() => document.querySelector('#search-results .search-summary') !== null"
            " || document.querySelectorAll('#search-results ul.search li').length > 0",
            timeout=30_000,
        )
        page.wait_for_function(  # the summary is written when the search has finished
            "() => { const s = document.querySelector('#search-results .search-summary');"
            " return s && s.innerText.trim().length > 0; }",
            timeout=30_000,
        )
        results = page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(a => a.getAttribute('href'))"
        )
        summary = page.inner_text("#search-results .search-summary")
        page.screenshot(path=str(screenshot_path("search")), full_page=True)
    finally:
        context.close()
    # Sphinx's search fetch()es each hit's page to show a snippet of it; Chromium blocks
    # fetch() of file:// URLs, so on file:// those fetches fail and the hits are listed
    # without snippets (served over HTTP they work). Tolerated: only for pages that are
    # in the build.
    # Each of those blocked fetches also surfaces as an unhandled "Failed to fetch"
    # rejection; tolerate exactly one such error per tolerated failed page request.
    tolerated = [url for url, _ in log.failed if built_page(url)]
    fetch_errors = [e for e in log.js_errors if e == "Failed to fetch"]
    assert len(fetch_errors) <= len(tolerated), (fetch_errors, tolerated)
    log.js_errors = [e for e in log.js_errors if e != "Failed to fetch"]
    log.assert_clean("search.html", tolerate=built_page)
    assert results, f"the search for 'bottleneck' found nothing ({summary!r})"
    pages = {f"{d}.html" for d in toc_pages()}
    found = {href.split("#")[0].split("?")[0] for href in results}
    assert found <= pages, f"search hits outside the table of contents: {found - pages}"


def built_page(url):
    """True for a file:// URL of an .html page that exists in the build."""
    if not url.startswith("file://") or not url.endswith(".html"):
        return False
    path = Path(unquote(urlparse(url).path)).resolve()
    return path.is_file() and path.is_relative_to(HTML.resolve())
