"""The op enum: every primitive adjit knows, and the groups passes key on."""

from __future__ import annotations

from enum import Enum, auto


class Op(Enum):
    # elementwise unary
    NEG = auto()
    ABS = auto()
    SIGN = auto()
    EXP = auto()
    LOG = auto()
    LOG1P = auto()
    SQRT = auto()
    SIN = auto()
    COS = auto()
    TANH = auto()
    SIGMOID = auto()
    RELU = auto()
    ERF = auto()
    FLOOR = auto()
    TRUNC = auto()
    NOT = auto()
    CAST = auto()
    CLAMP = auto()
    # elementwise binary
    ADD = auto()
    SUB = auto()
    MUL = auto()
    DIV = auto()
    POW = auto()
    MAXIMUM = auto()
    MINIMUM = auto()
    EQ = auto()
    NE = auto()
    LT = auto()
    LE = auto()
    GT = auto()
    GE = auto()
    AND = auto()  # Note [bitwise ops]: AND, OR, XOR, NOT are bitwise, hence logical on bool
    OR = auto()
    XOR = auto()
    SHL = auto()  # shifts: PyTorch's results for counts < 0 or >= the bit width
    SHR = auto()
    FMOD = auto()  # C's remainder (the dividend's sign): remainder and // are built on it
    TRUNC_DIV = auto()  # integer division rounding toward zero (integers only)
    ATAN2 = auto()  # inverse trig (atan, asin, acos): Note [math decompositions], ops_math
    COPYSIGN = auto()  # the sign bit of input 1 (of -0.0 and NaN too): not decomposable
    # elementwise ternary
    WHERE = auto()
    FMA = auto()  # x * y + z rounded once (float only): Note [fused multiply-add]
    # reductions
    SUM = auto()
    AMAX = auto()
    AMIN = auto()
    ARGMAX = auto()
    ARGMIN = auto()
    # sorting
    ARGSORT = auto()  # stable indices along an axis (ir/sorting.py): sort, topk, median...
    SEARCHSORTED = auto()  # insertion points in sorted rows (Note [searchsorted's binary search])
    # movement
    RESHAPE = auto()
    PERMUTE = auto()
    EXPAND = auto()
    INDEX = auto()
    INDEX_ADD = auto()
    GATHER = auto()
    SCATTER_ADD = auto()
    CAT = auto()
    UNFOLD = auto()  # im2col: (N, C, H, W) -> (N, C*kh*kw, L); see ir/windows.py
    FOLD = auto()  # col2im, UNFOLD's adjoint: overlapping windows sum
    # contraction
    MATMUL = auto()
    # LAPACK: det, slogdet, inv, solve, cholesky, eigh, svd, qr by ``func`` (ir/linalg.py)
    LINALG = auto()
    # special functions with loops: Bessel, polynomials, igamma, zeta by ``func`` (ir/special)
    SPECIAL = auto()
    # autodiff
    DETACH = auto()  # identity whose output carries no gradient (Tensor.detach while tracing)
    # run-time checks
    CHECK = auto()  # identity on input 0 asserting input 1 (Note [run-time checks], ir/checks)
    # custom derivatives
    CUSTOM_VJP = auto()  # identity with the program's own rule (Note [custom functions traced])
    # sampling: an effect (Note [random numbers in compiled code], ir/random.py)
    RANDOM = auto()
    # communication with the other processes of a group: an effect (Note [collectives in the
    # IR], ir/collectives.py)
    COLLECTIVE = auto()
    # 0, 1, ..., length - 1: arange of a symbolic size (Note [symbolic shapes]); eager arange
    # stays NumPy's
    IOTA = auto()
    # control flow: tuple-valued loops and branches with sub-graph bodies, and a tuple's part
    # (Note [loops in the IR], ir/control.py)
    SCAN = auto()
    WHILE = auto()
    COND = auto()
    GET = auto()

    def __repr__(self) -> str:
        return f"Op.{self.name}"

    # members are singletons compared by identity: hash by identity too (Enum's default hashes
    # the name in Python, which showed up in every op's dispatch)
    __hash__ = object.__hash__


