"""Images per second of the AlexNet- and Inception-style training pipelines, ours against Keras layers.

Generates a folder of JPEG photos of about 500x375 (varied crops of the sample
photos that scikit-learn and scikit-image ship), then times, in one run:

* ours: `kerasnets.data.train_pipeline` (stateless tf.image ops in parallel
  `Dataset.map`s), with `deterministic=True` (the default) and `False`;
* keras: the same augmentation written with Keras preprocessing layers in
  `Dataset.map` (AlexNet: keras.layers.Resizing to the 256x256 centre per
  image, then RandomCrop and RandomFlip per batch; Inception:
  keras_cv.layers.RandomCropAndResize, keras.layers.RandomFlip and
  RandomColorJitter per image), decoding with the same tf ops. Keras has no
  PCA lighting layer, so that version skips it (less work than ours);

and the training-step rate of keras.applications.MobileNetV2(weights=None) at
224x224 on the tensorflow backend, which the pipeline must outpace.

    python benchmarks/input_pipeline.py [--images 512] [--batch-size 64] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def sample_photos():
    """The sample photos of scikit-image and scikit-learn, uint8 RGB."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {name: getattr(skimage.data, name)() for name in
              ("astronaut", "coffee", "chelsea", "rocket")}
    for name, image in zip(("china", "flower"), load_sample_images().images):
        photos[name] = image
    return photos


def make_folder(root, count, seed=0):
    """`count` JPEGs of 500x375 (or 375x500), random crops of the photos, one class each."""
    rng = np.random.default_rng(seed)
    photos = sample_photos()
    names = sorted(photos)
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = names[i % len(names)]
        photo = photos[name]
        height, width = photo.shape[:2]
        crop_h = int(height * rng.uniform(0.6, 1.0))
        crop_w = int(width * rng.uniform(0.6, 1.0))
        top = rng.integers(0, height - crop_h + 1)
        left = rng.integers(0, width - crop_w + 1)
        crop = photo[top:top + crop_h, left:left + crop_w]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        size = (375, 500) if rng.random() < 0.8 else (500, 375)
        image = tf.image.resize(crop, size, antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        tf.io.write_file(str(root / name / f"{i:05d}.jpg"), tf.io.encode_jpeg(image, quality=90))
    return root


def keras_pipeline(kind, source, batch_size, seed=0):
    """The same augmentation with Keras preprocessing layers, per image in Dataset.map."""
    import keras
    import keras_cv

    if kind == "alexnet":
        # Keras' RandomCrop needs a known size: the paper's 256x256 centre of the image
        # rescaled to a 256 shorter side (Resizing with crop_to_aspect_ratio), then
        # RandomCrop and RandomFlip on batches, the way Keras layers are meant to run.
        resize = keras.layers.Resizing(256, 256, crop_to_aspect_ratio=True)
        layers = keras.Sequential([
            keras.layers.RandomCrop(227, 227, seed=seed),
            keras.layers.RandomFlip("horizontal", seed=seed),
        ])
        mean = np.array((123.68, 116.779, 103.939), np.float32)

        def augment(path, label):
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            return resize(tf.cast(image, tf.float32)), label

        def preprocess(images, labels):
            return layers(images, training=True)[..., ::-1] - mean[::-1], labels
    else:
        size = 224
        layers = keras.Sequential([
            keras_cv.layers.RandomCropAndResize((size, size), crop_area_factor=(0.08, 1.0),
                                                aspect_ratio_factor=(3 / 4, 4 / 3), seed=seed),
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomColorJitter(value_range=(0, 255), brightness_factor=32 / 255,
                                           contrast_factor=0.5, saturation_factor=0.5,
                                           hue_factor=0.2, seed=seed),
        ])

        def augment(path, label):
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            return layers(tf.cast(image, tf.float32), training=True), label

        def preprocess(images, labels):
            return images - np.float32((123.68, 116.779, 103.939))[::-1], labels

    ds = source.train.shuffle(len(source.train), seed=seed).repeat()
    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def images_per_second(ds, batch_size, images, warmup=1):
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    batches = max(1, images // batch_size)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def mobilenet_v2_step_rate(batch_size=32, steps=5):
    """Training images/s of keras.applications.MobileNetV2 at 224x224 (tensorflow backend)."""
    import keras

    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((batch_size, 224, 224, 3), np.float32) * 2 - 1
    y = np.arange(batch_size) % 1000
    model.train_on_batch(x, y)  # traces the step
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512, help="JPEGs to generate (>= 500)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=2.0, help="images timed, in epochs")
    parser.add_argument("--folder", help="folder of class sub-folders to use instead")
    parser.add_argument("--skip-mobilenet", action="store_true")
    args = parser.parse_args(argv)

    import kerasnets.models  # noqa: F401  (registers the model names)
    from kerasnets.data import image_folder, train_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(args.folder) if args.folder else make_folder(
            pathlib.Path(tmp), args.images)
        source = image_folder(root, validation_fraction=0)
        count = source.sizes["train"]
        timed = int(args.epochs * count)
        print(f"{count} JPEGs in {root}; timing {timed} images per pipeline, "
              f"batch {args.batch_size}, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
        rows = []
        for kind, model in (("alexnet", "alexnet"), ("inception", "googlenet")):
            for deterministic in (True, False):
                ds = train_pipeline(model, source, args.batch_size, policy=kind, seed=0,
                                    repeat=True, deterministic=deterministic)
                rate = images_per_second(ds, args.batch_size, timed)
                rows.append((kind, f"ours (deterministic={deterministic})", rate))
                print(f"{rows[-1][0]:10s} {rows[-1][1]:34s} {rate:8.1f} images/s", flush=True)
            rate = images_per_second(keras_pipeline(kind, source, args.batch_size),
                                     args.batch_size, timed)
            rows.append((kind, "keras layers", rate))
            print(f"{kind:10s} {'keras layers':34s} {rate:8.1f} images/s", flush=True)
    if not args.skip_mobilenet:
        rate = mobilenet_v2_step_rate()
        print(f"{'training':10s} {'MobileNetV2 224x224 train step':34s} {rate:8.1f} images/s")


if __name__ == "__main__":
    main()
