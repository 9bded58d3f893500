"""``pyhpe compare``: the proposal's experiment, every backbone under one training pipeline and one
report (config.py: what to compare; runner.py: train / evaluate / measure stages, resumable;
slices.py: robustness slices; report.py: seeds aggregated, the hypothesis judged, report.md,
results.json, plots; cli.py: the command)."""
