#!/usr/bin/env bash
# System packages and services the tests use: Chromium (browser tests) and a
# local PostgreSQL (store tests on both backends).
set -uo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Chinese glyphs in screenshots (and on any kiosk or TV that runs the pages).
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
# Reading raster QR codes back from the virtual printer (pyzbar needs the library).
ldconfig -p 2>/dev/null | grep -q libzbar.so || need+=(libzbar0)
# An Ethernet-to-serial converter in front of a virtual bus (display tests).
command -v socat >/dev/null 2>&1 || need+=(socat)
# The voice: espeak-ng speaks Mandarin (cmn-latn-pinyin) and English offline.
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
  fi
fi

# Start a local PostgreSQL that is installed but not running.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
  fi
fi
exit 0
