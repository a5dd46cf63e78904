"""CI, in the plain install's venv: `recipes/train.py --data tfds:NAME` prepares and trains on a
data set that tfds has not prepared yet (the tests' tiny `kerasnets_blobs`, laid out in a
package as tfds' own data sets are), with nothing but the package's core dependencies."""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import importlib.util  # noqa: E402

with tempfile.TemporaryDirectory() as folder:
    os.environ["TFDS_DATA_DIR"] = os.path.join(folder, "tfds")
    import tfds_blobs  # noqa: E402,F401  (registers the builder with tfds)

    spec = importlib.util.spec_from_file_location("train_recipe",
                                                  os.path.join(ROOT, "recipes", "train.py"))
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    code = recipe.main(["--data", "tfds:kerasnets_blobs", "--epochs", "1", "--batch-size", "8",
                        "--quiet", "--output-dir", os.path.join(folder, "out")])
    if code or not os.path.isfile(os.path.join(folder, "out", "lenet5.keras")):
        sys.exit(f"ci: train.py --data tfds:kerasnets_blobs failed in the plain install ({code})")
    print("ci: train.py --data tfds:kerasnets_blobs prepared and trained in the plain install")
