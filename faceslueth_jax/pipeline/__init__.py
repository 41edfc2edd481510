"""One run of a config, as stages, each a module with one input and one output:

  checks     config -> config validated (every check before any data or compilation)
  data       config -> RunData: the records built or reused, read, prepared, the same
             on every host
  fit        (config, workdir, RunData) -> Fitted: folds, plan, resumable training,
             watched per epoch (``watch``: progress, log line, TensorBoard)
  results    (config, workdir, Fitted) -> metrics.json's content, and the run's files
  views      (config, workdir, Fitted, metrics) -> curves, per-subject and per-class
             tables, figures, TensorBoard's end of run, index.html
  artifacts  (config, workdir, Fitted) -> the model folder and attention pictures

``experiment.train_and_evaluate`` runs them in that order; run.py calls it.
"""
