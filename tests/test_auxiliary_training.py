"""Networks with auxiliary classifiers train with model.fit; inference drops the heads."""

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets.training import (
    compile_with_auxiliary_heads,
    loss_weights,
    repeat_labels,
    without_auxiliary_heads,
)

SHAPE = (65, 65, 3)  # the smallest input GoogLeNet's auxiliary classifiers take


@pytest.fixture(scope="module")
def googlenet_aux():
    keras.utils.set_random_seed(1)
    return kerasnets.build("googlenet", aux_logits=True, input_shape=SHAPE, classes=5)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (4, *SHAPE)).astype("float32"), np.array([0, 1, 2, 3])


def test_paper_loss_weights(googlenet_aux):
    assert kerasnets.get_spec("googlenet").aux_loss_weight == 0.3
    assert kerasnets.get_spec("inception_v1").aux_loss_weight == 0.3
    assert kerasnets.get_spec("inception_v3").aux_loss_weight == 0.4
    assert loss_weights(googlenet_aux) == {
        "predictions": 1.0, "aux1_predictions": 0.3, "aux2_predictions": 0.3}
    assert loss_weights(googlenet_aux, aux_weight=0)["aux2_predictions"] == 0.0
    with pytest.raises(ValueError, match=r"`aux_weight` must be a number >= 0; got -1"):
        loss_weights(googlenet_aux, aux_weight=-1)
    single = kerasnets.build("googlenet", input_shape=SHAPE, classes=5)
    with pytest.raises(ValueError, match=r"single output.*aux_logits=True"):
        loss_weights(single)
    renamed = kerasnets.build("googlenet", aux_logits=True, input_shape=SHAPE, classes=5,
                              name="mine")
    with pytest.raises(ValueError, match=r"no paper loss weight .*'mine'.*pass aux_weight"):
        loss_weights(renamed)


def test_weighted_loss_is_main_plus_weighted_auxiliary_losses(googlenet_aux, batch):
    x, y = batch
    compile_with_auxiliary_heads(googlenet_aux, keras.optimizers.SGD(0.01))
    result = googlenet_aux.evaluate(x, repeat_labels(googlenet_aux, y), verbose=0,
                                    return_dict=True)
    # Inference mode: no dropout, so the losses are those of the outputs.
    outputs = googlenet_aux.predict(x, verbose=0)
    ce = keras.losses.SparseCategoricalCrossentropy()
    per_head = [float(ce(y, out)) for out in outputs]
    assert result["loss"] == pytest.approx(per_head[0] + 0.3 * (per_head[1] + per_head[2]),
                                           rel=1e-4)
    assert result["predictions_accuracy"] == pytest.approx(
        np.mean(np.argmax(outputs[0], -1) == y))


def test_documented_compile_trains_with_fit(googlenet_aux, batch):
    x, y = batch
    googlenet_aux.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        # Keras 3 needs one loss per output when the outputs are weighted.
        loss={name: "sparse_categorical_crossentropy"
              for name in ("predictions", "aux1_predictions", "aux2_predictions")},
        loss_weights={"predictions": 1.0, "aux1_predictions": 0.3, "aux2_predictions": 0.3},
    )
    before = [w.copy() for w in googlenet_aux.get_weights()]
    history = googlenet_aux.fit(x, repeat_labels(googlenet_aux, y), epochs=2, batch_size=4,
                                verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()
    # The auxiliary heads got gradients too.
    aux_kernel = googlenet_aux.get_layer("aux1_fc").get_weights()[0]
    index = [w.path for w in googlenet_aux.weights].index(
        googlenet_aux.get_layer("aux1_fc").kernel.path)
    assert not np.allclose(aux_kernel, before[index])


def test_without_heads_has_the_weights_of_the_plain_network(googlenet_aux, batch):
    x, _ = batch
    inference = without_auxiliary_heads(googlenet_aux)
    assert inference.output_names == ["predictions"]
    plain = kerasnets.build("googlenet", input_shape=SHAPE, classes=5)
    assert [w.shape for w in inference.weights] == [w.shape for w in plain.weights]
    plain.set_weights(inference.get_weights())
    np.testing.assert_allclose(plain.predict(x, verbose=0), inference.predict(x, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(inference.predict(x, verbose=0),
                               googlenet_aux.predict(x, verbose=0)[0], atol=1e-6)
    assert without_auxiliary_heads(plain) is plain
