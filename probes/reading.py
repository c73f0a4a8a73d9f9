"""The one streaming pass over a log folder: its files read side by side and classified.

:func:`classify` reads the files of every host of a folder (only the lines of a window) into
one :class:`~probes.correlate.Classifier`, with worker processes for a folder big enough:
each file is read on its own into a classifier of its own, and those are merged in folder
order, so the result is the one of a single process reading the files one after another.
The main process reads the OpenStack services' logs itself and is one of the readers of the
others' (:class:`_Shares`); the cyclic garbage collector runs far less meanwhile
(:func:`few_collections`).
"""

from __future__ import annotations

import copy
import gc
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from probes.catalog import Catalog
from probes.correlate import Classifier
from probes.logs.reader import (
    FileSources,
    HostInfo,
    HostRoot,
    Hosts,
    SourceStats,
    find_hosts,
    read_file,
)
from probes.logs.sources import service_of_name

# Below this many bytes of logs a folder is read in this process: starting workers
# costs more than they save.
PARALLEL_MIN_BYTES = 16 << 20

# The reading makes millions of short-lived objects that reference counting frees (no
# cycles): the cyclic collector, run every 700 allocations by default, is run far less
# meanwhile (7 % of the reading's CPU time on a 1 GB bundle).
READING_GC_THRESHOLD = (100_000, 50, 100)

# A worker is handed files by the batch (consecutive files of the folder, this many bytes or
# files at most): each batch is one round trip through this process, which on a busy
# machine gets little CPU to hand out work with.
BATCH_BYTES = 32 << 20
BATCH_FILES = 256

# Services whose lines carry no request id: most of their lines are only counted.
_SKIMMED_SERVICES = frozenset({"ceph-mon", "ceph-osd", "ceph-mgr", "ceph-rgw", "mariadb", "libvirt",
                               "qemu", "rabbitmq", "dnsmasq", "metadata-proxy"})

Task = tuple[int, int]  # a file: (its root's index, its index among the root's files)


