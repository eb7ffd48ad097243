"""Process groups: the default (world) group's state, ``init_process_group`` and friends."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Any

from adjit.distributed import failure
from adjit.distributed._mpi import mpi
from adjit.distributed.rendezvous import agree, rank_problem
from adjit.passes.pipeline import flag

NOT_INITIALIZED = (
    "Default process group has not been initialized, please make sure to call init_process_group."
)
DEFAULT_TIMEOUT = timedelta(minutes=30)  # PyTorch's default_pg_timeout
TIMEOUT_FLAG = "ADJIT_DIST_TIMEOUT"
START_FLAG = "ADJIT_DIST_START_TIMEOUT"
MIN_START_SECONDS = 60.0


class ProcessGroup:
    """A set of ranks and its MPI communicators (data and signatures are separate Dups)."""

    def __init__(self, comm: Any, ranks: list[int], name: str, timeout: timedelta) -> None:
        self.comm = comm  # the data collectives (owned: freed by destroy_process_group)
        self.sig_comm = comm.Dup()  # the signatures (Note [collective signature])
        self.p2p_comm = comm.Dup()  # send/recv (Note [point-to-point header])
        self.ranks = ranks  # global ranks, in group-rank order
        self.group_name = name
        self.timeout = timeout
        self._rank, self._size = int(comm.Get_rank()), int(comm.Get_size())
        self.seq = 0  # collectives issued so far
        self.pending: deque[Any] = deque()  # Works not yet done, in issue order

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def name(self) -> str:
        return "MPI"

    def group_rank(self, global_rank: int) -> int:
        """The rank in this group of global rank ``global_rank``; PyTorch's error if absent."""
        if self is _state.world:
            return global_rank
        if global_rank not in self.ranks:
            raise ValueError(f"Global rank {global_rank} is not part of group {self}")
        return self.ranks.index(global_rank)

    def global_rank(self, group_rank: int) -> int:
        return self.ranks[group_rank]

    def free(self) -> None:
        self.p2p_comm.Free()
        self.sig_comm.Free()
        self.comm.Free()

    def __repr__(self) -> str:
        return (
            f"<adjit.distributed.ProcessGroup {self.group_name or 'default_pg'} ranks={self.ranks}>"
        )


class _State:
    world: ProcessGroup | None = None
    backend: str = ""
    groups: list[ProcessGroup] = []


_state = _State()


class _WorldMeta(type):
    """``GroupMember.WORLD`` / ``group.WORLD``: the default group (None before init)."""

    @property
    def WORLD(cls) -> ProcessGroup | None:
        return _state.world


class GroupMember(metaclass=_WorldMeta):
    """PyTorch's ``GroupMember``: ``WORLD`` and ``NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = -100


class group(metaclass=_WorldMeta):  # noqa: N801  (PyTorch's name)
    """PyTorch's ``group``: ``group.WORLD`` is the default process group."""


class Backend(str):
    """PyTorch's ``Backend``: ``Backend("GLOO") == "gloo"``; ``Backend.MPI`` ... as strings."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        return super().__new__(cls, name.lower())


# backend name -> None (runs on MPI) or the error refusing it
BACKENDS: dict[str, str | None] = {
    "mpi": None,
    "gloo": None,  # CPU scripts written for PyTorch's gloo run unchanged on MPI
    "nccl": "Distributed package doesn't have NCCL built in (adjit runs on the CPU, over MPI: "
    'use backend="mpi" or "gloo")',
    "xccl": "Distributed package doesn't have XCCL built in (adjit runs on the CPU, over MPI: "
    'use backend="mpi" or "gloo")',
    "ucc": "Distributed package doesn't have UCC built in (adjit runs over MPI: "
    'use backend="mpi" or "gloo")',
}


def _backend_name(backend: Any) -> str:
    if backend is None:
        return "mpi"
    name = str(backend).lower()
    for part in name.split(","):  # "cpu:gloo,cuda:nccl": the CPU entry decides
        device, _, which = part.rpartition(":")
        if device in ("", "cpu"):
            name = which
    if name not in BACKENDS:
        raise ValueError(f"Invalid backend: '{backend}' (adjit.distributed runs on MPI: use 'mpi')")
    refusal = BACKENDS[name]
    if refusal is not None:
        raise RuntimeError(refusal)
    return name


def _start_timeout(span: timedelta) -> float:
    """Seconds every rank may take to reach init_process_group (their imports and setup differ:
    Note [a rank that never starts MPI]): ADJIT_DIST_START_TIMEOUT, else the timeout but at
    least MIN_START_SECONDS."""
    seconds = flag(START_FLAG)
    if not seconds:
        return max(span.total_seconds(), MIN_START_SECONDS)
    try:
        return float(seconds)
    except ValueError:
        raise ValueError(
            f"{START_FLAG}={seconds!r}: expected a number of seconds, e.g. 60"
        ) from None


def _timeout(timeout: timedelta | None) -> timedelta:
    if timeout is not None:
        if not isinstance(timeout, timedelta):
            raise TypeError(
                f"Expected timeout argument to be of typedatetime.timedelta, got {timeout}"
            )
        return timeout
    seconds = flag(TIMEOUT_FLAG)
    if not seconds:
        return DEFAULT_TIMEOUT
    try:
        return timedelta(seconds=float(seconds))
    except ValueError:
        raise ValueError(
            f"{TIMEOUT_FLAG}={seconds!r}: expected a number of seconds, e.g. 60"
        ) from None


def init_process_group(
    backend: Any = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the job started by ``mpiexec``/``adjit run`` (a lone process is a world of one).

    ``backend`` "mpi" (default), or "gloo" for CPU scripts written for PyTorch: both run on
    MPI; ranks come from the launcher, and ``rank``/``world_size`` or ``RANK``/``WORLD_SIZE``,
    when given, must agree with them. ``init_method`` and ``store`` are accepted and unused
    (MPI's launcher does the rendezvous)."""
    if _state.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None and init_method is not None:
        raise AssertionError("Cannot specify both init_method and store.")
    name = _backend_name(backend)
    span = _timeout(timeout)
    start = _start_timeout(span)
    MPI = mpi(start)
    world = MPI.COMM_WORLD
    problem = rank_problem("rank", rank, "RANK", world.Get_rank()) or rank_problem(
        "world_size", world_size, "WORLD_SIZE", world.Get_size()
    )
    agree(world, problem, start)  # (Note [init agreement])
    failure.install(world, span.total_seconds())
    comm = world.Dup()
    _state.world = ProcessGroup(comm, list(range(comm.Get_size())), group_name, span)
    _state.backend = name
    _state.groups = [_state.world]


