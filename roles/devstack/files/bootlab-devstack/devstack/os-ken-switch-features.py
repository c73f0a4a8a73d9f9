"""Patch os-ken's OfctlService so the OVS agent's OpenFlow app cannot hang at start.

os-ken (4.1.2, the stable/2026.1 pin; 4.2.1 too) dispatches EventOFPSwitchFeatures
to OfctlService and to OFPHandler. OfctlService's handler reads ``datapath.id``,
which OFPHandler sets from the same message; under the native-thread hub the
service's handler can run first, finds ``None`` and its ``assert`` raises. The
exception ends that app's event loop silently, and neutron-openvswitch-agent
waits forever for the bridge's datapath (no agent in ``network agent list``).
Keying the handler on the message's own ``datapath_id`` removes the race.
Idempotent: prints what it did.
"""
import importlib.util
import sys

OLD = "        datapath = ev.msg.datapath\n        id = datapath.id\n        assert isinstance(id, numbers.Integral)\n"
NEW = ("        datapath = ev.msg.datapath\n"
       "        id = ev.msg.datapath_id  # bootlab: not datapath.id, set by OFPHandler (race)\n"
       "        assert isinstance(id, numbers.Integral)\n")


def main() -> int:
    try:
        spec = importlib.util.find_spec("os_ken.app.ofctl.service")
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.origin:
        print("os-ken is not installed: nothing to patch")
        return 0
    path = spec.origin
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if NEW in text:
        print(f"{path}: already patched")
        return 0
    if OLD not in text:
        print(f"{path}: the switch-features handler is not the one this patch knows; left alone")
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(OLD, NEW, 1))
    print(f"{path}: patched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