class GroupOp:
    """Sets of ops that passes and tables treat alike."""

    UNARY = frozenset(
        {
            Op.NEG,
            Op.ABS,
            Op.SIGN,
            Op.EXP,
            Op.LOG,
            Op.LOG1P,
            Op.SQRT,
            Op.SIN,
            Op.COS,
            Op.TANH,
            Op.SIGMOID,
            Op.RELU,
            Op.ERF,
            Op.FLOOR,
            Op.TRUNC,
            Op.NOT,
            Op.CAST,
            Op.CLAMP,
        }
    )
    COMPARE = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
    # integer (and bool) only; & | ^ ~ on bool are the logical ops (Note [bitwise ops] in
    # runtime/ops_integer.py)
    BITWISE = frozenset({Op.AND, Op.OR, Op.XOR, Op.NOT, Op.SHL, Op.SHR})
    BINARY = (
        frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM})
        | frozenset({Op.FMOD, Op.TRUNC_DIV, Op.ATAN2, Op.COPYSIGN})
        | (BITWISE - {Op.NOT})
        | COMPARE
    )
    TERNARY = frozenset({Op.WHERE, Op.FMA})
    ELEMENTWISE = UNARY | BINARY | TERNARY
    REDUCE = frozenset({Op.SUM, Op.AMAX, Op.AMIN, Op.ARGMAX, Op.ARGMIN})
    SORT = frozenset({Op.ARGSORT, Op.SEARCHSORTED})
    LINALG = frozenset({Op.LINALG})
    SPECIAL = frozenset({Op.SPECIAL})  # Note [SPECIAL is one primitive] (ir/special.py)
    MOVEMENT = frozenset(
        {
            Op.RESHAPE,
            Op.PERMUTE,
            Op.EXPAND,
            Op.INDEX,
            Op.INDEX_ADD,
            Op.GATHER,
            Op.SCATTER_ADD,
            Op.CAT,
            Op.UNFOLD,
            Op.FOLD,
            Op.DETACH,
            Op.CHECK,
            Op.CUSTOM_VJP,
        }
    )
    # draws from a generator: kept, unmerged and in order by every pass (ir/random.py)
    RANDOM = frozenset({Op.RANDOM})
    COMMUNICATION = frozenset({Op.COLLECTIVE})  # (Note [collectives in the IR])
    EFFECTS = RANDOM | COMMUNICATION
    # loops and branches (their value is a tuple) and GET, which reads a part of one: the
    # adjoint driver differentiates them itself (passes/adjoint_control.py)
    TUPLED = frozenset({Op.SCAN, Op.WHILE, Op.COND})
    CONTROL = TUPLED | {Op.GET}
    # ops whose output carries no gradient (bool or integer results)
    NONDIFF = COMPARE | BITWISE | frozenset({Op.ARGMAX, Op.ARGMIN, Op.DETACH, Op.TRUNC_DIV})
    CREATION = frozenset({Op.IOTA})  # values made from attributes alone (no inputs)
    NONDIFF |= SORT | SPECIAL | RANDOM | CREATION | COMMUNICATION
    # elementwise ops with a sympy form (the symbolic source of truth); fmod has none, so that
    # sympy never replaces its exact remainder by x - y*trunc(x/y); nor copysign (|x| sign(y)
    # is 0 at y = 0, where copysign gives |x| and PyTorch's gradient is +-1)
    SYMBOLIC = ELEMENTWISE - BITWISE - COMPARE - {Op.CAST, Op.WHERE, Op.FMOD, Op.TRUNC_DIV}
    SYMBOLIC -= {Op.COPYSIGN}
    SYMBOLIC -= {Op.FMA}  # its one rounding is its point: sympy's x*y + z would round twice
