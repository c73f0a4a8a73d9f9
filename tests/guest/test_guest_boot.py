"""Build the probe guest with roles/probe_guest/files/build-guest.sh and boot it under QEMU TCG.

- test_lease_under_slirp: plain user-mode networking; the guest must print its BOOTLAB-LEASE
  line (slirp hands out 10.0.2.15/24, router and server 10.0.2.2, no option 121).
- test_metadata_through_slirp_guestfwd: slirp's network moved to 169.254.0.0/16 so that a
  guestfwd rule can answer on 169.254.169.254:80; the guest must print the served JSON between
  BOOTLAB-METADATA-BEGIN/END, then BOOTLAB-READY.
- test_isolated_metadata_route_via_dhcp_option_121: needs root, dnsmasq and /dev/net/tun;
  mimics Neutron's isolated metadata (no router, option 121 route 169.254.169.254/32 via the
  DHCP port) with dnsmasq and an HTTP server in a private network namespace.

Set BOOTLAB_GUEST_DIR to a directory holding vmlinuz and initrd.img to skip the build.
The build needs a Debian host with apt lists (apt-get download), dpkg-deb and cpio.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "roles" / "probe_guest" / "files" / "build-guest.sh"
QEMU = shutil.which("qemu-system-x86_64")

LEASE_RE = re.compile(
    r"BOOTLAB-LEASE ip=(?P<ip>\S+) mask=(?P<mask>\S+) router=(?P<router>\S+) "
    r"server=(?P<server>\S+) staticroutes=(?P<staticroutes>.+?)\r?$",
    re.M,
)
METADATA_RE = re.compile(
    r"^BOOTLAB-METADATA-BEGIN\r?\n(?P<body>.*?)\r?\nBOOTLAB-METADATA-END\r?$", re.M | re.S
)

pytestmark = pytest.mark.skipif(
    QEMU is None, reason="qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
)


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    prebuilt = os.environ.get("BOOTLAB_GUEST_DIR")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("guest")
    start = time.monotonic()
    subprocess.run([str(BUILD_SCRIPT), "build", str(out)], check=True, timeout=300)
    print(f"\nbuild: {time.monotonic() - start:.1f} s, "
          + ", ".join(f"{f}={(out / f).stat().st_size}" for f in ("vmlinuz", "initrd.img", "disk.raw")))
    for f in ("vmlinuz", "initrd.img", "disk.raw"):
        assert (out / f).is_file(), f
    return out


def qemu_argv(guest_dir, netdev, append="console=ttyS0"):
    return [
        QEMU, "-accel", "tcg", "-m", "256", "-no-reboot", "-nographic",
        "-kernel", str(guest_dir / "vmlinuz"), "-initrd", str(guest_dir / "initrd.img"),
        "-append", append,
        "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
    ]


def boot_until(argv, log, pattern, timeout=90):
    """Run argv with its console in `log` until `pattern` shows up; return (text, seconds)."""
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            text = log.read_bytes().decode("utf-8", "replace")
            if re.search(pattern, text, re.M):
                return text, time.monotonic() - start
            if proc.poll() is not None:
                pytest.fail(f"qemu exited with {proc.returncode} before {pattern!r}:\n{text[-3000:]}")
            if time.monotonic() - start > timeout:
                pytest.fail(f"no {pattern!r} within {timeout} s:\n{text[-3000:]}")
            time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_lease_under_slirp(guest, tmp_path):
    text, took = boot_until(qemu_argv(guest, "user,id=n0"), tmp_path / "console.log",
                            r"^BOOTLAB-LEASE ")
    print(f"\nslirp: lease after {took:.1f} s")
    lease = LEASE_RE.search(text).groupdict()
    assert lease == {"ip": "10.0.2.15", "mask": "255.255.255.0", "router": "10.0.2.2",
                     "server": "10.0.2.2", "staticroutes": "none"}


# Answers one HTTP request on the guestfwd connection (stdin/stdout) with a fixed JSON body.
SERVE_ONE = """\
import sys
while True:
    line = sys.stdin.buffer.readline()
    if not line or line in (b"\\r\\n", b"\\n"):
        break
body = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"HTTP/1.0 200 OK\\r\\nContent-Type: application/json\\r\\n"
                        b"Content-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body) + body)
sys.stdout.buffer.flush()
"""


def test_metadata_through_slirp_guestfwd(guest, tmp_path):
    body = '{"uuid": "%s", "name": "bootlab-probe"}' % uuid.uuid4()
    (tmp_path / "meta_data.json").write_text(body)
    (tmp_path / "serve.py").write_text(SERVE_ONE)
    cmd = f"{sys.executable} {tmp_path / 'serve.py'} {tmp_path / 'meta_data.json'}"
    assert "," not in cmd
    netdev = f"user,id=n0,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-cmd:{cmd}"
    text, took = boot_until(qemu_argv(guest, netdev), tmp_path / "console.log", r"^BOOTLAB-READY")
    print(f"\nslirp+guestfwd: ready after {took:.1f} s")
    assert LEASE_RE.search(text)
    assert "BOOTLAB-METADATA-FAILED" not in text
    assert METADATA_RE.search(text).group("body") == body


def _netns_prereqs():
    if os.geteuid() != 0:
        return "needs root (network namespace, tap device)"
    for tool in ("ip", "dnsmasq"):
        if not shutil.which(tool):
            return f"{tool} is missing (apt-get install iproute2 dnsmasq-base)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    return None


@pytest.mark.skipif(_netns_prereqs() is not None, reason=str(_netns_prereqs()))
def test_isolated_metadata_route_via_dhcp_option_121(guest, tmp_path):
    ns = f"bootlab-guest-test-{os.getpid()}"
    tap = "bgtap0"
    www = tmp_path / "www" / "openstack" / "latest"
    www.mkdir(parents=True)
    body = '{"uuid": "%s", "hostname": "probe"}' % uuid.uuid4()
    (www / "meta_data.json").write_text(body)

    def nsrun(*argv):
        subprocess.run(["ip", "netns", "exec", ns, *argv], check=True)

    procs = []
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        nsrun("ip", "link", "set", "lo", "up")
        nsrun("ip", "tuntap", "add", "dev", tap, "mode", "tap")
        # like Neutron's DHCP port: subnet address plus the metadata address
        nsrun("ip", "addr", "add", "10.99.0.2/24", "dev", tap)
        nsrun("ip", "addr", "add", "169.254.169.254/32", "dev", tap)
        nsrun("ip", "link", "set", tap, "up")
        dnsmasq_log = tmp_path / "dnsmasq.log"
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, "dnsmasq", "--no-daemon", "--port=0", "--log-dhcp",
             f"--interface={tap}", "--bind-interfaces",
             "--dhcp-range=10.99.0.10,10.99.0.50,255.255.255.0,1h",
             "--dhcp-option=3",  # no router, as for a subnet with --gateway none
             "--dhcp-option=121,169.254.169.254/32,10.99.0.2",
             f"--dhcp-leasefile={tmp_path / 'leases'}"],
            stdout=open(dnsmasq_log, "wb"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server",
             "--bind", "169.254.169.254", "--directory", str(tmp_path / "www"), "80"],
            stdout=open(tmp_path / "http.log", "wb"), stderr=subprocess.STDOUT))
        time.sleep(0.5)
        argv = ["ip", "netns", "exec", ns] + qemu_argv(
            guest, f"tap,id=n0,ifname={tap},script=no,downscript=no", "console=ttyS0 quiet")
        text, took = boot_until(argv, tmp_path / "console.log", r"^BOOTLAB-READY")
        print(f"\nnetns+dnsmasq: ready after {took:.1f} s")
        lease = LEASE_RE.search(text)
        assert lease, text[-3000:]
        assert lease["mask"] == "255.255.255.0"
        assert lease["router"] == "none"
        assert lease["server"] == "10.99.0.2"
        assert lease["staticroutes"] == "169.254.169.254/32 10.99.0.2"
        assert METADATA_RE.search(text).group("body") == body
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", ns], check=False)
