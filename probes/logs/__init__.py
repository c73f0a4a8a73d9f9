"""Reading lab logs: formats (one line at a time), sources (which service wrote
a file or a journald entry) and the streaming reader of a collected log folder."""
