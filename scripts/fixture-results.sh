#!/bin/bash
# Every recorded fixture analysed by the bootprobe CLI, with and without its boots.json,
# and each result rendered in every report format, into OUT (one file each).
# Run it before and after a change that must not change behaviour, then compare:
#   scripts/fixture-results.sh /tmp/before; ...; scripts/fixture-results.sh /tmp/after
#   diff -r /tmp/before /tmp/after && echo identical
set -euo pipefail
out=${1:?usage: fixture-results.sh OUT}
cd "$(dirname "$0")/.."
# This checkout's probes package (not whatever the venv's bootprobe script imports).
probe=(${BOOTPROBE:-.venv/bin/python -m probes})
mkdir -p "$out"
out=$(realpath "$out")
# One run at a time on this machine: every run uses the same folder below.
exec 9>/var/tmp/bootlab-fixture-results.lock
flock 9
# Copies of the folders are analysed under one fixed path, so that options.logdir is the same
# whichever checkout (or fixture location) runs this.
tmp=/var/tmp/bootlab-fixture-results
rm -rf "$tmp"
for fixture in tests/fixtures/*/; do
    name=$(basename "$fixture")
    variants=(with)
    mkdir -p "$tmp/with/$name"
    cp -r "$fixture". "$tmp/with/$name/"
    if [ -f "$fixture/boots.json" ]; then
        variants+=(without)
        mkdir -p "$tmp/without/$name"
        for entry in "$fixture"*; do
            [ "$(basename "$entry")" = boots.json ] || cp -r "$entry" "$tmp/without/$name/"
        done
    fi
    for variant in "${variants[@]}"; do
        dir=$tmp/$variant/$name
        result=$out/$name.$variant.json
        # exit 1 is a failed boot (some fixtures record one): the result is still written
        "${probe[@]}" analyze "$dir" --output "$result" --format table > "$out/$name.$variant.stdout" || [ $? -eq 1 ]
        for fmt in table csv html trace; do
            "${probe[@]}" report "$result" --format "$fmt" -o "$out/$name.$variant.$fmt"
        done
    done
done
echo "fixture-results: $(ls "$out" | wc -l) files in $out"
