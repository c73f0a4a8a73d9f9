"""probes.cluster without a cluster: the JSON the Pacific monitors return
(shapes recorded from the lab's `ceph mon dump / osd stat / health -f json`)
and a clear error where the bindings are absent."""
import sys
from datetime import datetime, timezone

import pytest

from probes.cluster import cluster_state, import_rados, read_cluster
from probes.errors import ConfigError

MON_DUMP = {"epoch": 2, "fsid": "6c4a532e-4dbe-5953-9842-fcbe8b3b00a5", "min_mon_release": 16,
            "mons": [{"rank": 0, "name": "bootlab1",
                      "public_addrs": {"addrvec": [{"type": "v2", "addr": "10.233.0.2:3300", "nonce": 0},
                                                   {"type": "v1", "addr": "10.233.0.2:6789", "nonce": 0}]},
                      "addr": "10.233.0.2:6789/0"}]}
OSD_STAT = {"epoch": 30, "num_osds": 1, "num_up_osds": 1, "osd_up_since": 1795678490, "num_in_osds": 1,
            "osd_in_since": 1795678490, "num_remapped_pgs": 0}
HEALTH = {"status": "HEALTH_WARN", "checks": {"MON_DISK_LOW": {
    "severity": "HEALTH_WARN", "summary": {"message": "mon bootlab1 is low on available space", "count": 1},
    "muted": False}}, "mutes": []}


def test_cluster_state_from_monitor_json():
    at = datetime(2026, 11, 26, 7, 40, tzinfo=timezone.utc)
    state = cluster_state(at, MON_DUMP, OSD_STAT, HEALTH)
    assert state.fsid == "6c4a532e-4dbe-5953-9842-fcbe8b3b00a5"
    assert state.mon_epoch == 2 and state.osd_epoch == 30
    assert state.monitors[0].addresses == ["10.233.0.2:3300", "10.233.0.2:6789"]
    assert (state.num_osds, state.num_up_osds, state.num_in_osds) == (1, 1, 1)
    assert state.checks == {"MON_DISK_LOW": "mon bootlab1 is low on available space"}
    assert state.to_dict()["collected_at"] == "2026-11-26T07:40:00.000000+00:00"


def test_osd_stat_nested_in_osdmap():
    state = cluster_state(datetime.now(timezone.utc), MON_DUMP, {"osdmap": OSD_STAT}, {"status": "HEALTH_OK"})
    assert state.osd_epoch == 30 and state.health == "HEALTH_OK" and state.checks == {}


def test_missing_bindings_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rados", None)  # makes `import rados` fail
    with pytest.raises(ConfigError) as err:
        import_rados()
    assert "python3-rados" in err.value.message
    assert "--system-site-packages" in err.value.hint


def test_missing_conf_is_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        read_cluster(tmp_path / "ceph.conf", tmp_path / "k")
    assert str(tmp_path / "ceph.conf") in err.value.message
