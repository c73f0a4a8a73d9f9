"""The Jinja2 environment of the HTML views: the templates in ``probes/templates/`` (package
data), loaded once per process.

Every ``{{ value }}`` of an ``.html.j2`` template is escaped as :func:`html.escape` escapes it
(``&quot;`` and ``&#x27;`` in the pages since their first version, where markupsafe would
write ``&#34;`` and ``&#39;``), and a null or a key the result lacks is shown as an en dash;
a macro's output is markup and passes unchanged.  The CSS and JS the pages inline are
templates too (``run.css.j2``, ``run.js``), not escaped.  Blocks alone on a line leave no line
(``trim_blocks``, ``lstrip_blocks``) and a template's last newline is kept, so a template's
lines are the page's lines.  Each view compiles its template once per process, with the
filters (its formats of numbers), tests and globals it names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from jinja2 import Environment, PackageLoader, Template, Undefined, select_autoescape
from markupsafe import Markup

NULL = "\u2013"


def finalize(value: Any) -> Any:
    """What a ``{{ value }}`` writes: markup as it is, null as an en dash, else the text
    :func:`html.escape` makes of it.  Jinja2 escapes what this returns with markupsafe, which
    writes what html.escape does but for quotes: text with a quote is escaped here."""
    kind = type(value)
    if kind is str:
        return Markup(escape(value)) if "'" in value or '"' in value else value
    if kind in (int, float, bool) or hasattr(value, "__html__"):
        return value
    if value is None or isinstance(value, Undefined):
        return NULL
    return finalize(str(value))


def template(name: str, *, filters: Mapping[str, Callable[..., Any]] | None = None,
             tests: Mapping[str, Callable[..., bool]] | None = None,
             **globals: Any) -> Template:
    """Template ``name`` compiled in an environment of its own that has these ``filters``,
    ``tests`` and ``globals`` besides Jinja2's (a view calls it once and keeps the template)."""
    env = Environment(
        loader=PackageLoader("probes", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(filters or {})
    env.tests.update(tests or {})
    env.globals.update(globals)
    return env.get_template(name)
