"""Training networks with auxiliary classifiers (GoogLeNet, Inception v3) with `model.fit`.

A model built with `aux_logits=True` returns the main prediction first
(`predictions`) and then one prediction per auxiliary classifier. The papers
add the auxiliary losses to the main loss with a weight: 0.3 for GoogLeNet's
two heads (Szegedy et al. 2015, section 5) and 0.4 for Inception v3's head
(the weight of the authors' release, `tf-slim`/`tensorflow/models`; the paper
itself, section 4, gives no figure). The documented way needs nothing from
this module::

    model = kerasnets.build("googlenet", aux_logits=True)
    heads = ("predictions", "aux1_predictions", "aux2_predictions")
    model.compile("sgd",
                  loss={name: "sparse_categorical_crossentropy" for name in heads},
                  loss_weights={"predictions": 1.0,
                                "aux1_predictions": 0.3, "aux2_predictions": 0.3})
    model.fit(x, {name: y for name in heads})

(Keras 3 wants one loss per output when `loss_weights` is given.)

`compile_with_auxiliary_heads` does the same with the paper's weight, and
`repeat_labels` makes the label dictionary. For inference,
`without_auxiliary_heads` keeps only the main output (the same layers and
weights, so `model.predict` returns one array), and the weights it holds are
those of the network built with `aux_logits=False`, in the same order.
"""

from __future__ import annotations

import keras

from kerasnets import registry


def auxiliary_output_names(model) -> list[str]:
    """The names of `model`'s outputs after the first (its auxiliary classifiers)."""
    return list(model.output_names[1:])


def paper_aux_weight(name):
    """The loss weight of each auxiliary head in the paper of the registered network `name`
    (its `ModelSpec.aux_loss_weight`); None when unknown or `name` is not registered."""
    try:
        return registry.get_spec(name).aux_loss_weight
    except ValueError:
        return None


def _with_aux_weights():
    return sorted(name for name in registry.list_models(include_aliases=True)
                  if registry.get_spec(name).aux_loss_weight is not None)


def _aux_weight(model, aux_weight):
    if aux_weight is None:
        weight = paper_aux_weight(model.name)
        if weight is None:
            raise ValueError(
                f"no paper loss weight is known for the auxiliary heads of {model.name!r} "
                f"(known: {', '.join(_with_aux_weights())}); pass aux_weight"
            )
        return weight
    if isinstance(aux_weight, bool) or not isinstance(aux_weight, (int, float)) or not (
        0 <= aux_weight
    ):
        raise ValueError(f"`aux_weight` must be a number >= 0; got {aux_weight!r}")
    return float(aux_weight)


def loss_weights(model, aux_weight=None) -> dict[str, float]:
    """`{main output: 1.0, each auxiliary output: aux_weight}` for `compile(loss_weights=...)`.

    `aux_weight=None` takes the paper's weight for the network
    (the registry's `aux_loss_weight`, looked up by model name).
    """
    names = list(model.output_names)
    if len(names) < 2:
        raise ValueError(
            f"model {model.name!r} has a single output {names}: build it with aux_logits=True "
            "to train its auxiliary classifiers"
        )
    weight = _aux_weight(model, aux_weight)
    return {names[0]: 1.0, **{name: weight for name in names[1:]}}


def compile_with_auxiliary_heads(model, optimizer="sgd", *, loss=None, metrics=("accuracy",),
                                 weighted_metrics=(), aux_weight=None, **compile_kwargs):
    """Compiles `model` with the weighted sum of main and auxiliary losses.

    `loss` defaults to sparse categorical cross-entropy, from logits when the
    model's main output has no softmax. Metrics (and `weighted_metrics`, which
    take the data's sample weights into account) are computed on the main
    output only.
    """
    weights = loss_weights(model, aux_weight)
    if loss is None:
        main = model.get_layer(model.output_names[0])
        activation = getattr(getattr(main, "activation", None), "__name__", None)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=activation != "softmax")
    model.compile(
        optimizer=optimizer,
        loss={name: loss for name in weights},
        loss_weights=weights,
        metrics={model.output_names[0]: list(metrics)},
        weighted_metrics={model.output_names[0]: list(weighted_metrics)} if weighted_metrics
        else None,
        **compile_kwargs,
    )
    return model


def repeat_labels(model, labels) -> dict:
    """`{output name: labels}` for every output, the targets `fit` needs for the heads."""
    return {name: labels for name in model.output_names}


def without_auxiliary_heads(model):
    """The inference network: `model`'s main output only, sharing its layers and weights."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[0], name=model.name)
