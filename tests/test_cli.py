"""The `kerasnets` console script: list and info."""

import json

from kerasnets.cli import main


def test_list_with_pattern(capsys):
    assert main(["list", "vgg1*"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == [
        "vgg11", "vgg11_lrn", "vgg13", "vgg16", "vgg16_conv1", "vgg19",
    ]
    assert "138,357,544" in next(line for line in lines if line.startswith("vgg16 "))


def test_list_without_match(capsys):
    assert main(["list", "resnet9000*"]) == 1
    assert "no registered model" in capsys.readouterr().err


def test_info_prints_parameters_macs_input_and_paper(capsys):
    assert main(["info", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "60,965,224" in out
    assert "724,406,816" in out
    assert "227x227x3" in out
    assert "Krizhevsky" in out and "2012" in out


def test_info_json_and_other_size(capsys):
    assert main(["info", "lenet5", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["multiply_adds"] == 416_520 and info["built_parameters"] == 61_706
    assert main(["info", "vgg16", "--input-size", "64", "64", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["built_input_shape"] == [64, 64, 3]
    assert info["built_parameters"] == 14_714_688  # the convolutional part


def test_info_unknown_name_is_a_one_line_error(capsys):
    assert main(["info", "vgg17"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kerasnets info: error: Unknown model name 'vgg17'")
    assert "vgg16" in err
