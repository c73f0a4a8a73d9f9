# bootlab's DevStack plugin (installed by the devstack role into
# $DEST/bootlab-devstack; local.conf enables it). It fixes, before the agents
# start, what a lab host needs and DevStack does not do:
#  - os-ken: the switch-features handler of ofctl_service races OFPHandler on
#    datapath.id (see os-ken-switch-features.py); the OVS agent then waits forever.
#  - OVS userspace datapath: userspace TSO, so veth/tap traffic is not segmented
#    in software twice.
if [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    if [[ "${BOOTLAB_PATCH_OS_KEN:-True}" == "True" ]] && is_service_enabled q-agt; then
        echo_summary "[bootlab] Patching os-ken's ofctl switch-features handler"
        bootlab_py=$PYTHON
        [[ "$GLOBAL_VENV" == "True" ]] && bootlab_py=$DEVSTACK_VENV/bin/python3
        $bootlab_py $DEST/bootlab-devstack/devstack/os-ken-switch-features.py
    fi
    if [[ "${OVS_DATAPATH_TYPE:-system}" == "netdev" ]]; then
        echo_summary "[bootlab] OVS userspace datapath: userspace TSO on"
        sudo ovs-vsctl set Open_vSwitch . other_config:userspace-tso-enable=true
    fi
fi