def default_group() -> ProcessGroup:
    """The world group; PyTorch's error before init_process_group."""
    if _state.world is None:
        raise ValueError(NOT_INITIALIZED)
    return _state.world


def resolve(group_: ProcessGroup | None) -> ProcessGroup:
    """``group=None`` / ``group.WORLD`` / a ProcessGroup -> the ProcessGroup."""
    world = default_group()
    if group_ is None or group_ is world:
        return world
    if not isinstance(group_, ProcessGroup):
        raise ValueError(f"Expecting a ProcessGroup, but got a {type(group_)}.")
    if group_ not in _state.groups:
        raise ValueError("Invalid process group specified or has been destroyed.")
    return group_


def is_initialized() -> bool:
    return _state.world is not None


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the world by default); -1 if not a member."""
    pg = resolve(group)
    world = default_group().rank()
    return pg.ranks.index(world) if world in pg.ranks else -1


def get_world_size(group: ProcessGroup | None = None) -> int:
    pg = resolve(group)
    return pg.size() if pg.comm is not None else -1


def get_backend(group: ProcessGroup | None = None) -> str:
    resolve(group)
    return _state.backend


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    return resolve(group).group_rank(global_rank)


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    pg = resolve(group)
    if not 0 <= group_rank < len(pg.ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
    return pg.global_rank(group_rank)


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    return list(resolve(group).ranks)


def new_group(
    ranks: list[int] | None = None,
    timeout: timedelta | None = None,
    backend: Any = None,
    pg_options: Any = None,
    use_local_synchronization: bool = False,
    group_desc: str | None = None,
    device_id: Any = None,
) -> ProcessGroup | int:
    """A sub-communicator of ``ranks`` (every rank must call it, as PyTorch's).

    Returns ``GroupMember.NON_GROUP_MEMBER`` in ranks outside ``ranks``, as PyTorch does."""
    world = default_group()
    size = world.size()
    chosen = sorted(set(range(size) if ranks is None else ranks))
    for r in chosen:
        if not 0 <= r < size:
            raise ValueError(
                f"Invalid rank {r} in new_group ranks: the world has ranks 0..{size - 1}"
            )
    me = world.rank()
    MPI = mpi()
    sub = world.comm.Split(
        0 if me in chosen else MPI.UNDEFINED, chosen.index(me) if me in chosen else 0
    )
    if me not in chosen:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(
        sub, chosen, group_desc or f"group{len(_state.groups)}", _timeout(timeout or world.timeout)
    )
    _state.groups.append(pg)
    return pg


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Free ``group``'s communicators; without a group, every group and the default one."""
    if _state.world is None:
        raise ValueError(NOT_INITIALIZED)
    if group is not None and group is not _state.world:
        pg = resolve(group)
        _state.groups.remove(pg)
        pg.free()
        return
    for pg in _state.groups:
        pg.free()
    failure.uninstall()
    _state.world = None
    _state.groups = []
    _state.backend = ""
