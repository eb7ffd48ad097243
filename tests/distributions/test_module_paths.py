"""Every submodule of torch.distributions exists under adjit.distributions (as an attribute
after ``import adjit``, and importable by its path), exporting torch's ``__all__`` names, and
the classes are the package's own (``from ...normal import Normal`` is ``distributions.Normal``)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import adjit

torch = pytest.importorskip("torch")

SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(torch.distributions.__path__))


def test_torch_has_the_submodules_surveyed() -> None:
    assert {"normal", "studentT", "kl", "constraints", "wishart", "utils"} <= set(SUBMODULES)


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodule_exports_torchs_names(name: str) -> None:
    ours = importlib.import_module(f"adjit.distributions.{name}")
    theirs = importlib.import_module(f"torch.distributions.{name}")
    assert getattr(adjit.distributions, name) is ours
    assert set(theirs.__all__) <= set(ours.__all__)
    for attr in theirs.__all__:
        value = getattr(ours, attr)
        if getattr(theirs, attr) is getattr(torch.distributions, attr, None):  # as torch's
            assert value is getattr(adjit.distributions, attr), attr
        assert callable(value) == callable(getattr(theirs, attr)), attr


def test_from_import_gives_the_package_class() -> None:
    from adjit.distributions.normal import Normal
    from adjit.distributions.relaxed_categorical import RelaxedOneHotCategorical
    from adjit.distributions.studentT import StudentT

    assert Normal is adjit.distributions.Normal and StudentT is adjit.distributions.StudentT
    assert RelaxedOneHotCategorical is adjit.distributions.RelaxedOneHotCategorical
