"""Shared by every test: training checkpoints (``train``'s default ``run_dir``) go to a temp
folder of the session, never to the working tree's ``.alphaloop/``. A test that checks
checkpointing passes its own ``run_dir``."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _training_checkpoints_in_a_temp_folder(tmp_path_factory):
    from alphaloop.models.training import pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "DEFAULT_RUN_DIR", tmp_path_factory.mktemp("training"))
        yield
