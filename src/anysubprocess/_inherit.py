"""What our classes do with the asyncio classes they subclass (for ``isinstance``).

``StreamReader``, ``StreamWriter`` and ``Process`` subclass asyncio's classes so that
third-party ``isinstance(x, asyncio.StreamReader)`` checks hold, on every loop. asyncio's
``__init__`` is never called (it touches the event loop, and under trio there is none), so none
of asyncio's instance attributes exist: every method of asyncio's classes is overridden by
ours, and asyncio's private helpers that we have no use for are hidden by :class:`Absent`, so
an inherited asyncio method can never run against our objects (tests/test_inherit.py walks
the classes to keep it so).
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["Absent"]


class Absent:
    """An asyncio internal our class does not have: looking it up on an instance raises
    ``AttributeError`` (``hasattr()`` is false), instead of running asyncio's code against
    attributes that do not exist."""

    __slots__ = ("_name",)

    def __init__(self) -> None:
        self._name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: object, objtype: type | None = None) -> NoReturn:
        owner = objtype if objtype is not None else type(obj)
        raise AttributeError(
            f"{owner.__name__!r} object has no attribute {self._name!r} "
            "(an asyncio internal that anysubprocess's classes do not have)"
        )

    def __set__(self, obj: object, value: Any) -> NoReturn:
        raise AttributeError(f"{self._name!r} is an asyncio internal; it cannot be set here")
