"""Sphinx extension part: a lighter theme: its 1.4 MB Font Awesome script left out, scripts deferred.

Three options, each off by default: ``theme_trim_fontawesome_js``, ``theme_defer_scripts`` and
``theme_drop_assets``.

The PyData Sphinx theme (and the Sphinx Book theme built on it) loads ``_static/scripts/fontawesome.js``
on every page: Font Awesome's "SVG with JavaScript" build, 1.4 MB, which finds each ``<i class="fa-...">``
element and replaces it with an inline SVG. The same theme's style sheet already holds Font Awesome's
web-font rules (``@font-face`` for the solid, regular and brands fonts in ``_static/vendor/fontawesome``
and a ``.fa-<name>:before`` rule per icon), so every icon also shows without the script, drawn from a
font the browser fetches only when a page uses it. The script is needed only for features the web fonts
lack (layering, masking, power transforms), which neither theme's templates use.

With ``theme_trim_fontawesome_js = True`` in the Sphinx configuration this module:

* at ``builder-inited``, when the theme has the macro file ``static/webpack-macros.html`` (the PyData
  theme's generated list of its own scripts and styles), writes an override of that file next to the
  doctrees and puts its folder first on the template path; the override calls the theme's own macros
  (``{% import "!static/webpack-macros.html" %}``: the theme's copy, whatever its version) and drops
  only the line that loads ``fontawesome.js``;
* at ``build-finished``, removes ``fontawesome.js`` (and its source map and licence notice) from the
  built ``_static/scripts``, so a page that still referred to it would show a broken request in the
  browser test rather than load 1.4 MB.

With ``theme_defer_scripts = True`` (for any theme) the scripts stop blocking the first paint:

* at ``html-page-context``, every script file Sphinx and its extensions add (``script_files``) that is
  neither ``async`` nor ``defer`` gets ``defer``, except those named in ``theme_defer_scripts_keep``
  (default ``documentation_options.js``, which inline scripts of the page read while it is parsed);
  deferred scripts still run in document order, before ``DOMContentLoaded``, which is when Sphinx's,
  the theme's and the common extensions' scripts start their work (on Sphinx's search page nothing is
  deferred: its template loads ``searchtools.js`` synchronously, which calls ``doctools.js`` at once);
  an inline script or script file added twice (sphinx-thebe adds its ``const`` settings once per read
  phase, a ``SyntaxError`` the second time) is kept once, on every page;
* when the theme is the PyData theme (or one built on it), the ``searchtools.js``,
  ``language_data.js`` and ``searchindex.js`` its layout writes into every page's head (for its search
  as you type) are deferred too, through an override of ``layout.html`` that extends the theme's
  (``{% extends "!layout.html" %}``), written only when no template folder of the project has a
  ``layout.html`` of its own.

``theme_drop_assets`` (default empty) lists assets the site does not use, left out of every page: a
style sheet or script file whose name ends with an entry, and an inline script whose text contains an
entry (for instance an extension that is loaded but not used, such as sphinx-thebe without launch
buttons, which still adds its style sheet, its script and settings naming a script on another host).

With another theme, or without the options, nothing changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: The theme's template that lists its scripts (PyData Sphinx theme 0.13 and later).
MACROS = "static/webpack-macros.html"
#: The layout whose head block loads the search scripts on every page (PyData Sphinx theme).
LAYOUT = "layout.html"
#: Override of that layout: the theme's head block with its script files deferred.
LAYOUT_OVERRIDE = (
    "{#- Written by analysis.book.themetrim: the theme's layout, its head scripts deferred -#}\n"
    '{%- extends "!layout.html" %}\n'
    "{%- block extrahead %}{{ super() | replace('<script src=', '<script defer src=') }}{% endblock %}\n"
)
#: The script left out, and the files removed from the build with it.
SCRIPT = "fontawesome.js"
REMOVED = (SCRIPT, SCRIPT + ".map", SCRIPT + ".LICENSE.txt")

_MACRO = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(\s*\)\s*-?%}")


def macro_names(source: str) -> list[str]:
    """Names of the argument-less Jinja macros defined in a template's ``source``, in order."""
    return list(dict.fromkeys(_MACRO.findall(source)))


def override_template(names: list[str], script: str = SCRIPT) -> str:
    """Jinja source redefining each macro in ``names`` as the theme's own, minus lines naming ``script``."""
    lines = [
        "{#- Written by analysis.book.themetrim: the theme's macros without its " + script + " -#}",
        '{%- import "!' + MACROS + '" as _theme with context -%}',
    ]
    for name in names:
        lines.append(
            "{% macro " + name + "() -%}"
            "{%- for line in _theme." + name + "().split('\\n') if '" + script + "' not in line -%}"
            "{{ line }}\n{% endfor -%}{%- endmacro %}"
        )
    return "\n".join(lines) + "\n"


def _theme_file(app: Any, name: str) -> Path | None:
    theme = getattr(app.builder, "theme", None)
    if theme is None:
        return None
    for folder in theme.get_theme_dirs():
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def _theme_loads_search_scripts(app: Any) -> bool:
    """True when a layout of the theme (or of a theme it inherits) writes ``searchindex.js`` into pages."""
    theme = getattr(app.builder, "theme", None)
    folders = theme.get_theme_dirs() if theme is not None else []
    return any("searchindex.js" in (Path(f) / LAYOUT).read_text(encoding="utf-8")
               for f in folders if (Path(f) / LAYOUT).is_file())  # fmt: skip