@contextmanager
def few_collections() -> Iterator[None]:
    """The cyclic collector run far less often meanwhile (READING_GC_THRESHOLD)."""
    before = gc.get_threshold()
    gc.set_threshold(*READING_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass
class _FilePart:
    """What one file gave: its stats per host (in the order its lines named the hosts)
    and what a classifier kept of its records."""

    sources: list[tuple[str, SourceStats]]
    classifier: Classifier


def _read_part(
    root: HostRoot, path: Path, catalog: Catalog, since: datetime | None,
    until: datetime | None, hosts: Hosts,
) -> _FilePart:
    classifier = Classifier(catalog)
    opened: list[FileSources] = []
    for record in read_file(root, path, since, until, hosts, classifier, opened):
        classifier.feed(record)
    return _FilePart([(name, stats) for found in opened for name, (_, stats) in found.by_host.items()],
                     classifier)


_WORKER: dict[str, Any] = {}  # a worker process's share of the folder (set once per process)


def _worker_init(roots: list[HostRoot], catalog: Catalog, since: datetime | None,
                 until: datetime | None) -> None:
    gc.set_threshold(*READING_GC_THRESHOLD)  # the worker only reads
    _WORKER.update(roots=roots, catalog=catalog, since=since, until=until, hosts=Hosts(roots))


def _read_batch(roots: list[HostRoot], batch: list[Task], catalog: Catalog,
                since: datetime | None, until: datetime | None, hosts: Hosts) -> list[_FilePart]:
    return [_read_part(roots[r], roots[r].files[f], catalog, since, until, hosts) for r, f in batch]


def _worker_parts(batch: list[Task]) -> list[_FilePart]:
    return _read_batch(_WORKER["roots"], batch, _WORKER["catalog"], _WORKER["since"],
                       _WORKER["until"], _WORKER["hosts"])


class _Shares:
    """The batches handed to the pool, each taken back in folder order by :meth:`parts`.
    While a batch this process waits for is still being read, it reads the next batch no
    worker has begun itself (as a worker would, on a copy of the hosts' facts): it is one
    of the readers, and the pool needs one process less (memory).  The next, not the last:
    it has its own files to read in folder order, the pool and it reach the end together.
    The pool is shut down once no batch is left to read (its workers' memory goes with it)."""

    def __init__(self, pool: ProcessPoolExecutor, batches: list[list[Task]],
                 roots: list[HostRoot], catalog: Catalog, since: datetime | None,
                 until: datetime | None) -> None:
        self.pool, self.batches = pool, batches
        self.futures: list[Future[list[_FilePart]] | None] = [
            pool.submit(_worker_parts, batch) for batch in batches]
        self.read_here: dict[int, list[_FilePart]] = {}  # batches this process read, by index
        self._reader = (copy.deepcopy(roots), catalog, since, until)
        self._hosts = Hosts(self._reader[0])

    def parts(self, index: int) -> list[_FilePart]:
        """Batch ``index``'s parts (each batch is asked for once)."""
        future, self.futures[index] = self.futures[index], None
        if index in self.read_here:
            parts = self.read_here.pop(index)
        elif future is None or future.cancel():  # no worker began it: read here
            parts = self._read(index)
        else:
            while not future.done() and self._take_next(index):
                pass
            parts = future.result()
        if all(f is None or f.done() for f in self.futures):
            self.pool.shutdown(wait=False)  # nothing left to read: the workers go
        return parts

    def _take_next(self, after: int) -> bool:
        """Read here the first batch after ``after`` that no worker has begun, if any."""
        for index in range(after + 1, len(self.futures)):
            future = self.futures[index]
            if future is not None and future.cancel():
                self.futures[index] = None
                self.read_here[index] = self._read(index)
                return True
        return False

    def _read(self, index: int) -> list[_FilePart]:
        roots, catalog, since, until = self._reader
        return _read_batch(roots, self.batches[index], catalog, since, until, self._hosts)


def _batches(tasks: list[Task], sizes: dict[Task, int], workers: int) -> list[list[Task]]:
    limit = min(BATCH_BYTES, sum(sizes.values()) // (workers * 4) + 1)
    batches: list[list[Task]] = [[]]
    held = 0
    for task in tasks:
        if batches[-1] and (held + sizes[task] > limit or len(batches[-1]) >= BATCH_FILES):
            batches.append([])
            held = 0
        batches[-1].append(task)
        held += sizes[task]
    return batches


def _read_here(root: HostRoot, path: Path) -> bool:
    """Whether the main process reads this file itself: an OpenStack service's log, by its name."""
    service = service_of_name(str(path.relative_to(root.folder)))
    return service is not None and service not in _SKIMMED_SERVICES


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def classify(
    logdir: Path, catalog: Catalog, since: datetime | None, until: datetime | None,
    workers: int | None = None, clock_offsets: bool = True, lines_of: frozenset[str] | None = None,
) -> tuple[list[HostInfo], Classifier]:
    """One streaming pass over the log folder's window, its files read side by side by
    ``workers`` processes (default: one per core, for a folder big enough) and merged in
    folder order, so the result is the same as one process reading them one after another.
    ``lines_of``: the services whose request spans keep every line (None: all; Classifier)."""
    roots = find_hosts(logdir)
    for root in roots:  # False: each host's lines on its own clock (the offsets kept, not applied)
        root.info.clock_offset_applied = clock_offsets
    hosts = Hosts(roots)
    classifier = Classifier(catalog, lines_of)
    tasks = [(r, f) for r, root in enumerate(roots) for f in range(len(root.files))]
    sizes = {task: _size(roots[task[0]].files[task[1]]) for task in tasks}
    if workers is None:
        workers = cores() if sum(sizes.values()) >= PARALLEL_MIN_BYTES else 1
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        for r, f in tasks:
            classifier.absorb(_read_part(roots[r], roots[r].files[f], catalog, since, until, hosts)
                              .classifier)
    else:
        _read_side_by_side(roots, tasks, sizes, workers, catalog, since, until, hosts, classifier)
    hosts_seen = hosts.listed
    _note_services(classifier, hosts_seen)
    return hosts_seen, classifier


def _read_side_by_side(
    roots: list[HostRoot], tasks: list[Task], sizes: dict[Task, int], workers: int,
    catalog: Catalog, since: datetime | None, until: datetime | None, hosts: Hosts,
    classifier: Classifier,
) -> None:
    """The files read by ``workers`` processes, this one among them, into ``classifier``.

    The workers read the logs most of whose lines are only counted; this process reads
    those whose lines mostly carry request ids (OpenStack's services): each of their
    lines becomes a record, which would cost more to send here than to read here.
    It reads workers' batches too when it would wait (_Shares): the pool has one
    process less than the readers."""
    here = {task for task in tasks if _read_here(roots[task[0]], roots[task[0]].files[task[1]])}
    batches = _batches([t for t in tasks if t not in here], sizes, workers)
    batch_of = {task: index for index, batch in enumerate(batches) for task in batch}
    with ProcessPoolExecutor(workers - 1, initializer=_worker_init,
                             initargs=(roots, catalog, since, until)) as pool:
        shares = _Shares(pool, batches, roots, catalog, since, until)
        arrived: dict[Task, _FilePart] = {}
        for task in tasks:  # merged in folder order
            root = roots[task[0]]
            if task in here:
                classifier.absorb(_read_part(root, root.files[task[1]], catalog, since, until,
                                             hosts).classifier)
                continue
            if task not in arrived:  # its batch's parts go once merged (memory)
                arrived.update(zip(batches[batch_of[task]], shares.parts(batch_of[task]), strict=True))
            part = arrived.pop(task)
            for name, stats in part.sources:
                info = hosts.add(root.info) if name == root.info.name else hosts.named(name)
                info.sources.append(stats)
            classifier.absorb(part.classifier)


def _note_services(classifier: Classifier, hosts_seen: list[HostInfo]) -> None:
    """What the classifier is told of the folder once read: the services present (silent
    ones included) and whether any host's logs are incomplete."""
    classifier.present = {s.service for host in hosts_seen for s in host.sources if s.service}
    # A service whose log the host has but that wrote nothing in the window (stopped, stuck,
    # or not asked) runs in this cloud all the same: its stages are not "not run here".
    silent = {service_of_name(path.lstrip("/")) for host in hosts_seen for path in host.silent_logs}
    classifier.silent = {name for name in silent if name and name not in classifier.services}
    classifier.present |= classifier.silent
    classifier.incomplete = any(not host.reachable or host.missing or host.damaged
                                for host in hosts_seen)
