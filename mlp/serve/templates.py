"""The page's templates, compiled once per server instead of once per page.

Voila builds a new nbconvert exporter for every page it renders, and with it a
new Jinja environment that compiles the page's fourteen templates (the
dashboard's, Voila's lab template, nbconvert's base templates) from source
again: 0.06 of the 0.15 s of CPU the server spends on one page, on the event
loop every visitor's messages go through. Jinja can keep compiled templates in
a *bytecode cache*; nbconvert offers no setting for one, so
:func:`keep_compiled_templates` gives every exporter's environment the same
in-memory cache. A template whose source changes is compiled again (Jinja
checks each template's source checksum), and an environment that runs
templates synchronously never shares code with one that runs them
asynchronously, as Voila does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

__all__ = ["CompiledTemplates", "keep_compiled_templates"]


class CompiledTemplates(BytecodeCache):
    """Compiled Jinja templates kept in memory, for every environment of one process."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def get_bucket(self, environment: Any, name: str, filename: str | None, source: str) -> Bucket:
        # Code compiled for async rendering differs from sync code: the key says which.
        key = self.get_cache_key(name, filename)
        key = hashlib.sha1(f"{key}|async={environment.is_async}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # ignored if the source changed since

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self._code.clear()

    def __len__(self) -> int:
        return len(self._code)


COMPILED = CompiledTemplates()


def keep_compiled_templates() -> None:
    """Give the Jinja environment of every nbconvert exporter (Voila's pages) the shared cache.

    Called by the dashboard server's kernel manager when Voila starts; calling
    it again does nothing.
    """
    from nbconvert.exporters.templateexporter import TemplateExporter

    create = TemplateExporter._create_environment
    if getattr(create, "keeps_compiled_templates", False):
        return

    def _create_environment(self: TemplateExporter) -> Any:
        environment = create(self)
        if environment.bytecode_cache is None:
            environment.bytecode_cache = COMPILED
        return environment

    _create_environment.keeps_compiled_templates = True  # type: ignore[attr-defined]
    TemplateExporter._create_environment = _create_environment  # type: ignore[method-assign]
