"""Facts about kerasnets.analysis: the blocks of residual networks, lesions, reordering and paths.

Veit, Wilber and Belongie (2016), "Residual Networks Behave Like Ensembles of
Relatively Shallow Networks", NeurIPS.
"""

import csv
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets import analysis as A
from kerasnets.analysis import graph as G
from kerasnets.data import sources
from conftest import load_script, run_with_backend

SCRIPT = os.path.join(os.path.dirname(__file__), "backend_analysis_check.py")

SMALL = (16, 16, 3)


def randomized(model, seed=0):
    """`model` with random batch-normalization statistics and affine parameters (not identities)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)])
    return model


def images(n=4, shape=SMALL, seed=1):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def run(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.fixture(scope="module")
def resnet20():
    return randomized(kerasnets.build("resnet20", input_shape=SMALL, classifier_activation=None))


def test_residual_blocks_of_a_cifar_resnet(resnet20):
    blocks = A.residual_blocks(resnet20)
    assert [b.name for b in blocks] == [f"conv{s}_block{b}" for s in (2, 3, 4) for b in (1, 2, 3)]
    assert [b.index for b in blocks] == list(range(9))
    assert [b.stage for b in blocks] == [2, 2, 2, 3, 3, 3, 4, 4, 4]
    # Option A: the first block of stages 3 and 4 subsamples and pads zeros, with no weights.
    assert [b.shortcut for b in blocks] == ["identity"] * 3 + ["zero_pad", "identity", "identity"] * 2
    assert all(b.identity and b.deletable for b in blocks)
    assert blocks[3].input_shape == (None, 16, 16, 16) and blocks[3].output_shape == (None, 8, 8, 32)
    assert blocks[8].input_shape == blocks[8].output_shape == (None, 4, 4, 64)
    assert A.plain_blocks(kerasnets.build("plain20", input_shape=SMALL))[0].shortcut is None


@pytest.mark.parametrize("name, kwargs, kinds", [
    ("resnet18", {}, {"identity": 5, "projection": 3}),
    ("resnet50_v2", {}, {"projection": 4, "identity": 9, "subsample": 3}),
    ("resnext50_32x4d", {}, {"projection": 4, "identity": 12}),
    ("se_resnet50", {}, {"projection": 4, "identity": 12}),
    ("resnet20", {"preact": True}, {"preactivated": 1, "identity": 6, "zero_pad": 2}),
    ("resnet20", {"drop_path_rate": 0.5}, {"identity": 7, "zero_pad": 2}),
    # The identity-mapping ablations (Figure 2 of "Identity Mappings").
    ("resnet20", {"shortcut_variant": "constant_scaling"}, {"scaled": 7, "zero_pad": 2}),
    ("resnet20", {"shortcut_variant": "exclusive_gating"}, {"gated": 7, "zero_pad": 2}),
    ("resnet20", {"shortcut_variant": "dropout_shortcut"}, {"dropout": 7, "zero_pad": 2}),
    ("resnet20", {"shortcut_variant": "conv1x1_shortcut"}, {"projection": 9}),
    ("resnet20", {"unit": "relu_only_preactivation"}, {"identity": 7, "zero_pad": 2}),
    # Stochastic depth as published: each branch a nested model, run under a cond.
    ("resnet20", {"drop_path_rate": 0.5, "drop_path_mode": "batch"},
     {"identity": 7, "zero_pad": 2}),
    ("resnet20", {"drop_path_rate": 0.5, "drop_path_mode": "batch",
                  "shortcut_variant": "exclusive_gating"}, {"gated": 7, "zero_pad": 2}),
    ("resnet20", {"drop_path_rate": 0.5, "drop_path_mode": "batch", "preact": True},
     {"preactivated": 1, "identity": 6, "zero_pad": 2}),
])
def test_blocks_of_every_residual_family(name, kwargs, kinds):
    model = kerasnets.build(name, input_shape=(32, 32, 3), **kwargs)
    blocks = A.residual_blocks(model)
    found = {}
    for block in blocks:
        found[block.shortcut] = found.get(block.shortcut, 0) + 1
        assert block.deletable == (block.shortcut != "projection")
    assert found == kinds
    # Deleting every block that can be deleted still gives a network of the same outputs' shape.
    lesioned = A.delete_blocks(model, [b.index for b in blocks if b.deletable])
    assert lesioned.output_shape == model.output_shape
    assert np.isfinite(run(lesioned, images(2, (32, 32, 3)))).all()


def test_deleting_no_block_or_reordering_by_the_identity_is_the_model(resnet20):
    x = images()
    want = run(resnet20, x)
    np.testing.assert_array_equal(run(A.delete_blocks(resnet20, []), x), want)
    np.testing.assert_array_equal(run(A.reorder_blocks(resnet20, list(range(9))), x), want)


@pytest.mark.parametrize("name, kwargs, block, zeroed", [
    # v1: the branch ends in a batch normalization; zero gamma and beta and it outputs 0.
    ("resnet20", {}, "conv3_block2", "conv3_block2_2_bn"),
    ("resnet20", {}, "conv3_block1", "conv3_block1_2_bn"),  # option A shortcut
    # Pre-activation: the branch ends in a convolution.
    ("resnet20", {"preact": True}, "conv2_block3", "conv2_block3_2_conv"),
    ("resnet50", {"input_shape": (32, 32, 3)}, "conv4_block3", "conv4_block3_3_bn"),
])
def test_deleting_a_block_is_the_network_with_that_branch_set_to_zero(name, kwargs, block, zeroed):
    kwargs = {"input_shape": SMALL, "classifier_activation": None, **kwargs}
    model = randomized(kerasnets.build(name, **kwargs))
    x = images(2, model.input_shape[1:])
    lesioned = A.delete_blocks(model, [block])
    assert lesioned.name == f"{model.name}_lesioned"
    deleted = run(lesioned, x)
    # Deletion changes the output, then zeroing the branch's last layer gives the same.
    assert np.abs(deleted - run(model, x)).max() > 1e-3
    layer = model.get_layer(zeroed)
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()[:2]]
                      + layer.get_weights()[2:])
    np.testing.assert_allclose(deleted, run(model, x), rtol=1e-5, atol=1e-5)


def test_lesioned_networks_share_the_weights(resnet20):
    lesioned = A.delete_blocks(resnet20, [1])
    assert lesioned.get_layer("conv2_block1_1_conv") is resnet20.get_layer("conv2_block1_1_conv")
    assert "conv2_block2_1_conv" not in {layer.name for layer in lesioned.layers}
    assert lesioned.count_params() < resnet20.count_params()


def test_swapping_two_blocks_equals_swapping_their_weights():
    model = randomized(kerasnets.build("resnet20", input_shape=SMALL), seed=3)
    x = images()
    reordered = run(A.reorder_blocks(model, [0, 1, 2, 3, 5, 4, 6, 7, 8]), x)
    assert np.abs(reordered - run(model, x)).max() > 1e-4
    twin = kerasnets.build("resnet20", input_shape=SMALL)
    for layer in (layer for layer in model.layers if layer.weights):
        source = layer.name.replace("conv3_block2", "@").replace("conv3_block3", "conv3_block2")
        twin.get_layer(source.replace("@", "conv3_block3")).set_weights(layer.get_weights())
    np.testing.assert_allclose(reordered, run(twin, x), rtol=1e-5, atol=1e-6)


def test_projection_shortcuts_and_shape_changes_are_refused_by_name():
    model = kerasnets.build("resnet18", input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match=r"refused: conv3_block1 \(projection shortcut\)"):
        A.delete_blocks(model, [2])
    with pytest.raises(ValueError, match=r"refused: conv4_block1 \(projection shortcut\)"):
        A.delete_blocks(model, ["conv4_block1"])
    with pytest.raises(ValueError, match=r"refused: conv5_block1"):
        A.reorder_blocks(model, [0, 1, 2, 3, 4, 5, 7, 6])
    resnet20 = kerasnets.build("resnet20", input_shape=SMALL)
    with pytest.raises(ValueError, match=r"block conv4_block2 .* cannot run in the place of "
                                         r"conv3_block2"):
        A.reorder_blocks(resnet20, [0, 1, 2, 3, 7, 5, 6, 4, 8])
    with pytest.raises(ValueError, match=r"`permutation` must be a permutation of the 9 block"):
        A.reorder_blocks(resnet20, [0, 1, 2])
    with pytest.raises(ValueError, match=r"`blocks` must hold block indices in \[0, 8\].*got 9"):
        A.delete_blocks(resnet20, [9])
    with pytest.raises(ValueError, match=r"names a block twice"):
        A.delete_blocks(resnet20, [1, "conv2_block2"])
    plain = kerasnets.build("plain20", input_shape=SMALL)
    with pytest.raises(ValueError, match=r"refused: conv3_block1 \(changes shape\)"):
        A.delete_blocks(plain, ["conv3_block1"])


def test_deleting_a_plain_block_passes_its_input_through():
    keras.utils.set_random_seed(0)
    plain = randomized(kerasnets.build("plain20", input_shape=SMALL, classifier_activation=None))
    x = images(2)
    lesioned = run(A.delete_blocks(plain, ["conv2_block2"]), x)
    assert np.abs(lesioned - run(plain, x)).max() > 1e-4
    # The same block made an identity: its input is a ReLU's output (>= 0), so
    # identity kernels and normalizations make conv-BN-ReLU twice the identity.
    for part in (1, 2):
        conv = plain.get_layer(f"conv2_block2_{part}_conv")
        kernel = np.zeros(conv.kernel.shape, "float32")
        kernel[1, 1] = np.eye(16)
        conv.set_weights([kernel])
        norm = plain.get_layer(f"conv2_block2_{part}_bn")
        norm.set_weights([np.ones(16), np.zeros(16), np.zeros(16),
                          np.full(16, 1 - norm.epsilon)])
    np.testing.assert_allclose(lesioned, run(plain, x), rtol=1e-5, atol=1e-5)


def test_kendall_tau():
    assert A.kendall_tau(list(range(9))) == 1.0
    assert A.kendall_tau(list(range(9))[::-1]) == -1.0
    # One adjacent swap reverses 1 of the 36 pairs: 1 - 4 / 72.
    assert A.kendall_tau([0, 2, 1, 3, 4, 5, 6, 7, 8]) == pytest.approx(1 - 4 / 72)
    assert A.kendall_tau_distance([2, 0, 1]) == 2
    with pytest.raises(ValueError, match=r"permutation of 0..n-1"):
        A.kendall_tau([0, 0, 1])


def test_path_lengths_of_the_papers_54_block_network():
    paths = A.path_length_distribution(54)
    assert paths.total == 2**54 == sum(paths.counts)
    assert paths.counts[27] == math.comb(54, 27) and paths.counts[0] == paths.counts[54] == 1
    # "95% of paths go through 19 to 35 modules" (section 4.1, Figure 6a).
    assert paths.share(19, 35) >= 0.95
    assert paths.share(19, 35) == pytest.approx(0.98017, abs=1e-5)
    # The effective paths, 5 to 17 blocks, are "only 0.45% of all paths" (section 4.2).
    assert round(100 * paths.share(5, 17), 2) == 0.45
    np.testing.assert_allclose(paths.fraction.sum(), 1.0)
    with pytest.raises(ValueError, match=r"`n` \(the number of residual blocks\) must be an integer"):
        A.path_length_distribution(0)


def _shortcut_only_gradient(model, x, labels):
    """The input gradient with every residual branch's gradient stopped, by hand with tf."""
    graph = G.trace(model)
    units = G.residual_units(graph)
    gates = {j: tf.zeros((len(x), 1, 1, 1)) for j in range(len(units))}
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = G.execute(graph, units, x, gates=gates, training=False)
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, out,
                                                                          from_logits=True))
    return tape.gradient(loss, x).numpy()


