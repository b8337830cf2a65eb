"""The server compiles the page's Jinja templates once: same pages, less CPU per page.

``mlp.serve.templates`` gives every nbconvert exporter's environment one
bytecode cache. Checked here without a server: an exporter renders the same
HTML with the cache as without it, the second exporter compiles nothing, a
changed template is compiled again, and sync and async code are kept apart.
"""

from __future__ import annotations

import jinja2
import nbformat
from nbconvert.exporters.templateexporter import TemplateExporter

from mlp.serve.templates import COMPILED, CompiledTemplates, keep_compiled_templates

NOTEBOOK = nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_markdown_cell("# A digit"), nbformat.v4.new_code_cell("1 + 1")]
)


def html() -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(NOTEBOOK)
    return body


def count_compiles(monkeypatch) -> list[str]:
    compiled: list[str] = []
    compile_source = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return compile_source(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return compiled


def test_a_page_is_the_same_with_the_templates_compiled_once(monkeypatch):
    without = html()
    monkeypatch.setattr(TemplateExporter, "_create_environment", TemplateExporter._create_environment)
    COMPILED.clear()
    keep_compiled_templates()
    try:
        compiled = count_compiles(monkeypatch)
        first = html()
        assert compiled, "the first page compiles its templates"
        assert len(COMPILED) == len(set(compiled))
        compiled.clear()
        second = html()
        assert compiled == [], f"compiled again: {compiled}"
        assert first == second == without
    finally:
        COMPILED.clear()


def test_a_changed_template_is_compiled_again():
    cache = CompiledTemplates()
    loader = jinja2.DictLoader({"page.html": "one {{ x }}"})
    first = jinja2.Environment(loader=loader, bytecode_cache=cache)
    assert first.get_template("page.html").render(x=1) == "one 1"
    loader.mapping["page.html"] = "two {{ x }}"
    second = jinja2.Environment(loader=loader, bytecode_cache=cache)
    assert second.get_template("page.html").render(x=2) == "two 2"


def test_sync_and_async_environments_never_share_code():
    import asyncio

    cache = CompiledTemplates()
    loader = jinja2.DictLoader({"page.html": "{% for i in range(3) %}{{ i }}{% endfor %}"})
    sync = jinja2.Environment(loader=loader, bytecode_cache=cache)
    assert sync.get_template("page.html").render() == "012"
    async_env = jinja2.Environment(loader=loader, bytecode_cache=cache, enable_async=True)
    assert asyncio.run(async_env.get_template("page.html").render_async()) == "012"
    assert len(cache) == 2


def test_the_dashboard_server_installs_it(monkeypatch):
    from mlp.serve.kernels import ClassroomKernelManager

    monkeypatch.setattr(TemplateExporter, "_create_environment", TemplateExporter._create_environment)
    ClassroomKernelManager()
    assert getattr(TemplateExporter._create_environment, "keeps_compiled_templates", False)
