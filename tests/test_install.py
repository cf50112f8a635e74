"""systemd/install.sh in a throwaway root: the files it makes, and a second run changes none.

The script writes every path under $DESTDIR. The user and group tools, and python3 (the venv
and pip), are stand-ins first on PATH that log their arguments and, like the real tools with
--prefix, edit the root's own /etc/passwd and /etc/group. apt-get and getent must not run in a
DESTDIR install: their stand-ins fail. systemctl is the real one (`--root` enables units in a
folder without a running systemd) where the machine has it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from station import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "systemd" / "install.sh"
GROUPS = ["gpio", "i2c", "spi", "video", "input", "render", "audio"]
SYSTEMCTL = shutil.which("systemctl")

BOOKWORM_CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Automatically load overlays for detected cameras
camera_auto_detect=1

# Automatically load overlays for detected DSI displays
display_auto_detect=1

# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2

[cm4]
otg_mode=1

[all]
"""

# Stand-ins. Each logs "name args" to $SHIM_LOG; the user tools refuse to run without --prefix
# so that a mistake in the script can never touch this machine's users.
USER_TOOL = r"""#!/bin/sh
echo "$(basename "$0") $*" >> "$SHIM_LOG"
tool=$(basename "$0"); prefix=""; groups=""; usergroup=0; home=""; shell=""
while [ $# -gt 1 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --groups) groups=$2; shift 2 ;;
        --home-dir) home=$2; shift 2 ;;
        --shell) shell=$2; shift 2 ;;
        --comment) shift 2 ;;
        --user-group) usergroup=1; shift ;;
        *) shift ;;
    esac
done
name=$1
[ -n "$prefix" ] || { echo "$tool: refusing to run without --prefix" >&2; exit 9; }
add_member() {
    awk -F: -v g="$1" -v u="$2" 'BEGIN { OFS = ":" }
        $1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' "$prefix/etc/group" \
        > "$prefix/etc/group.tmp" && mv "$prefix/etc/group.tmp" "$prefix/etc/group"
}
next_id() { echo $((900 + $(wc -l < "$prefix/etc/$1"))); }
case "$tool" in
    groupadd) echo "$name:x:$(next_id group):" >> "$prefix/etc/group" ;;
    useradd)
        id=$(next_id passwd)
        [ "$usergroup" = 1 ] && echo "$name:x:$id:" >> "$prefix/etc/group"
        echo "$name:x:$id:$id::$home:$shell" >> "$prefix/etc/passwd"
        for g in $(echo "$groups" | tr ',' ' '); do add_member "$g" "$name"; done ;;
    usermod) for g in $(echo "$groups" | tr ',' ' '); do add_member "$g" "$name"; done ;;
esac
"""

PYTHON = r"""#!/bin/sh
# python3 -m venv DIR: a fake venv whose python logs pip and installs a fake `station`.
echo "python3 $*" >> "$SHIM_LOG"
[ "$1 $2" = "-m venv" ] || { echo "unexpected python3 call: $*" >&2; exit 9; }
mkdir -p "$3/bin"
printf 'home = /usr/bin\n' > "$3/pyvenv.cfg"
cat > "$3/bin/python" <<'EOF'
#!/bin/sh
echo "venv-python $*" >> "$SHIM_LOG"
printf '#!/bin/sh\necho station "$@"\n' > "$(dirname "$0")/station"
chmod 755 "$(dirname "$0")/station"
EOF
chmod 755 "$3/bin/python"
"""

FORBIDDEN = '#!/bin/sh\necho "$(basename "$0") $*" >> "$SHIM_LOG"\n' \
            'echo "$(basename "$0") must not run in a DESTDIR install" >&2\nexit 9\n'

SYSTEMCTL_SHIM = '#!/bin/sh\necho "systemctl $*" >> "$SHIM_LOG"\n'


