"""recipes/train.py distributed, resumed and diverging, in subprocesses (LeNet-5 on the digits)."""

import csv
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import textwrap

import pytest

from conftest import run_with_backend

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "recipes" / "train.py")
FAST = ["--epochs", "1", "--shift", "0", "--no-tflite"]


def run(*args, env=None, timeout=300, code=None):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, SCRIPT, *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=environment)


def history(folder):
    with open(folder / "lenet5.training" / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    # Same global batch (64) and learning rate: 32 per replica, the rate scaled by 2.
    mirrored = run(*FAST, "--strategy", "mirrored", "--cpu-devices", "2", "--batch-size", "32",
                   "--output-dir", str(tmp_path / "mirrored"))
    assert mirrored.returncode == 0, mirrored.stderr[-3000:]
    assert ("distribution: MirroredStrategy over 2 devices" in mirrored.stdout
            and "global batch 64, learning rate 0.004" in mirrored.stdout), mirrored.stdout
    single = run(*FAST, "--strategy", "one", "--batch-size", "64", "--learning-rate", "0.004",
                 "--output-dir", str(tmp_path / "one"))
    assert single.returncode == 0, single.stderr[-3000:]
    loss_mirrored = float(history(tmp_path / "mirrored")[0]["loss"])
    loss_single = float(history(tmp_path / "one")[0]["loss"])
    assert abs(loss_mirrored - loss_single) < 1e-3, (loss_mirrored, loss_single)
    assert (tmp_path / "mirrored" / "lenet5.keras").is_file()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_multi_worker_trains_in_both_workers_and_the_chief_writes(tmp_path, backend):
    # tensorflow: MultiWorkerMirroredStrategy; jax: jax.distributed + DataParallel.
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    out = tmp_path / "out"
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(tf_config),
               "KERAS_BACKEND": backend}
        procs.append(subprocess.Popen(
            [sys.executable, SCRIPT, *FAST, "--strategy", "multiworker", "--output-dir",
             str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    results = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise
        results.append((proc.returncode, stdout, stderr))
    # tensorflow takes the last, partial batch (20 steps); jax full global batches (19).
    steps = {"tensorflow": 20, "jax": 19}[backend]
    description = {"tensorflow": "MultiWorkerMirroredStrategy, 2 workers",
                   "jax": "keras.distribution.DataParallel over 2 devices"}[backend]
    accuracies = []
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
        assert description in stdout
        # One epoch of 32 images on each worker per step: global batch 64.
        assert "global batch 64" in stdout
        assert re.search(rf"^{steps}/{steps} - .* - val_accuracy: ", stdout, re.MULTILINE), \
            stdout
        accuracies.append(re.search(r"^test accuracy: (\d\.\d{4})$", stdout, re.M).group(1))
    assert accuracies[0] == accuracies[1]  # one model, evaluated on the same test split
    assert f"saved model: {out / 'lenet5.keras'}" in results[0][1]  # the chief, worker 0
    assert "saved model" not in results[1][1]
    assert sorted(p.name for p in out.iterdir()) == ["lenet5", "lenet5.keras", "lenet5.training"]
    assert len(history(out)) == 1


CRASH = textwrap.dedent("""
    import importlib.util, os, sys
    import keras
    spec = importlib.util.spec_from_file_location("train_recipe", {script!r})
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == {epoch} and batch == 5:
                {action}
    recipe.main(sys.argv[1:], callbacks=[Crash()])
""")


def test_killed_run_resumes_after_its_last_finished_epoch(tmp_path):
    args = ["--epochs", "4", "--shift", "0", "--no-tflite", "--batch-size", "128",
            "--output-dir", str(tmp_path)]
    # Killed in the middle of its third epoch, after two finished.
    killed = run(*args, code=CRASH.format(script=SCRIPT, epoch=2, action="os._exit(3)"))
    assert killed.returncode == 3, killed.stderr[-3000:]
    assert [row["epoch"] for row in history(tmp_path)] == ["0", "1"]
    assert not (tmp_path / "lenet5.keras").exists()
    resumed = run(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "after epoch 2" in resumed.stdout
    assert re.findall(r"^Epoch (\d)/4$", resumed.stdout, re.MULTILINE) == ["3", "4"]
    assert [row["epoch"] for row in history(tmp_path)] == ["0", "1", "2", "3"]
    assert (tmp_path / "lenet5.keras").is_file()
    assert not (tmp_path / "lenet5.training" / "checkpoints").exists()  # done: no backup left


def test_resuming_with_a_changed_command_is_refused_naming_the_changes(tmp_path):
    from conftest import load_script, run_inline

    args = ["--epochs", "3", "--shift", "0", "--no-tflite", "--batch-size", "128",
            "--output-dir", str(tmp_path)]
    killed = run(*args, code=CRASH.format(script=SCRIPT, epoch=1, action="os._exit(3)"))
    assert killed.returncode == 3, killed.stderr[-3000:]
    config = tmp_path / "lenet5.training" / "config.yaml"
    recorded = config.read_bytes()
    # What ran, resolved: the image size, the strategy and precision "auto" chose.
    import yaml

    as_run = yaml.safe_load(recorded)
    assert (as_run["image_size"], as_run["strategy"], as_run["mixed_precision"],
            as_run["batch_size"], as_run["epochs"]) == (32, "one", "off", 128, 3)
    main = load_script(SCRIPT, "train_recipe").main
    changed = run_inline(main, [*args[:1], "5", *args[2:], "--learning-rate", "0.01",
                                "--model-arg", "activation=relu"])
    assert changed.returncode == 2
    assert "Traceback" not in changed.stderr
    errors = [line for line in changed.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1, changed.stderr
    assert "the command changed since it started" in errors[0]
    assert "epochs: 3 -> 5" in errors[0] and "learning_rate: 0.002 -> 0.01" in errors[0]
    assert "model_args: {} -> {'activation': 'relu'}" in errors[0]
    assert "--overwrite" in errors[0]
    assert "Epoch" not in changed.stdout
    assert config.read_bytes() == recorded  # the record of the run is untouched


INTERRUPT = textwrap.dedent("""
    import importlib.util, os, signal, sys
    import keras
    os.umask(0o022)
    spec = importlib.util.spec_from_file_location("train_recipe", {script!r})
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == {epoch} and batch == 5:
                os.kill(os.getpid(), signal.SIGINT)
    sys.exit(recipe.main(sys.argv[1:], callbacks=[CtrlC()]))
""")


def test_ctrl_c_says_in_one_line_how_to_resume(tmp_path):
    args = ["--epochs", "3", "--shift", "0", "--no-tflite", "--batch-size", "128",
            "--output-dir", str(tmp_path)]
    result = run(*args, code=INTERRUPT.format(script=SCRIPT, epoch=1))
    assert result.returncode == 130, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("train.py:")]
    checkpoints = tmp_path / "lenet5.training" / "checkpoints"
    assert lines == [f"train.py: interrupted; the backup of epoch 1 is in {checkpoints}: run the "
                     "same command again to resume from it (or add --overwrite to start "
                     "afresh)"], result.stderr
    assert "KeyboardInterrupt" not in result.stderr
    # Files have the user's umask (0o022), not mkstemp's 0o600.
    for path in (tmp_path / "lenet5.training" / "config.yaml",
                 checkpoints / "training_metadata.json"):
        assert path.stat().st_mode & 0o777 == 0o644, path

    # Interrupted in the first epoch: nothing to resume, nothing left that refuses a rerun.
    fresh = tmp_path / "fresh"
    result = run(*args[:-1], str(fresh), code=INTERRUPT.format(script=SCRIPT, epoch=0))
    assert result.returncode == 130, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("train.py:")]
    assert lines == ["train.py: interrupted before the first epoch finished; nothing was kept: "
                     "run the same command again to start"], result.stderr
    assert not (fresh / "lenet5.training").exists()


def test_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_backup(tmp_path):
    args = ["--epochs", "3", "--shift", "0", "--no-tflite", "--batch-size", "128",
            "--output-dir", str(tmp_path)]
    poison = ("[v.assign(v * float('nan')) for v in self.model.trainable_variables]")
    result = run(*args, code=CRASH.format(script=SCRIPT, epoch=1, action=poison))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1, result.stderr
    assert "the loss became NaN or infinite at epoch 2, batch 6" in errors[0]
    assert "the backup of epoch 1 is kept" in errors[0]
    checkpoints = tmp_path / "lenet5.training" / "checkpoints"
    assert json.loads((checkpoints / "training_metadata.json").read_text())["epoch"] == 1
    assert not (tmp_path / "lenet5.keras").exists()


def test_jax_backend_runs_the_main_job(tmp_path):
    result = run_with_backend("jax", [SCRIPT, "--epochs", "1", "--output-dir", str(tmp_path)],
                              timeout=400)
    assert re.search(r"^test accuracy: \d\.\d{4}$", result.stdout, re.MULTILINE)
    assert (tmp_path / "lenet5.keras").is_file()
    assert (tmp_path / "lenet5.training" / "history.png").is_file()
    # TFLite export needs the tensorflow backend: the jax run leaves it out by default.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet5", "lenet5.keras",
                                                          "lenet5.training"]


def test_jax_mirrored_over_two_cpu_devices_counts_every_test_image(tmp_path):
    # 359 test images (a prime) and a 1,437-image training split do not split over 2
    # devices: the last training batch is trimmed, the last test batch padded with weight 0.
    import keras
    import numpy as np

    import kerasnets
    from kerasnets.data import batched, digits

    result = run_with_backend("jax", [SCRIPT, *FAST, "--strategy", "mirrored", "--cpu-devices",
                                      "2", "--output-dir", str(tmp_path)], timeout=400)
    assert "distribution: keras.distribution.DataParallel over 2 devices" in result.stdout
    printed = float(re.search(r"^test accuracy: (\d\.\d{4})$", result.stdout, re.M).group(1))
    model = keras.saving.load_model(tmp_path / "lenet5.keras")
    splits = digits(image_size=32, channels=1,
                    preprocessing=kerasnets.get_spec("lenet5").preprocessing)
    assert splits.sizes["test"] == 359
    images, labels = (np.concatenate(p) for p in zip(*batched(splits.test, 512).as_numpy_iterator()))
    accuracy = float(np.mean(model.predict(images, verbose=0).argmax(-1) == labels))
    assert abs(accuracy - printed) <= 0.5e-4 + 1e-9, (accuracy, printed)

