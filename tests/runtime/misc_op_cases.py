"""Rows for the odds and ends of issue 13: aliases, deg2rad, fmax, gcd, frexp, diff, cov, ..."""

from __future__ import annotations

from test_ops_table import C, Case, D, I, P, R

# rows whose result's shape depends on tensor values: compiled, they raise TracingError
DATA_DEPENDENT: set[str] = set()
# rows that only run eagerly (documented: PyTorch's own are data-dependent or storage-based)
EAGER_ONLY: set[str] = set()


# fn(T, *args) runs with T = adjit or torch; index tensors built inside are constants
CASES: list[Case] = [
    # ---- aliases
    C("absolute", lambda T, x: T.absolute(x), D(2, 3)),
    C("absolute-method", lambda T, x: x.absolute(), D(2, 3), op="absolute"),
    C("negative", lambda T, x: T.negative(x), R(2, 3)),
    C("positive", lambda T, x: T.positive(x) * 2, R(2, 3)),
    C("positive-method", lambda T, i: i.positive(), I(3), op="positive"),
    C("multiply", lambda T, x, y: T.multiply(x, y), R(2, 3), R(3)),
    C("subtract", lambda T, x, y: T.subtract(x, y, alpha=2), R(2, 3), R(3)),
    C("greater", lambda T, x, y: T.greater(x, y), R(2, 3), R(3)),
    C("greater_equal", lambda T, i, j: T.greater_equal(i, j), I(2, 3), I(3)),
    C("less", lambda T, x: T.less(x, 0.5), R(2, 3)),
    C("less_equal", lambda T, i, j: T.less_equal(i, j), I(2, 3), I(3)),
    C("not_equal", lambda T, i, j: T.not_equal(i, j), I(2, 3), I(3)),
    C("fix", lambda T, x: T.fix(x * 3) * x, R(2, 3)),
    C("fix-int", lambda T, i: i.fix(), I(2, 3), op="fix"),
    C("ravel", lambda T, x: T.ravel(x), R(2, 3)),
    C("ravel-t", lambda T, x: x.t().ravel(), R(2, 3), op="ravel"),
    C("range", lambda T: T.range(0, 1, 0.25)),
    C("range-int", lambda T: T.range(3, -2, -2, dtype=T.int64), op="range"),
    C("asarray", lambda T, x: T.asarray(x) * 2, R(2, 3)),
    C("asarray-list", lambda T: T.asarray([[1, 2], [3, 4.5]]), op="asarray"),
    # ---- elementwise
    C("deg2rad", lambda T, x: T.deg2rad(x * 100), R(2, 3)),
    C("deg2rad-int", lambda T, i: i.deg2rad(), I(2, 3, high=200), op="deg2rad"),
    C("rad2deg", lambda T, x: T.rad2deg(x), R(2, 3)),
    C("rad2deg-int", lambda T, i: i.rad2deg(), I(2, 3), op="rad2deg"),
    C("fmax", lambda T, x, y: T.fmax(x, y), D(2, 3), D(3)),
    C("fmax-nan", lambda T, x, y: T.fmax(x.log(), y.log()), R(3, 4), R(4), op="fmax"),
    C("fmax-int", lambda T, i, j: i.fmax(j), I(2, 3, high=5), I(3, high=5), op="fmax"),
    C("fmin", lambda T, x, y: T.fmin(x, y), D(2, 3), D(3)),
    C("fmin-nan", lambda T, x, y: x.log().fmin(y.log()), R(3, 4), R(3, 1), op="fmin"),
    C("gcd", lambda T, i, j: T.gcd(i - 20, j - 10), I(3, 4, high=40), I(4, high=25)),
    C("gcd-method", lambda T, i, j: i.gcd(j.int()), I(3, 4, high=40), I(4, high=25), op="gcd"),
    C("lcm", lambda T, i, j: T.lcm(i - 20, j - 10), I(3, 4, high=40), I(4, high=25)),
    C("heaviside", lambda T, x, y: T.heaviside(x.round(), y), R(2, 3), R(3)),
    C("heaviside-int", lambda T, i, j: i.heaviside(j - 1), I(2, 3), I(3), op="heaviside"),
    C("ldexp", lambda T, x, i: T.ldexp(x, i - 1), R(2, 3), I(3, high=4)),
    C("ldexp-int", lambda T, i, j: T.ldexp(i, j), I(2, 3), I(3), op="ldexp"),
    C("ldexp-float", lambda T, x, y: x.ldexp(y.round()), R(2, 3), R(2, 3), op="ldexp"),
    C("frexp", lambda T, x: T.frexp(x * 100), R(3, 4)),
    C("frexp-method", lambda T, x: x.frexp(), P(3), op="frexp"),
    C("nextafter", lambda T, x, y: T.nextafter(x, y), R(2, 3), R(3)),
    C(
        "nextafter-method",
        lambda T, x, y: x.nextafter(y.round()).float(),
        R(2, 3),
        R(3),
        op="nextafter",
    ),
]
