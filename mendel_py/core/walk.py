"""The walk of SPEC §3, split so that most of it happens once, not per request.

Which data entry a branch point takes never depends on walk order, only on the lookup chains (or on
the hash). The walk *order* depends on the chosen entries only where an overriding file's
dependencies differ from the file it overrides. So a bundle is compiled into a `Walker` that knows:

- for every module, its successors when its choice doesn't matter (all entries share dependencies);
- the "structural" branch points, whose entries differ in dependencies, with their entries grouped
  into classes of equal successors.

A tuple with one class per structural module (a *shape*) fixes the walk order. `Plan`s (order,
index order, branch points in walk order and their positions) are memoized per shape, so a walk for
a new variation set is usually a handful of dict lookups plus one digest over per-file digests
gathered in C. A new shape costs one depth-first walk: `_walk_order` here, or the same walk in C
(`_speedups.walk_plan`) where the optional extension was built.
"""
from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, chain, compress
from operator import attrgetter, itemgetter
from typing import TypeVar

from ..errors import HashError, HashLimitError, WalkError
from .cache import POINTER_BYTES, TUPLE_BYTES, Cache
from .hashcodec import DecodedHash, HashFormat
from .manifest import Manifest

try:
    from ._speedups import join_digests as _join_digests_c
    from ._speedups import walk_plan as _walk_plan_c
except ImportError:  # not compiled on this install: the same walk, in Python
    _walk_plan_c = _join_digests_c = None  # type: ignore[assignment]  # ACCELERATED says which

ACCELERATED = _walk_plan_c is not None
"""Whether walks run in C (the optional `mendel_py.core._speedups` extension)."""

Shape = tuple[int, ...]
T = TypeVar("T")

DEFAULT_PLAN_CACHE_BYTES = 16 * 1024 * 1024
_BYTES_OBJECT_BYTES = 40
_PLAN_OBJECT_BYTES = 600  # the Plan, its __dict__ and the gatherer


@dataclass
class Plan:
    """The walk for one shape: modules in walk order and in index order, and the branch points
    among them (with their positions in the walk order)."""

    order: tuple[int, ...]
    index_order: tuple[int, ...]
    branch_seq: tuple[int, ...]
    branch_positions: tuple[int, ...]

    @cached_property
    def gather(self) -> Callable[[Sequence[T]], tuple[T, ...]]:
        """`gather(per_module)`: the items of a per-module sequence in walk order, in C."""
        return gatherer(self.order)

    def approx_bytes(self) -> int:
        """Memory this plan holds: the orders, the branch points and the gatherer's index tuple."""
        files, branches = len(self.order), len(self.branch_seq)
        tuples = 5 * TUPLE_BYTES + POINTER_BYTES * (3 * files + 2 * branches)
        return _PLAN_OBJECT_BYTES + tuples


def gatherer(indexes: Sequence[int]) -> Callable[[Sequence[T]], tuple[T, ...]]:
    """A function picking `indexes` out of a sequence, as a tuple, in C (operator.itemgetter;
    which returns a bare item for one index and can't take none, hence the wrappers)."""
    if len(indexes) > 1:
        return itemgetter(*indexes)
    if indexes:
        only = indexes[0]
        return lambda items: (items[only],)
    return lambda items: ()


@dataclass(frozen=True, slots=True)
class Walk:
    """What a walk found: the choice at each reached branch point, the hash, the conflicts."""

    plan: Plan
    choices: dict[int, int]
    hash: str
    branches: tuple[int, ...]
    conflicts: tuple[int, ...]


