"""Constructor-argument handling shared by the estimators (scikit-learn's convention).

The constructor stores its arguments as given, under their own names; these
methods list, read and change them, and show the non-default ones in the repr.
"""

from __future__ import annotations

import inspect

from .errors import InvalidParameterError


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """Constructor arguments as stored."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments; unknown names raise ``InvalidParameterError``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise InvalidParameterError(
                    f"{key!r} is not a parameter of {type(self).__name__}; valid: {valid}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if not (isinstance(v, type(defaults[k])) and v == defaults[k]) and v is not defaults[k]
        ]
        return f"{type(self).__name__}({', '.join(changed)})"
