"""Where a model folder comes from, and publishing one: local folders and the Hugging Face Hub.

``resolve`` finds the folder ``HyperGANStrument.from_pretrained`` loads, in this order:

1. the explicit argument: a local model folder, or a Hub repo id (``namespace/name``);
2. else ``$HYPERLIB_CHECKPOINT``: a folder or a Hub repo id, as above;
3. else the checkpoint bundled with a source checkout (``checkpoints/`` beside the ``hyperlib`` package; an
   installed wheel has none);
4. else the Hub repo ``DEFAULT_REPO_ID`` at the pinned ``DEFAULT_REVISION``.

An explicit argument or ``$HYPERLIB_CHECKPOINT`` that cannot be loaded is an error; the later steps are not
tried in its place. Hub downloads go through ``huggingface_hub``: they are cached (``HF_HOME``,
``HF_HUB_CACHE``), reused offline with ``HF_HUB_OFFLINE=1``, and ``HF_ENDPOINT`` names another Hub. Only
``MODEL_FILES`` are fetched or pushed, and every weights file is checked against ``hashes.json``
(``checkpoint.verify_folder``: a snapshot without that record, or with an unrecorded weights file, is refused).
"""
from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

from . import checkpoint as ckpt

DEFAULT_REPO_ID = "hyperlib/hyperganstrument"
"""The Hub repo a model is downloaded from when no folder or id is given and no checkpoint is bundled."""
DEFAULT_REVISION = "v0.1.0"
"""The revision of ``DEFAULT_REPO_ID`` that is downloaded when no revision is given (the release of this version
of the code), so that a later push to the repo's main branch does not change what a default install loads."""
ENV_VAR = "HYPERLIB_CHECKPOINT"
BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints"
"""The checkpoint of a source checkout (or of a Space folder built by ``demos/make_space.sh``)."""
MODEL_FILES = ("*.safetensors", "*.json", "README.md")
"""What a model folder publishes: weights, ``config.json``, ``hashes.json`` and other records, the model card."""
MODEL_HELP = (f"model folder or Hub repo id (default: ${ENV_VAR}, else the checkpoint of a source checkout, "
              f"else the Hub repo {DEFAULT_REPO_ID} at revision {DEFAULT_REVISION})")
"""The command line's help for ``--model``."""
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


class HubError(OSError):
    """A model could not be fetched from or published to the Hub; the message says what was tried."""


class ModelNotFoundError(HubError, FileNotFoundError):
    """No model folder was found where one was asked for; the message lists what was tried and the options."""


def bundled() -> Path | None:
    """The checkpoint bundled with a source checkout, or None (an installed wheel has none)."""
    return BUNDLED if (BUNDLED / "config.json").is_file() else None


def resolve(name_or_path: str | os.PathLike | None = None, revision: str | None = None) -> Path:
    """The local model folder for ``name_or_path`` (see the module docstring for the order), downloading it if needed.

    Args:
        name_or_path: a model folder or a Hub repo id; None follows ``$HYPERLIB_CHECKPOINT``, the bundled
            checkpoint, then ``DEFAULT_REPO_ID``.
        revision: a branch, tag or commit of a Hub repo (default: its main branch; ``DEFAULT_REVISION`` for
            ``DEFAULT_REPO_ID``).
    Returns:
        The folder (for a Hub repo, its snapshot in the Hugging Face cache).
    Raises:
        ModelNotFoundError: nothing loadable where asked; the message lists each place tried and the options.
        CheckpointError: a downloaded folder without a valid ``hashes.json``, or a weights file that it does not
            record or whose sha256 differs.
    """
    tried: list[str] = []
    if name_or_path is not None:
        source = "the argument"
        target = str(name_or_path)
    elif os.environ.get(ENV_VAR):
        source = f"${ENV_VAR}"
        target = os.environ[ENV_VAR]
    else:
        tried.append(f"${ENV_VAR}: not set")
        if bundled() is not None:
            return BUNDLED
        tried.append(f"the checkpoint bundled with a source checkout ({BUNDLED}): absent")
        source, target = None, DEFAULT_REPO_ID
    if source is not None:
        if Path(target).expanduser().is_dir():
            if revision is not None:
                raise ValueError(f"revision={revision!r} applies to Hub repo ids, but {target} is a local folder.")
            return Path(target).expanduser()
        tried.append(f"{source} as a local folder ({target}): no such folder")
        if not REPO_ID.match(target):
            tried.append(f"{source} as a Hub repo id: {target!r} is not of the form namespace/name")
            raise ModelNotFoundError(_not_found(tried))
    try:
        return download(target, revision)
    except ModelNotFoundError as exc:
        tried.append(str(exc))
        raise ModelNotFoundError(_not_found(tried)) from exc


