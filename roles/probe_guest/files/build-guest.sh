#!/bin/bash
# build-guest.sh - build the bootlab probe guest from Debian packages, no image download.
#
#   build-guest.sh key              print the build key: this script's sha256 plus the exact
#                                   kernel and busybox-static package versions apt would fetch
#   build-guest.sh build OUTDIR     build OUTDIR/{vmlinuz,initrd.img,disk.raw} and write the
#                                   key to OUTDIR/build.stamp (last, so a failed build reruns)
#
# The kernel is the concrete linux-image-<abi>-amd64 package that the metapackage
# (BOOTLAB_KERNEL_METAPACKAGE, default linux-image-amd64) depends on; it and busybox-static are
# fetched with `apt-get download` and unpacked with dpkg-deb (from the kernel package only
# vmlinuz and the few modules the guest loads), never installed. The
# initramfs (newc cpio, gzip) holds busybox, the virtio-net modules of that same kernel
# (decompressed at build time if the package ships them compressed), /init and a udhcpc script.
# Needs: apt-get, apt-cache, dpkg-deb, tar, cpio, gzip, sha256sum (xz/zstd only for compressed .ko).
set -euo pipefail

KERNEL_METAPACKAGE=${BOOTLAB_KERNEL_METAPACKAGE:-linux-image-amd64}
BUSYBOX_PACKAGE=${BOOTLAB_BUSYBOX_PACKAGE:-busybox-static}
# insmod order that works with Debian's bookworm kernel
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
DISK_SIZE=1M

die() { echo "build-guest: $*" >&2; exit 1; }

# candidate version of a package, or die
candidate() {
    local v
    v=$(apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
    [ -n "$v" ] || die "no candidate for $1 (apt lists up to date?)"
    printf '%s\n' "$v"
}

# "pkg=version" of the kernel image and of busybox, as apt would fetch them now
resolve_inputs() {
    local kpkg
    kpkg=$(apt-cache show --no-all-versions "$KERNEL_METAPACKAGE" 2>/dev/null \
        | sed -n 's/^Depends: //p' | head -n1 | grep -o 'linux-image-[0-9][^ ,(]*' | head -n1) || true
    [ -n "$kpkg" ] || die "cannot resolve the kernel package behind $KERNEL_METAPACKAGE"
    printf '%s=%s %s=%s\n' "$kpkg" "$(candidate "$kpkg")" \
        "$BUSYBOX_PACKAGE" "$(candidate "$BUSYBOX_PACKAGE")"
}

build_key() {
    local self
    self=$(sha256sum "$0" | cut -d' ' -f1)
    printf 'script=%s %s\n' "$self" "$(resolve_inputs)"
}

write_init() {
    cat >"$1" <<'EOF'
#!/bin/sh
# bootlab probe guest /init. PID 1 must never exit (kernel panic): it idles at the end.
PATH=/bin
export PATH
/bin/busybox mkdir -p /proc /sys /dev /run /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
# keep kernel messages from interleaving with the marker lines
echo 1 >/proc/sys/kernel/printk
exec </dev/console >/dev/console 2>&1

# /dev/console is the last console of the cmdline; copy the markers to ttyS0 as well when
# /dev/console is something else, so the serial log (Nova's console.log) always has them.
EXTRA_TTY=
active=$(cat /sys/class/tty/console/active 2>/dev/null)
case " $active " in
    *" ttyS0 ") ;;
    *) [ -c /dev/ttyS0 ] && EXTRA_TTY=/dev/ttyS0 ;;
esac
say() {
    printf '%s\n' "$*"
    [ -n "$EXTRA_TTY" ] && printf '%s\n' "$*" 2>/dev/null >"$EXTRA_TTY"
    return 0
}
idle() {
    while :; do sleep 3600; done
}
# firmware output on the serial line may end without a newline: start on a fresh line
say ""

for m in $(cat /etc/modules); do
    insmod "/lib/modules/$m.ko" 2>/dev/null
done

n=0
while [ ! -e /sys/class/net/eth0 ] && [ "$n" -lt 50 ]; do
    sleep 0.2
    n=$((n + 1))
done
ip link set lo up
ip link set eth0 up

rm -f /run/lease.env
n=0
while [ ! -s /run/lease.env ] && [ "$n" -lt 3 ]; do
    udhcpc -f -q -n -t 10 -T 2 -i eth0 -O staticroutes -O mtu -s /etc/udhcpc.script >/dev/null 2>&1
    n=$((n + 1))
done
if [ ! -s /run/lease.env ]; then
    say "BOOTLAB-LEASE-FAILED"
    say "BOOTLAB-METADATA-FAILED"
    say "BOOTLAB-READY"
    idle
fi
. /run/lease.env
say "BOOTLAB-LEASE ip=$ip mask=${subnet:-none} router=${router:-none} server=${serverid:-none} staticroutes=${staticroutes:-none}"

url=http://169.254.169.254/openstack/latest/meta_data.json
n=0
body=
while [ "$n" -lt 60 ]; do
    n=$((n + 1))
    # busybox-static's `wget -T` segfaults: bound plain wget with timeout instead
    body=$(timeout 10 wget -q -O - "$url" 2>/dev/null) && [ -n "$body" ] && break
    body=
    sleep 2
done
if [ -n "$body" ]; then
    say "BOOTLAB-METADATA-BEGIN"
    say "$body"
    say "BOOTLAB-METADATA-END"
else
    say "BOOTLAB-METADATA-FAILED"
