"""A template that extends others, compiled as one template: the same output, no inheritance
left to do while rendering.

Rendering a page that extends base.html looks base.html up, registers its blocks in the
context and renders every block as a generator of its own, each piece of the page passing
up through every level of blocks: for the details page, a quarter of its rendering. Here
the parsed templates are put together once instead: the most derived definition of each
block in place of the block, and every block's body in place of the block itself.

That gives the same page only for what inheritance without its dynamic parts does, which is
all the manage templates use: a fixed parent, blocks at the top level of their template or
of another block, no super() or self, no scoped or required blocks, no assignments, macros
or imports. A template using anything else is loaded as written. (A traceback from a flat
template names the page's own file, with the line number in whichever file the failing part
came from.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from jinja2 import Environment, Template, nodes

# nodes whose meaning depends on the template or block they are in
_SCOPED = (nodes.Assign, nodes.AssignBlock, nodes.Macro, nodes.Import, nodes.FromImport)


def flat_template(environment: Environment, name: str) -> Template:
    """Template `name`, its inheritance resolved at load time where that keeps its output."""
    chain = _chain(environment, name)
    if len(chain) < 2 or not all(_resolvable(tree) for tree in chain):
        return environment.get_template(name)
    blocks: dict[str, nodes.Block] = {}
    for tree in reversed(chain):  # the root first: a child's block replaces its parent's
        blocks.update((block.name, block) for block in tree.find_all(nodes.Block))
    flat = nodes.Template(list(_inlined(chain[-1].body, blocks)), lineno=1)
    flat.set_environment(environment)
    _, filename, uptodate = _source(environment, name)
    code = environment.compile(flat, name, filename)
    # a plain dict of the environment's globals as loaded: every render copies the globals
    # into its context and takes their names, from the usual chain of mappings in Python code
    globals_ = dict(environment.make_globals(None))
    return environment.template_class.from_code(environment, code, globals_, uptodate)


Source = tuple[str, str | None, Callable[[], bool] | None]
MAX_DEPTH = 10  # a chain of parents longer than this is loaded as written


def _source(environment: Environment, name: str) -> Source:
    assert environment.loader is not None
    return environment.loader.get_source(environment, name)


def _chain(environment: Environment, name: str) -> list[nodes.Template]:
    """The parsed template and those it extends, the template itself first."""
    chain: list[nodes.Template] = []
    parent: str | None = name
    while parent is not None:
        if len(chain) == MAX_DEPTH:
            return []
        source, filename, _ = _source(environment, parent)
        tree = environment.parse(source, parent, filename)
        chain.append(tree)
        parent = _parent_of(tree)
    return chain


def _parent_of(tree: nodes.Template) -> str | None:
    first = tree.body[0] if tree.body else None
    if isinstance(first, nodes.Extends) and isinstance(first.template, nodes.Const):
        return str(first.template.value)
    return None


def _resolvable(tree: nodes.Template) -> bool:
    """Whether `tree` uses nothing of inheritance beyond fixed blocks (see the module)."""
    extends = list(tree.find_all(nodes.Extends))
    if extends and not (_parent_of(tree) is not None and len(extends) == 1
                        and all(isinstance(node, nodes.Block) for node in tree.body[1:])):
        return False
    if any(node.name in ("super", "self") for node in tree.find_all(nodes.Name)):
        return False
    if next(tree.find_all(_SCOPED), None) is not None:
        return False
    blocks = list(tree.find_all(nodes.Block))
    return (not any(block.scoped or block.required for block in blocks)
            and len(blocks) == len(list(_placed_blocks(tree.body))))


def _placed_blocks(body: list[nodes.Node]) -> Iterator[nodes.Block]:
    """The blocks at the top level of `body` and, within them, of their own bodies."""
    for node in body:
        if isinstance(node, nodes.Block):
            yield node
            yield from _placed_blocks(node.body)


def _inlined(body: list[nodes.Node], blocks: dict[str, nodes.Block]) -> Iterator[nodes.Node]:
    for node in body:
        if isinstance(node, nodes.Block):
            yield from _inlined(blocks[node.name].body, blocks)
        else:
            yield node