def test_effective_paths(resnet20):
    x, labels = images(3), np.array([0, 4, 7])
    result = A.effective_paths(resnet20, x, labels, lengths=[0, 1, 9], samples=2, seed=0)
    assert result.blocks == 9 and result.lengths == (0, 1, 9) and result.images == 3
    np.testing.assert_allclose(result.total, result.mean * np.array([1, 9, 1]))
    # Length 0: the path through every shortcut, whatever the draw.
    gradient = _shortcut_only_gradient(resnet20, x, labels)
    want = np.sqrt((gradient.reshape(3, -1).astype("float64") ** 2).sum(1)).mean()
    assert result.mean[0] == pytest.approx(want, rel=1e-5)
    # Seeded draws repeat.
    again = A.effective_paths(resnet20, x, labels, lengths=[0, 1, 9], samples=2, seed=0)
    np.testing.assert_array_equal(again.mean, result.mean)
    low, high, share = result.effective_range(0.5)
    assert low in result.lengths and high in result.lengths and 0 < share <= 1
    with pytest.raises(ValueError, match=r"`lengths` must be path lengths in \[0, 9\]"):
        A.effective_paths(resnet20, x, lengths=[10])
    with pytest.raises(ValueError, match=r"has no residual blocks"):
        A.effective_paths(kerasnets.build("plain20", input_shape=SMALL), x)