class Walker:
    """Walks of one bundle's manifest, by lookup chains or by hash."""

    def __init__(
        self, manifest: Manifest, base_dir: str, cache: Cache[Plan] | None = None, scope: Hashable = None
    ):
        """`cache` keeps the plans (under ("plan", (scope, bundle), shape) keys, so several
        walkers, of several generations, may share one); by default the walker has its own of
        DEFAULT_PLAN_CACHE_BYTES."""
        self.manifest = manifest
        self.base_dir = base_dir
        count = len(manifest.modules)
        self._is_branch = bytearray(count)
        self._numbers = tuple(manifest.indexes.values())  # the int objects a walk in C returns
        for m in manifest.branch_points:
            self._is_branch[m] = 1
        self._fixed = [module.entries[0].successors for module in manifest.modules]
        # the same successors as one compact int array, for the walk in C (see _speedups.c)
        self._graph = (
            array("i", accumulate(map(len, self._fixed), initial=0)),
            array("i", chain.from_iterable(self._fixed)),
        )
        self._structural, self._classes, self._class_successors = _structure(manifest)
        self._shape_position = {m: k for k, m in enumerate(self._structural)}
        self._is_structural = bytearray(count)
        for m in self._structural:
            self._is_structural[m] = 1
        self._folder_entries = _folder_entries(manifest)
        self._entries_count = [len(m.entries) for m in manifest.modules]
        plans = cache if cache is not None else Cache(DEFAULT_PLAN_CACHE_BYTES)
        self._plans = _PlanCache(plans, (scope, manifest.bundle))
        self._first_digests: dict[str, list[bytes]] = {}

    # -- by lookup chains -------------------------------------------------------------------------

    def walk_chains(self, chains: Sequence[Sequence[str]], fmt: HashFormat) -> Walk:
        """SPEC §3 step 3: choose entries by lookup chains, then hash in walk order."""
        choices, conflicting = self.choose(chains)
        shape = tuple(
            classes[choices[m]] if m in choices else 0
            for m, classes in zip(self._structural, self._classes)
        )
        plan = self._plan(shape)
        try:
            branches = tuple(choices[m] for m in plan.branch_seq)
        except KeyError as missing:
            module = self.manifest.modules[missing.args[0]]
            raise WalkError(
                self.manifest.bundle, module.id,
                f"no lookup chain matches any of its folders {list(module.folders)}",
            ) from None
        digest = fmt.digest_of(self._digest_input(plan, branches, fmt.file_digest))
        hash_text = fmt.encode(branches, len(plan.order), digest)
        conflicts = tuple(m for m in plan.branch_seq if m in conflicting)
        return Walk(plan, choices, hash_text, branches, conflicts)

    def choose(self, chains: Sequence[Sequence[str]]) -> tuple[dict[int, int], set[int]]:
        """Entry index per branch point (first matching chain wins) and the conflicting modules."""
        choices: dict[int, int] = {}
        conflicting: set[int] = set()
        folder_entries = self._folder_entries
        for lookup_chain in chains:
            matched: set[int] = set()
            for folder in lookup_chain:
                for m, j in folder_entries.get(folder, ()):
                    if m in matched:
                        continue
                    matched.add(m)
                    if m not in choices:
                        choices[m] = j
                    elif folder != self.base_dir:
                        conflicting.add(m)
        return choices, conflicting

    # -- by hash ----------------------------------------------------------------------------------

    def walk_hash(self, hash: str, decoded: DecodedHash, fmt: HashFormat) -> Walk:
        """SPEC §3 step 4: follow the hash's branch list; only its canonical spelling is valid."""
        plan, choices, new_shape = self._plan_for_branches(decoded.branches)
        branches = tuple(choices[m] for m in plan.branch_seq)
        digest = fmt.digest_of(self._digest_input(plan, branches, fmt.file_digest))
        try:
            canonical = fmt.encode(branches, len(plan.order), digest)
        except HashLimitError:
            canonical = None
        if canonical != hash:
            raise HashError("HASHMISS", "tree hash mismatch")
        if new_shape is not None:  # kept only now that the hash proved valid
            plan = self._plans.setdefault(new_shape, plan)
        return Walk(plan, choices, hash, branches, ())

    def _plan_for_branches(
        self, branches: tuple[int, ...]
    ) -> tuple[Plan, dict[int, int], Shape | None]:
        """The plan and choices a branch list walks: from known plans if one fits, else one walk
        (then also the new plan's shape, for the caller to keep once the hash is valid)."""
        shape = [0] * len(self._structural)
        entries_count = self._entries_count
        while (plan := self._plans.get(tuple(shape))) is not None:
            choices: dict[int, int] = {}
            for position, m in enumerate(plan.branch_seq):
                if position >= len(branches):
                    raise HashError("TRVRSL", "tree has more paths than hash")
                j = branches[position]
                if j >= entries_count[m]:
                    raise HashError("TRVRSL", "hash branch not found in tree")
                choices[m] = j
                k = self._shape_position.get(m)
                if k is not None and self._classes[k][j] != shape[k]:
                    shape[k] = self._classes[k][j]  # the earliest wrong guess: fix it, try again
                    break
            else:
                return plan, choices, None
        return self._walk_branches(branches)

    def _walk_branches(self, branches: tuple[int, ...]) -> tuple[Plan, dict[int, int], Shape]:
        """One walk that takes the next branch index at each branch point it reaches."""
        if _walk_plan_c is not None:
            found = self._walk_branches_in_c(branches)
            if found is not None:
                return found
        return self._walk_branches_each(branches)

    def _walk_branches_in_c(self, branches: tuple[int, ...]) -> tuple[Plan, dict[int, int], Shape] | None:
        """`_walk_branches` calling back only at structural modules (where the choice changes the
        walk); None when the hash doesn't fit the tree, for the exact error to be found again."""
        successors = self._start_children()
        shape = [0] * len(self._structural)
        counts = self._entries_count

        def take(m: int, position: int) -> None:
            if position >= len(branches) or branches[position] >= counts[m]:
                raise _Misfit
            self._take_entry(m, branches[position], shape, successors)

        try:
            plan = self._walk_plan(successors, take, self._is_structural)
        except _Misfit:
            return None
        if len(plan.branch_seq) > len(branches):
            return None
        choices = dict(zip(plan.branch_seq, branches))
        if any(j >= counts[m] for m, j in choices.items()):
            return None
        return plan, choices, tuple(shape)

    def _walk_branches_each(self, branches: tuple[int, ...]) -> tuple[Plan, dict[int, int], Shape]:
        """`_walk_branches` taking each branch point's choice as the walk reaches it (and raising
        the HashError of the first that doesn't fit)."""
        successors = self._start_children()
        shape = [0] * len(self._structural)
        choices: dict[int, int] = {}

        def take(m: int) -> None:
            position = len(choices)
            if position >= len(branches):
                raise HashError("TRVRSL", "tree has more paths than hash")
            j = branches[position]
            if j >= self._entries_count[m]:
                raise HashError("TRVRSL", "hash branch not found in tree")
            choices[m] = j
            if m in self._shape_position:
                self._take_entry(m, j, shape, successors)

        return self._walk_plan(successors, take), choices, tuple(shape)

    def _take_entry(
        self, m: int, j: int, shape: list[int], successors: list[tuple[int, ...] | None]
    ) -> None:
        """Structural module `m` takes entry `j`: its class goes into `shape`, its successors
        into the walk's."""
        k = self._shape_position[m]
        shape[k] = self._classes[k][j]
        successors[m] = self._class_successors[k][shape[k]]

    # -- plans ------------------------------------------------------------------------------------

    def _plan(self, shape: Shape) -> Plan:
        """The plan of a shape, built on first use; also kept under the shape's canonical form
        (unreached structural modules as class 0), which is what a walk by hash looks up."""
        plan = self._plans.get(shape)
        if plan is None:
            plan = self._build_plan(shape)
            reached = set(plan.branch_seq)
            canonical = tuple(c if m in reached else 0 for m, c in zip(self._structural, shape))
            plan = self._plans.setdefault(canonical, plan)
            self._plans.setdefault(shape, plan)
        return plan

    def _build_plan(self, shape: Shape) -> Plan:
        successors = self._start_children()
        for m, classes_successors, c in zip(self._structural, self._class_successors, shape):
            successors[m] = classes_successors[c]
        return self._walk_plan(successors)

    def _start_children(self) -> list[tuple[int, ...] | None]:
        """Each module's successors, for a walk to set those of structural modules in: the walk
        in C reads the others (None) from the compact graph."""
        if _walk_plan_c is not None:
            return [None] * len(self._fixed)
        return list(self._fixed)

    def _walk_plan(
        self,
        successors: list[tuple[int, ...] | None],
        on_branch: Callable[..., None] | None = None,
        call_at: bytearray | None = None,
    ) -> Plan:
        """The plan of a walk from the manifest's roots (`_walk_order`), in C where the extension
        was built (there, with `call_at`, `on_branch(m, position)` only where it flags m)."""
        if _walk_plan_c is not None:
            offsets, targets = self._graph
            return Plan(*_walk_plan_c(
                self.manifest.roots, offsets, targets, successors, self._numbers, self._is_branch, on_branch,
                call_at,
            ))
        return self._plan_from_walk(*_walk_order(self.manifest.roots, successors, self._is_branch, on_branch))

    def _plan_from_walk(self, order: tuple[int, ...], walked: bytearray) -> Plan:
        """The plan of a walk order; `walked` flags the walked modules (index order for free)."""
        flags = gatherer(order)(self._is_branch)
        return Plan(
            order=order,
            index_order=tuple(compress(range(len(walked)), walked)),
            branch_seq=tuple(compress(order, flags)),
            branch_positions=tuple(compress(range(len(order)), flags)),
        )

    def _digest_input(self, plan: Plan, branches: tuple[int, ...], kind: str) -> bytes:
        """The per-file digests in walk order, concatenated: every module's first entry's, with
        the chosen entries' put in at the branch points (joined in C where it was built)."""
        first = self._first_digests.get(kind)
        read = attrgetter(kind)  # "sha" or "blake3", an Entry's digest of that kind
        if first is None:
            first = self._first_digests.setdefault(kind, list(map(read, self.manifest.first_entries)))
        modules = self.manifest.modules
        chosen = [
            (position, read(modules[m].entries[j]))
            for position, m, j in zip(plan.branch_positions, plan.branch_seq, branches) if j
        ]
        if _join_digests_c is not None:
            return _join_digests_c(first, plan.order, chosen)
        parts = list(plan.gather(first))
        for position, digest in chosen:
            parts[position] = digest
        return b"".join(parts)


