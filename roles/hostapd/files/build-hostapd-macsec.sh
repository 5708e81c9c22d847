#!/bin/sh
# build-hostapd-macsec.sh - build a MACsec-capable hostapd from Debian's own sources.
#
# Why: Debian 12's hostapd package is built without CONFIG_MACSEC and
# CONFIG_DRIVER_MACSEC_LINUX, so it cannot be the 802.1X authenticator / MKA
# key server on a Linux macsec interface (its binary has no "macsec_linux"
# driver). wpa_supplicant from the same source package has both options.
#
# What: fetch the distribution's `wpa` source package (the version of the
# installed hostapd, Debian's patches applied), build hostapd/ with Debian's
# own hostapd config (debian/config/hostapd/linux) and Debian's hardening
# flags plus exactly two options, CONFIG_MACSEC=y and
# CONFIG_DRIVER_MACSEC_LINUX=y, and install it as /usr/local/sbin/hostapd-macsec
# next to (not instead of) the packaged /usr/sbin/hostapd.
#
#   build-hostapd-macsec.sh [--purge-build-deps]
#
# --purge-build-deps: afterwards purge the packages this run installed for the
# build (except the libraries the new binary links to) and delete the source
# tree; without it the tree is kept and its path printed.
#
# Idempotent: when the installed binary has the macsec_linux driver and was
# built from the wanted source version (recorded in the version file), it
# says so and exits 0. Needs root (apt-get, /usr/local) and a package mirror.
set -eu

BIN=/usr/local/sbin/hostapd-macsec
VERSION_FILE=/usr/local/share/l2sec-macsec/hostapd-macsec.version
TMP_SOURCES=/etc/apt/sources.list.d/l2sec-deb-src.sources
# What hostapd/ needs with Debian's config plus the MACsec driver: a C
# toolchain, dpkg-buildflags (Debian's hardening flags, as debian/rules uses
# them), libnl (nl80211, VLANs; route for macsec_linux) and OpenSSL
# (CONFIG_TLS=openssl). Not `apt-get build-dep wpa`: that pulls in Qt, dbus,
# pcsclite, readline and docbook for wpa_gui and wpa_supplicant.
BUILD_DEPS="gcc libc6-dev make pkg-config dpkg-dev libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libssl-dev"

say() { echo "hostapd-macsec: $*"; }
die() { echo "hostapd-macsec: error: $*" >&2; exit 1; }

purge=no
for arg in "$@"; do
    case $arg in
        --purge-build-deps) purge=yes ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $arg (see --help)" ;;
    esac
done
[ "$(id -u)" = 0 ] || die "run as root (apt-get, /usr/local/sbin)"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# A hostapd can do MACsec when its binary carries the driver's name as a
# NUL-terminated string of its own (the driver table entry "macsec_linux").
has_macsec_driver() {
    [ -f "$1" ] && tr '\0' '\n' < "$1" | grep -qx 'macsec_linux'
}

# The wpa source version to build: that of the installed hostapd (or
# wpasupplicant), so both come from the same sources; else hostapd's
# candidate (binary and source versions are the same for wpa).
wanted_version() {
    for package in hostapd wpasupplicant; do
        status=$(dpkg-query -W -f='${db:Status-Status} ${source:Version}' "$package" 2>/dev/null || true)
        case $status in
            "installed "*) echo "${status#installed }"; return ;;
        esac
    done
    apt-cache policy hostapd | awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}

installed_packages() {
    dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" { print $2 }' | sort -u
}

version=$(wanted_version)
[ -n "$version" ] || die "no hostapd or wpasupplicant installed or installable: which wpa version?"
if has_macsec_driver "$BIN" && [ "$(cat "$VERSION_FILE" 2>/dev/null || true)" = "$version" ]; then
    say "$BIN is already built from wpa $version with the macsec_linux driver: nothing to do"
    exit 0
fi
if [ -f /usr/sbin/hostapd ] && ! has_macsec_driver /usr/sbin/hostapd; then
    say "/usr/sbin/hostapd (packaged) has no macsec_linux driver; building $BIN from wpa $version"
else
    say "building $BIN from wpa $version"
fi

