"""kerasnets.training.distribute: batches trimmed or padded to split evenly over devices."""


def test_batches_split_evenly_for_jax_data_parallel():
    import numpy as np
    import tensorflow as tf

    from kerasnets.training.distribute import even_steps, pad_batches, trim_batches

    images = np.arange(11 * 2, dtype="float32").reshape(11, 2)
    labels = np.arange(11)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)  # 4, 4, 3
    trimmed = [(x.shape[0], list(y)) for x, y in trim_batches(ds, 2).as_numpy_iterator()]
    assert trimmed == [(4, [0, 1, 2, 3]), (4, [4, 5, 6, 7]), (2, [8, 9])]
    assert even_steps(11, 4, 2) == 3
    assert [x.shape[0] for x, _ in trim_batches(ds, 4).as_numpy_iterator()] == [4, 4]
    assert even_steps(11, 4, 4) == 2
    padded = list(pad_batches(ds, 2).as_numpy_iterator())
    assert [x.shape[0] for x, _, _ in padded] == [4, 4, 4]
    x, y, w = padded[-1]
    np.testing.assert_array_equal(w, [1, 1, 1, 0])
    np.testing.assert_array_equal(y, [8, 9, 10, 0])
    np.testing.assert_array_equal(x[3], [0, 0])
    np.testing.assert_array_equal(x[:3], images[8:])
    assert all(np.all(w == 1) for _, _, w in padded[:2])
