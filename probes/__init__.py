"""bootlab probes: launch instances on a bootlab cloud and time their boot.

Collecting (the API, later SSH) never parses; parsing never touches the
network; reports are pure functions of result records.

Modules:
  cli        the ``bootprobe`` command, a thin argparse layer: calls the library, prints
  arguments  the command line's options and help texts
  run        ``bootprobe run``: the whole pipeline (run_boots), Ctrl-C included
  offline    ``bootprobe analyze``: the result of a log folder alone
  progress   how a long command reports its steps (and the command's stderr spinner)
  views      result renderers, registered by format name
  smoke      ``bootprobe smoke``: one boot, end to end
  launch     openstacksdk work: connect, authenticate, boot, clean up
  guest      parse the probe guest's console output
  trace      timed actions and the HTTP exchanges made in them
  records    the dataclasses every other module exchanges
  report     render results as text or JSON
"""
