"""Records -> what a model reads: resized and normalised as ``config.data`` says
(``records.prepare``), then in the model's own input form where it has one (HTNet's
four landmark patches). Training, testing and predicting a new clip all go through
``prepared_data``, so a model sees the same inputs in each."""

from __future__ import annotations

from faceslueth_jax.data import htnet_patches, records

# model.name -> fn(data, model.<name>): the model's own input form (others: unchanged)
INPUT_FORMS = {"htnet": htnet_patches.tile}


def prepared_data(config, data):
    """``data`` resized, normalised and in the form ``config.model`` reads."""
    data = records.prepare(data, config.data.flow_size, config.data.face_size,
                           config.data.flow_norm, config.data.use_onset,
                           config.data.get("face_norm", "standardise"))
    return prepare_inputs(config.model, data)


def prepare_inputs(model_cfg, data):
    """``data`` as the model of ``model_cfg`` reads it (unchanged for most models)."""
    form = INPUT_FORMS.get(model_cfg.name)
    return data if form is None else form(data, model_cfg[model_cfg.name])
