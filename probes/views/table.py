"""The terminal view of a result: one table per boot and a summary (rich)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from probes.views import SHOWN_SHARE, clock_offset_lines, critical_pieces

_STYLE = {"measured": "green", "proxy": "yellow", "unobserved": "red"}
UNATTRIBUTED_SHOWN = 20
LAST_LINES_SHOWN = 4  # of a failed or interrupted boot: the last line of its latest services


def _hms(iso: str | None) -> str:
    return iso[11:26] if iso else "-"


def _secs(value: float | None) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def boot_table(boot: Mapping[str, Any]) -> Table:
    title = (f"boot {boot['index']}  {boot.get('server_id') or '(no server)'}  {boot['outcome']}"
             + (f" at stage {boot['failed_stage']}" if boot.get("failed_stage") else "")
             + (f" before stage {boot['interrupted_at']}" if boot.get("interrupted_at") else ""))
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"), ("actor -> target", "left"), ("action", "left"), ("status", "left"),
        ("witness", "left"), ("start (UTC)", "left"), ("+s", "right"), ("dur s", "right"),
        ("evidence / reason", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    for stage in boot["stages"]:
        status = stage["status"]
        if status == "unobserved":
            why = stage.get("reason") or ""
        else:
            why = "; ".join(f"{e['host']}:{e['source'].split()[0]}" for e in stage["evidence"][:2])
        table.add_row(
            str(stage["number"]), f"{stage['actor']} -> {stage['target']}", stage["action"],
            f"[{_STYLE.get(status, '')}]{status}[/]", stage.get("witness") or "-",
            _hms(stage.get("start")),
            _secs(stage.get("offset_s")), _secs(stage.get("duration_s")),
            Text(why[:160]),  # a reason quotes log lines: their [req-...] is no markup
        )
    return table


def summary_table(result: Mapping[str, Any]) -> Table:
    table = Table(title="summary across boots", title_justify="left")
    for name in ("#", "action", "n", "p50 s", "p95 s", "max s"):
        table.add_column(name, justify="left" if name == "action" else "right")
    actions: dict[int, str] = {}
    for boot in result.get("boots", []):
        for stage in boot["stages"]:
            actions.setdefault(stage["number"], stage["action"])
    for row in result.get("summary", {}).get("stages", []):
        table.add_row(str(row["number"]), actions.get(row["number"], ""), str(row["count"]),
                      _secs(row["p50_s"]), _secs(row["p95_s"]), _secs(row["max_s"]))
    for label, key in (("end to end (auth -> metadata)", "end_to_end"),
                       ("client: create -> ACTIVE", "time_to_active"),
                       ("critical path (stages 4-54)", "critical_path")):
        agg = result.get("summary", {}).get(key) or {}
        table.add_row("", label, str(agg.get("count", 0)), _secs(agg.get("p50_s")),
                      _secs(agg.get("p95_s")), _secs(agg.get("max_s")))
    return table


def time_went_table(boot: Mapping[str, Any]) -> Table | None:
    """The boot's critical path (docs/accounting.md): its segments with their seconds and
    share of the end-to-end time, the small ones folded into one row."""
    accounting = boot.get("accounting")
    if not accounting:
        return None
    total = accounting["end_to_end_s"] or 0.0
    table = Table(title=(f"where the time went: boot {boot['index']}, {total:.3f} s end to end, "
                         f"{accounting['attributed_share'] * 100:.1f} % attributed "
                         f"({accounting['unexplained_s']:.3f} s unexplained); the critical path:"),
                  title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("segment", "left"), ("kind", "left"), ("where", "left"), ("s", "right"), ("share", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    shown, folded, folded_s = critical_pieces(boot)
    for segment in shown:
        where = f"{segment['host']} {segment['service']}".strip() or "-"
        table.add_row(Text(segment["name"]), segment["kind"], where,
                      _secs(segment["critical_s"]), _share(segment["critical_s"], total))
    if folded:
        table.add_row(f"{folded} more, under {SHOWN_SHARE:.0%} each", "", "",
                      _secs(folded_s), _share(folded_s, total))
    return table


def _share(part: float, total: float) -> str:
    return f"{part / total * 100:.1f} %" if total else "-"


def unobserved_segment_lines(boot: Mapping[str, Any]) -> list[str]:
    accounting = boot.get("accounting") or {}
    return [f"segment not seen: {m['name']}: {m['reason']}"
            for m in accounting.get("unobserved") or []]


def segments_summary_table(result: Mapping[str, Any]) -> Table | None:
    """Across boots: the stages and segments on the critical path, by their p50 there."""
    summary = result.get("summary") or {}
    rows = [s for s in summary.get("segments") or [] if (s["critical"]["p50_s"] or 0) > 0]
    if not rows:
        return None
    share = summary.get("attributed_share") or {}
    table = Table(title=(f"where the time went across boots: attributed p50 "
                         f"{(share.get('p50') or 0) * 100:.1f} %, min "
                         f"{(share.get('min') or 0) * 100:.1f} %; on the critical path:"),
                  title_justify="left")
    for name in ("segment", "kind", "n", "p50 s", "p95 s", "share p50", "share p95"):
        table.add_column(name, justify="left" if name in ("segment", "kind") else "right")
    for row in sorted(rows, key=lambda r: -(r["critical"]["p50_s"] or 0)):
        if (row["share_p50"] or 0) < SHOWN_SHARE:
            continue
        table.add_row(Text(row["name"]), row["kind"], str(row["count"]),
                      _secs(row["critical"]["p50_s"]), _secs(row["critical"]["p95_s"]),
                      _pct(row["share_p50"]), _pct(row["share_p95"]))
    return table


def _pct(share: float | None) -> str:
    return f"{share * 100:.1f} %" if share is not None else "-"


def counts(boot: Mapping[str, Any]) -> str:
    measured = sum(1 for s in boot["stages"] if s["status"] == "measured")
    proxy = sum(1 for s in boot["stages"] if s["status"] == "proxy")
    return (f"boot {boot['index']}: {measured} measured + {proxy} proxy of "
            f"{len(boot['stages'])} stages; end to end {_secs(boot.get('end_to_end_s'))} s, "
            f"client create->ACTIVE {_secs(boot['client'].get('time_to_active_s'))} s, "
            f"critical path {_secs(boot.get('critical_path_s'))} s")


def unattributed_lines(files: list[Mapping[str, Any]], shown: int = UNATTRIBUTED_SHOWN) -> list[str]:
    """The header's list of the files no service was found for (the rest are in the result)."""
    if not files:
        return []
    lines = [f"{len(files)} file(s) not attributed to a service (not used):"]
    lines += [f"  {f['host']} {f['path']}: {f['why']}" for f in files[:shown]]
    if len(files) > shown:
        lines.append(f"  ... {len(files) - shown} more (the result's 'unattributed')")
    return lines


