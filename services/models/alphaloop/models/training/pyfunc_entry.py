"""MLflow "models from code" entry point: MLflow copies this file into each logged model and
runs it on load, so the pyfunc wrapper is found by import (``alphaloop`` must be installed where
the model is loaded) instead of being cloud-pickled. The wrapped :class:`CalibratedModel` itself
is the model's ``calibrated_model`` artifact (see ``alphaloop.models.registry``)."""

import mlflow

from alphaloop.models.registry import CalibratedPyfuncModel

mlflow.models.set_model(CalibratedPyfuncModel())
