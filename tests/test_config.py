"""Configuration: defaults, overrides, and refusals that name the file and the key."""

from __future__ import annotations

import pytest

from station import config as cfgmod
from station.cli import main
from station.errors import ConfigError


def write(tmp_path, text: str):
    p = tmp_path / "station.toml"
    p.write_text(text)
    return p


def test_defaults_match_design_geometry():
    cfg = cfgmod.load(None)
    assert cfg.plate.span_ml_m == 0.4 and cfg.plate.span_ap_m == 0.4
    assert cfg.plate.sample_rate_hz == 80
    assert len(cfg.hx711.dout_gpio) == 4


def test_file_overrides_only_what_it_names(tmp_path):
    cfg = cfgmod.load(write(tmp_path, "[plate]\nspan_ml_m = 0.5\n[hx711]\npd_sck_gpio = 23\n"))
    assert cfg.plate.span_ml_m == 0.5
    assert cfg.plate.span_ap_m == 0.4
    assert cfg.hx711.pd_sck_gpio == 23


def test_environment_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_CONFIG", str(write(tmp_path, "[station]\nid = 'gym-2'\n")))
    assert cfgmod.load().station.id == "gym-2"


@pytest.mark.parametrize(("text", "fragment"), [
    ("[plate]\nspan_ml_m = 'wide'\n", "[plate] span_ml_m must be float"),
    ("[plate]\nspan_ml = 0.4\n", "[plate] unknown key 'span_ml'"),
    ("[plates]\nspan_ml_m = 0.4\n", "unknown section [plates]"),
    ("[plate]\nspan_ml_m = 5.0\n", "[plate] span_ml_m = 5.0 is above the maximum"),
    ("[plate]\nsample_rate_hz = 40\n", "[plate] sample_rate_hz must be one of [10, 80]"),
    ("[hx711]\ndout_gpio = [6, 13, 19]\n", "[hx711] dout_gpio must have exactly 4 items"),
    ("[hx711]\ndout_gpio = [6, 6, 19, 26]\n", "[hx711] dout_gpio has duplicate entries"),
    ("[station]\nallow_simulation = 'yes'\n", "[station] allow_simulation must be bool"),
    ("[plate\n", "not valid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        cfgmod.load(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_cli_refuses_bad_config_with_one_line(tmp_path, capsys):
    path = write(tmp_path, "[plate]\nspn_ml_m = 0.4\n")
    assert main(["config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spn_ml_m" in err[0] and str(path) in err[0]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        cfgmod.load(tmp_path / "nope.toml")


def test_defaults_reference_round_trips():
    text = cfgmod.describe_defaults()
    import tomllib

    assert cfgmod.from_mapping(tomllib.loads(text)) == cfgmod.Config(source_file="<mapping>")