def _project_has_template(app: Any, name: str) -> bool:
    return any((Path(app.confdir) / folder / name).is_file() for folder in app.config.templates_path)


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def _install_override(app: Any) -> None:
    """``builder-inited``: write the overrides asked for and put their folder first on the template path."""
    app.themetrim_active = False
    if app.builder.format != "html":
        return
    folder = Path(app.doctreedir).parent / "theme-overrides"
    written = []
    original = _theme_file(app, MACROS)
    if app.config.theme_trim_fontawesome_js and original is not None:
        _write(folder / MACROS, override_template(macro_names(original.read_text(encoding="utf-8"))))
        written.append(MACROS)
    if (app.config.theme_defer_scripts and _theme_loads_search_scripts(app)
            and not _project_has_template(app, LAYOUT)):
        _write(folder / LAYOUT, LAYOUT_OVERRIDE)
        written.append(LAYOUT)
    for name in (MACROS, LAYOUT):
        if name not in written:
            (folder / name).unlink(missing_ok=True)
    if not written:
        return
    from sphinx.jinja2glue import BuiltinTemplateLoader, SphinxFileSystemLoader

    templates = app.builder.templates
    if not isinstance(templates, BuiltinTemplateLoader):
        return  # a custom template bridge: leave it alone
    # Sphinx's loader (made before this event) searches its user template folders first; ours joins
    # them, in front. The configuration is not changed, so no later build sees a changed setting.
    templates.loaders.insert(0, SphinxFileSystemLoader(str(folder)))
    templates.pathchain.insert(0, str(folder))
    templates.templatepathlen += 1
    app.themetrim_active = MACROS in written


def deferred_scripts(scripts: list[Any], keep: tuple[str, ...], defer: bool = True) -> list[Any]:
    """Sphinx's ``script_files`` with duplicates removed and (``defer``) every blocking script file deferred.

    A script file (``filename`` set) without ``async`` or ``defer`` gets ``defer="defer"`` unless its
    file name ends with one of ``keep``; inline scripts (``body``) and modules stay as they are.
    """
    from sphinx.builders.html._assets import _JavaScript

    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    result = []
    for script in scripts:
        name = str(script.filename or "")  # an inline script's filename is None or ""
        key = (name, tuple(sorted(script.attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        attributes = dict(script.attributes)
        blocking = not ({"async", "defer"} & attributes.keys()) and attributes.get("type") != "module"
        if defer and name and blocking and not name.split("?")[0].endswith(keep):
            attributes["defer"] = "defer"
            script = _JavaScript(script.filename, priority=script.priority, **attributes)
        result.append(script)
    return result


def without_assets(assets: list[Any], drop: tuple[str, ...]) -> list[Any]:
    """``assets`` (Sphinx's ``css_files`` or ``script_files``) without those ``drop`` names.

    A file is dropped when its name (without query) ends with an entry of ``drop``; an inline script
    when its text contains one.
    """
    if not drop:
        return assets
    kept = []
    for asset in assets:
        name = str(getattr(asset, "filename", "") or "").split("?")[0]
        body = getattr(asset, "attributes", {}).get("body", "")
        if (name and name.endswith(drop)) or (body and any(entry in body for entry in drop)):
            continue
        kept.append(asset)
    return kept


def _defer_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """``html-page-context``: drop unused assets (``theme_drop_assets``); defer blocking script files."""
    drop = tuple(app.config.theme_drop_assets)
    for key in ("css_files", "script_files"):
        if key in context:
            context[key] = without_assets(list(context[key]), drop)
    if app.config.theme_defer_scripts and "script_files" in context:
        keep = tuple(app.config.theme_defer_scripts_keep)
        # Nothing is deferred on Sphinx's search page: its template loads searchtools.js without
        # defer, and that script calls doctools.js's ``_ready`` as soon as it runs.
        defer = pagename != "search"
        context["script_files"] = deferred_scripts(list(context["script_files"]), keep, defer)


def _remove_script(app: Any, exception: Exception | None) -> None:
    """``build-finished``: delete the script the pages no longer load."""
    if exception is not None or not getattr(app, "themetrim_active", False):
        return
    for name in REMOVED:
        (Path(app.outdir) / "_static" / "scripts" / name).unlink(missing_ok=True)


def setup(app: Any) -> dict[str, Any]:
    """Register the theme-trimming part of the extension."""
    app.add_config_value("theme_trim_fontawesome_js", False, "html", [bool])
    app.add_config_value("theme_defer_scripts", False, "html", [bool])
    app.add_config_value("theme_defer_scripts_keep", ["documentation_options.js"], "html", [list, tuple])
    app.add_config_value("theme_drop_assets", [], "html", [list, tuple])
    app.connect("builder-inited", _install_override)
    app.connect("html-page-context", _defer_scripts, priority=900)
    app.connect("build-finished", _remove_script)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