@pytest.fixture
def env(tmp_path):
    shims = tmp_path / "shims"
    shims.mkdir()
    scripts = {"groupadd": USER_TOOL, "useradd": USER_TOOL, "usermod": USER_TOOL,
               "python3": PYTHON, "apt-get": FORBIDDEN, "getent": FORBIDDEN,
               "chown": FORBIDDEN}
    if SYSTEMCTL is None:
        scripts["systemctl"] = SYSTEMCTL_SHIM
    for name, text in scripts.items():
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    dest = tmp_path / "root"
    (dest / "etc").mkdir(parents=True)
    (dest / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (dest / "etc/group").write_text("root:x:0:\nvideo:x:44:\ninput:x:105:\nrender:x:106:\n"
                                    "audio:x:29:pi\n")
    (dest / "etc/hostname").write_text("clinic-a-st3\n")
    (dest / "boot/firmware").mkdir(parents=True)
    (dest / "boot/firmware/config.txt").write_text(BOOKWORM_CONFIG_TXT)
    return {"PATH": f"{shims}:{os.environ['PATH']}", "DESTDIR": str(dest),
            "SHIM_LOG": str(tmp_path / "calls.log"), "HOME": str(tmp_path),
            "LC_ALL": "C"}


def install(env: dict[str, str]) -> tuple[str, list[str]]:
    """Run the script once; its output and the stand-in calls it made."""
    log = Path(env["SHIM_LOG"])
    log.write_text("")
    proc = subprocess.run(["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, log.read_text().splitlines()


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, permissions and content hash or link target."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        rel = str(p.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[rel] = ("file", stat.S_IMODE(st.st_mode), digest)
    return out


def test_install_makes_the_expected_files(env):
    dest = Path(env["DESTDIR"])
    out, calls = install(env)

    # the user, in every device group; missing groups were created
    passwd = (dest / "etc/passwd").read_text()
    assert "station:x:" in passwd and ":/var/lib/station:/usr/sbin/nologin" in passwd
    groups = {line.split(":")[0]: line.split(":")[3].split(",")
              for line in (dest / "etc/group").read_text().splitlines()}
    assert all("station" in groups[g] for g in GROUPS)
    assert groups["audio"] == ["pi", "station"]
    assert [c.split()[-1] for c in calls if c.startswith("groupadd")] == ["gpio", "i2c", "spi"]

    # the virtual environment with the hardware extras, and `station` on PATH
    assert f"python3 -m venv {dest}/opt/station/venv" in calls
    assert (f"venv-python -m pip install --quiet --disable-pip-version-check "
            f"{ROOT}[pi,ui,sync]") in calls
    assert os.readlink(dest / "usr/local/bin/station") == "/opt/station/venv/bin/station"

    # configuration for this station, data folder, docs
    cfg = config_mod.load(dest / "etc/station/station.toml")
    assert cfg.station.id == "clinic-a-st3" and cfg.data_dir == Path("/var/lib/station")
    assert cfg.station.source == "hardware" and not cfg.station.allow_simulation
    assert stat.S_IMODE((dest / "var/lib/station").stat().st_mode) == 0o750
    assert (dest / "opt/station/docs/deploy.md").read_text() == \
        (ROOT / "docs/deploy.md").read_text()

    # the SD card: a capped journal; i2c-dev for the BNO08x
    journald = (dest / "etc/systemd/journald.conf.d/station.conf").read_text()
    assert "SystemMaxUse=64M" in journald and "[Journal]" in journald
    assert "i2c-dev" in (dest / "etc/modules-load.d/station.conf").read_text().split()

    # config.txt: I2C at 400 kHz added once under [all]; the display lines it already had
    # are not repeated; the original is kept beside it
    text = (dest / "boot/firmware/config.txt").read_text()
    lines = text.splitlines()
    for line in ("dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000",
                 "dtoverlay=vc4-kms-v3d", "display_auto_detect=1"):
        assert lines.count(line) == 1, line
    block = lines[lines.index("dtparam=i2c_arm=on") - 2:]
    assert block[0].startswith("# >>> balance-station") and block[1] == "[all]"
    assert (dest / "boot/firmware/config.txt.station-orig").read_text() == BOOKWORM_CONFIG_TXT

    # units installed as they are in the repository, and enabled
    for name in ("station.service", "station-sync.service", "station-sync.timer"):
        assert (dest / "etc/systemd/system" / name).read_bytes() == \
            (ROOT / "systemd" / name).read_bytes()
    if SYSTEMCTL:
        wants = dest / "etc/systemd/system"
        assert os.readlink(wants / "multi-user.target.wants/station.service") == \
            "/etc/systemd/system/station.service"
        assert os.readlink(wants / "timers.target.wants/station-sync.timer") == \
            "/etc/systemd/system/station-sync.timer"
    else:
        assert any(c.startswith(f"systemctl --root={dest}") and "enable" in c for c in calls)
    assert "skipping apt-get" in out


def test_a_second_run_changes_nothing(env):
    dest = Path(env["DESTDIR"])
    install(env)
    before = tree(dest)
    out, calls = install(env)
    assert tree(dest) == before
    assert not any(c.split()[0] in ("groupadd", "useradd", "usermod", "python3") for c in calls)
    assert "up to date: nothing changed" in out


def test_an_upgrade_keeps_the_configuration_and_the_sessions(env):
    dest = Path(env["DESTDIR"])
    install(env)
    conf = dest / "etc/station/station.toml"
    conf.write_text(conf.read_text().replace('id = "clinic-a-st3"', 'id = "gym-2"'))
    session = dest / "var/lib/station/sessions/2026-01-01-abc/session.json"
    session.parent.mkdir(parents=True)
    session.write_text('{"format_version": 1}\n')
    unit = dest / "etc/systemd/system/station.service"
    unit.write_text("[Service]\nExecStart=/old\n")                 # the previous release's unit
    out, calls = install(env)
    assert tomllib.loads(conf.read_text())["station"]["id"] == "gym-2"
    assert session.read_text() == '{"format_version": 1}\n'
    assert unit.read_bytes() == (ROOT / "systemd/station.service").read_bytes()
    assert any(c.startswith("venv-python -m pip install") for c in calls)   # code reinstalled
    assert "changed: units" in out


def test_an_older_image_with_boot_config_txt_and_i2c_already_on(env):
    dest = Path(env["DESTDIR"])
    shutil.rmtree(dest / "boot/firmware")
    legacy = dest / "boot/config.txt"
    legacy.write_text("dtparam=i2c_arm=on\ndtoverlay=vc4-kms-v3d\n")
    install(env)
    lines = legacy.read_text().splitlines()
    assert lines.count("dtparam=i2c_arm=on") == 1
    assert lines.count("dtoverlay=vc4-kms-v3d") == 1
    assert lines[-4:] == ["[all]", "dtparam=i2c_arm_baudrate=400000", "display_auto_detect=1",
                          "# <<< balance-station"]
