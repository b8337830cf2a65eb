"""The fixes a ``voici build`` output needs before it works from any static server, offline.

1. Voici 0.9 writes the Pyodide kernel's ``pyodideUrl`` and ``pipliteUrls``
   as ``./static/...`` and ``./pypi/...`` into each rendered page's
   configuration; the browser resolves them against the page's own folder
   (``voici/render/``), gets 404s, and the kernel never starts. They are
   rewritten relative to the page's ``baseUrl``.
2. A browser that cannot run the page (no WebAssembly, or the page opened as
   a ``file://``, where service and web workers are refused) would show a
   blank page: a small script says what to do instead.
3. The site's front door (``index.html``, ``voici/index.html``) leads
   straight to the dashboard, not to a file list, by a relative address:
   every page of the site is relative to where it is served from, so the
   site works under a sub-path (GitHub Pages serves a project at
   ``/<repository>/``); an absolute ``/voici/...`` address is an error.
4. Voici's file list links Font Awesome from a CDN, as Voila's lab template
   does (the dashboard's own template drops those links): the link is
   dropped, and the list shows fewer icons. Then no page may load anything
   from another host: a ``src`` or ``href`` to ``http(s)://`` stops the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

KERNEL_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
CONFIG = re.compile(r'(<script id="jupyter-config-data" type="application/json">)(.*?)(</script>)', re.S)
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", re.I)
ABSOLUTE = re.compile(r"""\b(?:src|href)=["']/(?!/)|location(?:\.href)?\s*=\s*["']/(?!/)""", re.I)
GUARD_CLASS = "mlp-cannot-run"
# Runs first in <head>: when the page cannot work, replace the blank page by a sentence saying why.
GUARD = f"""<script>
(function () {{
  var why = null;
  if (location.protocol === "file:") {{
    why = "This page cannot be opened as a file: browsers refuse the workers it needs there. " +
          "Serve the folder instead, e.g. python -m http.server -d _site 8000, " +
          "then open http://127.0.0.1:8000/ in the browser.";
  }} else if (typeof WebAssembly !== "object") {{
    why = "This browser cannot run the dashboard: it needs WebAssembly, which this browser lacks " +
          "or has switched off. Open the page in a current Firefox, Chrome, Edge or Safari.";
  }}
  if (why === null) return;
  window.__mlpCannotRun = why;
  document.addEventListener("DOMContentLoaded", function () {{
    var box = document.createElement("div");
    box.className = "{GUARD_CLASS}";
    box.setAttribute("role", "alert");
    box.style.cssText = "font: 18px/1.5 sans-serif; max-width: 40em; margin: 3em auto; padding: 1em;";
    box.textContent = why;
    document.body.innerHTML = "";
    document.body.appendChild(box);
  }});
}})();
</script>"""


DASHBOARD = "voici/render/dashboard.html"
FRONT_DOOR = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Draw a digit</title>
{guard}
<script>if (window.__mlpCannotRun === undefined) location.replace("{target}" + location.search);</script>
</head>
<body><p><a href="{target}">Open the dashboard</a></p></body>
</html>
"""
CDN_LINK = re.compile(r"""[ \t]*<link\b[^>]*\bhref=["']https?://[^>]*>\n?""", re.I)


def relative_to_base(url: str, base: str) -> str:
    return base.rstrip("/") + "/" + url[2:] if url.startswith("./") else url


def fix_page(text: str) -> str:
    """One HTML page of the site, fixed (1) and guarded (2)."""
    match = CONFIG.search(text)
    if match:
        config = json.loads(match.group(2))
        base = config.get("baseUrl", "./")
        settings = config.get("litePluginSettings", {}).get(KERNEL_SETTINGS, {})
        if "pyodideUrl" in settings:
            settings["pyodideUrl"] = relative_to_base(settings["pyodideUrl"], base)
        if "pipliteUrls" in settings:
            settings["pipliteUrls"] = [relative_to_base(u, base) for u in settings["pipliteUrls"]]
        text = text[: match.start(2)] + json.dumps(config) + text[match.end(2) :]
    if GUARD_CLASS not in text:
        text = re.sub(r"<head([^>]*)>", lambda m: m.group(0) + "\n" + GUARD, text, count=1)
    return text


def fix_site(site: Path) -> list[Path]:
    """Fix every HTML page of a ``voici build`` output in place; raise ``ValueError`` naming a bad page."""
    (site / "index.html").write_text(FRONT_DOOR.format(guard=GUARD, target=DASHBOARD))
    (site / "voici" / "index.html").write_text(FRONT_DOOR.format(guard=GUARD, target="render/dashboard.html"))
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        text = CDN_LINK.sub("", fix_page(page.read_text()))
        problems = ((EXTERNAL, "loads a file from another host"), (ABSOLUTE, "uses an absolute path"))
        for pattern, what in problems:
            found = pattern.search(text)
            if found:
                excerpt = text[found.start() : found.end() + 60]
                raise ValueError(f"{page.relative_to(site)} {what}: {excerpt!r}")
        page.write_text(text)
    return pages