STACK_LINES_SHOWN = 40


def stack_lines(stacks: list[Mapping[str, Any]]) -> list[str]:
    """The threads of a stuck service in a build (its Guru Meditation report), or why none."""
    lines = []
    for stack in stacks:
        where = f"{stack['unit']} on {stack['host']}"
        if stack.get("error"):
            lines.append(f"stack of {where}: none ({stack['error']})")
        for thread in stack.get("threads") or []:
            lines.append(f"stack of {where} (Guru Meditation report), a thread in the build:")
            lines += [f"  {line}" for line in thread[:STACK_LINES_SHOWN]]
    return lines


def damaged_lines(hosts: list[Mapping[str, Any]]) -> list[str]:
    """The files that could be read only in part (a damaged or truncated gzip, a rotation
    that left no copy), named with why: their lines past the damage are not in the report."""
    lines = []
    for host in hosts:
        for item in host.get("damaged") or []:
            lines.append(f"  {host['name']} {item['path']}: {item['why']}")
        for source in host.get("sources") or []:
            if (source.get("note") or "").startswith("read stopped"):
                lines.append(f"  {host['name']} {source['path']}: {source['note']}")
    return ["log files read in part:", *lines] if lines else []


def missing_settings_lines(settings: list[Mapping[str, Any]]) -> list[str]:
    """The evidence settings the logs show switched off (their stages say what they lose)."""
    off = [s for s in settings if s.get("on") is False]
    if not off:
        return []
    return ["evidence settings off in this cloud (stages that need them are proxies or unobserved):",
            *(f"  - {s['what']}" + (f" (off in: {', '.join(s['off_in'])})" if s.get("off_in") else "")
              for s in off)]


def host_line(host: Mapping[str, Any]) -> str:
    """How a host's logs were collected, its clock offset (and whether it was applied)."""
    if not host.get("reachable", True):
        state = f"NOT COLLECTED: {host.get('error')}"
    elif host.get("error"):
        state = f"COLLECTED IN PART: {host['error']}"
    else:
        state = "ok"
    rtt = host.get("clock_rtt_s")
    return (f"host {host['name']} ({host.get('address') or '-'}): {state}; "
            f"clock offset {host.get('clock_offset_s', 0):+.4f} s"
            + (f" \u00b1{rtt * 500:.1f} ms" if isinstance(rtt, (int, float)) else "")
            + ("" if host.get("clock_offset_applied", True) else " (not applied)"))


def print_boot(console: Console, boot: Mapping[str, Any]) -> None:
    """A boot's stage table, the error that ended it, the last lines seen for it, its counts."""
    console.print(boot_table(boot))
    if boot.get("error"):
        error = boot["error"]
        console.print(f"error: {error.get('host')} {error.get('source')}: {error.get('line')}",
                      markup=False, highlight=False)  # a log line: its [req-...] is no style
    for n, last in enumerate((boot.get("last_lines") or [])[:LAST_LINES_SHOWN]):
        # latest first: where the boot's request thread was last seen, service by service
        console.print(f"{'last line seen for it' if n == 0 else '  before that'}: "
                      f"{last.get('host')} {last.get('source')} {_hms(last.get('at'))}: "
                      f"{(last.get('line') or '')[:400]}", markup=False, highlight=False)
    console.print(counts(boot))
    went = time_went_table(boot)
    if went is not None:
        console.print(went)
    for line in unobserved_segment_lines(boot):
        console.print(line, markup=False, highlight=False)


def render_table(result: Mapping[str, Any], width: int = 200) -> str:
    """The whole terminal report as text (no colour when not on a terminal)."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    for host in result.get("hosts", []):
        console.print(host_line(host), highlight=False)
    for line in damaged_lines(result.get("hosts") or []):
        console.print(line, markup=False, highlight=False)
    for line in clock_offset_lines(result.get("hosts") or []):
        console.print(line, highlight=False)
    bad = result.get("bad_lines", {})
    if bad.get("total"):
        console.print(f"lines no format recognised: {bad['total']} {bad.get('by_source')}")
    for line in unattributed_lines(result.get("unattributed") or []):
        console.print(line, highlight=False)
    for line in missing_settings_lines(result.get("evidence_settings") or []):
        console.print(line, highlight=False)
    for boot in result.get("boots", []):
        print_boot(console, boot)
    for line in stack_lines(result.get("stacks") or []):
        console.print(line, markup=False, highlight=False)
    console.print(summary_table(result))
    across = segments_summary_table(result)
    if across is not None:
        console.print(across)
    if result.get("message"):
        console.print(f"{result.get('outcome')}: {result['message']}", markup=False, highlight=False)
    return out.getvalue()
