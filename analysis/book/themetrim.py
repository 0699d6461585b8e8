"""Sphinx extension part: leave out the PyData theme's 1.4 MB Font Awesome script, keeping its icons.

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

With another theme, or without the option, nothing changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: The theme's template that lists its scripts (PyData Sphinx theme 0.13 and later).
MACROS = "static/webpack-macros.html"
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


def _theme_macros(app: Any) -> Path | None:
    theme = getattr(app.builder, "theme", None)
    if theme is None:
        return None
    for folder in theme.get_theme_dirs():
        candidate = Path(folder) / MACROS
        if candidate.is_file():
            return candidate
    return None


def _install_override(app: Any) -> None:
    """``builder-inited``: write the override and put it first on the template path."""
    app.themetrim_active = False
    if not app.config.theme_trim_fontawesome_js or app.builder.format != "html":
        return
    original = _theme_macros(app)
    if original is None:
        return
    names = macro_names(original.read_text(encoding="utf-8"))
    folder = Path(app.doctreedir).parent / "theme-overrides"
    target = folder / MACROS
    target.parent.mkdir(parents=True, exist_ok=True)
    text = override_template(names)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    from sphinx.jinja2glue import BuiltinTemplateLoader, SphinxFileSystemLoader

    templates = app.builder.templates
    if not isinstance(templates, BuiltinTemplateLoader):
        return  # a custom template bridge: leave it alone
    # Sphinx's loader (made before this event) searches its user template folders first; ours joins
    # them, in front. The configuration is not changed, so no later build sees a changed setting.
    templates.loaders.insert(0, SphinxFileSystemLoader(str(folder)))
    templates.pathchain.insert(0, str(folder))
    templates.templatepathlen += 1
    app.themetrim_active = True


def _remove_script(app: Any, exception: Exception | None) -> None:
    """``build-finished``: delete the script the pages no longer load."""
    if exception is not None or not getattr(app, "themetrim_active", False):
        return
    for name in REMOVED:
        (Path(app.outdir) / "_static" / "scripts" / name).unlink(missing_ok=True)


def setup(app: Any) -> dict[str, Any]:
    """Register the theme-trimming part of the extension."""
    app.add_config_value("theme_trim_fontawesome_js", False, "html", [bool])
    app.connect("builder-inited", _install_override)
    app.connect("build-finished", _remove_script)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
