"""A training config given as text (the Train RPC's ``config_text``): YAML and JSON read to the
same config a file with that content gives, and bad text is an InvalidInputError naming the
field the text came in."""

import json

import pytest

from alphaloop.common.errors import InvalidInputError
from alphaloop.models.training import DEFAULT_CONFIG_PATH, TrainConfig, load_config
from alphaloop.models.training.config import parse_config_text


def test_yaml_text_reads_like_the_same_file():
    text = DEFAULT_CONFIG_PATH.read_text()
    assert parse_config_text(text) == load_config(DEFAULT_CONFIG_PATH)


def test_json_text_reads_like_the_same_yaml(tmp_path):
    data = {"model": "xgboost", "features": ["ret_5", "rsi_14"], "seed": 7,
            "labels": {"pt_sl": [1, 2], "vertical_bars": 7}, "cv": {"n_splits": 3}}
    path = tmp_path / "c.yaml"
    path.write_text("model: xgboost\nfeatures: [ret_5, rsi_14]\nseed: 7\n"
                    "labels: {pt_sl: [1, 2], vertical_bars: 7}\ncv: {n_splits: 3}\n")
    config = parse_config_text(json.dumps(data))
    assert config == load_config(path)
    assert (config.model, config.seed, config.cv.n_splits) == ("xgboost", 7, 3)
    assert config.labels.pt_sl == (1.0, 2.0)


def test_empty_text_is_the_built_in_defaults_not_default_yaml():
    assert parse_config_text("# nothing but a comment\n") == TrainConfig()
    assert parse_config_text("") != load_config()


@pytest.mark.parametrize(("text", "mentions"), [
    ("modle: lightgbm", "modle"),
    ('{"cv": {"n_splitz": 3}}', "n_splitz"),
    ("model: randomforest", "model"),
    ("model: [lightgbm", "not valid YAML"),
    ('["lightgbm"]', "mapping"),
])
def test_bad_text_names_the_field(text, mentions):
    with pytest.raises(InvalidInputError) as err:
        parse_config_text(text)
    assert err.value.field == "config_text"
    assert mentions in err.value.problem
    with pytest.raises(InvalidInputError) as err:
        parse_config_text(text, field="training")
    assert err.value.field == "training"


def test_a_file_still_reports_the_config_field_and_its_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("modle: lightgbm\n")
    with pytest.raises(InvalidInputError) as err:
        load_config(path)
    assert err.value.field == "config" and str(path) in err.value.problem
