"""Atomic writes of an export: a folder, or a group of files, appears whole or not at all.

Everything is written first into a temporary folder next to the destination
(same file system, so the final moves are renames) and moved into place at the
end. An existing destination is replaced only with `overwrite=True`; otherwise
`FileExistsError` names it before anything is written.

What is published gets the modes the user's umask gives a new file or folder
(0o666 or 0o777 less the umask): the temporary folder is private (0o700), and
TensorFlow makes a SavedModel's sub-folders 0o755 whatever the umask says.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


__all__ = ["check_free", "staging_folder", "publish_folder", "publish_files", "folder_size",
           "exists_error", "move_no_clobber", "fsync", "fsync_folder", "write_text",
           "new_file_mode", "new_folder_mode"]


def check_free(paths, overwrite):
    """Raises `FileExistsError` for the first of `paths` that exists, unless `overwrite`."""
    for path in paths:
        if not overwrite and os.path.lexists(path):
            raise exists_error(path)


@contextlib.contextmanager
def staging_folder(target):
    """A temporary folder beside `target`, removed on exit whatever happens."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(os.path.normpath(target))
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_folder(staged, target, overwrite):
    """Moves the folder `staged` to `target` with one rename (the old one set aside first)."""
    parent = os.path.dirname(os.path.abspath(target))
    _chmod_tree(staged)
    if not os.path.lexists(target):
        try:
            # rename() would silently replace an empty folder that appeared meanwhile;
            # mkdir is the atomic claim of the name.
            os.mkdir(target)
        except FileExistsError:
            raise exists_error(target) from None
        os.rename(staged, target)  # replaces the empty folder we just made
        fsync_folder(parent)
        return target
    if not overwrite:
        raise exists_error(target)
    if not os.path.isdir(target) or os.path.islink(target):
        raise NotADirectoryError(f"{target} exists and is not a folder; remove it first")
    aside = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}.old-")
    os.rmdir(aside)
    os.rename(target, aside)
    try:
        os.rename(staged, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    fsync_folder(parent)
    return target


def publish_files(moves, overwrite):
    """Moves each staged file to its destination, in order; all or none.

    `moves` is a list of (staged, destination). Put the main file last, so that
    when it appears its companions are already there. A failure moves back what
    was already placed (restoring replaced files where `overwrite`).
    """
    done = []  # (destination, previous content set aside or None)
    try:
        for staged, target in moves:
            os.chmod(staged, new_file_mode())
            if overwrite:
                previous = None
                if os.path.lexists(target):
                    previous = staged + ".previous"
                    os.link(target, previous)
                os.replace(staged, target)
                done.append((target, previous))
            else:
                move_no_clobber(staged, target)
                done.append((target, None))
    except BaseException:
        for target, previous in reversed(done):
            with contextlib.suppress(OSError):
                if previous is not None:
                    os.replace(previous, target)
                else:
                    os.remove(target)
        raise
    for _, previous in done:
        if previous is not None:
            with contextlib.suppress(OSError):
                os.remove(previous)
    for folder in {os.path.dirname(os.path.abspath(t)) for _, t in moves}:
        fsync_folder(folder)


def folder_size(path):
    """Bytes in all files under `path`."""
    total = 0
    for root, _, names in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in names)
    return total


def write_text(path, text):
    """Writes `text` to the file `path` atomically (a temporary file beside it, then one rename).

    The file gets the mode a new file gets under the umask; an existing file is
    replaced, and a failed write leaves it as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def save_atomically(save, path, overwrite, suffix):
    """Calls `save(tmp)` on a temporary file beside `path`, then moves it into place.

    An existing `path` is replaced only with `overwrite` (else FileExistsError,
    even for one that appeared meanwhile); a failed save removes the
    temporary file and leaves `path` as it was. The file keeps the mode of the
    one it replaces, or gets a new file's under the umask.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)[: -len(suffix)]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.tmp-", suffix=suffix)
    os.close(fd)
    try:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else new_file_mode()
        save(tmp)
        os.chmod(tmp, mode)
        fsync(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            move_no_clobber(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    fsync_folder(folder)


def exists_error(path):
    return FileExistsError(
        f"{path} already exists; pass overwrite=True (--overwrite in the recipes) to replace it"
    )


def move_no_clobber(tmp, path):
    """Moves `tmp` to `path`, failing if `path` appeared since the check (no race)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise exists_error(path) from None
    except OSError:
        # File systems without hard links: the check above is the best we can do.
        if os.path.lexists(path):
            raise exists_error(path) from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


def fsync(path):
    # Flushes the file before the rename, so that a crash cannot leave an empty file at
    # `path`; some platforms refuse fsync on a read-only handle, which is not worth failing for.
    with contextlib.suppress(OSError), open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_folder(folder):
    # Makes the rename durable; not possible on every platform, and never worth failing for.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _chmod_tree(folder):
    """Gives `folder` and everything under it the modes of new files and folders."""
    file_mode, folder_mode = new_file_mode(), new_folder_mode()
    os.chmod(folder, folder_mode)
    for root, folders, names in os.walk(folder):
        for name, mode in [(n, folder_mode) for n in folders] + [(n, file_mode) for n in names]:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, mode)


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def new_file_mode():
    """The mode a new file gets under the process's umask (0o666 less the umask)."""
    return 0o666 & ~_umask()


def new_folder_mode():
    """The mode a new folder gets under the process's umask (0o777 less the umask)."""
    return 0o777 & ~_umask()
