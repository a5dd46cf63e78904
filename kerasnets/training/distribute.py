"""Distribution strategies: one device, mirrored replicas, several workers.

`make_distribution(kind)` with `kind`:

* ``"one"``: `tf.distribute.OneDeviceStrategy` on the first GPU (else the CPU).
* ``"mirrored"``: `tf.distribute.MirroredStrategy` over the local GPUs, or
  over the logical CPU devices made by :func:`configure_cpu_devices` (for
  testing on a machine without GPUs).
* ``"multiworker"``: `tf.distribute.MultiWorkerMirroredStrategy`, configured
  by the ``TF_CONFIG`` environment variable (the cluster's ``worker`` and
  optional ``chief`` addresses, and this process's ``task``). The chief
  (``task.type == "chief"``, or worker 0 when there is no chief) writes the
  outputs.
* ``"auto"``: multiworker when ``TF_CONFIG`` names more than one task,
  mirrored with more than one local GPU (or logical CPU device), otherwise
  TensorFlow's default placement without a strategy (the fastest on one device).

On the jax backend "mirrored" (and "auto" with several devices) maps to
`keras.distribution.DataParallel` over the local devices, and "multiworker"
to `keras.distribution.initialize` (jax.distributed, the coordinator being
the first address of ``TF_CONFIG``) then `DataParallel` over every process's
devices. The torch backend trains on one device. DataParallel splits every
batch evenly over the devices, so the training recipe (`train`) cuts the last
training batch of an epoch to a multiple of the device count and pads
evaluation batches with zero-weight examples (accuracy counts each test image
once). With several jax processes Keras shards the data by process and needs
one static batch size: training uses full global batches only, evaluation
batches are padded to 256, and the chief exports a local copy of the model.

Batch and learning rate: with `replica_scaling` (the default of the
recipes) the batch size of a recipe is per replica, so the global batch is
``batch_size * replicas``, and the learning rate is multiplied by
``replicas`` (the linear scaling rule of Goyal et al. 2017, "Accurate,
Large Minibatch SGD"). Without it the batch size is the global one and the
learning rate is left as it is (each replica gets ``batch_size / replicas``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os

__all__ = ["Distribution", "configure_cpu_devices", "make_distribution", "tf_config",
           "scale_for_replicas", "FitData", "prepare_datasets", "prepare_model", "local_model",
           "trim_batches", "even_steps", "pad_batches"]


@dataclasses.dataclass
class Distribution:
    """The distribution of a run: its scope, replica count and whether this process writes."""

    kind: str
    replicas: int
    is_chief: bool = True
    worker_index: int = 0
    num_workers: int = 1
    strategy: object = None  # the tf.distribute strategy, if any
    description: str = ""
    # jax's DataParallel needs every batch to split evenly over the replicas
    # (tf.distribute strategies take a last, smaller batch as it is).
    split_batches_evenly: bool = False

    def scope(self):
        """The context in which to build and compile the model."""
        if self.strategy is not None:
            return self.strategy.scope()
        return contextlib.nullcontext()


def _backend():
    import keras

    return keras.backend.backend()


def tf_config():
    """The parsed ``TF_CONFIG`` environment variable, or None when unset or empty."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except ValueError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON: {err}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ValueError("TF_CONFIG must be a JSON object with a `cluster` mapping")
    return config


def _cluster_size(config):
    return sum(len(addresses) for addresses in config["cluster"].values()
               if isinstance(addresses, list))


def _is_chief(config):
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config["cluster"]


