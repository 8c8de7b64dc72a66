"""Compile a block catalog, once, into one HTML and one text Jinja template.

The HTML template is built like this:

1. every block's MJML fragment is wrapped in ``{% if chosen[slot] == id %}`` and put,
   in slot order, at the ``<!-- mailroom:blocks -->`` marker of the MJML layout;
2. Jinja tags are *masked*: statements (``{% ... %}``) become HTML comments, which
   MJML and the CSS inliner keep in place even between table rows, and expressions
   (``{{ ... }}``) become opaque alphanumeric tokens, which neither tool escapes;
3. MJML is compiled to HTML (``mjml-python``), CSS is inlined (``css-inline``, no
   remote stylesheets; ``@media`` rules are kept in a ``<style>`` for small screens);
4. the Jinja tags are restored, and checked to be all there.

The result is then compiled by Jinja as any other template and rendered per
recipient; nothing of this runs per recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import css_inline
import mjml

from renderer.catalog import Catalog

BLOCKS_MARKER = "<!-- mailroom:blocks -->"
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_TOKEN_PREFIX = "MRJINJA"


class TemplateCompileError(RuntimeError):
    """The layout or a block fragment does not survive MJML or CSS inlining."""


@dataclass(frozen=True)
class CompiledTemplates:
    """Jinja sources for the whole catalog: ``html`` (inlined) and ``text``."""

    html: str
    text: str
    mjml: str


def _wrap(slot: str, block_id: str, fragment: str, tail: str = "\n") -> str:
    return (
        f'{{% if chosen["{slot}"] == "{block_id}" %}}'
        f'{{% with block = blocks["{block_id}"] %}}\n'
        f"{fragment.strip()}{tail}"
        "{% endwith %}{% endif %}\n"
    )


def assemble(catalog: Catalog) -> tuple[str, str]:
    """The catalog's MJML+Jinja document and its plain-text Jinja twin."""
    html_parts: list[str] = []
    text_parts: list[str] = []
    for block in catalog.blocks:
        html_parts.append(
            _wrap(block.slot, block.id, block.template.read_text(encoding="utf-8"))
        )
        text_parts.append(
            _wrap(
                block.slot,
                block.id,
                block.text_template.read_text(encoding="utf-8"),
                tail="\n\n\n",
            )
        )
    layout = catalog.layout.read_text(encoding="utf-8")
    if layout.count(BLOCKS_MARKER) != 1:
        raise TemplateCompileError(
            f"{catalog.layout}: the layout must contain {BLOCKS_MARKER!r} once"
        )
    document = layout.replace(BLOCKS_MARKER, "".join(html_parts))
    return document, "".join(text_parts)


def mask(source: str) -> tuple[str, list[str]]:
    """Replace Jinja tags by placeholders MJML and css-inline leave alone.

    Returns the masked text and the tags, indexed by placeholder number; Jinja
    comments are dropped.
    """
    tags: list[str] = []

    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        if tag.startswith("{#"):
            return ""
        tags.append(tag)
        index = len(tags) - 1
        if tag.startswith("{%"):
            return f"<!--{_TOKEN_PREFIX}{index}S-->"
        return f"{_TOKEN_PREFIX}{index}E"

    return _JINJA_TAG.sub(replace, source), tags


def unmask(html: str, tags: list[str], where: str) -> str:
    """Put the Jinja tags back; every statement must survive exactly once."""
    for index, tag in enumerate(tags):
        if tag.startswith("{%"):
            token = f"<!--{_TOKEN_PREFIX}{index}S-->"
            found = html.count(token)
            if found != 1:
                raise TemplateCompileError(
                    f"{where}: Jinja tag {tag!r} appears {found} times after MJML "
                    "compilation and CSS inlining (expected once); keep template "
                    "logic around whole MJML elements"
                )
        else:
            token = f"{_TOKEN_PREFIX}{index}E"
            if token not in html:
                raise TemplateCompileError(
                    f"{where}: Jinja expression {tag!r} was lost during MJML "
                    "compilation; MJML drops content outside known elements"
                )
        html = html.replace(token, tag)
    if _TOKEN_PREFIX in html:
        raise TemplateCompileError(f"{where}: unresolved placeholder left in HTML")
    return html


def compile_mjml(source: str, where: str = "<template>") -> str:
    """Compile an MJML+Jinja document to inlined HTML that is still a Jinja template.

    Parameters
    ----------
    source
        MJML with Jinja tags (``{{ }}`` in text and attributes, ``{% %}`` around
        whole MJML elements).
    where
        Names the source in error messages.

    Returns
    -------
    str
        HTML with styles inlined (``@media`` rules kept in a ``<style>`` element) and
        the original Jinja tags in place.

    Raises
    ------
    TemplateCompileError
        If MJML or the inliner rejects the document, or a Jinja tag gets lost.
    """
    masked, tags = mask(source)
    try:
        html = mjml.mjml2html(masked)
    except Exception as error:  # the Rust binding raises a bare exception type
        raise TemplateCompileError(
            f"{where}: MJML compilation failed: {error}"
        ) from error
    inliner = css_inline.CSSInliner(
        load_remote_stylesheets=False, keep_at_rules=True, keep_style_tags=False
    )
    try:
        html = inliner.inline(html)
    except Exception as error:
        raise TemplateCompileError(f"{where}: CSS inlining failed: {error}") from error
    # Characters outside ASCII (MJML's spacers use U+200A) as character references:
    # an all-ASCII template keeps rendered emails compact strings, fast to encode.
    html = html.encode("ascii", "xmlcharrefreplace").decode("ascii")
    return unmask(html, tags, where)


def compile_catalog(catalog: Catalog) -> CompiledTemplates:
    """Compile the catalog's layout and blocks into HTML and text Jinja sources."""
    document, text = assemble(catalog)
    html = compile_mjml(document, where=f"{catalog.root} (layout and blocks)")
    return CompiledTemplates(html=html, text=text, mjml=document)
