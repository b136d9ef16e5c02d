"""Old public names kept for one release: each use warns with a ``DeprecationWarning`` naming the new one."""
from __future__ import annotations

import functools
import warnings

REMOVED_IN = "0.3"
"""The release that drops the deprecated names."""


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (``stacklevel`` 3: the caller of the old name's
    function)."""
    warnings.warn(f"{old} is deprecated and will be removed in hyperlib {REMOVED_IN}; use {new}.",
                  DeprecationWarning, stacklevel=stacklevel)


def renamed_keywords(**renames: str):
    """Decorator: accept each old keyword of ``renames`` (old="new") as the new one, with a DeprecationWarning.

    Raises TypeError when a call gives both the old and the new keyword."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= and {new}=; give {new}= only.")
                    warn_renamed(f"{fn.__name__}({old}=)", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return call
    return wrap