class _Misfit(Exception):
    """A hash's branch list doesn't fit the tree (which error exactly is found by a slower walk)."""


def _walk_order(
    roots: tuple[int, ...],
    children: list[tuple[int, ...]],
    is_branch: bytearray | None = None,
    on_branch: Callable[[int], None] | None = None,
) -> tuple[tuple[int, ...], bytearray]:
    """Modules in the order mendel-core's recursive walk first resolves them, and a flag per
    module saying whether it was walked. `children[m]` are m's successors.

    `on_branch(m)`, when given, is called as each branch point is resolved, before its children
    are read, and may set `children[m]` (the walk by hash chooses entries that way).

    Each root is walked with a fresh visited set that doesn't include the root itself, so a cycle
    back to the root walks the root's dependencies once more from the start (the only difference
    from a plain depth-first preorder; modules resolved by earlier roots add nothing new).
    Children are pushed last-first and skipped when popped if resolved by then: the preorder of
    the recursive walk, with the loop over each module's edges in C (list.extend of reversed).
    """
    resolved = bytearray(len(children))
    branch_flags = is_branch if is_branch is not None else bytes(len(children))  # none flagged
    order: list[int] = []
    append = order.append
    for root in roots:
        if resolved[root]:
            continue
        append(root)
        if on_branch is not None and branch_flags[root]:
            on_branch(root)
        # The root stays unflagged until it comes up again: that once, its dependencies are
        # walked again (mendel-core's fresh visited set per root).
        stack = list(reversed(children[root]))
        pop, extend = stack.pop, stack.extend
        while stack:
            m = pop()
            if resolved[m]:
                continue
            resolved[m] = 1
            if m == root:
                extend(reversed(children[root]))
                continue
            append(m)
            if on_branch is not None and branch_flags[m]:
                on_branch(m)
            extend(reversed(children[m]))
        resolved[root] = 1
    return tuple(order), resolved


