"""Commands pickle by reference, like the module-level functions they decorate.

``pickle.dumps(extract_invoice)`` holds the module and the qualified name (and any per-call
settings of a ``with_options`` copy), never the function's code, its tools or a client. Unpickled
in a worker process of ``multiprocessing``, Dask, Ray or Spark, it is the command that module
defines there, which builds its own SDK clients from the worker's settings on first use.
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any

from ._errors import ConfigurationError

__all__ = ["lookup", "reference"]


def reference(command: Any, fn: Any, options: dict[str, Any]) -> tuple[Any, ...]:
    """``__reduce__`` of *command* (made from *fn*; *options* its ``with_options`` settings).

    Raises:
        pickle.PicklingError: the command cannot be found again by its module and name (one
            defined inside a function, or rebound to another name), as for a function.
    """
    module, qualname = fn.__module__, fn.__qualname__
    try:
        found = _find(module, qualname)
    except (ImportError, AttributeError):
        found = None
    if getattr(found, "fn", None) is not fn:
        raise pickle.PicklingError(
            f"Cannot pickle command {module}.{qualname}: it is not found as {qualname} in module "
            f"{module}. Commands pickle by reference, like functions: define it at the top level of "
            "a module the worker processes can import."
        )
    return (lookup, (module, qualname, options))


def lookup(module: str, qualname: str, options: dict[str, Any]) -> Any:
    """The command *module* defines as *qualname*, with *options* applied (unpickling).

    Raises:
        ConfigurationError: this process cannot import it (a command defined in a script or a
            notebook, whose ``__main__`` a worker process does not have).
    """
    try:
        command = _find(module, qualname)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"Cannot find command {module}.{qualname} in this process ({exc}). Commands travel to "
            "worker processes by reference: define it in a module the workers can import"
            + (
                " (not in a script or a notebook, whose __main__ they do not have)."
                if module == "__main__"
                else "."
            )
        ) from exc
    return command.with_options(**options) if options else command


def _find(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
