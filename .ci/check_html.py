"""Fails if the built book would load a script, stylesheet, font or media from the network.

Usage: python .ci/check_html.py [_build/html]

The book must work offline, so every resource a page LOADS must be a local file. Plain
hyperlinks (<a href="https://...">) are fine and are not reported. Checked:

- in every .html file: <script src>, <link href> (except purely navigational rel values),
  <img src/srcset>, <iframe src>, <source src/srcset>, <video>/<audio>/<embed>/<track> src,
  <video poster>, <object data>, <input type=image src>, and url(...) / @import inside
  <style> blocks and style="" attributes;
- in every .css file: url(...) and @import (comments are ignored).

A URL counts as external if it starts with a scheme other than file: or data: (for
example http:, https:) or with // (protocol-relative).
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# <link rel=...> values that do not make the browser fetch anything by themselves.
NAVIGATIONAL_REL = {
    "alternate", "author", "canonical", "help", "index", "license", "next", "prev",
    "previous", "search", "first", "last", "up", "bookmark", "me",
}
LOADING_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "track": ("src",),
    "object": ("data",),
    "input": ("src",),
}
EXTERNAL = re.compile(r"^\s*(//|[a-zA-Z][a-zA-Z0-9+.-]*:)")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.IGNORECASE)


def is_external(url):
    m = EXTERNAL.match(url)
    if not m:
        return False
    scheme = m.group(1).lower()
    return scheme not in ("file:", "data:", "javascript:", "about:", "blob:")


def css_urls(text):
    return [u for u in CSS_URL.findall(CSS_COMMENT.sub("", text)) if is_external(u)]


class Finder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []  # (line, description)
        self._in_style = False

    def _add(self, what):
        self.found.append((self.getpos()[0], what))

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "link":
            rel = set(a.get("rel", "").lower().split())
            if a.get("href") and is_external(a["href"]) and not (rel and rel <= NAVIGATIONAL_REL):
                self._add(f'<link rel="{a.get("rel", "")}" href="{a["href"]}">')
        for attr in LOADING_ATTRS.get(tag, ()):
            value = a.get(attr, "")
            urls = [part.split()[0] for part in value.split(",") if part.strip()] if attr == "srcset" else [value]
            for url in urls:
                if url and is_external(url):
                    self._add(f'<{tag} {attr}="{url}">')
        for url in css_urls(a.get("style", "")):
            self._add(f'<{tag} style="...url({url})...">')
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            for url in css_urls(data):
                self._add(f"<style> url({url})")


def main(argv):
    root = Path(argv[1] if len(argv) > 1 else "_build/html")
    if not root.is_dir():
        print(f"check_html: {root} does not exist", file=sys.stderr)
        return 2
    problems = []
    n_html = n_css = 0
    for path in sorted(root.rglob("*.html")):
        n_html += 1
        finder = Finder()
        finder.feed(path.read_text(encoding="utf-8", errors="replace"))
        problems += [f"{path}:{line}: {what}" for line, what in finder.found]
    for path in sorted(root.rglob("*.css")):
        n_css += 1
        for url in css_urls(path.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{path}: url({url})")
    if problems:
        print(f"check_html: {len(problems)} external resource(s) loaded by the built book:")
        for p in problems:
            print("  " + p)
        return 1
    print(f"check_html: OK, {n_html} HTML and {n_css} CSS files load nothing from the network")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
