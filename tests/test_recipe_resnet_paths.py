"""recipes/resnet_paths.py: the four experiments of a plain/residual pair, written whole or not at all."""

import csv
import pathlib
import re

import keras
import pytest

from conftest import load_script, run_inline

ROOT = pathlib.Path(__file__).resolve().parents[1]
recipe = load_script(ROOT / "recipes" / "resnet_paths.py", "resnet_paths")
OUTPUTS = {"paths.png", "paths.csv", "lesion_delete.png", "lesion_delete.csv",
           "lesion_reorder.png", "lesion_reorder.csv", "degradation.png", "degradation.csv",
           "resnet20.keras", "plain20.keras"}
# The smallest run: the digits at their own 8x8, one epoch, one draw.
TINY = ["--depths", "20", "--epochs", "1", "--image-size", "8", "--draws", "1",
        "--samples", "1", "--path-images", "4"]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_tiny_run_writes_every_plot_and_table(tmp_path):
    output = tmp_path / "paths"
    keras.utils.set_random_seed(0)
    result = run_inline(recipe.main, [*TINY, "--output-dir", str(output)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name for p in output.iterdir()} == OUTPUTS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    for name in OUTPUTS:
        if name.endswith(".png"):
            assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    paths = rows(output / "paths.csv")
    assert [int(r["length"]) for r in paths] == list(range(10))  # resnet20: 9 blocks
    assert [int(r["paths"]) for r in paths] == [1, 9, 36, 84, 126, 126, 84, 36, 9, 1]
    deleted = rows(output / "lesion_delete.csv")
    assert {r["model"] for r in deleted} == {"resnet20", "plain20"}
    assert sum(r["model"] == "resnet20" and r["deleted"] == "1" for r in deleted) == 9
    reorder = rows(output / "lesion_reorder.csv")
    assert reorder[0]["kendall_tau"] == "1.0" and len(reorder) == 1 + 9  # 1 draw per swap count
    curves = rows(output / "degradation.csv")
    assert [(r["model"], r["epoch"], r["residual"]) for r in curves] == [
        ("plain20", "1", "False"), ("resnet20", "1", "True")]
    out = result.stdout
    assert "from scratch on digits (1258 training, 359 test images, 10 classes) at 8x8, 1 epochs" \
        in out
    assert "lesion_delete: resnet20 top-1 error 0 deleted" in out
    assert f"wrote {output}/" in out
    # Nothing is replaced without --overwrite, and the refusal comes before any work.
    again = run_inline(recipe.main, [*TINY, "--output-dir", str(output)])
    assert again.returncode == 2
    assert f"--output-dir: {output} already exists; pass --overwrite" in again.stderr
    assert "training" not in again.stdout


@pytest.mark.parametrize("args, message", [
    (["--depths", "110"], r"--depths: must be one of 20, 32, 44, 56"),
    (["--depths", "20", "20"], r"--depths: each depth once"),
    (["--epochs", "0"], r"--epochs: must be a positive integer; got '0'"),
    (["--image-size", "4"], r"--image-size: must be an integer >= 8; got '4'"),
    (["--learning-rate", "0"], r"--learning-rate: must be a number > 0"),
    (["--data", "mnist"], r"--data: must be digits, folder:PATH or tfds:NAME; got 'mnist'"),
])
def test_bad_arguments_are_refused_in_one_line(args, message, tmp_path):
    result = run_inline(recipe.main, [*args, "--output-dir", str(tmp_path / "out")])
    assert result.returncode == 2
    assert re.search(message, result.stderr), result.stderr
    assert not (tmp_path / "out").exists()
