"""From a recipe to a compiled model (build, initialise, compile with loss, optimizer and
metrics) and back to the plain model that is saved (`inference_model`).

Initialisers of the papers (``initializer`` in a recipe) replace the kernels
of every convolution and dense layer after the model is built, drawn with the
run's seed; biases and normalisation parameters keep the builder's values.
"normal" and "truncated_normal" take a ``stddev`` (AlexNet: N(0, 0.01));
"glorot_uniform"/"glorot_normal" are Glorot and Bengio (2010) (VGG);
"he_normal"/"he_uniform" are He et al. (2015) (ResNet, DenseNet).

``init_from`` (VGG) then copies a trained configuration A's first four
convolutions and fully connected layers into the network, as Simonyan and
Zisserman (2015, section 3.1) started their deeper nets
(`kerasnets.models.vgg.initialize_from`).
"""

from __future__ import annotations

import keras

from kerasnets import registry
from kerasnets.models import vgg
from kerasnets.training import auxiliary
from kerasnets.training.losses import classification_loss, is_logits
from kerasnets.training.optimizers import build_optimizer

__all__ = ["KERNEL_NAMES", "build_model", "compile_model", "inference_model", "pretrained_model",
           "mixed_precision_policy", "reinitialize", "initialize_from_net_a"]

# The variables an initialiser replaces: kernels of convolutions (plain, depthwise,
# separable) and dense layers.
KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel")


def initializer_for(spec, seed):
    """A Keras initialiser from a recipe's `initializer` mapping (None for "default")."""
    name = spec["name"]
    if name == "default":
        return None
    if name == "normal":
        return keras.initializers.RandomNormal(stddev=spec["stddev"], seed=seed)
    if name == "truncated_normal":
        return keras.initializers.TruncatedNormal(stddev=spec["stddev"], seed=seed)
    return keras.initializers.get({"class_name": name, "config": {"seed": seed}})