work=$(mktemp -d /tmp/hostapd-macsec.XXXXXX)
created_sources=no
cleanup() {
    # The temporary deb-src entry never outlives this run.
    if [ "$created_sources" = yes ]; then rm -f "$TMP_SOURCES"; fi
    if [ "$purge" = yes ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Source index: without a deb-src entry for the same mirrors, write a
#    temporary one, derived from the existing sources with the type switched
#    to deb-src (deb822 stanzas copied with only their Types changed, one-line
#    entries turned into stanzas; Signed-By/Trusted kept, arch= does not apply
#    to sources).
source_known() {
    apt-cache showsrc wpa 2>/dev/null | grep -qxF "Version: $version"
}
if ! source_known; then
    say "no deb-src for wpa $version: adding $TMP_SOURCES for this run"
    created_sources=yes
    {
        for file in /etc/apt/sources.list.d/*.sources; do
            # (skip a leftover of a run that was killed before its cleanup)
            if [ ! -f "$file" ] || [ "$file" = "$TMP_SOURCES" ]; then continue; fi
            sed 's/^Types:.*/Types: deb-src/' "$file"
            echo
        done
        for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$file" ] || continue
            awk '$1 == "deb" {
                     i = 2; options = ""
                     if ($2 ~ /^\[/) {           # [ key=value ... ]
                         while (i <= NF) {
                             word = $i; i++
                             gsub(/[][]/, "", word)
                             if (word ~ /^signed-by=/) options = options "Signed-By: " substr(word, 11) "\n"
                             if (word ~ /^trusted=/) options = options "Trusted: " substr(word, 9) "\n"
                             if ($(i - 1) ~ /\]$/) break
                         }
                     }
                     uri = $i; suite = $(i + 1); components = ""
                     for (j = i + 2; j <= NF && $j !~ /^#/; j++) components = components " " $j
                     printf "Types: deb-src\nURIs: %s\nSuites: %s\n", uri, suite
                     if (components != "") printf "Components:%s\n", components
                     printf "%s\n", options
                 }' "$file"
        done
    } > "$work/deb-src.sources"
    grep -q '^Types: deb-src' "$work/deb-src.sources" || die "no deb entries in /etc/apt to derive deb-src from"
    install -m 0644 "$work/deb-src.sources" "$TMP_SOURCES"
    apt-get update -q >/dev/null || die "apt-get update with $TMP_SOURCES failed"
    source_known || die "the mirrors have no source package wpa $version"
fi

# 2. Build dependencies, only what hostapd/ needs (see BUILD_DEPS). Record
#    what was installed before, to purge exactly what this run added.
installed_packages > "$work/packages.before"
say "installing build packages: $BUILD_DEPS"
# shellcheck disable=SC2086 # a list of package names
apt-get install -y -q --no-install-recommends $BUILD_DEPS >/dev/null

# 3. Sources: download as apt's sandbox user (a directory it can write), then
#    unpack with dpkg-source, which applies Debian's patches. Its output goes
#    to a log: it warns that it cannot check the .dsc's OpenPGP signature
#    (no debian-keyring), but apt has already checked the files against the
#    signed archive index.
chmod 0755 "$work"
mkdir "$work/download"
if id _apt >/dev/null 2>&1; then chown _apt "$work/download"; fi
(cd "$work/download" && apt-get source -q --download-only "wpa=$version" >/dev/null)
dpkg-source -x "$work"/download/wpa_*.dsc "$work/wpa" >"$work/dpkg-source.log" 2>&1 || {
    cat "$work/dpkg-source.log" >&2
    die "dpkg-source -x failed"
}
src_version=$(dpkg-parsechangelog -l "$work/wpa/debian/changelog" -S Version)

# 4. Build hostapd/ the way debian/rules does (same .config, same flags,
#    passed in the environment so the Makefile's own += still apply), plus
#    the two MACsec options.
cd "$work/wpa"
cp debian/config/hostapd/linux hostapd/.config
printf '%s\n' '# l2sec.macsec: MKA (802.1X-2010) over Linux macsec interfaces' \
    'CONFIG_MACSEC=y' 'CONFIG_DRIVER_MACSEC_LINUX=y' >> hostapd/.config
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) -MMD -Wall $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
started=$(date +%s)
say "compiling hostapd/ ($(nproc) jobs)"
make -C hostapd -j"$(nproc)" hostapd >"$work/make.log" 2>&1 || {
    tail -n 30 "$work/make.log" >&2
    die "make failed (full log: $work/make.log)"
}
compile_seconds=$(( $(date +%s) - started ))
has_macsec_driver hostapd/hostapd || die "the built hostapd has no macsec_linux driver"

# 5. Install: write next to the target and rename, so a running
#    hostapd-macsec keeps its old file; strip like Debian's packages.
install -d /usr/local/sbin "${VERSION_FILE%/*}"
install -m 0755 -s hostapd/hostapd "$BIN.new"
mv -f "$BIN.new" "$BIN"
echo "$src_version" > "$VERSION_FILE"
cd /

# 6. Optionally take the build packages away again, but keep the shared
#    libraries the new binary needs (and mark them manual, so that a later
#    autoremove does not take them).
if [ "$purge" = yes ]; then
    installed_packages > "$work/packages.after"
    ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
        dpkg -S "*/${lib##*/}" 2>/dev/null | awk -F': ' '/: \// { sub(/:[^:]*$/, "", $1); print $1 }'
    done | sort -u > "$work/packages.runtime"
    comm -13 "$work/packages.before" "$work/packages.after" > "$work/packages.added"
    keep=$(grep -Fx -f "$work/packages.runtime" "$work/packages.added" | tr '\n' ' ' || true)
    remove=$(grep -vFx -f "$work/packages.runtime" "$work/packages.added" | tr '\n' ' ' || true)
    # shellcheck disable=SC2086 # lists of package names
    if [ -n "$keep" ]; then apt-mark manual $keep >/dev/null; fi
    if [ -n "$remove" ]; then
        say "purging the build packages this run installed: $remove"
        # shellcheck disable=SC2086
        apt-get purge -y -q $remove >/dev/null
    fi
    say "source tree removed"
else
    say "source tree kept in $work/wpa"
fi

say "installed $BIN: $("$BIN" -v 2>&1 | head -n 1 || true), from wpa $src_version" \
    "(compiled in ${compile_seconds}s), driver macsec_linux present"
