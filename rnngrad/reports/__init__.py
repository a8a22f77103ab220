"""rnngrad's reports: read one experiment from the MLflow store and write its figures,
tables, findings and page. The command: `rnngrad-report` (rnngrad.reports.cli).

Reading: load (the experiment, the runs analysed), columns (params and tags as typed
columns), artifacts (history.csv and profiles.npz as frames). Grouping: axes (the settings
that vary, their names and values), frames (studies: which runs may share a figure), layout
(which axis goes to which channel of a figure), baselines (the recorded no-learning
baselines, per panel). Figures: plot (what they share), profile_figures, bound_figures,
state_figures, learning_figures, model_figures, and gallery (which builders run, in what
order; build and save). Words: tables, findings (with sentences and wording), page (the
HTML). Nothing here imports a module that imports it back; the pipeline never imports the
reports. Importing rnngrad.pipeline first turns MLflow's telemetry off.
"""

import rnngrad.pipeline  # noqa: F401
