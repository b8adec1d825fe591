#!/usr/bin/env bash
# System packages and services qcall uses, installed with apt-get when missing
# (as root, or through sudo when it is there), else named on one line.
#
# Usage: scripts/system-deps.sh [test|demo|cluster]
#   test (default, scripts/test): Chromium (browser tests), fonts, zbar, socat,
#        espeak-ng, nginx and Redis (the cluster's tests), and a local PostgreSQL
#        and Redis started if installed but stopped.
#   cluster (scripts/cluster): the demo's, nginx and Redis (Redis started if stopped).
#   demo (scripts/demo): only what the demo hall runs on: espeak-ng (the voice)
#        and the CJK fonts (Chinese on the printed-ticket pictures). No Chromium.
set -uo pipefail
mode="${1:-test}"

need=()
# The voice: espeak-ng speaks Mandarin (cmn-latn-pinyin) and English offline.
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
# Chinese glyphs in printed tickets and screenshots (and on any kiosk or TV that runs the pages).
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
if [ "$mode" = test ] || [ "$mode" = cluster ]; then
  # One hall on several hub processes (scripts/cluster, tests/test_cluster.py): nginx in front, Redis between.
  command -v nginx >/dev/null 2>&1 || need+=(nginx)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
fi
if [ "$mode" = test ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # Reading raster QR codes back from the virtual printer (pyzbar needs the library).
  ldconfig -p 2>/dev/null | grep -q libzbar.so || need+=(libzbar0)
  # An Ethernet-to-serial converter in front of a virtual bus (display tests).
  command -v socat >/dev/null 2>&1 || need+=(socat)
fi

if [ ${#need[@]} -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    # sudo without a password, or with one when someone is at the terminal to type it.
    if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
      as_root=(sudo)
    else
      as_root=(none)
    fi
  fi
  if [ "${as_root[0]:-}" != none ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} with apt-get" >&2
    if ! { "${as_root[@]}" apt-get update -qq >/dev/null &&
           "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }; then
      echo "could not install ${need[*]}; please install them (sudo apt-get install ${need[*]})" >&2
    fi
  else
    echo "please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
  fi
fi

[ "$mode" = demo ] && exit 0

# Start a local Redis that is installed but not running (no service manager in a container).
if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no >/dev/null 2>&1 || true
fi
[ "$mode" = test ] || exit 0

# Start a local PostgreSQL that is installed but not running.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
  fi
fi
exit 0
