"""bootlab probes: launch instances on a bootlab cloud and time their boot.

Collecting (the API, later SSH) never parses; parsing never touches the
network; reports are pure functions of result records.

Modules:
  cli      the ``bootprobe`` command, a thin argparse layer
  smoke    ``bootprobe smoke``: one boot, end to end
  launch   openstacksdk work: connect, authenticate, boot, clean up
  guest    parse the probe guest's console output
  trace    timed actions and the HTTP exchanges made in them
  records  the dataclasses every other module exchanges
  report   render results as text or JSON
"""
