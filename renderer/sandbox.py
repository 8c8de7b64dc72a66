"""The Jinja sandbox the renderer renders in.

Kept apart from :mod:`renderer.render`, which is compiled (``setup.py``): mypyc
compiles no subclass of a class it did not compile.
"""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import SandboxedEnvironment


class DictSandbox(SandboxedEnvironment):
    """The Jinja sandbox, with a fast path for reading keys of plain dicts.

    Templates only ever see dicts, lists and strings built by :mod:`renderer.render`;
    looking up a key of a ``dict`` cannot reach Python internals, so ``block.links.cta``
    reads the key directly. Everything else (``''.__class__``, methods, any other
    type) goes through the sandbox's checks as before.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is dict and type(argument) is str and argument in obj:
            return obj[argument]
        return super().getitem(obj, argument)