def reinitialize(model, spec, seed=0):
    """Redraws every kernel of `model` with the initialiser `spec`; returns how many."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if spec["name"] == "default":
        return 0
    count = 0
    for variable in model.trainable_variables:
        if variable.name in KERNEL_NAMES:
            initializer = initializer_for(spec, seed + count)
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
            count += 1
    return count


def mixed_precision_policy(setting, gpu=None):
    """The Keras dtype policy for `--mixed-precision` ("off", "auto", "float16", "bfloat16").

    "auto" is mixed_float16 with a GPU (tensor cores, with loss scaling) and
    mixed_bfloat16 without one (no loss scaling needed).
    """
    if setting == "off":
        return "float32"
    if setting == "auto":
        if gpu is None:
            gpu = _has_gpu()
        setting = "float16" if gpu else "bfloat16"
    return f"mixed_{setting}"


def _has_gpu():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def build_model(config, input_shape, classes, name=None):
    """The recipe's model: registered name, `model_args`, initialiser, float32 outputs.

    With a mixed-precision policy in force, outputs in float16/bfloat16 pass
    through a float32 linear activation so that the loss is computed in float32.
    """
    kwargs = dict(config.model_args)
    kwargs.update(input_shape=tuple(input_shape), classes=int(classes))
    if config.weights is None:
        model = registry.build(name or config.model, **kwargs)
        reinitialize(model, config.initializer, seed=config.seed)
        if config.init_from is not None:
            initialize_from_net_a(model, config.init_from, kwargs)
    else:
        model = pretrained_model(name or config.model, config.weights, kwargs)
    if any(out.dtype != "float32" for out in model.outputs):
        outputs = [keras.layers.Activation("linear", dtype="float32",
                                           name=f"{out_name}_float32")(out)
                   for out, out_name in zip(model.outputs, model.output_names)]
        model = keras.Model(model.inputs, outputs if len(outputs) > 1 else outputs[0],
                            name=model.name)
    return model


def initialize_from_net_a(model, path, kwargs):
    """Starts the VGG `model` from the trained configuration A at `path`; returns the layers copied.

    A `.keras` file is loaded as saved (so that a different `classes` or input
    size is named by the layer that does not fit); a weights file goes into
    `vgg11` built with `kwargs`, the network's own arguments.
    """
    if str(path).endswith(".keras"):
        net_a = keras.saving.load_model(path, compile=False)
    else:
        net_a = registry.build("vgg11", weights=path, **kwargs)
    return vgg.initialize_from(net_a, model)


def pretrained_model(name, weights, kwargs):
    """The model to fine-tune: `name` with `weights` (a tag, "imagenet" or a weights file).

    A checkpoint whose classifier fits (same classes, the input its fully
    connected layers need) is loaded whole. Otherwise its features are
    (include_top=False) and a new classifier goes on top, as keras.applications'
    fine-tuning guide does it: global average pooling, then the Dense layer
    "predictions" with `classes` outputs, freshly initialised.
    """
    spec = registry.get_spec(name)
    if not isinstance(weights, str) or weights not in registry.weights_tags(spec.name) and (
            weights != registry.IMAGENET):
        return registry.build(name, weights=weights, **kwargs)  # a file of the same network
    published = registry.published_weights(spec.name, weights)
    size = tuple(kwargs["input_shape"][:2])
    if kwargs["classes"] == published.classes and (not spec.fixed_input
                                                   or size == spec.input_shape[:2]):
        return registry.build(name, weights=weights, **kwargs)
    classes = kwargs.pop("classes")
    activation = kwargs.pop("classifier_activation", "softmax")
    features = registry.build(name, weights=weights, include_top=False, pooling="avg", **kwargs)
    outputs = keras.layers.Dense(classes, activation=activation, name="predictions")(
        features.output)
    return keras.Model(features.inputs, outputs, name=features.name)


def inference_model(model):
    """`model`'s layers and weights, uncompiled: the file loads with plain Keras.

    The training optimizer (kerasnets' coupled weight decay classes) and loss
    stay out of the saved files, so that `keras.saving.load_model` needs no
    import of `kerasnets.training`.
    """
    outputs = model.outputs if len(model.outputs) > 1 else model.outputs[0]
    return keras.Model(model.inputs, outputs, name=model.name)


def compile_model(model, config, learning_rate=None, steps_per_epoch=1, jit_compile=None,
                  run_eagerly=False, steps_per_execution=1):
    """Compiles `model` with the recipe's optimizer, loss, auxiliary weights and metrics.

    The loss is sparse categorical cross-entropy with `config.label_smoothing`;
    a model with auxiliary outputs gets the weighted sum of its heads' losses
    (`config.aux_weight`, or the paper's weight from
    `kerasnets.training.auxiliary`). Metrics: accuracy and top-5 accuracy
    (on the main output), as weighted metrics: the same numbers without sample
    weights, and examples of weight 0 (the padding of evaluation batches on
    jax's DataParallel) left out. `steps_per_execution` is Keras' (training steps
    per call of the train function: fewer callback hooks and host round trips).
    """
    optimizer = build_optimizer(config, learning_rate, steps_per_epoch)
    if jit_compile is None:
        jit_compile = config.jit_compile
    from_logits = is_logits(model)
    loss = classification_loss(model, config.label_smoothing)
    classes = model.outputs[0].shape[-1]
    metrics = ["accuracy"]
    if classes and classes > 5:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(
            k=5, name="top5_accuracy", from_logits=from_logits)
            if _top_k_takes_logits() else
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"))
    extra = {"jit_compile": jit_compile, "run_eagerly": run_eagerly,
             "steps_per_execution": steps_per_execution}
    if len(model.outputs) > 1:
        aux_weight = config.aux_weight
        if aux_weight is None:
            # The paper's weight, looked up by the registered name of the network.
            aux_weight = auxiliary.paper_aux_weight(model.name)
            if aux_weight is None:
                aux_weight = auxiliary.paper_aux_weight(config.model)
            if aux_weight is None:
                raise ValueError(
                    f"no paper loss weight is known for the auxiliary heads of {config.model!r}; "
                    "set aux_weight")
        auxiliary.compile_with_auxiliary_heads(model, optimizer, loss=loss, metrics=(),
                                               weighted_metrics=metrics,
                                               aux_weight=aux_weight, **extra)
    else:
        model.compile(optimizer=optimizer, loss=loss, weighted_metrics=metrics, **extra)
    return model


def _top_k_takes_logits():
    import inspect

    return "from_logits" in inspect.signature(
        keras.metrics.SparseTopKCategoricalAccuracy.__init__).parameters
