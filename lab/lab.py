"""VM lab for the l2sec.macsec collection.

Builds one Debian 12 image (mmdebstrap) and boots small labs of QEMU VMs from
it. Each VM has a management NIC (eth0, QEMU user-mode network, SSH forwarded
to 127.0.0.1) and "wire" NICs (eth1..) that join the VMs together: a wire with
two members is a unicast UDP socket pair, one with three or more members is a
vde_switch hub. Nothing touches the host's own network: no taps, no bridges.

Standard library only (Python 3.9+), so it runs with any python3.
Run `lab.py -h` or read lab/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator, Optional

# Bump when anything that shapes the image changes in a way that the package
# list or the customization script does not show (e.g. how the disk is made).
IMAGE_RECIPE_VERSION = "2"
SUITE = "bookworm"

IMAGE_PACKAGES = [
    "linux-image-cloud-amd64", "systemd-sysv", "udev", "kmod", "dbus",
    "libnss-myhostname", "iproute2", "iputils-ping", "ethtool", "netbase",
    "python3", "python3-apt", "python3-pyroute2", "python3-cryptography",
    "openssh-server", "openssh-sftp-server", "sudo", "tcpdump", "iperf3",
    "nftables", "openssl", "ca-certificates", "wpasupplicant", "hostapd",
    "strongswan", "strongswan-swanctl", "charon-systemd",
    "libstrongswan-standard-plugins", "freeradius",
    "procps", "less",
]

# Debian 12's hostapd has no MACsec; this script builds one that has it
# (/usr/local/sbin/hostapd-macsec) from Debian's own wpa sources. The image
# runs it, so its text is part of the recipe.
HOSTAPD_MACSEC_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                     "roles", "hostapd", "files", "build-hostapd-macsec.sh")

# Runs on the host after all packages are installed: $1 is the root
# directory of the new system, $2 the lab's SSH public key, $3 the
# hostapd-macsec build script.
IMAGE_CUSTOMIZE_SCRIPT = r"""
set -eu
root="$1"
pubkey="$2"

# hostapd with MACsec, built inside the new root by the same script the
# collection ships, which then purges its build packages and sources. First,
# while the root still has the host's resolv.conf: it needs the mirror.
install -m 0755 "$3" "$root/tmp/build-hostapd-macsec.sh"
chroot "$root" sh /tmp/build-hostapd-macsec.sh --purge-build-deps
rm -f "$root/tmp/build-hostapd-macsec.sh"
chroot "$root" apt-get clean

# Root logs in with the lab key only.
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$pubkey" "$root/root/.ssh/authorized_keys"
cat > "$root/etc/ssh/sshd_config.d/l2sec-lab.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF

# One image serves every VM: the hostname comes from systemd.hostname= on
# the kernel command line and each VM generates its own machine-id.
rm -f "$root/etc/hostname"
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
# myhostname resolves the VM's own name, so sudo does not complain.
sed -i 's/^hosts:.*/hosts:          files myhostname dns/' "$root/etc/nsswitch.conf"
# QEMU user-mode DNS; fail fast when the lab is isolated.
cat > "$root/etc/resolv.conf" <<'EOF'
nameserver 10.0.2.3
options timeout:1 attempts:1
EOF
echo 'LANG=C.UTF-8' > "$root/etc/default/locale"

# The kernel cmdline mounts the root read-write; no fsck on the way (the
# ext4 journal covers hard resets).
echo '/dev/vda / ext4 rw,noatime 0 0' > "$root/etc/fstab"

# Only the management NIC is configured. Wire NICs (eth1..) stay untouched
# so that the roles under test own them.
mkdir -p "$root/etc/systemd/network"
cat > "$root/etc/systemd/network/10-lab-mgmt.network" <<'EOF'
[Match]
Name=eth0

[Network]
DHCP=ipv4
IPv6AcceptRA=no
LinkLocalAddressing=no
EOF
systemctl --root="$root" enable systemd-networkd.service
# Nothing in the lab waits for the network to be "online".
systemctl --root="$root" mask systemd-networkd-wait-online.service

# The journal lives in RAM: faster and nothing to clean up.
mkdir -p "$root/etc/systemd/journald.conf.d"
cat > "$root/etc/systemd/journald.conf.d/l2sec-lab.conf" <<'EOF'
[Journal]
Storage=volatile
RuntimeMaxUse=32M
EOF

# Boot speed: under emulation every unit and module costs seconds of CPU.
# The serial console is the only console; no binfmt, fuse, drm, pstore, dm,
# debugfs or hugepages; no logind (nothing here uses login sessions).
for unit in getty@tty1.service systemd-logind.service systemd-binfmt.service \
            proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
            modprobe@drm.service modprobe@efi_pstore.service modprobe@fuse.service \
            modprobe@loop.service modprobe@dm_mod.service systemd-pstore.service \
            dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
            sys-fs-fuse-connections.mount systemd-network-generator.service \
            systemd-update-utmp.service systemd-update-utmp-runlevel.service; do
    systemctl --root="$root" mask "$unit"
done
# Generators run before any unit starts; these only look for things the lab
# has not got (LUKS, verity, GPT partitions, hibernation, SysV scripts: every
# service here has a native unit).
mkdir -p "$root/etc/systemd/system-generators"
for generator in systemd-cryptsetup-generator systemd-gpt-auto-generator \
                 systemd-hibernate-resume-generator systemd-integritysetup-generator \
                 systemd-veritysetup-generator systemd-sysv-generator \
                 systemd-rc-local-generator systemd-system-update-generator; do
    ln -sf /dev/null "$root/etc/systemd/system-generators/$generator"
done
# Drivers udev would load for emulated hardware the lab never uses (-cpu max
# offers SVM, so kvm would load). An explicit `modprobe NAME` still works.
cat > "$root/etc/modprobe.d/l2sec-lab-blacklist.conf" <<'EOF'
blacklist kvm
blacklist kvm_amd
blacklist kvm_intel
blacklist ata_piix
blacklist ata_generic
blacklist serio_raw
blacklist evdev
blacklist pcspkr
blacklist joydev
blacklist psmouse
blacklist powernow_k8
blacklist acpi_cpufreq
EOF
# A small initrd: all it needs is QEMU's virtio disk (ext4 is built in).
echo 'MODULES=list' > "$root/etc/initramfs-tools/conf.d/l2sec-lab.conf"
printf 'virtio_pci\nvirtio_blk\n' >> "$root/etc/initramfs-tools/modules"
chroot "$root" update-initramfs -u -k all

# Services the roles start themselves, and timers that would only burn CPU
# under emulation. Disabled, not masked, so a role can still enable them.
for unit in freeradius.service strongswan.service strongswan-starter.service \
            hostapd.service wpa_supplicant.service iperf3.service \
            nftables.service e2scrub_reap.service \
            apt-daily.timer apt-daily-upgrade.timer man-db.timer \
            e2scrub_all.timer fstrim.timer dpkg-db-backup.timer \
            logrotate.timer; do
    systemctl --root="$root" disable "$unit" 2>/dev/null || true
