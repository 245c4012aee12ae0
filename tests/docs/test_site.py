# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built docs site (``make docs``: build/docs/html) in a real browser.

The site is served over HTTP on 127.0.0.1 and crawled from its index page in headless Chromium (Debian's
``chromium`` and ``chromedriver``, installed by ``make deps``), one page at a time, following every link
that stays on the site. Then:

* every module, filter and role of the collection and every scenario guide of docs/docsite has its page,
  reachable by links from the index, titled after it;
* no internal link is broken: every linked page exists, and every ``#fragment`` names an element of it;
* no page logs an error in the browser console, and every stylesheet, script and image it loads exists.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import uuid
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import urlopen
from urllib.error import HTTPError

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HTML = os.environ.get("REGOPS_DOCS_HTML", os.path.join(ROOT, "build", "docs", "html"))
CHROMIUM = os.environ.get("REGOPS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("REGOPS_CHROMEDRIVER", "/usr/bin/chromedriver")
PROFILES = os.path.join(ROOT, "build", "docs", "chromium")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1024")

# Everything one page tells about itself, in one round trip.
PAGE_SCRIPT = """
const ids = new Set();
document.querySelectorAll('[id]').forEach(e => ids.add(e.id));
document.querySelectorAll('a[name]').forEach(e => ids.add(e.getAttribute('name')));
const h1 = document.querySelector('h1');
return {
  ready: document.readyState,
  title: document.title,
  h1: h1 ? h1.textContent : '',
  ids: Array.from(ids),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  resources: Array.from(document.querySelectorAll('link[href][rel~="stylesheet"], script[src], img[src]'))
    .map(e => e.href || e.src),
};
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser may drop a connection it no longer needs (a cancelled prefetch): not a site error
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site():
    """The built site served on a free loopback port: yields its base URL."""
    if not os.path.isfile(os.path.join(HTML, "index.html")):
        pytest.fail("no docs site in %s: run `make docs` first" % HTML)
    handler = functools.partial(_QuietHandler, directory=HTML)
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver, with a fresh profile under build/docs/chromium."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.fail("%s not found: run `make deps` (installs Debian's %s)" % (path, package))
    # selenium must not look for (or download) a driver or browser of its own
    os.environ["SE_OFFLINE"] = "true"
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver  # pylint: disable=import-outside-toplevel
    from selenium.webdriver.chrome.service import Service  # pylint: disable=import-outside-toplevel

    profile = os.path.join(PROFILES, uuid.uuid4().hex)
    os.makedirs(profile)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument("--user-data-dir=" + profile)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Chromium keeps more than the profile (dconf, crash reports, the NSS db) under HOME and the XDG
    # directories: give it a home inside the profile, so that nothing is written outside the checkout
    home = os.path.join(profile, "home")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
               XDG_DATA_HOME=os.path.join(home, ".local", "share"))
    os.makedirs(home)
    service = Service(executable_path=CHROMEDRIVER, log_output=os.path.join(profile, "chromedriver.log"), env=env)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _status(url):
    try:
        with urlopen(url, timeout=10) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def crawl(site, browser):
    """Visit every page reachable from the index; returns pages, links and problems found on the way."""
    pages = {}          # url (no fragment) -> what PAGE_SCRIPT returned
    links = []          # (from page, to url with fragment)
    broken_pages = {}   # url -> (status, first page linking to it)
    console = {}        # url -> severe console messages
    resources = set()
    queue = [site + "index.html"]
    seen = set(queue)
    while queue:
        url = queue.pop(0)
        status = _status(url)
        if status != 200:
            broken_pages.setdefault(url, (status, None))
            continue
        browser.get(url)
        info = browser.execute_script(PAGE_SCRIPT)
        pages[url] = info
        severe = [entry["message"] for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"]
        if severe:
            console[url] = severe
        resources.update(r for r in info["resources"] if r.startswith(site))
        for href in info["links"]:
            if not href.startswith(site):
                continue
            links.append((url, href))
            target = urldefrag(href)[0]
            if target.endswith("/"):
                target += "index.html"
            if target not in seen and target.endswith(".html"):
                seen.add(target)
                queue.append(target)
    for url, href in links:
        target = urldefrag(href)[0]
        if target in broken_pages and broken_pages[target][1] is None:
            broken_pages[target] = (broken_pages[target][0], url)
    return {"site": site, "pages": pages, "links": links, "broken_pages": broken_pages, "console": console,
            "resources": resources}


def _page(crawl, relative):
    return crawl["pages"].get(urljoin(crawl["site"], relative))


def _module_names():
    folder = os.path.join(ROOT, "plugins", "modules")
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".py") and not name.startswith("_"))


def _filter_names():
    """The names documented by the filter plugin files (DOCUMENTATION's ``name``, else the file name)."""
    names = []
    folder = os.path.join(ROOT, "plugins", "filter")
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith(".py") or filename.startswith("_"):
            continue
        with open(os.path.join(folder, filename), encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        doc = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
                doc = yaml.safe_load(node.value.value)
        if doc:
            names.append(doc.get("name") or filename[:-3])
    return names


def _role_names():
    folder = os.path.join(ROOT, "roles")
    return sorted(name for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name, "meta", "argument_specs.yml")))


def _guides():
    with open(os.path.join(ROOT, "docs", "docsite", "extra-docs.yml")) as handle:
        extra = yaml.safe_load(handle)
    return [entry for section in extra["sections"] for entry in section["toctree"]]


def test_the_site_was_crawled(crawl):
    assert len(crawl["pages"]) >= len(_module_names()) + len(_filter_names()) + len(_role_names()) + len(_guides())
    for url, info in crawl["pages"].items():
        assert info["ready"] == "complete", url
        assert info["title"].strip(), url


@pytest.mark.parametrize("name", _module_names())
def test_every_module_has_its_page(crawl, name):
    page = _page(crawl, "%s_module.html" % name)
    assert page, "no page for module %s reachable from the index" % name
    assert "regops.registry.%s module" % name in page["h1"], page["h1"]


@pytest.mark.parametrize("name", _filter_names())
def test_every_filter_has_its_page(crawl, name):
    page = _page(crawl, "%s_filter.html" % name)
    assert page, "no page for filter %s reachable from the index" % name
    assert "regops.registry.%s filter" % name in page["h1"], page["h1"]


@pytest.mark.parametrize("name", _role_names())
def test_every_role_has_its_page(crawl, name):
    page = _page(crawl, "%s_role.html" % name)
    assert page, "no page for role %s reachable from the index" % name
    assert "regops.registry.%s role" % name in page["h1"], page["h1"]


@pytest.mark.parametrize("guide", _guides())
def test_every_scenario_guide_has_its_page(crawl, guide):
    page = _page(crawl, "docsite/%s.html" % guide)
    assert page, "no page for docs/docsite/rst/%s.rst reachable from the index" % guide
    assert page["h1"].strip()


def test_no_internal_link_is_broken(crawl):
    broken = ["%s (HTTP %s, linked from %s)" % (url, status, source) for url, (status, source) in sorted(crawl["broken_pages"].items())]
    for source, href in crawl["links"]:
        target, fragment = urldefrag(href)
        if target.endswith("/"):
            target += "index.html"
        page = crawl["pages"].get(target)
        if page is None or not fragment:
            continue
        if fragment not in page["ids"] and fragment != "top":
            broken.append("%s: no #%s on %s" % (source, fragment, urlsplit(target).path))
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def test_every_resource_a_page_loads_exists(crawl):
    missing = sorted(url for url in crawl["resources"] if _status(url) != 200)
    assert not missing, missing


def test_no_page_logs_a_browser_error(crawl):
    errors = {url: messages for url, messages in crawl["console"].items()
              if [m for m in messages if not re.search(r"favicon\.ico", m)]}
    assert not errors, errors
