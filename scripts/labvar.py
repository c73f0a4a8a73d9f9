#!/usr/bin/env python3
"""Print one templated inventory variable of the lab (as seen from localhost).

    scripts/labvar.py -i inventory/local bootlab_clouds_yaml
"""
import argparse
import json
import os
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", default="inventory/local")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("variable")
    args = parser.parse_args()
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    proc = subprocess.run(
        [ansible, "-i", args.inventory, args.host, "-m", "ansible.builtin.debug",
         "-a", f"msg={{{{ {args.variable} | to_json }}}}"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json",
             "ANSIBLE_CALLBACKS_ENABLED": ""},
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        return proc.returncode
    result = json.loads(proc.stdout)
    msg = result["plays"][0]["tasks"][0]["hosts"][args.host]["msg"]
    value = json.loads(msg) if isinstance(msg, str) else msg
    print(value if isinstance(value, str) else json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