fi
say "BOOTLAB-READY"
idle
EOF
}

write_udhcpc_script() {
    cat >"$1" <<'EOF'
#!/bin/sh
# udhcpc event script of the bootlab probe guest
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    # udhcpc exports the netmask both dotted ($subnet) and as a prefix length ($mask)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    gw=
    for r in $router; do gw=$r; break; done
    [ -n "$gw" ] && ip route replace default via "$gw" dev "$interface"
    # option 121 (RFC 3442): "dest/len gateway" pairs; gateway 0.0.0.0 means on-link
    set -- $staticroutes
    while [ "$#" -ge 2 ]; do
        if [ "$2" = 0.0.0.0 ]; then
            ip route replace "$1" dev "$interface"
        else
            ip route replace "$1" via "$2" dev "$interface"
        fi
        shift 2
    done
    {
        echo "ip='$ip'"
        echo "subnet='$subnet'"
        echo "router='$gw'"
        echo "serverid='$serverid'"
        echo "staticroutes='$staticroutes'"
    } >/run/lease.env.tmp
    mv /run/lease.env.tmp /run/lease.env
    ;;
esac
exit 0
EOF
}

# copy module $1 from the unpacked kernel tree $2 to $3/$1.ko, decompressing if needed
copy_module() {
    local name=$1 tree=$2 dest=$3/$1.ko f
    f=$(find "$tree/lib/modules" \( -name "$name.ko" -o -name "$name.ko.xz" \
        -o -name "$name.ko.zst" -o -name "$name.ko.gz" \) -print | head -n1)
    if [ -z "$f" ]; then
        if grep -qs "/$name.ko\$" "$tree"/lib/modules/*/modules.builtin; then
            echo "build-guest: $name is built into the kernel, skipping" >&2
            return 1
        fi
        die "module $name not found in the kernel package"
    fi
    case "$f" in
        *.ko.xz) xz -dc "$f" >"$dest" ;;
        *.ko.zst) zstd -qdc "$f" >"$dest" ;;
        *.ko.gz) gzip -dc "$f" >"$dest" ;;
        *) cp "$f" "$dest" ;;
    esac
}

build() {
    local outdir=$1 key inputs kpkg bbpkg work root vmlinuz epoch mods m f kdeb modre
    key=$(build_key)
    inputs=${key#script=* }
    kpkg=${inputs%% *}
    bbpkg=${inputs#* }

    work=$(mktemp -d "${TMPDIR:-/tmp}/build-guest.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    mkdir -p "$work/debs" "$work/kernel" "$work/busybox" "$outdir"
    chmod 0755 "$work" "$work/debs"

    local aptopts=()
    [ "$(id -u)" = 0 ] && aptopts=(-o APT::Sandbox::User=root)
    (cd "$work/debs" && apt-get -q "${aptopts[@]}" download "$kpkg" "$bbpkg" >/dev/null)
    # only vmlinuz, modules.builtin and the modules we load: the whole package unpacks to ~390 MB
    kdeb=$(echo "$work"/debs/linux-image-*.deb)
    modre=${MODULES// /|}
    dpkg-deb --fsys-tarfile "$kdeb" | tar -t >"$work/kernel.list"
    grep -E "^\./boot/vmlinuz-|/modules\.builtin\$|/($modre)\.ko(\.(xz|zst|gz))?\$" \
        "$work/kernel.list" >"$work/kernel.want" || die "nothing to extract from $kdeb"
    # -i: read to the end of the stream so dpkg-deb never gets SIGPIPE
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -i -C "$work/kernel" -T "$work/kernel.want"
    dpkg-deb -x "$work"/debs/"${bbpkg%%=*}"_*.deb "$work/busybox"

    vmlinuz=$(find "$work/kernel/boot" -name 'vmlinuz-*' -print | head -n1)
    [ -n "$vmlinuz" ] || die "no vmlinuz in $kpkg"
    # a fixed timestamp from the kernel package keeps the initramfs reproducible
    epoch=$(stat -c %Y "$vmlinuz")

    root=$work/root
    mkdir -p "$root"/{bin,dev,etc,lib/modules,proc,run,sys,tmp}
    cp "$work/busybox/bin/busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    mods=
    for m in $MODULES; do
        if copy_module "$m" "$work/kernel" "$root/lib/modules"; then
            mods="$mods$m"$'\n'
        fi
    done
    printf '%s' "$mods" >"$root/etc/modules"
    write_init "$root/init"
    write_udhcpc_script "$root/etc/udhcpc.script"
    chmod 0755 "$root/init" "$root/etc/udhcpc.script" "$root/bin/busybox"
    find "$root" -exec touch -h -d "@$epoch" {} +

    (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
        | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) \
        | gzip -9 -n >"$work/initrd.img"
    cp "$vmlinuz" "$work/vmlinuz"
    truncate -s "$DISK_SIZE" "$work/disk.raw"

    for f in vmlinuz initrd.img disk.raw; do
        install -m 0644 "$work/$f" "$outdir/.$f.new"
        mv -f "$outdir/.$f.new" "$outdir/$f"
    done
    printf '%s\n' "$key" >"$outdir/.build.stamp.new"
    mv -f "$outdir/.build.stamp.new" "$outdir/build.stamp"
    echo "built $outdir: $inputs"
}

case "${1:-}" in
    key) build_key ;;
    build)
        [ -n "${2:-}" ] || die "usage: $0 build OUTDIR"
        build "$2"
        ;;
    *) die "usage: $0 key | build OUTDIR" ;;
esac
