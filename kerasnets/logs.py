"""What reaches the user's terminal: TensorFlow's and LiteRT's native notices filtered, warnings on one line.

TensorFlow 2.21 prints its C++ start-up notices (oneDNN, the absl preamble)
before `TF_CPP_MIN_LOG_LEVEL` is read, and the TFLite converter and the LiteRT
interpreter print their own status lines from C++, so no environment variable
silences them. :func:`native_logs_filtered` catches file descriptor 2 around
such a call and replays every line that is not one of those known notices:
warnings and errors from native code still reach the user, after the call.

This module imports nothing from the package or from keras/tensorflow: it is
used before they are imported.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings

__all__ = ["NOISE", "is_noise", "native_logs_filtered", "one_line_warnings"]

# Lines that only say that things work as they should.
NOISE = re.compile(
    r"("
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:.]+ +\d+ \S+:\d+\] "          # absl/TSL INFO lines (oneDNN, cpu features)
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\."                          # the second line of cpu_feature_guard's
    r"|W\d{4} [\d:.]+ +\d+ \S+:\d+\] (Ignored (output_format|drop_control_dependency)"
    r"|Skipping runtime version metadata in the model)"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|INFO: Initialized TensorFlow Lite runtime\."
    r"|fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, "
    r"output_inference_type: \w+"
    r")"
)


def is_noise(line: str) -> bool:
    """True for a native notice that says nothing the user needs (see :data:`NOISE`)."""
    return NOISE.match(line) is not None


@contextlib.contextmanager
def native_logs_filtered():
    """Catches what native code writes to stderr inside the block; replays all but the notices.

    Python's own `sys.stderr` is flushed first and goes through the same file
    descriptor, so its lines are kept too, in order. Nested use is a no-op.
    """
    if getattr(native_logs_filtered, "active", False):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (some embedded consoles)
        yield
        return
    native_logs_filtered.active = True
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            native_logs_filtered.active = False
            caught.seek(0)
            kept = [line for line in caught.read().decode("utf-8", "replace").splitlines(True)
                    if not is_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _one_line(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def one_line_warnings() -> None:
    """Warnings print as `warning: MESSAGE`, without the library's file name and source line."""
    warnings.formatwarning = _one_line