def configure_cpu_devices(count):
    """Splits the CPU into `count` logical devices; must run before the backend initialises.

    TensorFlow: `tf.config.set_logical_device_configuration` on the physical
    CPU. jax: ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``. An
    error says so when the devices already exist.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"`cpu_devices` must be a positive integer; got {count!r}")
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
        except RuntimeError:
            have = len(tf.config.list_logical_devices("CPU"))
            if have != count:
                raise ValueError(
                    f"`cpu_devices`: TensorFlow is already initialised with {have} CPU "
                    "device(s); set the count before any TensorFlow operation runs") from None
    elif backend == "jax":
        flag = f"--xla_force_host_platform_device_count={count}"
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
                 if not f.startswith("--xla_force_host_platform_device_count")]
        os.environ["XLA_FLAGS"] = " ".join(flags + [flag])
        import jax

        have = len(jax.devices("cpu"))
        if have != count:
            raise ValueError(f"`cpu_devices`: jax is already initialised with {have} CPU "
                             "device(s); set the count before jax runs anything")
    elif count != 1:
        raise ValueError(f"`cpu_devices` is for the tensorflow and jax backends; got {backend}")


def make_distribution(kind="auto", cpu_devices=None):
    """The :class:`Distribution` for `kind` ("auto", "one", "mirrored", "multiworker")."""
    if kind not in ("auto", "one", "mirrored", "multiworker"):
        raise ValueError(f"`strategy` must be one of auto, one, mirrored, multiworker; "
                         f"got {kind!r}")
    backend = _backend()
    cluster = tf_config()
    if kind == "multiworker" and cluster is None:
        raise ValueError("`strategy` multiworker needs the TF_CONFIG environment variable "
                         "(the cluster's worker addresses and this process's task)")
    if kind == "auto":
        kind = "multiworker" if cluster is not None and _cluster_size(cluster) > 1 else "local"
    if backend == "tensorflow":
        return _tensorflow(kind, cluster, cpu_devices)
    if backend == "jax":
        return _jax(kind, cluster)
    if kind in ("mirrored", "multiworker"):
        raise ValueError(f"`strategy` {kind} needs the tensorflow or jax backend; "
                         f"got {backend}")
    return Distribution("one", 1, description=f"one device ({backend})")


def _tensorflow(kind, cluster, cpu_devices):
    import tensorflow as tf

    # Before anything that initialises TensorFlow (listing devices does): collective ops
    # must be configured at program start.
    if kind == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        task = cluster.get("task", {})
        return Distribution(
            "multiworker", strategy.num_replicas_in_sync, is_chief=_is_chief(cluster),
            worker_index=int(task.get("index", 0)), num_workers=_cluster_size(cluster),
            strategy=strategy,
            description=f"MultiWorkerMirroredStrategy, {_cluster_size(cluster)} workers "
                        f"({task.get('type', 'worker')} {task.get('index', 0)})")
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    devices = gpus or (cpus[:cpu_devices] if cpu_devices else cpus[:1])
    if kind == "local":
        if len(devices) == 1:
            # TensorFlow's default placement: no strategy, and none of its per-step cost.
            return Distribution("one", 1, description=f"one device ({devices[0]})")
        kind = "mirrored"
    if kind == "one":
        device = devices[0]
        return Distribution("one", 1, strategy=tf.distribute.OneDeviceStrategy(device),
                            description=f"one device ({device})")
    cross = None if gpus else tf.distribute.ReductionToOneDevice()
    strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=cross)
    return Distribution("mirrored", strategy.num_replicas_in_sync, strategy=strategy,
                        description=f"MirroredStrategy over {len(devices)} devices "
                                    f"({', '.join(devices)})")


def _jax(kind, cluster):
    import jax
    import keras

    if kind == "multiworker":
        task = cluster.get("task", {})
        addresses = [a for role in ("chief", "worker")
                     for a in cluster["cluster"].get(role, [])]
        index = (0 if task.get("type") == "chief" else int(task.get("index", 0))
                 + len(cluster["cluster"].get("chief", [])))
        keras.distribution.initialize(",".join(addresses), len(addresses), index)
    devices = jax.devices()
    if kind == "local":
        kind = "mirrored" if len(devices) > 1 else "one"
    if kind == "one":
        return Distribution("one", 1, description=f"one device ({devices[0]})")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    is_chief = jax.process_index() == 0
    return Distribution(kind, len(devices), is_chief=is_chief,
                        worker_index=jax.process_index(), num_workers=jax.process_count(),
                        split_batches_evenly=len(devices) > 1,
                        description=f"keras.distribution.DataParallel over {len(devices)} "
                                    "devices")


def scale_for_replicas(batch_size, learning_rate, replicas, replica_scaling=True):
    """(global batch size, learning rate) for `replicas` (see the module docstring)."""
    if not replica_scaling:
        if batch_size % replicas:
            raise ValueError(f"`batch_size` {batch_size} does not split evenly over "
                             f"{replicas} replicas")
        return batch_size, learning_rate
    return batch_size * replicas, learning_rate * replicas


@dataclasses.dataclass
class FitData:
    """The datasets of a run as `fit` and `evaluate` take them under a distribution."""

    train: object
    validation: object  # None when the data have no validation split
    test: object  # None when the data have no test split
    steps_per_epoch: int


def prepare_datasets(distribution, train, validation, test, *, train_size, global_batch,
                     eval_batch):
    """The batched datasets of a run made fit for `distribution` (see the module docstring).

    Several workers shard the training data by data (not by file); jax's
    DataParallel gets training batches trimmed to a multiple of the devices and
    evaluation batches padded with zero-weight examples; several jax processes
    get full training batches only and evaluation batches of exactly
    `eval_batch`.
    """
    if distribution.num_workers > 1:
        train = _shard_by_data(train)
    steps = max(1, math.ceil(train_size / global_batch))
    if distribution.split_batches_evenly and distribution.num_workers > 1:
        # Keras shards the data by processes and needs batches of one static size.
        return FitData(train.rebatch(global_batch, drop_remainder=True),
                       _padded(validation, eval_batch, static=True),
                       _padded(test, eval_batch, static=True),
                       max(1, train_size // global_batch))
    if distribution.split_batches_evenly:
        replicas = distribution.replicas
        return FitData(trim_batches(train, replicas), _padded(validation, replicas),
                       _padded(test, replicas), even_steps(train_size, global_batch, replicas))
    return FitData(train, validation, test, steps)


def prepare_model(model, train, distribution):
    """What `model` needs before `fit` under `distribution`: under tensorflow's
    MultiWorkerMirroredStrategy, Keras 3.15's metrics and optimizer built on a local batch
    (see `_build_for_multiworker`); nothing otherwise."""
    if distribution.kind == "multiworker" and distribution.strategy is not None:
        _build_for_multiworker(model, train, distribution.strategy)


def local_model(model, distribution):
    """`model` as one process can export it: a local copy with several jax processes
    (the trained variables span every process's devices), else `model` itself."""
    if distribution.split_batches_evenly and distribution.num_workers > 1:
        return _local_copy(model)
    return model


def _build_for_multiworker(model, dataset, strategy):
    """Builds metrics, loss and optimizer on a local batch before `fit` under MultiWorkerMirrored.

    Keras 3.15's TF trainer builds them from the first distributed batch by
    `strategy.reduce("MEAN", (x, y))`, which MultiWorkerMirroredStrategy
    rejects (a tuple of PerReplica values); a local batch builds the same
    things, and the per-call build is then skipped.
    """
    if not (hasattr(model, "_symbolic_build") and hasattr(model, "_maybe_symbolic_build")):
        _unsupported_keras("Model._symbolic_build")
    batch = next(iter(dataset))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    _patch_multiworker_reduction()


def _unsupported_keras(what):
    import keras

    raise RuntimeError(
        f"--strategy multiworker on tensorflow works around two Keras 3.15 bugs through its "
        f"private {what}, which keras {keras.__version__} does not have; use keras 3.15, or "
        "the jax backend's multiworker")


def _patch_multiworker_reduction():
    """Keras 3.15 reduces the per-replica logs of a step (scalars) under MultiWorkerMirrored
    with `strategy.reduce("MEAN", v, axis=0)`, which fails on a scalar: reduce scalars with
    axis=None (the mean over replicas), everything else as Keras does."""
    from keras.src.backend.tensorflow import trainer

    if not (hasattr(trainer, "reduce_per_replica")
            and hasattr(trainer, "_collective_all_reduce_multi_worker")):
        _unsupported_keras("trainer.reduce_per_replica")
    if getattr(trainer.reduce_per_replica, "_kerasnets", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(
                strategy):
            from keras.src import tree

            def reduce(value):
                rank = value.shape.rank if hasattr(value, "shape") else None
                if rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return original(value, strategy, reduction)

            return tree.map_structure(reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._kerasnets = True
    trainer.reduce_per_replica = reduce_per_replica



def trim_batches(ds, multiple):
    """`ds` (batches of (images, labels)) with every batch cut to a multiple of `multiple`.

    Only a last, partial batch changes: it loses its final ``size % multiple``
    examples (other ones every epoch, the data being reshuffled), and is
    dropped when fewer than `multiple` are left.
    """
    import tensorflow as tf

    def trim(images, labels):
        keep = tf.shape(images)[0] // multiple * multiple
        return images[:keep], labels[:keep]

    return ds.map(trim).filter(lambda images, labels: tf.shape(images)[0] > 0)


def even_steps(size, batch_size, multiple):
    """Batches per epoch of :func:`trim_batches` on `size` examples in batches of `batch_size`."""
    full, rest = divmod(size, batch_size)
    return max(1, full + (rest >= multiple))


def pad_batches(ds, multiple):
    """`ds` (batches of (images, labels)) as (images, labels, weights), padded to a multiple.

    A batch whose size is not a multiple of `multiple` gets all-zero images
    with weight 0 appended; every real example has weight 1. Metrics (accuracy,
    top-5) then count each real example once, as unpadded; the loss of the
    padded batch is averaged over the padded size, so the reported loss is low
    by at most ``(multiple - 1) / size`` of itself.
    """
    import tensorflow as tf

    def pad(images, labels):
        size = tf.shape(images)[0]
        missing = (multiple - size % multiple) % multiple
        image_pad = tf.zeros(tf.concat([[missing], tf.shape(images)[1:]], 0), images.dtype)
        label_pad = tf.zeros(tf.concat([[missing], tf.shape(labels)[1:]], 0), labels.dtype)
        weights = tf.concat([tf.ones([size]), tf.zeros([missing])], 0)
        return (tf.concat([images, image_pad], 0), tf.concat([labels, label_pad], 0), weights)

    return ds.map(pad)


def _padded(ds, multiple, static=False):
    """:func:`pad_batches` of `ds` (None stays None); with `static`, batches of no more than
    `multiple` padded to exactly it, with that size known to tf.data."""
    if ds is None:
        return None
    ds = pad_batches(ds, multiple)
    return ds.rebatch(multiple, drop_remainder=True) if static else ds


def _local_copy(model):
    """`model` with its weights in this process only, outside jax's multi-process distribution.

    The trained variables span every process's devices; exporting and checking
    the exports runs on one process, on a copy.
    """
    import keras

    weights = model.get_weights()  # replicated: each process holds them whole
    keras.distribution.set_distribution(None)
    copy = keras.models.clone_model(model)
    copy.set_weights(weights)
    return copy


def _shard_by_data(ds):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)