_Structure = tuple[tuple[int, ...], tuple[tuple[int, ...], ...], tuple[tuple[tuple[int, ...], ...], ...]]


def _structure(manifest: Manifest) -> _Structure:
    """Branch points whose entries differ in successors, with entry -> class and class -> successors."""
    structural, classes, class_successors = [], [], []
    for m in manifest.branch_points:
        distinct: dict[tuple[int, ...], int] = {}
        entry_classes = tuple(
            distinct.setdefault(entry.successors, len(distinct)) for entry in manifest.modules[m].entries
        )
        if len(distinct) > 1:
            structural.append(m)
            classes.append(entry_classes)
            class_successors.append(tuple(distinct))
    return tuple(structural), tuple(classes), tuple(class_successors)


def _folder_entries(manifest: Manifest) -> dict[str, tuple[tuple[int, int], ...]]:
    """For each folder, the branch points that have an entry in it: (module, entry index)."""
    table: dict[str, list[tuple[int, int]]] = {}
    for m in manifest.branch_points:
        for j, folder in enumerate(manifest.modules[m].folders):
            table.setdefault(folder, []).append((m, j))
    return {folder: tuple(pairs) for folder, pairs in table.items()}


class _PlanCache:
    """One bundle's plans by shape, inside a (possibly shared) byte-bounded cache."""

    def __init__(self, cache: Cache[Plan], bundle: Hashable):
        self.cache = cache
        self.bundle = bundle

    def get(self, shape: Shape) -> Plan | None:
        return self.cache.get(("plan", self.bundle, shape))

    def setdefault(self, shape: Shape, plan: Plan) -> Plan:
        """The plan kept for `shape`: the one already there, else `plan` (kept if admitted)."""
        key = ("plan", self.bundle, shape)
        if key in self.cache:
            found = self.cache.get(key)
            if found is not None:
                return found
        self.cache.put(key, plan, plan.approx_bytes() + len(shape) * POINTER_BYTES)
        return plan
