#!/bin/bash
# Install what the control machine needs: Debian packages, then a virtualenv
# with the Python dependencies and the probe package. Idempotent.
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."

debs=(python3-venv python3-dev python3-rados python3-rbd
      debootstrap systemd-container apt-cacher-ng iproute2 openssh-client
      qemu-system-x86 qemu-utils cpio dnsmasq-base chromium
      openssh-server)  # the collection tests' throw-away sshd (tests/support/sshd.py)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: run as root (or install these packages yourself): ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -r requirements.txt
"$venv/bin/pip" install -q -e .
