"""Turn collected logs and client records into the result file (bootlab.run/1).

Pure: reads a log folder and plain records, returns the result (:class:`probes.records.Result`,
a dict; its JSON schema is ``probes/data/result.schema.json``).  The logs are streamed once
for all boots (only the union of the boots' windows is read).  The work is done by:

* :mod:`probes.reading`: the one pass over the folder, its files read side by side;
* :mod:`probes.boots`: the boots found in the logs, each boot's keys, window and last lines,
  and the boots.json a run hands over;
* :mod:`probes.correlate`: each stage's evidence for a boot;
* :mod:`probes.result`: the result's dicts, and :mod:`probes.summary` its summary.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from probes.boots import (
    WINDOW_SLACK,
    boots_in,
    keys_for,
    server_deletes,
    until_stopped,
    window_from_logs,
)
from probes.catalog import Catalog
from probes.correlate import (
    Classifier,
    EventIndex,
    SettingState,
    boot_window,
    request_services,
    resolve_boot,
    resolve_segments,
    setting_states,
)
from probes.reading import classify, few_collections
from probes.records import BootInput, BootResult, Result
from probes.result import boot_result, run_result, unanalysed_boot, unanalysed_result
from probes.segments import boot_accounting

__all__ = ["analyze", "find_boots", "unanalysed"]


def analyze(
    logdir: Path, boots: list[BootInput] | None, catalog: Catalog,
    since: datetime | None = None, until: datetime | None = None, clock_offsets: bool = True,
    workers: int | None = None,
) -> Result:
    """The result for these boots from the logs under ``logdir``.

    ``boots=None``: the boots are every instance nova-compute started within
    [since, until], found in the same pass over the logs.  ``clock_offsets=False``
    leaves each host's lines on its own clock (to see what the offsets change).
    ``workers``: processes reading the files (default: one per core when the folder
    is big enough).
    """
    windows = [w for b in boots or () if (w := boot_window(b.client, WINDOW_SLACK * 2))]
    if windows and since is None:
        since = min(w[0] for w in windows)
    if windows and until is None:
        until = max(w[1] for w in windows)
    with few_collections():
        hosts, classifier = classify(logdir, catalog, since, until, workers, clock_offsets,
                                     _lines_kept(boots, catalog))
    if boots is None:
        boots = boots_in(classifier)
    states = setting_states(catalog, classifier)  # one cloud: the same for every boot
    index = EventIndex(classifier)  # likewise
    deletes = server_deletes(index)
    results = [_boot(boot, catalog, classifier, states, index, deletes) for boot in boots]
    return run_result(results, hosts, catalog, states, classifier.records)


def _boot(
    boot: BootInput, catalog: Catalog, classifier: Classifier, states: dict[str, SettingState],
    index: EventIndex, deletes: dict[str, datetime],
) -> BootResult:
    """One boot: its keys, its window (cut at its server's teardown), its stages' evidence."""
    keys = keys_for(boot, classifier)
    teardown = deletes.get(keys.server_id) if keys.server_id else None
    keys.window = until_stopped(
        boot_window(boot.client, WINDOW_SLACK) or window_from_logs(keys, index),
        min(filter(None, (boot.stopped_at, teardown)), default=None))
    findings = resolve_boot(catalog, classifier, keys, states, index)
    result = boot_result(boot, findings, keys, classifier)
    segments = resolve_segments(catalog, classifier, keys, findings, index)
    result["accounting"] = boot_accounting(result["stages"], segments)
    return result


def _lines_kept(boots: list[BootInput] | None, catalog: Catalog) -> frozenset[str] | None:
    """The services whose request spans must keep every line (None: all): those a stage's
    selector reads line by line; every service's when a failed boot's last lines are
    bounded by a client time (:func:`probes.boots.last_lines` may then take any line before it)."""
    if any(boot.outcome != "ok" and (boot.stopped_at or boot.ended_at) is not None
           for boot in boots or ()):
        return None
    return request_services(catalog)


def find_boots(logdir: Path, catalog: Catalog, since: datetime | None,
               until: datetime | None) -> list[BootInput]:
    """Boots in a log folder: every instance nova-compute started in the window."""
    with few_collections():
        return boots_in(classify(logdir, catalog, since, until)[1])


def unanalysed(boots: list[BootInput], catalog: Catalog, reason: str) -> Result:
    """A result for boots whose logs were not analysed (Ctrl-C during collection or
    analysis): what the client saw of each, every stage unobserved for ``reason``."""
    return unanalysed_result([unanalysed_boot(boot, catalog, reason) for boot in boots])
