"""Show workflow steps in the API reference as users call them.

A public step is one generator method decorated with ``nova_ft._steps.step`` and paired with
``name_async = async_twin(name)`` (see ``python/nova_ft/_steps.py``). Read statically, the
first would show its generator's return type (``Steps[Bucket]``) and the second would be an
attribute; this griffe extension shows the method returning ``Bucket`` and its twin as an
``async`` method with the same parameters.
"""

from __future__ import annotations

import ast
from typing import Any

from griffe import Attribute, Class, Docstring, ExprCall, ExprSubscript, Extension, Function


def _result(returns: Any) -> Any:
    """``Steps[T]`` (or ``_steps.Steps[T]``) -> ``T``."""
    if isinstance(returns, ExprSubscript) and str(returns.left).split(".")[-1] == "Steps":
        return returns.slice
    return returns


def _is_step(func: Function) -> bool:
    return any(str(d.value).split(".")[-1] == "step" for d in func.decorators)


class WorkflowSteps(Extension):
    def on_class_members(self, *, node: ast.AST | Any, cls: Class, **kwargs: Any) -> None:
        for name, member in list(cls.members.items()):
            if isinstance(member, Function) and _is_step(member):
                member.returns = _result(member.returns)
            if not isinstance(member, Attribute) or not isinstance(member.value, ExprCall):
                continue
            call = member.value
            if str(call.function).split(".")[-1] != "async_twin" or not call.arguments:
                continue
            sync = cls.members.get(str(call.arguments[0]))
            if not isinstance(sync, Function):
                continue
            twin = Function(
                name,
                parameters=sync.parameters,
                returns=_result(sync.returns),
                lineno=member.lineno,
                endlineno=member.endlineno,
                docstring=Docstring(f"Async twin of [`{sync.name}`][{sync.path}].", parent=None),
            )
            twin.labels.add("async")
            cls.set_member(name, twin)