def download(repo_id: str, revision: str | None = None) -> Path:
    """Fetch ``MODEL_FILES`` of Hub repo ``repo_id`` into the Hugging Face cache (once) and check their hashes.

    ``revision`` None means the repo's main branch, except for ``DEFAULT_REPO_ID``, which is pinned to
    ``DEFAULT_REVISION``.

    Returns:
        The snapshot folder. With ``HF_HUB_OFFLINE=1`` (or when the Hub cannot be reached) a cached snapshot
        is used.
    Raises:
        ModelNotFoundError: no such repo or revision, or not cached while offline (the message says which).
        HubError: another Hub failure (the server's answer is in the message).
        CheckpointError: the snapshot has no valid ``hashes.json``, or a weights file that it does not record or
            whose sha256 differs.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    if revision is None and repo_id == DEFAULT_REPO_ID:
        revision = DEFAULT_REVISION
    where = f"Hub repo {repo_id!r} (revision {revision or 'main'}) at {constants.ENDPOINT}"
    try:
        path = Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(MODEL_FILES),
                                      library_name="hyperlib"))
    except RevisionNotFoundError as exc:
        raise ModelNotFoundError(f"{where}: the repo has no such revision (branch, tag or commit).") from exc
    except RepositoryNotFoundError as exc:
        raise ModelNotFoundError(f"{where}: no such repo (or it is private or gated: log in with "
                                 "`hf auth login` or set HF_TOKEN).") from exc
    except LocalEntryNotFoundError as exc:
        state = "HF_HUB_OFFLINE=1 is set" if constants.HF_HUB_OFFLINE else "the Hub could not be reached"
        raise ModelNotFoundError(f"{where}: not in the local cache, and {state}.") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise HubError(f"{where}: the download failed ({type(exc).__name__}: {exc}).") from exc
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{where}: the repo has no config.json, so it is not a hyperlib model folder.")
    ckpt.verify_folder(path)
    return path


def model_files(model_dir: str | Path) -> list[Path]:
    """The files of ``model_dir`` that a model publishes (``MODEL_FILES``, top level only), sorted by name."""
    return sorted(p for p in Path(model_dir).iterdir()
                  if p.is_file() and any(fnmatch.fnmatch(p.name, pattern) for pattern in MODEL_FILES))


def push(repo_id: str, model_dir: str | Path, private: bool | None = None, message: str | None = None) -> str:
    """Create Hub repo ``repo_id`` (if needed) and upload ``model_files(model_dir)`` to it in one commit.

    The folder must hold ``config.json`` and a ``hashes.json`` that every weights file matches (write it with
    ``hyperlib.checkpoint.write_hashes``), so that downloads can be checked. Uses the token of ``hf auth
    login`` or ``$HF_TOKEN``.

    Returns:
        The URL of the commit.
    Raises:
        FileNotFoundError: ``model_dir`` is not a model folder or has no ``hashes.json``.
        CheckpointError: a weights file differs from ``hashes.json``.
        HubError: the Hub refused the repo or the upload (the server's answer is in the message).
    """
    from huggingface_hub import CommitOperationAdd, HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    model_dir = Path(model_dir)
    ckpt.configs(model_dir)  # raises FileNotFoundError unless it is a model folder
    if not (model_dir / ckpt.HASHES_FILE).is_file():
        raise FileNotFoundError(f"{model_dir / ckpt.HASHES_FILE} is missing: record the weights' sha256 first with "
                                f"python -c 'from hyperlib.checkpoint import write_hashes; write_hashes(\"{model_dir}\")'.")
    ckpt.verify_folder(model_dir)
    api = HfApi(library_name="hyperlib")
    operations = [CommitOperationAdd(path_in_repo=p.name, path_or_fileobj=str(p)) for p in model_files(model_dir)]
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.create_commit(repo_id, operations, commit_message=message or f"Upload hyperlib model from {model_dir.name}")
    except (HfHubHTTPError, OSError) as exc:
        raise HubError(f"Pushing {model_dir} to Hub repo {repo_id!r} at {constants.ENDPOINT} failed "
                       f"({type(exc).__name__}: {exc}). Log in with `hf auth login` or set HF_TOKEN to a token "
                       "that may write to this namespace.") from exc
    return info.commit_url


def _not_found(tried: list[str]) -> str:
    steps = "\n".join(f"  {i}. {line}" for i, line in enumerate(tried, 1))
    return (f"No hyperlib model could be loaded. Tried, in order:\n{steps}\n"
            "Options: pass a local model folder (from_pretrained(DIR), --model DIR) or set HYPERLIB_CHECKPOINT=DIR; "
            "pass a Hub repo id (namespace/name) and, for an older version, a revision; to work offline "
            "(HF_HUB_OFFLINE=1), fetch the model once while online with `python -m hyperlib download REPO_ID`.")