done
"""

# "root=/dev/vda rw ..." boots straight from the virtio disk; the rest trims
# work that only costs time under emulation.
KERNEL_CMDLINE = (
    "root=/dev/vda rootfstype=ext4 rw console=ttyS0,115200 net.ifnames=0 "
    "biosdevname=0 mitigations=off audit=0 fsck.mode=skip random.trust_cpu=on "
    "systemd.hostname={hostname}"
)

IMAGE_FREE_SPACE = 1536 * 1024 * 1024  # room for logs and packages roles add
DEFAULT_VMS = 2
DEFAULT_MEMORY_MIB = 1024
DEFAULT_WIRE_COUNT = 3
DEFAULT_SSH_TIMEOUT = 180
DEFAULT_TCG_CPU = "max"
KVM_PROBE_SECONDS = 60
QUIT_GRACE_SECONDS = 5
MGMT_PCI_SLOT = 3
FIRST_WIRE_PCI_SLOT = 4
LAST_PCI_SLOT = 0x1E  # 0x1f holds the RNG
UNIX_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; vde appends to its dir
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "IdentitiesOnly=yes",
]


class LabError(Exception):
    """A failure with a message meant for the user."""


# --------------------------------------------------------------------------
# Output and small helpers
# --------------------------------------------------------------------------

def say(message: str) -> None:
    # Progress goes to stderr so stdout stays clean for data (inventory, ...).
    print(f"[lab] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    start = time.monotonic()
    say(f"{what} ...")
    yield
    say(f"{what}: done in {time.monotonic() - start:.1f}s")


def run(cmd: list[str], log_path: Optional[str] = None, **kwargs) -> None:
    """Run a command; on failure raise LabError with its output (tail)."""
    if log_path:
        with open(log_path, "ab") as log:
            log.write(("\n$ " + shlex.join(cmd) + "\n").encode())
            log.flush()
            result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False, **kwargs)
        if result.returncode != 0:
            raise LabError(f"{cmd[0]} failed (exit {result.returncode}); "
                           f"last lines of {log_path}:\n{tail_of_file(log_path, 30)}")
        return
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, **kwargs)
    if result.returncode != 0:
        output = result.stdout.decode(errors="replace").strip()
        raise LabError(f"{cmd[0]} failed (exit {result.returncode}):\n{output}")


def tail_of_file(path: str, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            text = f.read().decode(errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"
    return "\n".join(text.splitlines()[-lines:])


def require_tools(tools: list[str]) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)} (see lab/README.md for the apt packages)")


def write_file_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """Serialize lab.py runs that touch the same thing (flock is dropped when
    the process dies, so a crashed run never leaves it held)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def short_hash(text: str, length: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# --------------------------------------------------------------------------
# Image: recipe, cache, build
# --------------------------------------------------------------------------

def cache_root() -> str:
    if os.environ.get("L2SEC_LAB_CACHE"):
        return os.path.abspath(os.environ["L2SEC_LAB_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "l2sec-macsec", "lab")


def hostapd_macsec_script() -> str:
    try:
        with open(HOSTAPD_MACSEC_SCRIPT) as f:
            return f.read()
    except OSError as error:
        raise LabError(f"cannot read the hostapd-macsec build script: {error}") from None


def recipe_hash() -> str:
    recipe = json.dumps({
        "version": IMAGE_RECIPE_VERSION,
        "suite": SUITE,
        "packages": IMAGE_PACKAGES,
        "customize": IMAGE_CUSTOMIZE_SCRIPT,
        "hostapd_macsec": hostapd_macsec_script(),
    }, sort_keys=True)
    return short_hash(recipe)


class Image:
    """The files of one built image, in its cache folder."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.disk = os.path.join(directory, "base.qcow2")
        self.kernel = os.path.join(directory, "vmlinuz")
        self.initrd = os.path.join(directory, "initrd.img")
        self.private_key = os.path.join(directory, "id_ed25519")
        self.public_key = self.private_key + ".pub"
        self.info_path = os.path.join(directory, "build-info.json")

    def is_complete(self) -> bool:
        files = [self.disk, self.kernel, self.initrd, self.private_key, self.public_key, self.info_path]
        return all(os.path.isfile(path) for path in files)

    def info(self) -> dict:
        with open(self.info_path) as f:
            return json.load(f)


def current_image() -> Image:
    return Image(os.path.join(cache_root(), recipe_hash()))


def host_apt_sources() -> str:
    """The apt sources for mmdebstrap: the host's own (never a hard-coded
    mirror), or the file named by L2SEC_LAB_APT_SOURCES."""
    candidates = [os.environ.get("L2SEC_LAB_APT_SOURCES", ""),
                  "/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    for path in candidates:
        if path and os.path.isfile(path) and SUITE in open(path).read():
            return path
    raise LabError(f"no apt sources for {SUITE} found on the host; set L2SEC_LAB_APT_SOURCES "
                   f"to a sources.list or deb822 .sources file that lists {SUITE}")


def mounts_under(path: str) -> list[str]:
    real = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point == real or mount_point.startswith(real + "/"):
                found.append(mount_point)
    return found


def remove_build_dir(path: str) -> None:
    """Remove a (possibly half-built) build dir. A crashed mmdebstrap can leave
    /proc, /sys or /dev mounted inside the chroot: never recurse into those."""
    if not os.path.isdir(path):
        return
    if mounts_under(path):
        subprocess.run(["umount", "--recursive", "--lazy", path + "/rootfs"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        left = mounts_under(path)
        if left:
            raise LabError(f"cannot remove {path}: still mounted: {', '.join(left)}")
    shutil.rmtree(path)


def remove_stale_builds(root: str) -> None:
    # Called with the build lock held, so no other build is using them.
    for path in glob.glob(os.path.join(root, ".build-*")):
        say(f"removing leftover of an interrupted build: {path}")
        remove_build_dir(path)


def build_image(force: bool = False) -> Image:
    image = current_image()
    root = cache_root()
    with file_lock(os.path.join(root, ".build.lock")):
        remove_stale_builds(root)
        if image.is_complete() and not force:
            info = image.info()
            say(f"image cached: {image.directory} (cold build took {info['build_seconds']:.0f}s "
                f"on {info['built_at']})")
            return image
        if force:
            refuse_if_image_in_use(image)
        if os.geteuid() != 0:
            raise LabError("building the image needs root (mmdebstrap root mode, mkfs.ext4 -d "
                           "keeps file ownership); `up` itself does not need root")
        require_tools(["mmdebstrap", "mkfs.ext4", "qemu-img", "ssh-keygen"])
        build_dir = os.path.join(root, f".build-{recipe_hash()}-{os.getpid()}")
        try:
            build_info = build_into(build_dir, root)
            if os.path.isdir(image.directory):  # forced rebuild or incomplete old build
                remove_build_dir(image.directory)
            # The rename is the commit point: a half-built dir never has the final name.
            os.rename(build_dir, image.directory)
        finally:
            remove_build_dir(build_dir)
    say(f"image built: {image.directory} in {build_info['build_seconds']:.0f}s "
        f"(kernel {build_info['kernel_version']}, hostapd-macsec from wpa "
        f"{build_info['hostapd_macsec_version']}, disk {human_size(build_info['disk_bytes'])})")
    return image


def refuse_if_image_in_use(image: Image) -> None:
    """A forced rebuild replaces the disk and the SSH key in place: labs
    booted from them would lose SSH access and their overlays' backing file."""
    users = []
    for path in glob.glob(os.path.join(state_root(), "*", "state.json")):
        state = load_state(os.path.dirname(path))
        if state and state.get("image") == image.directory and lab_is_alive(state):
            users.append(state["lab"])
    if users:
        raise LabError(f"labs {', '.join(users)} run on this image; `down` them before `build --force`")


def build_into(build_dir: str, root: str) -> dict:
    started = time.monotonic()
    os.makedirs(build_dir)
    staged = Image(build_dir)
    rootfs = os.path.join(build_dir, "rootfs")
    log_path = os.path.join(root, f"build-{recipe_hash()}.log")
    open(log_path, "w").close()
    say(f"build log: {log_path}")

    with timed("generating the lab SSH key"):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "l2sec-lab",
             "-f", staged.private_key])
        os.chmod(staged.private_key, 0o600)

    script_path = os.path.join(build_dir, "customize.sh")
    with open(script_path, "w") as f:
        f.write(IMAGE_CUSTOMIZE_SCRIPT)
    # A copy of the text that went into the recipe hash, not the live file.
    hostapd_script_path = os.path.join(build_dir, "build-hostapd-macsec.sh")
    with open(hostapd_script_path, "w") as f:
        f.write(hostapd_macsec_script())

    sources = host_apt_sources()
    with timed(f"mmdebstrap {SUITE} ({len(IMAGE_PACKAGES)} packages, apt sources from {sources})"):
        run(["mmdebstrap", "--mode=root", "--variant=apt",
             "--aptopt=Acquire::Check-Valid-Until \"false\"",
             "--include=" + ",".join(IMAGE_PACKAGES),
             "--customize-hook=sh " + shlex.quote(script_path) + ' "$1" '
             + shlex.quote(staged.public_key) + " " + shlex.quote(hostapd_script_path),
             SUITE, rootfs, sources], log_path=log_path)

    kernel_version = extract_kernel(rootfs, staged)
    check_macsec_module(rootfs, kernel_version)
    hostapd_macsec_version = check_hostapd_macsec(rootfs)

    raw_disk = os.path.join(build_dir, "base.raw")
    with timed("making the ext4 disk (mkfs.ext4 -d)"):
        used = directory_bytes(rootfs)
        size = round_up(used + IMAGE_FREE_SPACE, 256 * 1024 * 1024)
        with open(raw_disk, "wb") as f:
            f.truncate(size)
        run(["mkfs.ext4", "-F", "-q", "-L", "l2sec-root", "-m", "0", "-d", rootfs, raw_disk],
            log_path=log_path)
    remove_build_dir(rootfs)
    with timed("converting the disk to qcow2"):
        run(["qemu-img", "convert", "-O", "qcow2", raw_disk, staged.disk], log_path=log_path)
    os.remove(raw_disk)
    os.remove(script_path)
    os.remove(hostapd_script_path)

    info = {
        "recipe_hash": recipe_hash(),
        "recipe_version": IMAGE_RECIPE_VERSION,
        "suite": SUITE,
        "kernel_version": kernel_version,
        "hostapd_macsec_version": hostapd_macsec_version,
        "apt_sources": sources,
        "rootfs_bytes": used,
        "disk_virtual_bytes": size,
        "disk_bytes": os.path.getsize(staged.disk),
        "build_seconds": round(time.monotonic() - started, 1),
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_file_atomically(staged.info_path, json.dumps(info, indent=2) + "\n")
    return info


def extract_kernel(rootfs: str, staged: Image) -> str:
    """Copy vmlinuz and initrd out of the image: QEMU boots them directly, so
    the disk needs no bootloader."""
    kernels = sorted(glob.glob(os.path.join(rootfs, "boot", "vmlinuz-*")))
    if len(kernels) != 1:
        raise LabError(f"expected exactly one kernel in the image, found: {kernels}")
    version = os.path.basename(kernels[0])[len("vmlinuz-"):]
    initrd = os.path.join(rootfs, "boot", f"initrd.img-{version}")
    if not os.path.isfile(initrd):
        raise LabError(f"the image has no initrd for kernel {version}")
    shutil.copyfile(kernels[0], staged.kernel)
    shutil.copyfile(initrd, staged.initrd)
    return version


def check_macsec_module(rootfs: str, kernel_version: str) -> None:
    modules = glob.glob(os.path.join(rootfs, "lib", "modules", kernel_version, "kernel",
                                     "drivers", "net", "macsec.ko*"))
    if not modules:
        raise LabError(f"kernel {kernel_version} in the image has no macsec module")


def has_macsec_driver(binary: str) -> bool:
    # The build script's test: the driver's name as a NUL-terminated string.
    with open(binary, "rb") as f:
        return b"\0macsec_linux\0" in f.read()


def check_hostapd_macsec(rootfs: str) -> str:
    """The image's hostapd-macsec has the macsec_linux driver (Debian's
    hostapd has not); returns the wpa source version it was built from."""
    binary = os.path.join(rootfs, "usr", "local", "sbin", "hostapd-macsec")
    if not os.path.isfile(binary) or not has_macsec_driver(binary):
        raise LabError("the image has no /usr/local/sbin/hostapd-macsec with the macsec_linux driver")
    packaged = os.path.join(rootfs, "usr", "sbin", "hostapd")
    say(f"hostapd-macsec: macsec_linux driver present; Debian's /usr/sbin/hostapd: "
        f"{'present' if os.path.isfile(packaged) and has_macsec_driver(packaged) else 'absent'}")
    with open(os.path.join(rootfs, "usr", "local", "share", "l2sec-macsec", "hostapd-macsec.version")) as f:
        return f.read().strip()


def directory_bytes(path: str) -> int:
    output = subprocess.run(["du", "-s", "--block-size=1", path], check=True,
                            stdout=subprocess.PIPE).stdout.decode()
    return int(output.split()[0])


def round_up(value: int, step: int) -> int:
    return (value + step - 1) // step * step


# --------------------------------------------------------------------------
# Lab layout: VMs, wires, NICs, MACs
# --------------------------------------------------------------------------

def vm_names(count: int) -> list[str]:
    return [f"vm{index}" for index in range(1, count + 1)]


def default_wire_spec(vm_count: int) -> str:
    if vm_count < 2:
        return ""  # a lone VM has nobody to be wired to
    members = ",".join(vm_names(vm_count))
    return ";".join(f"wire{n}={members}" for n in range(1, DEFAULT_WIRE_COUNT + 1))


def parse_wire_spec(spec: str, vm_count: int) -> dict[str, list[str]]:
    """`wire1=vm1,vm2,vm3;wire2=vm1,vm2` -> {"wire1": [...], "wire2": [...]}.
    Order matters: each VM gets eth1, eth2, ... in the order of the wires it
    is on. An empty spec means no wires."""
    known_vms = vm_names(vm_count)
    wires: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, sep, members_text = part.partition("=")
        name = name.strip()
        if not sep or not NAME_PATTERN.match(name):
            raise LabError(f"bad wire {part!r}: expected NAME=vmA,vmB[,...] "
                           "(NAME: letter, then letters/digits/_/-)")
        if name in wires:
            raise LabError(f"wire {name} is given twice")
        members = [m.strip() for m in members_text.split(",") if m.strip()]
        for member in members:
            if member not in known_vms:
                raise LabError(f"wire {name}: unknown VM {member!r} (this lab has {', '.join(known_vms)})")
        if len(set(members)) != len(members):
            raise LabError(f"wire {name}: a VM is listed twice")
        if len(members) < 2:
            raise LabError(f"wire {name}: needs at least two VMs")
        wires[name] = members
    return wires


def canonical_wire_spec(wires: dict[str, list[str]]) -> str:
    return ";".join(f"{name}={','.join(members)}" for name, members in wires.items())


def mac_address(lab_name: str, vm_index: int, nic_index: int) -> str:
    # 52:54:00 is QEMU's locally administered prefix; the lab byte keeps two
    # labs apart, then VM index and NIC index (0 = management).
    lab_byte = int(short_hash(lab_name, 2), 16)
    return f"52:54:00:{lab_byte:02x}:{vm_index:02x}:{nic_index:02x}"


def free_port(kind: int, taken: set[int]) -> int:
    """A port that is free right now on 127.0.0.1 (QEMU binds it moments later)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def plan_lab(lab_name: str, state_dir: str, vm_count: int, wires: dict[str, list[str]],
             memory_mib: int) -> dict:
    """Decide every port, MAC, socket and NIC of the lab before starting anything."""
    taken_ports: set[int] = set()
    wire_plans = []
    for name, members in wires.items():
        wire = {"name": name, "members": members}
        if len(members) == 2:
            wire["kind"] = "udp"
            wire["ports"] = {member: free_port(socket.SOCK_DGRAM, taken_ports) for member in members}
        else:
            wire["kind"] = "vde"
            wire["socket"] = os.path.join(state_dir, f"{name}.vde")
            wire["pidfile"] = os.path.join(state_dir, f"{name}.vde.pid")
            wire["pid"] = None
        wire_plans.append(wire)

    vms = []
    for index, name in enumerate(vm_names(vm_count), start=1):
        nics = [{"ifname": "eth0", "wire": None, "mac": mac_address(lab_name, index, 0)}]
        for wire in wire_plans:
            if name in wire["members"]:
                nic_index = len(nics)
                nics.append({"ifname": f"eth{nic_index}", "wire": wire["name"],
                             "mac": mac_address(lab_name, index, nic_index)})
        if FIRST_WIRE_PCI_SLOT + len(nics) - 2 > LAST_PCI_SLOT:
            raise LabError(f"{name} is on too many wires")
        vms.append({
            "name": name, "index": index, "pid": None,
            "ssh_port": free_port(socket.SOCK_STREAM, taken_ports),
            "qmp": os.path.join(state_dir, f"{name}.qmp"),
            "console": os.path.join(state_dir, f"{name}.console.log"),
            "overlay": os.path.join(state_dir, f"{name}.qcow2"),
            "pidfile": os.path.join(state_dir, f"{name}.pid"),
            "nics": nics,
        })
    return {
        "lab": lab_name,
        "state_dir": state_dir,
        "status": "starting",
        "memory_mib": memory_mib,
        "wire_spec": canonical_wire_spec(wires),
        "vms": vms,
        "wires": wire_plans,
    }


def same_shape(state: dict, vm_count: int, wires: dict[str, list[str]], memory_mib: int) -> bool:
    return (len(state["vms"]) == vm_count and state["memory_mib"] == memory_mib
            and state["wire_spec"] == canonical_wire_spec(wires))


# --------------------------------------------------------------------------
# State directory
# --------------------------------------------------------------------------

STATE_MARKER = ".l2sec-lab"


def state_root() -> str:
    if os.environ.get("L2SEC_LAB_STATE"):
        return os.path.abspath(os.environ["L2SEC_LAB_STATE"])
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or "/tmp", "l2sec-lab")


def check_lab_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise LabError(f"bad lab name {name!r}: letter, then up to 31 letters/digits/_/-")
    return name


def state_dir_of(lab_name: str) -> str:
    return os.path.join(state_root(), lab_name)


def lab_lock(lab_name: str):
    return file_lock(os.path.join(state_root(), f".{lab_name}.lock"))


def state_file(state_dir: str) -> str:
    return os.path.join(state_dir, "state.json")


def load_state(state_dir: str) -> Optional[dict]:
    try:
        with open(state_file(state_dir)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        say(f"ignoring unreadable state file {state_file(state_dir)}: {error}")
        return None


def save_state(state: dict) -> None:
    write_file_atomically(state_file(state["state_dir"]), json.dumps(state, indent=2) + "\n")


def require_running_state(lab_name: str) -> dict:
    state = load_state(state_dir_of(lab_name))
    if state is None:
        raise LabError(f"no lab named {lab_name!r} (state dir {state_dir_of(lab_name)}); run `up` first")
    return state


def find_vm(state: dict, vm_name: str) -> dict:
    if vm_name.isdigit():
        vm_name = f"vm{vm_name}"
    for vm in state["vms"]:
        if vm["name"] == vm_name:
            return vm
    raise LabError(f"lab {state['lab']!r} has no VM {vm_name!r} "
                   f"(it has {', '.join(v['name'] for v in state['vms'])})")


# --------------------------------------------------------------------------
# Processes: only ever the ones this lab started
# --------------------------------------------------------------------------

def is_lab_process(pid: Optional[int], marker: str) -> bool:
    """True if pid is alive and its command line names our state dir: a pid
    from a stale state file may have been reused by something else."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            # A zombie (state Z) is dead even though /proc still lists it.
            process_state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return marker in cmdline and process_state not in ("Z", "X")


def read_pidfile(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def wait_until_gone(pids: list[int], marker: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = [pid for pid in pids if is_lab_process(pid, marker)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if is_lab_process(pid, marker)]
    return alive


def kill_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------
# QMP (QEMU's JSON control socket)
# --------------------------------------------------------------------------

class Qmp:
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb")
        self._read_message()  # greeting
        self.execute("qmp_capabilities")

    def _read_message(self) -> dict:
        line = self.reader.readline()
        if not line:
            raise LabError("QEMU closed the QMP connection")
        return json.loads(line)

    def execute(self, command: str, arguments: Optional[dict] = None):
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            message = self._read_message()
            if "return" in message:
                return message["return"]
            if "error" in message:
                raise LabError(f"QMP {command}: {message['error'].get('desc', message['error'])}")
            # anything else is an asynchronous event: skip it

    def human(self, command_line: str) -> str:
        """Run a monitor (HMP) command; its errors come back as text."""
        return self.execute("human-monitor-command", {"command-line": command_line})

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
            self.sock.close()


@contextlib.contextmanager
def qmp_session(vm: dict, timeout: float = 10.0) -> Iterator[Qmp]:
    try:
        qmp = Qmp(vm["qmp"], timeout)
    except OSError as error:
        raise LabError(f"{vm['name']}: cannot reach QMP socket {vm['qmp']}: {error}") from error
    try:
        yield qmp
    finally:
        qmp.close()


def run_in_parallel(function, items: list) -> list:
    """Call function(item) for every item in a thread each; results in order.
    Exceptions are returned in place of results, never raised."""
    results: list = [None] * len(items)

    def worker(position: int, item) -> None:
        try:
            results[position] = function(item)
        except Exception as error:  # reported by the caller
            results[position] = error

    threads = [threading.Thread(target=worker, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def raise_failures(what: str, names: list[str], results: list) -> None:
    failures = [f"{name}: {result}" for name, result in zip(names, results)
                if isinstance(result, Exception)]
    if failures:
        raise LabError(f"{what} failed on:\n  " + "\n  ".join(failures))


# --------------------------------------------------------------------------
# SSH
# --------------------------------------------------------------------------

def ssh_command(state: dict, vm: dict, remote: list[str], batch: bool = True) -> list[str]:
    command = ["ssh", "-i", state["ssh_key"], "-p", str(vm["ssh_port"])] + SSH_OPTIONS
    if batch:
        command += ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    return command + ["root@127.0.0.1"] + remote


def sshd_banner_seen(port: int) -> bool:
    """Cheap readiness probe. QEMU's port forward accepts connections even
    before the guest listens, so wait for sshd's "SSH-" greeting instead."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.settimeout(3)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


# Prints "ethN MAC" for every NIC: proves SSH works and lets `up` check that
# the guest named its NICs in PCI order.
LIST_NICS = "for n in /sys/class/net/eth*; do echo ${n##*/} $(cat $n/address); done"


def wait_for_ssh(state: dict, vm: dict, started: float, deadline: float) -> float:
    """Wait until `ssh vm` works; return seconds since the VM was started."""
    marker = state["state_dir"]
    while time.monotonic() < deadline:
        if not is_lab_process(vm["pid"], marker):
            raise LabError(f"QEMU of {vm['name']} exited during boot")
        if sshd_banner_seen(vm["ssh_port"]):
            try:
                result = subprocess.run(ssh_command(state, vm, [LIST_NICS]), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, timeout=30, check=False)
            except subprocess.TimeoutExpired:
                continue  # a guest still busy booting can be this slow: ask again
            if result.returncode == 0:
                elapsed = time.monotonic() - started
                check_guest_nics(vm, result.stdout.decode())
                return elapsed
        time.sleep(1)
    raise LabError(f"{vm['name']} did not answer on SSH (port {vm['ssh_port']}) in time")


def check_guest_nics(vm: dict, listing: str) -> None:
    seen = dict(line.split() for line in listing.splitlines() if len(line.split()) == 2)
    for nic in vm["nics"]:
        if seen.get(nic["ifname"]) != nic["mac"]:
            raise LabError(f"{vm['name']}: {nic['ifname']} has MAC {seen.get(nic['ifname'])}, "
                           f"expected {nic['mac']} (NIC order is off)")


# --------------------------------------------------------------------------
# Starting things
# --------------------------------------------------------------------------

def start_vde_switch(wire: dict) -> None:
    """A hub, not a learning switch: it repeats every frame, so the 802.1X
    group address (01:80:c2:00:00:03) that bridges must not forward still
    reaches every member."""
    command = ["vde_switch", "--hub", "--sock", wire["socket"], "--pidfile", wire["pidfile"],
               "--daemon", "--mode", "0600", "--dirmode", "0700"]
    run(command, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = read_pidfile(wire["pidfile"])
        if pid and os.path.exists(os.path.join(wire["socket"], "ctl")):
            wire["pid"] = pid
            return
        time.sleep(0.1)
    raise LabError(f"vde_switch for {wire['name']} did not come up ({wire['socket']})")


def wire_netdev(state: dict, vm: dict, nic: dict, netdev_id: str) -> str:
    wire = next(w for w in state["wires"] if w["name"] == nic["wire"])
    if wire["kind"] == "vde":
        return f"vde,id={netdev_id},sock={wire['socket']}"
    peer = next(m for m in wire["members"] if m != vm["name"])
    # Unicast UDP between exactly two QEMUs. Not the mcast flavour: that one
    # loops a VM's own frames back to it, which breaks MKA.
    return (f"socket,id={netdev_id},udp=127.0.0.1:{wire['ports'][peer]},"
            f"localaddr=127.0.0.1:{wire['ports'][vm['name']]}")


def qemu_command(state: dict, vm: dict, image: Image, accel: str, isolated: bool) -> list[str]:
    if accel == "kvm":
        accel_args = ["-accel", "kvm", "-cpu", "host"]
    else:
        accel_args = ["-accel", "tcg", "-cpu", state["tcg_cpu"]]
    mgmt = f"user,id=mgmt,hostfwd=tcp:127.0.0.1:{vm['ssh_port']}-:22"
    if isolated:
        # restrict=on: the guest reaches neither the host nor the outside;
        # only the SSH forward above works.
        mgmt += ",restrict=on"
    command = [
        "qemu-system-x86_64", "-name", f"{state['lab']}-{vm['name']}",
        "-machine", "pc", *accel_args, "-smp", "1", "-m", str(state["memory_mib"]),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-kernel", image.kernel, "-initrd", image.initrd,
        "-append", KERNEL_CMDLINE.format(hostname=vm["name"]),
        "-drive", f"file={vm['overlay']},format=qcow2,if=none,id=disk0,cache=unsafe,discard=unmap",
        "-device", "virtio-blk-pci,drive=disk0,bus=pci.0,addr=0x2",
        "-netdev", mgmt,
        # Fixed PCI slots keep the guest's NIC names stable: eth0 = mgmt, eth1.. = wires.
        "-device", f"virtio-net-pci,netdev=mgmt,mac={vm['nics'][0]['mac']},"
                   f"bus=pci.0,addr={MGMT_PCI_SLOT:#x},romfile=",
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0,bus=pci.0,addr=0x1f",
        "-chardev", f"file,id=serial0,path={vm['console']}", "-serial", "chardev:serial0",
        "-qmp", f"unix:{vm['qmp']},server=on,wait=off",
        "-pidfile", vm["pidfile"], "-daemonize",
    ]
    for position, nic in enumerate(vm["nics"][1:]):
        netdev_id = f"nic{position + 1}"
        command += ["-netdev", wire_netdev(state, vm, nic, netdev_id),
                    "-device", f"virtio-net-pci,netdev={netdev_id},mac={nic['mac']},"
                               f"bus=pci.0,addr={FIRST_WIRE_PCI_SLOT + position:#x},romfile="]
    return command


def start_vm(state: dict, vm: dict, image: Image, accel: str, isolated: bool) -> None:
    for stale in (vm["overlay"], vm["console"], vm["pidfile"], vm["qmp"]):
        with contextlib.suppress(FileNotFoundError):
            os.remove(stale)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.disk, vm["overlay"]])
    command = qemu_command(state, vm, image, accel, isolated)
    with open(os.path.join(state["state_dir"], f"{vm['name']}.cmdline"), "w") as f:
        f.write(shlex.join(command) + "\n")  # to rerun by hand when debugging
    # With -daemonize the first process exits once QEMU is set up, so errors
    # (bad option, port taken) surface here.
    run(command, stdin=subprocess.DEVNULL, timeout=60)
    vm["pid"] = read_pidfile(vm["pidfile"])
    if not is_lab_process(vm["pid"], state["state_dir"]):
        raise LabError(f"QEMU of {vm['name']} did not stay up; console:\n{tail_of_file(vm['console'], 20)}")


def describe_wire_nics(vm: dict) -> str:
    return ", ".join(f"{nic['ifname']}={nic['wire']}" for nic in vm["nics"][1:]) or "none"


def boot_vms(state: dict, image: Image, accel: str, isolated: bool, timeout: float) -> None:
    """Start every VM, then wait for all of them to answer on SSH."""
    say(f"starting {len(state['vms'])} VM(s) with accel={accel}, {state['memory_mib']} MiB each")
    start_times = {}
    for vm in state["vms"]:
        start_vm(state, vm, image, accel, isolated)
        start_times[vm["name"]] = time.monotonic()
        save_state(state)  # pids on disk at once, so `down` can clean up after a crash
        say(f"{vm['name']}: QEMU pid {vm['pid']}, ssh 127.0.0.1:{vm['ssh_port']}, "
            f"wire NICs: {describe_wire_nics(vm)}")
    deadline = time.monotonic() + timeout
    results = run_in_parallel(
        lambda vm: wait_for_ssh(state, vm, start_times[vm["name"]], deadline), state["vms"])
    failed = [vm for vm, result in zip(state["vms"], results) if isinstance(result, Exception)]
    for vm in failed:
        say(f"{vm['name']}: last console lines ({vm['console']}):\n{tail_of_file(vm['console'], 25)}")
    raise_failures("waiting for SSH", [vm["name"] for vm in state["vms"]], results)
    for vm, seconds in zip(state["vms"], results):
        vm["boot_seconds"] = round(seconds, 1)
        say(f"{vm['name']}: SSH up {seconds:.1f}s after start (accel {accel})")


def stop_vms(state: dict) -> None:
    """Ask every QEMU to quit, then kill what is left after a grace period."""
    marker = state["state_dir"]
    pids = [vm.get("pid") or read_pidfile(vm["pidfile"]) for vm in state["vms"]]
    running = [pid for pid in pids if is_lab_process(pid, marker)]
    for vm in state["vms"]:
        pid = vm.get("pid") or read_pidfile(vm["pidfile"])
        if pid in running:
            try:
                with qmp_session(vm, timeout=2) as qmp:
                    qmp.execute("quit")
            except (LabError, OSError, ValueError):
                kill_pids([pid], signal.SIGTERM)
    left = wait_until_gone(running, marker, QUIT_GRACE_SECONDS)
    if left:
        say(f"QEMU pid(s) {left} did not quit in {QUIT_GRACE_SECONDS}s: SIGKILL")
        kill_pids(left, signal.SIGKILL)
        left = wait_until_gone(left, marker, 5)
    if left:
        raise LabError(f"QEMU pid(s) {left} survived SIGKILL")
    for vm in state["vms"]:
        vm["pid"] = None


def stop_wires(state: dict) -> None:
    marker = state["state_dir"]
    pids = [w.get("pid") or read_pidfile(w["pidfile"]) for w in state["wires"] if w["kind"] == "vde"]
    running = [pid for pid in pids if is_lab_process(pid, marker)]
    kill_pids(running, signal.SIGTERM)
    left = wait_until_gone(running, marker, 3)
    kill_pids(left, signal.SIGKILL)
    left = wait_until_gone(left, marker, 5)
    if left:
        raise LabError(f"vde_switch pid(s) {left} survived SIGKILL")


def pids_from_pidfiles(state_dir: str) -> list[int]:
    """For a lab whose state file is missing or partial (crash during `up`)."""
    pids = [read_pidfile(path) for path in glob.glob(os.path.join(state_dir, "*.pid"))]
    return [pid for pid in pids if is_lab_process(pid, state_dir)]


def tear_down(state_dir: str) -> bool:
    """Stop everything the lab in state_dir started and remove the dir.
    Returns False if there was nothing to tear down."""
    if not os.path.isdir(state_dir):
        return False
    if not os.path.exists(os.path.join(state_dir, STATE_MARKER)):
        raise LabError(f"{state_dir} exists but is not a lab state dir; not touching it")
    state = load_state(state_dir)
    if state:
        stop_vms(state)
        stop_wires(state)
    stragglers = pids_from_pidfiles(state_dir)
    if stragglers:
        say(f"killing leftover lab processes {stragglers}")
        kill_pids(stragglers, signal.SIGKILL)
        if wait_until_gone(stragglers, state_dir, 5):
            raise LabError(f"processes {stragglers} survived SIGKILL")
    shutil.rmtree(state_dir)
    return True


def lab_is_alive(state: dict) -> bool:
    marker = state["state_dir"]
    vms_alive = all(is_lab_process(vm.get("pid"), marker) for vm in state["vms"])
    wires_alive = all(is_lab_process(w.get("pid"), marker) for w in state["wires"] if w["kind"] == "vde")
    return state.get("status") == "running" and vms_alive and wires_alive


# --------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------

def yaml_string(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar; quoting also stops
    # YAML 1.1 from reading a MAC such as 52:54:00:12:34:56 as a number.
    return json.dumps(value)


def inventory_yaml(state: dict) -> str:
    # ControlPersist keeps one SSH connection per VM open between tasks:
    # a big saving when every new connection costs guest CPU under TCG.
    common_args = " ".join(SSH_OPTIONS + ["-o", "ControlMaster=auto", "-o", "ControlPersist=60s"])
    lines = [
        f"# Ansible inventory of l2sec lab {state['lab']!r}, written by lab/lab.py.",
        "# Regenerated by `lab.py up` / `lab.py inventory`; edits are lost.",
        "all:",
        "  children:",
        "    lab:",
        "      vars:",
        f"        lab_name: {yaml_string(state['lab'])}",
        "        lab_wire_members:",
    ]
    for wire in state["wires"]:
        members = ", ".join(yaml_string(m) for m in wire["members"])
        lines.append(f"          {wire['name']}: [{members}]")
    if not state["wires"]:
        lines[-1] += " {}"
    lines.append("      hosts:")
    for vm in state["vms"]:
        lines += [
            f"        {vm['name']}:",
            f"          ansible_host: {yaml_string('127.0.0.1')}",
            f"          ansible_port: {vm['ssh_port']}",
            f"          ansible_user: {yaml_string('root')}",
            f"          ansible_ssh_private_key_file: {yaml_string(state['ssh_key'])}",
            f"          ansible_python_interpreter: {yaml_string('/usr/bin/python3')}",
            f"          ansible_ssh_common_args: {yaml_string(common_args)}",
            "          lab_wires:" + ("" if len(vm["nics"]) > 1 else " {}"),
        ]
        lines += [f"            {nic['wire']}: {yaml_string(nic['ifname'])}" for nic in vm["nics"][1:]]
        lines.append("          lab_macs:")
        lines += [f"            {nic['ifname']}: {yaml_string(nic['mac'])}" for nic in vm["nics"]]
    return "\n".join(lines) + "\n"


def inventory_path(state: dict) -> str:
    return os.path.join(state["state_dir"], "inventory.yml")


# --------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------

def cmd_build(args: argparse.Namespace) -> None:
    build_image(force=args.force)
    image = current_image()
    info = image.info()
    say(f"disk {image.disk}: {human_size(info['disk_bytes'])} "
        f"(virtual {human_size(info['disk_virtual_bytes'])}, rootfs {human_size(info['rootfs_bytes'])})")
    say(f"kernel {info['kernel_version']}, hostapd-macsec from wpa {info.get('hostapd_macsec_version')}, "
        f"ssh key {image.private_key}")


def choose_accel(requested: str) -> list[str]:
    """Accelerators to try in order. KVM is never the default: the KVM seen
    on some hosts cannot run stock Debian kernels."""
    if requested == "auto":
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            return ["kvm", "tcg"]
        say("no usable /dev/kvm: using tcg")
        return ["tcg"]
    return [requested]


def cmd_up(args: argparse.Namespace) -> None:
    lab_name = check_lab_name(args.name)
    if args.vms < 1 or args.vms > 250:
        raise LabError("--vms must be between 1 and 250")
    if args.memory < 256:
        raise LabError("--memory must be at least 256 (MiB)")
    wires = parse_wire_spec(args.wires if args.wires is not None else default_wire_spec(args.vms), args.vms)
    needed = ["qemu-system-x86_64", "qemu-img", "ssh"]
    if any(len(members) > 2 for members in wires.values()):
        needed.append("vde_switch")
    require_tools(needed)
    state_dir = state_dir_of(lab_name)
    with lab_lock(lab_name):
        old = load_state(state_dir)
        if old and lab_is_alive(old):
            if same_shape(old, args.vms, wires, args.memory):
                say(f"lab {lab_name!r} is already running with this shape: nothing to do")
                write_file_atomically(inventory_path(old), inventory_yaml(old))
                return
            raise LabError(f"lab {lab_name!r} is running with another shape "
                           f"({len(old['vms'])} VMs, wires {old['wire_spec'] or 'none'}, "
                           f"{old['memory_mib']} MiB); run `lab.py down --name {lab_name}` first")
        if os.path.isdir(state_dir):
            say(f"found leftovers of lab {lab_name!r} (crashed or stopped run): cleaning up")
            tear_down(state_dir)
        image = build_image()
        bring_up(lab_name, state_dir, image, args, wires)


def check_socket_paths(state: dict) -> None:
    paths = [vm["qmp"] for vm in state["vms"]]
    paths += [w["socket"] + "/ctl" for w in state["wires"] if w["kind"] == "vde"]
    too_long = [path for path in paths if len(path) > UNIX_SOCKET_PATH_MAX]
    if too_long:
        raise LabError(f"unix socket path too long ({too_long[0]}); use a shorter L2SEC_LAB_STATE")


def bring_up(lab_name: str, state_dir: str, image: Image, args: argparse.Namespace,
             wires: dict[str, list[str]]) -> None:
    started = time.monotonic()
    with contextlib.suppress(OSError):  # ssh ignores a key that others can read
        os.chmod(image.private_key, 0o600)
    os.makedirs(state_dir, mode=0o700)
    open(os.path.join(state_dir, STATE_MARKER), "w").close()
    state = plan_lab(lab_name, state_dir, args.vms, wires, args.memory)
    state.update(ssh_key=image.private_key, image=image.directory, accel=None,
                 tcg_cpu=args.cpu, mgmt_isolated=not args.mgmt_nat)
    check_socket_paths(state)
    save_state(state)
    try:
        for wire in state["wires"]:
            if wire["kind"] == "vde":
                start_vde_switch(wire)
                say(f"{wire['name']}: vde_switch hub pid {wire['pid']} for {', '.join(wire['members'])}")
            else:
                say(f"{wire['name']}: UDP pair {wire['members'][0]}<->{wire['members'][1]}")
        save_state(state)
        boot_with_fallback(state, image, args)
    except BaseException:
        if args.keep_on_failure:
            say(f"--keep-on-failure: leaving lab {lab_name!r} as it is in {state_dir}")
        else:
            say(f"bringing lab {lab_name!r} down again after the failure")
            with contextlib.suppress(LabError):
                tear_down(state_dir)
        raise
    state["status"] = "running"
    save_state(state)
    write_file_atomically(inventory_path(state), inventory_yaml(state))
    say(f"lab {lab_name!r} up: {len(state['vms'])} VM(s), accel {state['accel']}, "
        f"inventory {inventory_path(state)}; took {time.monotonic() - started:.1f}s")


def boot_with_fallback(state: dict, image: Image, args: argparse.Namespace) -> None:
    accels = choose_accel(args.accel)
    for accel in accels:
        probing = accel == "kvm" and len(accels) > 1
        timeout = min(KVM_PROBE_SECONDS, args.timeout) if probing else args.timeout
        try:
            boot_vms(state, image, accel, not args.mgmt_nat, timeout)
            state["accel"] = accel
            return
        except LabError as error:
            if not probing:
                raise
            say(f"kvm probe failed ({error}); falling back to tcg")
            stop_vms(state)


def cmd_down(args: argparse.Namespace) -> None:
    lab_name = check_lab_name(args.name)
    started = time.monotonic()
    with lab_lock(lab_name):
        if not tear_down(state_dir_of(lab_name)):
            say(f"no lab named {lab_name!r}: nothing to do")
            return
    say(f"lab {lab_name!r} down (processes stopped, overlays and state removed) "
        f"in {time.monotonic() - started:.1f}s")


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(check_lab_name(args.name))
    state = load_state(state_dir)
    if state is None:
        print(f"lab {args.name!r}: not running (no state in {state_dir})")
        return 1
    marker = state["state_dir"]
    print(f"lab {state['lab']!r}: status {state['status']}, accel {state.get('accel')}, "
          f"{state['memory_mib']} MiB per VM, state {state_dir}")
    print(f"  inventory {inventory_path(state)}")
    healthy = state["status"] == "running"
    for vm in state["vms"]:
        alive = is_lab_process(vm.get("pid"), marker)
        run_state = "-"
        if alive:
            with contextlib.suppress(LabError, OSError, ValueError):
                with qmp_session(vm, timeout=3) as qmp:
                    run_state = qmp.execute("query-status")["status"]
        sshd = alive and sshd_banner_seen(vm["ssh_port"])
        healthy = healthy and alive and sshd
        nics = " ".join(f"{n['ifname']}={n['wire'] or 'mgmt'}({n['mac']})" for n in vm["nics"])
        print(f"  {vm['name']}: pid {vm.get('pid')} {'alive' if alive else 'DEAD'}, qemu {run_state}, "
              f"ssh 127.0.0.1:{vm['ssh_port']} {'up' if sshd else 'DOWN'}, boot {vm.get('boot_seconds')}s")
        print(f"       {nics}")
    for wire in state["wires"]:
        if wire["kind"] == "vde":
            alive = is_lab_process(wire.get("pid"), marker)
            healthy = healthy and alive
            print(f"  {wire['name']}: vde hub pid {wire.get('pid')} {'alive' if alive else 'DEAD'}, "
                  f"members {','.join(wire['members'])}")
        else:
            print(f"  {wire['name']}: udp pair, members {','.join(wire['members'])}")
    return 0 if healthy else 1


def cmd_inventory(args: argparse.Namespace) -> None:
    state = require_running_state(check_lab_name(args.name))
    text = inventory_yaml(state)
    if args.output and args.output != "-":
        write_file_atomically(args.output, text)
        say(f"inventory of lab {state['lab']!r} written to {args.output}")
    else:
        sys.stdout.write(text)


def cmd_ssh(args: argparse.Namespace) -> int:
    state = require_running_state(check_lab_name(args.name))
    vm = find_vm(state, args.vm)
    # No lab.py output of its own here: stdout/stderr are the command's.
    interactive = not args.command and sys.stdin.isatty()
    return subprocess.run(ssh_command(state, vm, args.command, batch=not interactive), check=False).returncode


def cmd_reset(args: argparse.Namespace) -> None:
    state = require_running_state(check_lab_name(args.name))
    vm = find_vm(state, args.vm)
    started = time.monotonic()
    with qmp_session(vm) as qmp:
        qmp.execute("system_reset")
    say(f"{vm['name']}: hard reset sent (no clean shutdown)")
    if args.no_wait:
        return
    seconds = wait_for_ssh(state, vm, started, started + args.timeout)
    say(f"{vm['name']}: SSH back {seconds:.1f}s after the reset")


def cmd_snapshot(args: argparse.Namespace) -> None:
    state = require_running_state(check_lab_name(args.name))
    started = time.monotonic()
    names = [vm["name"] for vm in state["vms"]]
    if args.action == "list":
        for vm in state["vms"]:
            with qmp_session(vm) as qmp:
                print(f"{vm['name']}:\n{qmp.human('info snapshots').rstrip()}")
        return
    if not args.tag:
        raise LabError(f"snapshot {args.action} needs a TAG")
    monitor_command = f"{'savevm' if args.action == 'save' else 'loadvm'} {args.tag}"

    def on_vm(vm: dict) -> None:
        with qmp_session(vm, timeout=300) as qmp:
            output = qmp.human(monitor_command).strip()
        if output:  # HMP reports errors as text
            raise LabError(output)

    # Pause all VMs first and resume them together, so that the snapshot is
    # one moment in time for the whole lab (MKA peers agree on their state).
    run_in_parallel(lambda vm: qmp_execute(vm, "stop"), state["vms"])
    try:
        results = run_in_parallel(on_vm, state["vms"])
    finally:
        run_in_parallel(lambda vm: qmp_execute(vm, "cont"), state["vms"])
    raise_failures(f"snapshot {args.action} {args.tag}", names, results)
    say(f"snapshot {args.action} {args.tag!r} on {', '.join(names)}: done in "
        f"{time.monotonic() - started:.1f}s")


def qmp_execute(vm: dict, command: str):
    with qmp_session(vm) as qmp:
        return qmp.execute(command)


def cmd_console(args: argparse.Namespace) -> None:
    state = require_running_state(check_lab_name(args.name))
    vm = find_vm(state, args.vm)
    print(tail_of_file(vm["console"], args.lines))
    if not args.follow:
        return
    with open(vm["console"], "rb") as f:
        f.seek(0, os.SEEK_END)
        while True:
            chunk = f.read()
            if chunk:
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.5)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

WIRE_SPEC_HELP = ("wires as NAME=VM,VM[,...] joined by ';', e.g. 'wire1=vm1,vm2,vm3;wire2=vm1,vm2'. "
                  "Each VM gets eth1, eth2, ... in the order of the wires it is on. A wire of 2 VMs "
                  "is a UDP pair, of 3+ a vde_switch hub. '' = no wires. "
                  f"Default: wire1..wire{DEFAULT_WIRE_COUNT}, each joining all VMs")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab.py", description="QEMU VM lab for the l2sec.macsec collection (see lab/README.md)")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    commands.required = True

    def add(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def add_name(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--name", default="default", help="lab name (default: default)")

    build = add("build", "build (or reuse) the Debian 12 lab image", cmd_build)
    build.add_argument("--force", action="store_true", help="rebuild even if cached")

    up = add("up", "boot a lab of VMs and wait until SSH answers on all", cmd_up)
    add_name(up)
    up.add_argument("--vms", type=int, default=DEFAULT_VMS, help=f"number of VMs (default {DEFAULT_VMS})")
    up.add_argument("--wires", default=None, metavar="SPEC", help=WIRE_SPEC_HELP)
    up.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MIB, metavar="MiB",
                    help=f"memory per VM (default {DEFAULT_MEMORY_MIB})")
    up.add_argument("--accel", choices=["tcg", "kvm", "auto"], default="tcg",
                    help="tcg (default), kvm, or auto (try kvm for "
                         f"{KVM_PROBE_SECONDS}s, then tcg)")
    up.add_argument("--cpu", default=DEFAULT_TCG_CPU, metavar="MODEL",
                    help=f"QEMU CPU model under tcg (default {DEFAULT_TCG_CPU}; qemu64 or "
                         "Westmere boot 10-25%% faster here, see README)")
    up.add_argument("--timeout", type=float, default=DEFAULT_SSH_TIMEOUT,
                    help=f"seconds to wait for SSH on all VMs (default {DEFAULT_SSH_TIMEOUT})")
    up.add_argument("--mgmt-nat", action="store_true",
                    help="let VMs reach out through QEMU's user-mode NAT on eth0 "
                         "(default: isolated, only the SSH port forward works)")
    up.add_argument("--keep-on-failure", action="store_true",
                    help="leave VMs running if `up` fails (default: tear the lab down)")

    down = add("down", "stop the lab's processes and remove its overlays and state", cmd_down)
    add_name(down)

    status = add("status", "show the lab's VMs, ports, NICs and wires", cmd_status)
    add_name(status)

    inventory = add("inventory", "write an Ansible YAML inventory of the running lab", cmd_inventory)
    add_name(inventory)
    inventory.add_argument("--output", "-o", metavar="FILE", help="file to write (default: stdout)")

    ssh = add("ssh", "run a command in a VM (or a shell) over SSH with the lab key", cmd_ssh)
    add_name(ssh)
    ssh.add_argument("vm", help="VM name, e.g. vm1")
    ssh.add_argument("command", nargs=argparse.REMAINDER, help="command to run (default: a shell)")

    reset = add("reset", "hard-reset a VM (QMP system_reset, no clean shutdown)", cmd_reset)
    add_name(reset)
    reset.add_argument("vm")
    reset.add_argument("--no-wait", action="store_true", help="do not wait for SSH to come back")
    reset.add_argument("--timeout", type=float, default=DEFAULT_SSH_TIMEOUT)

    snapshot = add("snapshot", "save/load/list a snapshot of all VMs of the lab (savevm/loadvm)",
                   cmd_snapshot)
    add_name(snapshot)
    snapshot.add_argument("action", choices=["save", "load", "list"])
    snapshot.add_argument("tag", nargs="?")

    console = add("console", "print the tail of a VM's serial console log", cmd_console)
    add_name(console)
    console.add_argument("vm")
    console.add_argument("--lines", "-n", type=int, default=50)
    console.add_argument("--follow", "-f", action="store_true", help="keep printing new output")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = make_parser().parse_args(argv)
    started = time.monotonic()
    try:
        result = args.handler(args)
    except LabError as error:
        print(f"lab.py {args.subcommand}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lab.py {args.subcommand}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout went away (e.g. `| head`): not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.subcommand not in ("ssh", "console", "inventory", "status"):
        say(f"{args.subcommand}: finished in {time.monotonic() - started:.1f}s")
    return result or 0


if __name__ == "__main__":
    sys.exit(main())
