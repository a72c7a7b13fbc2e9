"""A typed way to register bottle routes (bottle itself has no type hints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bottle import Bottle

F = TypeVar("F", bound=Callable[..., Any])


def route(app: Bottle, method: str, path: str) -> Callable[[F], F]:
    """Decorator: register the function for method and path; the guard applies ROUTE_ACCESS."""

    def register(handler: F) -> F:
        app.route(path, method, handler)
        return handler

    return register
