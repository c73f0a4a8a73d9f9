"""Render a dict of INI sections, as OpenStack services read them.

``{"DEFAULT": {"debug": True}, "database": {"connection": "mysql+pymysql://..."}}``
becomes an INI text with the sections in the order given. Booleans are written
``true``/``false``, lists comma-joined, ``None`` values are left out so an
override can remove an option.
"""


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def bootlab_ini(sections, header="Managed by bootlab (Ansible): local edits are overwritten."):
    lines = [f"# {header}"] if header else []
    for section, options in sections.items():
        lines.append("")
        lines.append(f"[{section}]")
        for key, value in (options or {}).items():
            if value is None:
                continue
            lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


class FilterModule:
    def filters(self):
        return {"bootlab_ini": bootlab_ini}