@pytest.fixture(scope="module")
def trained():
    """resnet20 and plain20 trained 3 epochs on the digits at 16x16, and the test split."""
    splits = sources.digits(image_size=16, channels=1)
    train = [(x, y) for x, y in splits.train.as_numpy_iterator()]
    test = [(x, y) for x, y in splits.test.as_numpy_iterator()]
    x, y = np.stack([a for a, _ in train]), np.array([b for _, b in train])
    models = {}
    for name in ("resnet20", "plain20"):
        keras.utils.set_random_seed(0)
        model = kerasnets.build(name, input_shape=(16, 16, 1))
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=64, epochs=3, verbose=0)
        models[name] = A.recompute_batch_norm_statistics(model, x)
    return models, (np.stack([a for a, _ in test]), np.array([b for _, b in test]))


def test_lesions_of_a_trained_resnet_and_its_plain_twin(trained, tmp_path):
    models, data = trained
    resnet = A.lesion_study(models["resnet20"], data, counts=[0, 1, 2, 4, 6], draws=4, seed=0)
    plain = A.lesion_study(models["plain20"], data, counts=[1], seed=0)
    assert resnet.baseline < 0.2 and plain.baseline < 0.3  # both learned the digits
    assert resnet.images == len(data[1]) == 359  # 20% of 1,797
    # Every single deletion is tried: 9 residual blocks, 7 plain ones of unchanged shape.
    assert sum(row["deleted"] == 1 for row in resnet.rows) == 9
    assert sum(row["deleted"] == 1 for row in plain.rows) == 7
    counts, means = resnet.mean_by_x()
    assert counts.tolist() == [0, 1, 2, 4, 6]
    # A single deletion costs the ResNet less than the plain network (Figure 3 of Veit et al.).
    resnet_change = means[1] - resnet.baseline
    plain_change = plain.mean_by_x()[1][1] - plain.baseline
    assert resnet_change < plain_change
    # The error grows with the number of blocks deleted, on average over the draws (Figure 5a).
    assert all(np.diff(means) >= -0.01), means
    path = resnet.write_csv(tmp_path / "delete.csv")
    rows = list(csv.DictReader(open(path)))
    assert rows[0] == {"model": "resnet20", "deleted": "0", "blocks": "",
                       "top1_error": str(resnet.baseline)}
    png = A.plot_lesion_tables([resnet, plain], tmp_path / "delete.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_reordering_a_trained_resnet(trained, tmp_path):
    models, data = trained
    table = A.lesion_study(models["resnet20"], data, kind="reorder", counts=[1, 3], draws=3)
    assert len(table.rows) == 1 + 2 * 3
    assert table.rows[0]["kendall_tau"] == 1.0 and table.rows[0]["swaps"] == 0
    for row in table.rows[1:]:
        order = [int(p) for p in row["permutation"].split()]
        assert row["kendall_tau"] == A.kendall_tau(order) < 1
        # Only blocks of the same stage and shape move: option A blocks stay in place.
        assert order[0:3] == sorted(order[0:3]) or set(order[0:3]) == {0, 1, 2}
        assert order[3] == 3 and order[6] == 6
    assert table.plot(tmp_path / "reorder.png").exists()
    with pytest.raises(ValueError, match=r"kind='reorder' needs a residual network"):
        A.lesion_study(models["plain20"], data, kind="reorder")
    with pytest.raises(ValueError, match=r"`kind` must be one of \('delete', 'reorder'\)"):
        A.lesion_study(models["resnet20"], data, kind="shuffle")


def test_the_same_experiments_on_jax_and_torch(resnet20, tmp_path):
    weights = str(tmp_path / "resnet20.weights.h5")
    resnet20.save_weights(weights)
    x, labels = images(3), np.array([0, 4, 7])
    job = tmp_path / "job.npz"
    np.savez(job, weights=weights, x=x, labels=labels)
    check = load_script(SCRIPT, "backend_analysis_check")
    want = check.compute(weights, x, labels)
    for backend in ("jax", "torch"):
        output = tmp_path / f"{backend}.npz"
        run_with_backend(backend, [SCRIPT, str(job), str(output)])
        got = np.load(output)
        assert str(got["backend"]) == backend
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{key} on {backend}")
